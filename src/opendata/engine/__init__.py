"""The table engine: every large-table operation (read, check, sort, write, diff) lives here.

The rest of the code reads tables, not engine calls. DuckDB does the relational work out of core
(type checks as vectorised SQL, keys, foreign keys, sorting, diffs) and pyarrow streams record
batches to the writers; both ship everything they need inside their wheels.

The checks are cut by concept, each layer importing only those below it: `checks` is the face
the rest of the code imports; `csvfile` (CSV files read as Python reads them) and
`foreign_keys` run their tables through `executor` (a plan's statuses, counts and first
errors); `columns` compiles one field through `types` (one module per Table Schema type,
registered in `types.TYPES`), which builds on `compiler` (Builder, Column, schema helpers),
`regex` (Python patterns as RE2) and `verdicts` (what a check reports).
"""
