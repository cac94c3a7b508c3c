"""The table engine: every large-table operation (read, check, sort, write, diff) lives here.

The rest of the code reads tables, not engine calls. DuckDB does the relational work out of core
(type checks as vectorised SQL, keys, foreign keys, sorting, diffs) and pyarrow streams record
batches to the writers; both ship everything they need inside their wheels.
"""
