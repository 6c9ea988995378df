"""The composition root: the one package that wires every other one (the `hromada` CLI, `hromada serve`, the
demo, the settings tree and the child processes of `serve --fronts N`). Nothing imports it; it imports api,
anchoring, ledger and domain (import-linter's layers contract, pyproject.toml)."""
