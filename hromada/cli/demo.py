"""`hromada demo`: the city scenario of hromada/demo.py through a real ledger, anchored like `hromada serve`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import ProgressColumn, Task
from rich.text import Text

from hromada.cli.common import DataDir, console, err, open_ledger, settings
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from hromada.demo import DemoReport
    from hromada.settings import HromadaSettings
    from ledger.runtime import Ledger


def demo(
    events: Annotated[int, typer.Option("--events", help="About how many events to write (at least 200).")] = 2000,
    data_dir: DataDir = None,
    seed: Annotated[int, typer.Option(help="Random seed (the scenario is deterministic for a seed).")] = 2026,
    no_chain: Annotated[bool, typer.Option("--no-chain", help="Skip anchoring.")] = False,
    secret_ballot: Annotated[
        bool,
        typer.Option(
            "--secret-ballot/--no-secret-ballot",
            help="Also run an encrypted participatory budget with 3-of-5 trustees, two of them absent at decryption "
            "(docs/voting.md); hromada-verify checks its ceremony, every ballot's proofs and the decrypted tally.",
        ),
    ] = True,
) -> None:
    """Write a realistic city scenario through the ledger (petitions with thousands of signatures, a
    participatory budget, kindergarten and housing queues), integrated, checkpointed and anchored on the same
    default chain as `hromada serve` (the local anvil unless HROMADA_CHAIN_* is set)."""
    s = settings(data_dir)
    with open_ledger(s) as ledger:
        used = ledger.status()
        if used.tree_size or used.pending_events:
            err.print(
                f"[red]refused:[/red] {s.ledger.data_dir} already holds a ledger "
                f"({used.tree_size + used.pending_events} events); the demo writes a new city into an empty data "
                "directory: pass another --data-dir",
                soft_wrap=True,
            )
            raise typer.Exit(2)
        from ledger.writerlock import WriterLock

        writer_lock = WriterLock(ledger.engine)
        try:
            writer_lock.acquire()  # the one writer, as `hromada serve` is: so it decides on cached aggregates too
        except LedgerError as e:
            err.print(f"[red]cannot run the demo:[/red] {e}")
            raise typer.Exit(2) from e
        hot = getattr(ledger.app, "hot", None)
        if hot is not None:  # the API's default (api/settings.py aggregate_cache), valid while the lock is held
            hot.enabled = True
        try:
            report = _write_city(s, ledger, events, seed, no_chain, secret_ballot)
        finally:
            writer_lock.release()
        st = ledger.status()
        shown = shown_event(ledger)
        key = ledger.signer.verifier_key
    console.print(
        f"wrote {st.tree_size} events, {len(report.checkpoints)} checkpoints (latest at "
        f"{st.checkpoint.tree_size if st.checkpoint else '—'})"
    )
    from hromada.cli.hints import print_hints

    print_hints(s, key, shown)


def _write_city(
    s: HromadaSettings, ledger: Ledger, events: int, seed: int, no_chain: bool, secret_ballot: bool
) -> DemoReport:
    """The scenario, anchored unless `no_chain` (run holding the writer lock)."""
    from rich.progress import Progress

    from anchoring.service import AnchoringService
    from hromada.demo import run_demo

    chain: AnchoringService | None = None
    if not no_chain:
        chain = AnchoringService(
            ledger.engine,
            origin=s.ledger.origin,
            data_dir=s.ledger.data_dir,
            chain=s.chain.config(),
            policy=s.anchoring,
        )
        try:
            chain.start()
        except Exception as e:
            err.print(f"[red]cannot start anchoring:[/red] {e} (use --no-chain to skip)")
            raise typer.Exit(2) from e
    try:
        with Progress(*demo_progress_columns(), console=err, transient=True) as progress:
            task = progress.add_task("writing the city scenario", total=max(events, 200))
            report = run_demo(
                ledger,
                events,
                seed=seed,
                progress=lambda done, total: progress.update(task, completed=done, total=max(total, done)),
                secret_ballot=secret_ballot,
            )
        if chain is not None and chain.anchorer is not None:
            anchorer = chain.anchorer
            anchorer.stop_background()
            anchorer.tick(force=True)  # anchor the final checkpoint...
            for _ in range(50):  # ...and follow it until it is mined and final
                if anchorer.status()["in_flight_submissions"] == 0:
                    break
                time.sleep(0.2)
                anchorer.tick()
            else:
                err.print("[yellow]the last anchor is still in flight; `hromada anchor status` follows it[/yellow]")
    finally:
        if chain is not None:
            chain.stop()
    return report


def shown_event(ledger: Ledger) -> str | None:
    """The event whose receipt the demo shows: the first one after the services' registrations (a petition)."""
    from ledger.receipts import ProofRequestError, stored_entry

    with ledger.engine.connect() as conn:
        for leaf in (3, 0):
            try:
                return str(json.loads(stored_entry(conn, ledger.integrator.events.name, leaf))["id"])
            except ProofRequestError:
                continue
    return None


def demo_progress_columns() -> tuple[ProgressColumn, ...]:
    """Events written of the target, time elapsed, and the time left estimated from the whole run so far (rich's
    default estimate follows the last 30 s only, and jumps at every checkpoint the demo signs)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
        WholeRunRemainingColumn(),
    )


def remaining_seconds(done: int, total: int | float | None, elapsed: float | None) -> float | None:
    """Seconds left at the average rate of the whole run so far; None before anything was done."""
    if not total or not elapsed or done <= 0:
        return None
    return max(0.0, (total - done) * elapsed / done)


class WholeRunRemainingColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        left = remaining_seconds(int(task.completed), task.total, task.elapsed)
        if left is None:
            return Text("left -:--:--", style="progress.remaining")
        m, sec = divmod(int(left + 0.5), 60)
        h, m = divmod(m, 60)
        return Text(f"left {h}:{m:02d}:{sec:02d}", style="progress.remaining")
