"""The `opendata` command and `opendata serve`."""
