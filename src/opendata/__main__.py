"""`python -m opendata` is the `opendata` command."""

from opendata.cli import main

main()
