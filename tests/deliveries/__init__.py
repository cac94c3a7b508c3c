"""Stewards' deliveries: the page, the API, the inbox and the runs they start."""
