"""The `hromada` command line (typer + rich)."""
