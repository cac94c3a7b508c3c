"""Kolada (api.kolada.se, API v3): key figures of municipalities as tidy rows.

Wire format (v3):

- KPI metadata, `GET {base}/kpi/{id,id,...}`: `{"count", "values": [{"id", "title",
  "description", "is_divided_by_gender", "municipality_type", "auspice", "operating_area",
  "perspective", "prel_publication_date", "publication_date", "publ_period", "has_ou_data"}],
  "next_url", "previous_url"}`. There is no unit field: the unit, where there is one, is part of
  the title ("..., kg/invånare"). So rows carry `kpi_namn` and no `enhet`: nothing is derived.
- Data, `GET {base}/data/kpi/{ids}/municipality/{ids}/year/{years}`: `{"count", "values":
  [{"kpi", "municipality", "period", "values": [{"gender": "T"|"K"|"M", "count", "status",
  "value", "isdeleted"?}]}], "next_url", "previous_url"}`, at most `per_page` (max 5000) values
  a page. The next page is named by `next_url` (v3) or `next_page` (v2): a URL, or null on the
  last page. Ids in a path are comma-separated, at most 25 of each kind a request.

Rows: `{"kpi", "kpi_namn", "kommunkod", "ar", "kon", "varde", "status"}`, `varde` a float or None
(no value: Kolada's `status` says why, e.g. "Missing"), `status` None when Kolada's is empty.
A municipality or year without data is simply absent; reporting it is the caller's business.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from opendata.collect.http import ApiClient, Row, malformed

BATCH = 25  # ids of one kind in one request (the API refuses longer lists)
PER_PAGE = 5000  # Kolada's largest page
MAX_PAGES = 10_000
GENDERS = ("T", "K", "M")


def fetch_kolada(
    client: ApiClient,
    base_url: str,
    kpis: list[str],
    municipalities: list[str],
    years: list[int],
    *,
    per_page: int = PER_PAGE,
) -> list[Row]:
    """Every value Kolada has for `kpis` × `municipalities` × `years` (all years if empty)."""
    kpis = _unique(kpis)
    municipalities = _unique(municipalities)
    year_ids = _unique([str(year) for year in years])
    if not kpis or not municipalities:
        return []
    base = base_url.rstrip("/")
    titles = _titles(client, base, kpis, per_page)
    rows: list[Row] = []
    for kpi_batch in _batches(kpis):
        for municipality_batch in _batches(municipalities):
            for year_batch in _batches(year_ids) if year_ids else [[]]:
                path = f"{base}/data/kpi/{_ids(kpi_batch)}/municipality/{_ids(municipality_batch)}"
                if year_batch:
                    path += f"/year/{_ids(year_batch)}"
                for url, item in _items(client, path, per_page):
                    rows.extend(_rows(item, titles, url))
    return rows


def _titles(client: ApiClient, base: str, kpis: list[str], per_page: int) -> dict[str, str]:
    titles: dict[str, str] = {}
    for batch in _batches(kpis):
        for url, item in _items(client, f"{base}/kpi/{_ids(batch)}", per_page):
            kpi_id, title = item.get("id"), item.get("title")
            if not isinstance(kpi_id, str) or not isinstance(title, str | None):
                raise malformed(url, f"a KPI without a string id and title: {_short(item)}")
            if title is not None:
                titles[kpi_id] = title
    return titles


def _items(client: ApiClient, first: str, per_page: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each object in `values` of every page, with the URL of its page."""
    url: str | None = _with_query(first, per_page=str(per_page))
    seen: set[str] = set()
    while url is not None:
        if url in seen or len(seen) >= MAX_PAGES:
            raise malformed(url, "the pages never end (next_url/next_page loops)")
        seen.add(url)
        answer = client.get_json(url)
        if not isinstance(answer, dict) or not isinstance(answer.get("values"), list):
            raise malformed(url, f"expected an object with a list 'values', got {_short(answer)}")
        values: list[Any] = answer["values"]
        for item in values:
            if not isinstance(item, dict):
                raise malformed(url, f"an entry of 'values' is not an object: {_short(item)}")
            yield url, item
        url = _next(answer, url) if values else None


def _next(answer: dict[str, Any], url: str) -> str | None:
    """The next page's URL: `next_url` (v3) or `next_page` (v2), a URL or a page number."""
    following = answer.get("next_url") or answer.get("next_page")
    if following is None or following == "":
        return None
    if isinstance(following, str):
        return urljoin(url, following)
    if isinstance(following, int) and not isinstance(following, bool):
        return _with_query(url, page=str(following))
    raise malformed(url, f"next_url/next_page is neither a URL nor a page: {_short(following)}")


def _rows(item: dict[str, Any], titles: dict[str, str], url: str) -> list[Row]:
    kpi, municipality, period = item.get("kpi"), item.get("municipality"), item.get("period")
    if not isinstance(kpi, str) or not isinstance(municipality, str):
        raise malformed(url, f"an entry without string 'kpi' and 'municipality': {_short(item)}")
    year = _year(period)
    if year is None:
        raise malformed(url, f"an entry with period {period!r}, not a year")
    values = item.get("values")
    if not isinstance(values, list):
        raise malformed(url, f"an entry without a list 'values': {_short(item)}")
    rows: list[Row] = []
    for value in values:
        if not isinstance(value, dict):
            raise malformed(url, f"a value is not an object: {_short(value)}")
        if value.get("isdeleted") is True:
            continue  # withdrawn by Kolada: not a value any more
        gender, number, status = value.get("gender"), value.get("value"), value.get("status")
        if gender not in GENDERS:
            raise malformed(url, f"gender {gender!r} is not one of T, K, M ({kpi}, {municipality})")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise malformed(
                url, f"value {number!r} is not a number ({kpi}, {municipality}, {year})"
            )
        if status is not None and not isinstance(status, str):
            raise malformed(url, f"status {status!r} is not text ({kpi}, {municipality}, {year})")
        rows.append(
            {
                "kpi": kpi,
                "kpi_namn": titles.get(kpi),
                "kommunkod": municipality,
                "ar": year,
                "kon": gender,
                "varde": None if number is None else float(number),
                "status": status or None,
            }
        )
    return rows


def _year(period: object) -> int | None:
    if isinstance(period, int) and not isinstance(period, bool):
        return period
    if isinstance(period, str) and period.isdigit() and len(period) == 4:
        return int(period)
    return None


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _ids(ids: Sequence[str]) -> str:
    return ",".join(quote(i, safe="") for i in ids)


def _batches(ids: list[str]) -> list[list[str]]:
    return [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in ids if i.strip()))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
