"""`hromada demo`: the city scenario of hromada/demo.py through a real ledger, anchored like `hromada serve`."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from hromada.cli.common import DataDir, console, err, open_ledger, settings


def demo(
    events: Annotated[int, typer.Option("--events", help="About how many events to write (at least 200).")] = 2000,
    data_dir: DataDir = None,
    seed: Annotated[int, typer.Option(help="Random seed (the scenario is deterministic for a seed).")] = 2026,
    no_chain: Annotated[bool, typer.Option("--no-chain", help="Skip anchoring.")] = False,
    secret_ballot: Annotated[
        bool,
        typer.Option(
            "--secret-ballot",
            help="Also run an encrypted participatory budget with 3-of-5 trustees (docs/voting.md). Off by default "
            "until hromada-verify checks encrypted ballots.",
        ),
    ] = False,
) -> None:
    """Write a realistic city scenario through the ledger (petitions with thousands of signatures, a
    participatory budget, kindergarten and housing queues), integrated, checkpointed and anchored on the same
    default chain as `hromada serve` (the local anvil unless HROMADA_CHAIN_* is set)."""
    from rich.progress import Progress

    from anchoring.service import AnchoringService
    from hromada.demo import run_demo

    s = settings(data_dir)
    with open_ledger(s) as ledger:
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
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("writing the city scenario", total=events)
                report = run_demo(
                    ledger,
                    events,
                    seed=seed,
                    progress=lambda done, total: progress.update(task, completed=done),
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
        st = ledger.status()
    console.print(
        f"wrote {st.tree_size} events, {len(report.checkpoints)} checkpoints (latest at "
        f"{st.checkpoint.tree_size if st.checkpoint else '—'})"
    )
