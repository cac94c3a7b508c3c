"""Prefect flows: thin wiring around the core in `opendata`."""
