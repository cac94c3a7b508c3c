"""SCB's PxWeb API v2 (PxWebApi 2.0): a table selection as tidy rows, from JSON-stat 2.0.

Request: `POST {base}/tables/{table_id}/data?lang=sv&outputFormat=json-stat2` with the body
`{"selection": [{"variableCode": "Region", "valueCodes": ["1490", ...]}, ...]}` (the same
selection as the GET form `valueCodes[Region]=1490,...`).

Answer (JSON-stat 2.0 dataset): `{"version": "2.0", "class": "dataset", "id": [dimension ids],
"size": [category counts], "dimension": {id: {"label", "category": {"index", "label"}}},
"value": [...], "status"?: ...}`. The cells of `value` are in row-major order over `id`/`size`:
the last dimension varies fastest, so the cell at coordinates (c0, ..., cn) is at
sum(c_k * stride_k) with stride_n = 1 and stride_k = stride_(k+1) * size_(k+1).

Per the JSON-stat 2.0 format, handled in general:
- `value` is an array (dense) or an object from index to value (sparse: absent cells are null);
- `status` is absent, a string (for every cell), an array (one per cell, or one for all) or an
  object from index to status (PxWeb: `{"7": ".."}` beside a null value);
- `category.index` is an array of codes or an object code -> position; it may be absent for a
  dimension of one category, whose code is then the single key of `category.label`;
- a category without a label is labelled by its code.

Rows: one per cell, `{dim: code, f"{dim}_label": label, ..., "value": float | None,
"status": str | None}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opendata.collect.http import ApiClient, Row, malformed


def fetch_pxweb(
    client: ApiClient,
    base_url: str,
    table_id: str,
    selection: dict[str, list[str]],
    *,
    lang: str = "sv",
) -> list[Row]:
    """The cells of `table_id` for `selection` (variable code -> value codes)."""
    url = f"{base_url.rstrip('/')}/tables/{table_id}/data"
    body = {
        "selection": [
            {"variableCode": variable, "valueCodes": list(codes)}
            for variable, codes in selection.items()
        ]
    }
    answer = client.post_json(url, body, params={"lang": lang, "outputFormat": "json-stat2"})
    return jsonstat_rows(answer, url)


def jsonstat_rows(dataset: Any, url: str) -> list[Row]:
    """Every cell of a JSON-stat 2.0 dataset as a row (see the module's notes)."""
    if not isinstance(dataset, dict):
        raise malformed(url, "expected a JSON-stat 2.0 dataset object")
    if dataset.get("class", "dataset") != "dataset":
        raise malformed(url, f"JSON-stat class {dataset.get('class')!r}, expected 'dataset'")
    ids, sizes = dataset.get("id"), dataset.get("size")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise malformed(url, "JSON-stat 'id' is not a list of dimension ids")
    if (
        not isinstance(sizes, list)
        or len(sizes) != len(ids)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes)
    ):
        raise malformed(url, f"JSON-stat 'size' {sizes!r} does not match 'id' {ids!r}")
    if len(set(ids)) != len(ids) or {"value", "status"} & set(ids):
        raise malformed(url, f"JSON-stat dimension ids {ids!r} repeat or clash with value/status")
    dimensions = dataset.get("dimension")
    if not isinstance(dimensions, dict):
        raise malformed(url, "JSON-stat 'dimension' is not an object")
    categories = [
        _categories(dimensions.get(dim), dim, size, url)
        for dim, size in zip(ids, sizes, strict=True)
    ]
    total = 1
    for size in sizes:
        total *= size
    values = _cells(dataset.get("value"), total, "value", url)
    statuses = _statuses(dataset.get("status"), total, url)

    strides = [1] * len(sizes)
    for k in range(len(sizes) - 2, -1, -1):
        strides[k] = strides[k + 1] * sizes[k + 1]
    rows: list[Row] = []
    for flat in range(total):
        row: Row = {}
        for dim, size, stride, (codes, labels) in zip(ids, sizes, strides, categories, strict=True):
            position = (flat // stride) % size
            row[dim] = codes[position]
            row[f"{dim}_label"] = labels[position]
        number = values[flat]
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise malformed(url, f"JSON-stat value {number!r} at index {flat} is not a number")
        row["value"] = None if number is None else float(number)
        status = statuses[flat]
        if status is not None and not isinstance(status, str):
            raise malformed(url, f"JSON-stat status {status!r} at index {flat} is not text")
        row["status"] = status
        rows.append(row)
    return rows


def _categories(dimension: object, dim: str, size: int, url: str) -> tuple[list[str], list[str]]:
    """The codes of a dimension in index order, and their labels."""
    if not isinstance(dimension, dict) or not isinstance(dimension.get("category"), dict):
        raise malformed(url, f"JSON-stat dimension {dim!r} has no 'category' object")
    category: dict[str, Any] = dimension["category"]
    index, labels = category.get("index"), category.get("label")
    if labels is not None and not isinstance(labels, dict):
        raise malformed(url, f"JSON-stat dimension {dim!r}: category.label is not an object")
    labels = labels or {}
    codes: list[str]
    if index is None:
        if len(labels) != 1:
            raise malformed(url, f"JSON-stat dimension {dim!r}: no category.index")
        codes = list(labels)
    elif isinstance(index, list) and all(isinstance(code, str) for code in index):
        codes = list(index)
    elif isinstance(index, dict):
        positions = sorted(index.values()) if all(_is_int(p) for p in index.values()) else None
        if positions != list(range(len(index))):
            raise malformed(url, f"JSON-stat dimension {dim!r}: category.index is not 0..n-1")
        codes = sorted(index, key=lambda code: index[code])
    else:
        raise malformed(url, f"JSON-stat dimension {dim!r}: category.index is not a list or object")
    if len(codes) != size or len(set(codes)) != len(codes):
        raise malformed(
            url, f"JSON-stat dimension {dim!r}: {len(codes)} distinct categories, size {size}"
        )
    texts = [labels.get(code, code) for code in codes]
    if not all(isinstance(text, str) for text in texts):
        raise malformed(url, f"JSON-stat dimension {dim!r}: a category label is not text")
    return codes, texts


def _cells(cells: object, total: int, name: str, url: str) -> list[Any]:
    """A dense list of `total` cells from a JSON-stat array or index -> cell object."""
    if isinstance(cells, list):
        if len(cells) != total:
            raise malformed(url, f"JSON-stat '{name}' has {len(cells)} cells, sizes give {total}")
        return cells
    if isinstance(cells, Mapping):
        dense: list[Any] = [None] * total
        for key, cell in cells.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) < total):
                raise malformed(url, f"JSON-stat '{name}' has index {key!r} outside 0..{total - 1}")
            dense[int(key)] = cell
        return dense
    raise malformed(url, f"JSON-stat '{name}' is not an array or object")


def _statuses(status: object, total: int, url: str) -> list[Any]:
    if status is None:
        return [None] * total
    if isinstance(status, str):
        return [status] * total
    if isinstance(status, list) and len(status) == 1:
        return status * total
    return _cells(status, total, "status", url)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
