// Reads {ballotId, opened, voter, district, selection} as JSON on stdin; prints {body, audit} made by crypto.js,
// for Python to verify (tests/booth/test_crypto_js.py).
import * as vc from '../../../api/static/booth/crypto.js';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);
const st = vc.statement(req.opened, req.district);
const made = vc.encryptBallot({
  ballotId: req.ballotId,
  manifestHash: req.opened.manifest_hash,
  publicKey: req.opened.public_key,
  st,
  voter: req.voter,
  district: req.district,
  selection: req.selection,
});
console.log(JSON.stringify({ body: made.body, audit: vc.auditRecord(made) }));
