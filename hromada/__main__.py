"""`python -m hromada`: the `hromada` command line."""

from hromada.cli import main

main()
