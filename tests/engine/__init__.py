"""The table engine: Table Schema checks in SQL, proven equal to frictionless; readers, outputs."""
