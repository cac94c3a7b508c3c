"""The repository itself: its datasets, its lock file, its imports."""
