"""The Prefect flows and deployments on a real Prefect server (SQLite and PostgreSQL)."""
