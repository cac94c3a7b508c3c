"""The publish protocol: versions, changes, the store's layout, kills and concurrent runs."""
