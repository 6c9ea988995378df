"""An independent C2SP witness (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature): it keeps, per log, the latest
checkpoint it cosigned, verifies every new one against the log's key and a consistency proof from that one, and
answers with an Ed25519 ``cosignature/v1`` line.

It imports nothing of the ledger it watches (ledger, domain, api, anchoring, hromada; an import-linter contract
enforces it): checkpoints, signed notes and consistency proofs are checked with the verifier's own code
(``verifier.note``, ``verifier.merkle``), which is independent of the ledger too. It is a package of its own, not
part of ``verifier/``, so that the auditor's standalone ``hromada-verify`` distribution does not need its HTTP
server stack (Starlette, uvicorn).

* :mod:`witness.keys`: the witness's own key (a file, mode 0600) and the cosignature it makes;
* :mod:`witness.state`: the latest cosigned checkpoint per log, in SQLite, checked and updated in one transaction;
* :mod:`witness.protocol`: the ``add-checkpoint`` request body and the checks before a cosignature;
* :mod:`witness.server`: the Starlette app (``POST /add-checkpoint``).
"""
