"""``hromada-verify``: audit a bundle or check a receipt, without trusting the ledger's code.

Exit codes: 0 verified (for the checks that ran; the summary lists those that did not), 1 verification failed,
2 could not run (bad arguments, unreadable input, network down, a requested check not available).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verifier.anchors import ChainAccess, is_address
from verifier.audit import AuditReport, Status, default_steps, run_audit
from verifier.errors import CannotVerify, UnreadableInput, VerificationError, VerifierError
from verifier.note import VerifierKey, load_verifier_key
from verifier.receipt import ReceiptReport, fetch_receipt, load_receipt, verify_receipt
from verifier.rpc import HttpRpc
from verifier.witness.policy import (
    WitnessPolicy,
    WitnessPolicyResult,
    check_witness_policy,
    note_for_audit,
    policy_from_options,
)

app = typer.Typer(
    name="hromada-verify",
    help="Independent verifier for Hromada Ledger audit bundles and receipts (docs/audit.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MAX_FINDINGS_PRINTED = 25
PROGRESS_MIN_EVENTS = 50_000


def _out() -> Console:
    return Console(soft_wrap=True, highlight=False)


def _emit_json(doc: dict[str, Any]) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=None, default=str))


def _fail_to_run(command: str, exc: VerifierError, as_json: bool) -> typer.Exit:
    if as_json:
        _emit_json({"command": command, "verified": False, "exit_code": 2, "error": exc.to_json()})
    else:
        # soft_wrap: one line per line of the diagnosis, whatever the terminal's width (a log keeps it whole)
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]cannot verify:[/] {escape(exc.diagnostics())}"
        )
    return typer.Exit(2)


def _key(value: str | None, required: bool, command: str, as_json: bool) -> VerifierKey | None:
    if value is None:
        if required:
            raise _fail_to_run(command, CannotVerify("--key is required: the log's published verifier key"), as_json)
        return None
    try:
        return load_verifier_key(value)
    except CannotVerify as exc:
        raise _fail_to_run(command, exc, as_json) from exc


RpcOption = Annotated[
    str | None,
    typer.Option("--rpc", help="The chain's JSON-RPC URL (http/https): anchors are read back from it"),
]
ContractOption = Annotated[
    str | None,
    typer.Option(
        "--contract",
        help="The HromadaAnchor contract you trust. Without it the one log.json or the receipt names is used, with a "
        "warning that the operator could have deployed it; with --rpc and no contract named at all: exit 2",
    ),
]


WitnessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="NAME=VKEY: a witness you trust (its cosignature/v1 verifier key, or a file holding it); repeatable",
    ),
]
WitnessThresholdOption = Annotated[
    int | None,
    typer.Option("--witness-threshold", help="How many of the --witness keys must have cosigned (default: all)"),
]


def _witness_policy(
    witness: list[str] | None, threshold: int | None, command: str, as_json: bool
) -> WitnessPolicy | None:
    try:
        return policy_from_options(witness, threshold)
    except CannotVerify as exc:
        raise _fail_to_run(command, exc, as_json) from exc


def _witness_outcome(doc: dict[str, Any], result: WitnessPolicyResult | None, as_json: bool) -> int:
    """Add the witness policy's result to the output (``doc`` for --json, else printed); its exit code."""
    if result is None:
        return 0
    code = 0 if result.passed else 1
    if as_json:
        doc["witnesses"] = result.to_json()
        if code:
            doc["verified"], doc["exit_code"] = False, code
        return code
    out = _out()
    out.print(("[green]" if result.passed else "[bold red]") + escape(result.summary()) + "[/]")
    for finding in result.findings:
        out.print(escape(finding.describe()))
    if code:
        out.print("[bold red]VERIFICATION FAILED[/]: the witness policy is not met.")
    return code


def _chain(rpc: str | None, contract: str | None, command: str, as_json: bool) -> HttpRpc | None:
    if contract is not None and not is_address(contract):
        raise _fail_to_run(
            command, CannotVerify(f"--contract must be a 0x-prefixed address, not {contract!r}"), as_json
        )
    if rpc is None:
        if contract is not None:
            raise _fail_to_run(command, CannotVerify("--contract needs --rpc URL to read the chain"), as_json)
        return None
    try:
        return HttpRpc(rpc)
    except CannotVerify as exc:
        raise _fail_to_run(command, exc, as_json) from exc


