"""Dataset definitions and Table Schemas, read strictly."""