@app.command()
def audit(
    source: Annotated[
        str,
        typer.Argument(
            help="Audit bundle (a directory or a .tar.gz), or a running ledger's base URL (http/https): its latest "
            "checkpoint and its entry tiles are read"
        ),
    ],
    key: Annotated[
        str | None,
        typer.Option("--key", help="The log's verifier key (name+hex8+base64), or a file holding it"),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="An extra signed checkpoint note you hold (repeatable)"),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Make no chain queries (anchor checks are skipped)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for machines")] = False,
    rpc: RpcOption = None,
    contract: ContractOption = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Worker processes: 0 = automatic (default): on logs of 100,000 events or more on 2+ CPUs, the CPU "
            "count with --no-rules, else one process sharing the rule replay of step 4; 1 = none; N = N processes "
            "for the line checks",
        ),
    ] = 0,
    no_rules: Annotated[
        bool,
        typer.Option(
            "--no-rules",
            help="Do not replay the domain rules (steps 4 and 5 are reported NOT RUN)",
        ),
    ] = False,
    witness: WitnessOption = None,
    witness_threshold: WitnessThresholdOption = None,
) -> None:
    """Audit a bundle: envelopes, leaf hashes, Merkle roots against the signed checkpoints, forks, anchors, the
    domain rules (docs/domain.md) and the published state.json, and every actor's authorisation."""
    trusted = _key(key, False, "audit", as_json)
    policy = _witness_policy(witness, witness_threshold, "audit", as_json)
    extra: list[tuple[str, bytes]] = []
    for path in checkpoint or []:
        try:
            extra.append((f"--checkpoint {path}", path.read_bytes()))
        except OSError as exc:
            raise _fail_to_run("audit", UnreadableInput(f"cannot read {path}: {exc}"), as_json) from exc
    http_rpc = None if offline else _chain(rpc, contract, "audit", as_json)
    chain = ChainAccess(http_rpc, http_rpc.display, contract) if http_rpc is not None else None
    progress_console = Console(stderr=True)
    show_progress = not as_json and progress_console.is_terminal
    try:
        if show_progress:
            with Progress(
                TextColumn("auditing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=progress_console,
                transient=True,
                auto_refresh=False,  # no refresh thread: the audit may fork its rule worker (audit._worker_context)
            ) as bar:
                task = bar.add_task("audit", total=None, rate="")

                def progress(done: int, total: int) -> None:
                    speed = bar.tasks[0].speed if bar.tasks else None
                    rate = f"{speed:,.0f} events/s" if speed else ""
                    bar.update(task, completed=done, total=total if total >= done else None, rate=rate, refresh=True)

                report = run_audit(
                    source,
                    trusted,
                    offline=offline,
                    extra_checkpoints=extra,
                    progress=progress,
                    workers=workers,
                    chain=chain,
                    steps=default_steps(rules=not no_rules),
                )
        else:
            report = run_audit(
                source,
                trusted,
                offline=offline,
                extra_checkpoints=extra,
                workers=workers,
                chain=chain,
                steps=default_steps(rules=not no_rules),
            )
    except CannotVerify as exc:
        raise _fail_to_run("audit", exc, as_json) from exc
    finally:
        if http_rpc is not None:
            http_rpc.close()
    witnessed = None
    if policy is not None:
        try:
            witnessed = check_witness_policy(note_for_audit(source, report.tree_size), policy, trusted)
        except VerifierError as exc:
            raise _fail_to_run("audit", exc, as_json) from exc
    doc = report.to_json()
    if not as_json:
        _print_audit(report)
    witness_code = _witness_outcome(doc, witnessed, as_json)
    if as_json:
        _emit_json(doc)
    raise typer.Exit(max(report.exit_code, witness_code))


def _print_audit(report: AuditReport) -> None:
    out = _out()
    for warning in report.warnings:
        out.print(f"[bold red on yellow] WARNING [/] [bold]{escape(warning)}[/]")
    table = Table(title=f"Audit of {escape(report.source)} ({escape(report.origin)}, tree size {report.tree_size})")
    table.add_column("step", justify="right")
    table.add_column("check")
    table.add_column("result")
    table.add_column("findings / reason")
    style = {
        Status.PASSED: "[green]passed[/]",
        Status.FAILED: "[bold red]FAILED[/]",
        Status.NOT_RUN: "[yellow]NOT RUN[/]",
    }
    for s in report.steps:
        note = escape(s.reason or "") if s.status is Status.NOT_RUN else str(s.findings_total)
        table.add_row(str(s.number), escape(s.name), style[s.status], note)
    out.print(table)
    out.print(f"{report.events:,} events in {report.seconds:.2f} s ({report.events_per_second:,.0f} events/s)")
    for s in report.steps:
        if s.number == 3 and s.status is not Status.NOT_RUN and "chain_id" in s.stats:
            out.print(escape(_anchor_summary(s.stats)))
    findings = report.findings()
    for finding in findings[:MAX_FINDINGS_PRINTED]:
        out.print(escape(finding.describe()))
    total = sum(s.findings_total for s in report.steps)
    if total > MAX_FINDINGS_PRINTED:
        out.print(f"... and {total - MAX_FINDINGS_PRINTED} more findings (use --json for the kept ones)")
    ran = [str(s.number) for s in report.steps if s.status is not Status.NOT_RUN]
    not_run = [s for s in report.steps if s.status is Status.NOT_RUN]
    rewrite = report.rewrite
    if report.verified:
        out.print(f"[bold green]VERIFIED[/] by steps {', '.join(ran)}.")
        if not rewrite.checked:
            out.print(
                "[bold red]NOT CHECKED[/]: whether the log operator rewrote and re-signed the whole log "
                f"({escape(rewrite.reason or '')}); see the warning."
            )
    else:
        out.print(f"[bold red]VERIFICATION FAILED[/]: {total} finding(s).")
    for s in not_run:
        out.print(f"[yellow]NOT RUN[/] step {s.number} ({escape(s.name)}): {escape(s.reason or '')}")
    if rewrite.checked:
        out.print(
            f"Fixed on chain up to tree size {rewrite.anchored_size} (contract {rewrite.contract}, named by you); "
            f"the last {rewrite.unanchored_tail} event(s) are not anchored yet, so the operator could still rewrite "
            "those."
        )
    for warning in report.warnings:
        out.print(f"[bold red on yellow] WARNING [/] [bold]{escape(warning)}[/]")


def _anchor_summary(stats: dict[str, Any]) -> str:
    text = (
        f"anchors: chain {stats['chain_id']}, contract {stats.get('contract')}, {stats.get('anchors_on_chain', 0)} "
        "on chain"
    )
    if "anchors_in_bundle" in stats:  # a ledger URL lists no anchors of its own
        text += f" / {stats['anchors_in_bundle']} in the bundle"
    latest = stats.get("latest_anchor")
    if isinstance(latest, dict):
        text += f"; latest anchor: size {latest['tree_size']} in block {latest['block']}"
        if "age_seconds" in latest:
            text += f" at {latest['timestamp']} ({_age(int(latest['age_seconds']))} ago)"
    return text


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


@app.command()
def receipt(
    receipt_path: Annotated[
        Path | None,
        typer.Argument(metavar="[RECEIPT.json]", help="A receipt (formats.md §4); or --ledger URL --event ID"),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The log's verifier key (name+hex8+base64), or a file holding it"),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Do not check the anchor on chain")] = False,
    ledger: Annotated[
        str | None, typer.Option("--ledger", help="Ledger base URL: prove its current checkpoint extends the receipt's")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for machines")] = False,
    rpc: RpcOption = None,
    contract: ContractOption = None,
    witness: WitnessOption = None,
    witness_threshold: WitnessThresholdOption = None,
    event: Annotated[
        str | None,
        typer.Option("--event", help="Fetch the receipt of this event id from --ledger URL instead of a file"),
    ] = None,
    handover: Annotated[
        list[Path] | None,
        typer.Option(
            "--handover",
            help="A key hand-over note of the log (a bundle's checkpoints/<size>.handover-*; repeatable): the "
            "checkpoint may then be signed by a key reached from --key",
        ),
    ] = None,
) -> None:
    """Check a receipt: envelope → leaf hash → inclusion proof → signed checkpoint → anchor on chain (--rpc)
    (→ ledger consistency). The receipt is a file, or `--ledger URL --event ID` fetches it."""
    if (receipt_path is None) == (event is None) or (event is not None and ledger is None):
        raise _fail_to_run(
            "receipt", CannotVerify("give a RECEIPT.json file, or --ledger URL --event ID (not both)"), as_json
        )
    trusted = _key(key, True, "receipt", as_json)
    assert trusted is not None
    policy = _witness_policy(witness, witness_threshold, "receipt", as_json)
    http_rpc = None if offline else _chain(rpc, contract, "receipt", as_json)
    chain = ChainAccess(http_rpc, http_rpc.display, contract) if http_rpc is not None else None
    try:
        handovers = [(f"--handover {p}", _read(p)) for p in handover or []]
        doc = load_receipt(receipt_path) if receipt_path is not None else fetch_receipt(str(ledger), str(event))
        report = verify_receipt(doc, trusted, offline=offline, ledger_url=ledger, chain=chain, handovers=handovers)
        signer = report.log_key or trusted
        witnessed = check_witness_policy(report.checkpoint.note or "", policy, signer) if policy else None
    except CannotVerify as exc:
        raise _fail_to_run("receipt", exc, as_json) from exc
    except VerificationError as exc:
        if as_json:
            _emit_json({"command": "receipt", "verified": False, "exit_code": 1, "error": exc.to_json()})
        else:
            Console(highlight=False).print(f"[bold red]RECEIPT VERIFICATION FAILED[/]\n{escape(exc.diagnostics())}")
        raise typer.Exit(1) from exc
    finally:
        if http_rpc is not None:
            http_rpc.close()
    out_doc = report.to_json()
    if not as_json:
        _print_receipt(report)
    witness_code = _witness_outcome(out_doc, witnessed, as_json)
    if as_json:
        _emit_json(out_doc)
    raise typer.Exit(witness_code or report.exit_code)  # a failed policy is a verification failure (exit 1)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"cannot read {path}: {exc}") from exc


def _print_receipt(report: ReceiptReport) -> None:
    out = _out()
    cp = report.checkpoint
    table = Table(title=f"Receipt: leaf {report.leaf_index} in {escape(cp.origin)} at size {cp.size}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for c in report.checks:
        result = "[green]passed[/]" if c.status == "passed" else "[yellow]NOT RUN[/]"
        table.add_row(escape(c.name), result, escape(c.detail))
    out.print(table)
    if report.event_id:
        out.print(f"event {report.event_id} ({escape(report.event_type or '?')}), leaf hash {report.leaf_hash}")
    if report.unavailable:
        for reason in report.unavailable:
            out.print(f"[bold yellow]CANNOT COMPLETE[/]: {escape(reason)}")
    else:
        passed = [c.name for c in report.checks if c.status == "passed"]
        out.print(f"[bold green]VERIFIED[/]: {escape(', '.join(passed))}.")
    for c in report.checks:
        if c.status != "passed":
            out.print(f"[yellow]NOT CHECKED[/] {escape(c.name)}: {escape(c.detail)}")
    if not report.rewrite.checked:
        out.print(
            "[bold red]NOT CHECKED[/]: whether the log operator rewrote and re-signed the log "
            f"({escape(report.rewrite.reason or '')}); see the warning."
        )
    for warning in report.warnings:
        out.print(f"[bold red on yellow] WARNING [/] [bold]{escape(warning)}[/]")


@app.command("ballot-audit")
def ballot_audit(
    record_path: Annotated[
        Path, typer.Argument(metavar="FILE", help="The device's audit record of a ballot it did not cast")
    ],
    ballot: Annotated[
        str, typer.Option("--ballot", help="The ballot: its URL (GET /v1/ballots/{id}) or a file of that JSON")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for machines")] = False,
) -> None:
    """Benaloh audit of a spoiled ballot (docs/voting.md §6): recompute its ciphertexts from the revealed
    randomness, check its proofs and tracker, and print the choices it encrypts."""
    from verifier.voting.benaloh import AuditFailed, audit_spoiled, load_manifest

    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        manifest = load_manifest(ballot)
    except (OSError, ValueError) as exc:
        err = UnreadableInput(f"cannot read the audit record or the ballot: {exc}")
        raise _fail_to_run("ballot-audit", err, as_json) from exc
    except Exception as exc:  # an HTTP failure fetching the manifest
        err = UnreadableInput(f"cannot fetch the ballot {ballot}: {exc}")
        raise _fail_to_run("ballot-audit", err, as_json) from exc
    try:
        chosen = audit_spoiled(record if isinstance(record, dict) else {}, manifest)
    except AuditFailed as exc:
        if as_json:
            _emit_json(
                {"command": "ballot-audit", "verified": False, "exit_code": 1, "where": exc.where, "error": str(exc)}
            )
        else:
            Console(highlight=False).print(
                f"[bold red]BALLOT AUDIT FAILED[/] at {escape(exc.where)}: {escape(str(exc))}"
            )
        raise typer.Exit(1) from exc
    if as_json:
        _emit_json(
            {
                "command": "ballot-audit",
                "verified": True,
                "exit_code": 0,
                "tracker": record.get("tracker"),
                "choices": chosen,
            }
        )
    else:
        Console(highlight=False).print(
            f"[bold green]BALLOT AUDIT OK[/] tracker {escape(str(record.get('tracker')))}: the ballot encrypts "
            f"{escape(', '.join(chosen) or 'no option')}; it must never be cast"
        )
    raise typer.Exit(0)


@app.command()
def monitor(
    url: Annotated[str, typer.Argument(help="The ledger's base URL (http/https)")],
    state: Annotated[Path, typer.Option("--state", help="Directory of the monitor's state.json and evidence/")],
    key: Annotated[
        str | None,
        typer.Option("--key", help="The log's verifier key (name+hex8+base64), or a file holding it"),
    ] = None,
    witness: WitnessOption = None,
    witness_threshold: WitnessThresholdOption = None,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit (0 without findings)")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between rounds")] = 30.0,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each round's JSON here when it has a finding")
    ] = None,
    no_rules: Annotated[
        bool, typer.Option("--no-rules", help="Do not run steps 4-5 and step 1's order checks (no rules.db)")
    ] = False,
    rpc: RpcOption = None,
    contract: Annotated[
        str | None,
        typer.Option(
            "--contract",
            help="The HromadaAnchor contract you trust (required with --rpc: a ledger names none); its anchors of "
            "this log are checked against the monitor's own tree as they appear",
        ),
    ] = None,
) -> None:
    """Follow a live ledger: each round checks the new checkpoint's signature, fetches only the new entries, runs
    step 1's checks on them, proves the new tree extends the kept one (Merkle frontier in STATE/state.json) and
    runs the order, rule and authorisation checks (steps 1, 4, 5) over the new entries only, with their state kept
    in STATE/rules.db; a restart resumes. With --rpc URL --contract ADDR, each anchor of this log that appears on
    chain is checked against the monitor's own tree. A fork keeps both notes in STATE/evidence/. One JSON line per
    round.

    NOT run by this version: step 4's end-of-log check and the state.json comparison; run `hromada-verify audit`
    for them. Exit 1 on the first finding, 2 when the ledger or the chain cannot be read."""
    from verifier.monitor.follow import Monitor, follow

    log_key = _key(key, True, "monitor", True)
    assert log_key is not None  # required=True
    policy = _witness_policy(witness, witness_threshold, "monitor", True)
    http_rpc = _chain(rpc, contract, "monitor", True)
    if http_rpc is not None and contract is None:
        http_rpc.close()
        raise _fail_to_run(
            "monitor",
            CannotVerify(
                "--rpc needs --contract ADDR: a ledger names no anchor contract, and the monitor does not pick one "
                "itself (anyone can deploy a contract that emits Anchored events for any log id)"
            ),
            True,
        )
    chain = ChainAccess(http_rpc, http_rpc.display, contract) if http_rpc is not None else None
    try:
        watcher = Monitor(url, state, log_key, policy, rules=not no_rules, chain=chain)
    except CannotVerify as exc:
        if http_rpc is not None:
            http_rpc.close()
        raise _fail_to_run("monitor", exc, True) from exc
    try:
        code = follow(
            watcher,
            once=once,
            interval=interval,
            webhook=webhook,
            emit=typer.echo,
            warn=lambda text: typer.echo(f"webhook: {text}", err=True),
        )
    finally:
        watcher.close()
        if http_rpc is not None:
            http_rpc.close()
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover - console entry point alternative
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
