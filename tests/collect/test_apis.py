"""The API collectors against local servers answering in each API's real wire format.

Kolada v3, SCB's PxWeb v2 and Trafikanalys are played by `tests/fakeapis.py` (TEST DATA), with
faults injected per path: rate limits, server errors, timeouts, malformed and empty answers.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata.collect.http import ApiClient, ResponseCache, RetryPolicy, safe_url
from opendata.collect.kolada import fetch_kolada
from opendata.collect.pxweb import fetch_pxweb, jsonstat_rows
from opendata.collect.trafa import fetch_trafa, parse_number, trafa_rows
from opendata.errors import SourceResponseError, SourceUnavailable
from opendata.storage import LocalStore
from tests.fakeapis import MEMBERS, MUNICIPALITIES, FakeApis

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, jitter=0.5, max_retry_after=60)


class Sleeps:
    """A `sleep` that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def client(sleeps: Sleeps | None = None, **options: Any) -> ApiClient:
    options.setdefault("retry", FAST)
    return ApiClient(sleep=sleeps or Sleeps(), **options)


def served_kolada(
    fake: FakeApis, kpis: list[str], municipalities: list[str], years: list[int]
) -> list[dict[str, Any]]:
    """The rows the fake's data should become, built straight from what it serves."""
    titles = {kpi: meta["title"] for kpi, meta in fake.kolada_kpis.items()}
    return [
        {
            "kpi": entry["kpi"],
            "kpi_namn": titles[entry["kpi"]],
            "kommunkod": entry["municipality"],
            "ar": entry["period"],
            "kon": value["gender"],
            "varde": None if value["value"] is None else float(value["value"]),
            "status": value["status"] or None,
        }
        for entry in fake.kolada_values
        if entry["kpi"] in kpis
        and entry["municipality"] in municipalities
        and entry["period"] in years
        for value in entry["values"]
    ]


def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


# Kolada ------------------------------------------------------------------------------------


def test_kolada_rows_equal_the_served_values(fake_apis: FakeApis) -> None:
    kpis, years = ["U07801", "N07945", "N01951"], [2021, 2022, 2023]
    with client() as api:
        rows = fetch_kolada(api, fake_apis.kolada, kpis, MEMBERS, years)
    assert ordered(rows) == ordered(served_kolada(fake_apis, kpis, MEMBERS, years))
    assert len(rows) == 8 * 3 * (1 + 1 + 3)  # N01951 is split by gender: T, K, M
    assert {
        "kpi": "U07801",
        "kpi_namn": "Insamlat kommunalt avfall totalt, kg/invånare (TESTDATA)",
        "kommunkod": "1490",
        "ar": 2023,
        "kon": "T",
        "varde": 417.75,
        "status": None,
    } in rows
    missing = [
        r for r in rows if r["kommunkod"] == "1466" and r["ar"] == 2021 and r["kpi"] == "U07801"
    ]
    assert missing == [{**missing[0], "varde": None, "status": "Missing"}]
    assert {r["kon"] for r in rows if r["kpi"] == "N01951"} == {"T", "K", "M"}
    assert all("enhet" not in r for r in rows)  # Kolada's KPI metadata has no unit field
    assert [r.path for r in fake_apis.requests_to("/v3/kpi/")] == ["/v3/kpi/U07801,N07945,N01951"]


@pytest.mark.parametrize("next_key", ["next_url", "next_page"])
def test_kolada_follows_pages(fake_apis: FakeApis, next_key: str) -> None:
    fake_apis.kolada_page_size = 7  # the server's own page size, below the requested 5000
    fake_apis.kolada_next_key = next_key
    kpis, years = ["U07801", "N01951"], [2022, 2023]
    with client() as api:
        rows = fetch_kolada(api, fake_apis.kolada, kpis, MEMBERS, years)
    assert ordered(rows) == ordered(served_kolada(fake_apis, kpis, MEMBERS, years))
    pages = fake_apis.requests_to("/v3/data/")
    assert len(pages) == 5  # 32 entries in pages of 7
    assert [p.query.get("page", ["1"])[0] for p in pages] == ["1", "2", "3", "4", "5"]


def test_kolada_per_page_is_sent_and_followed(fake_apis: FakeApis) -> None:
    with client() as api:
        rows = fetch_kolada(api, fake_apis.kolada, ["U07801"], MEMBERS, [2023], per_page=3)
    assert ordered(rows) == ordered(served_kolada(fake_apis, ["U07801"], MEMBERS, [2023]))
    pages = fake_apis.requests_to("/v3/data/")
    assert len(pages) == 3 and all(p.query["per_page"] == ["3"] for p in pages)


def test_kolada_batches_ids_by_25(fake_apis: FakeApis) -> None:
    assert len(MUNICIPALITIES) == 30
    with client() as api:
        rows = fetch_kolada(api, fake_apis.kolada, ["U07801"], MUNICIPALITIES, [2023])
    data = fake_apis.requests_to("/v3/data/")
    assert len(data) == 2
    batches = [r.path.split("/municipality/")[1].split("/year/")[0].split(",") for r in data]
    assert batches == [MUNICIPALITIES[:25], MUNICIPALITIES[25:]]
    assert sorted(r["kommunkod"] for r in rows) == sorted(MUNICIPALITIES)

    many_kpis = ["U07801", *(f"X{n:05d}" for n in range(26))]  # 27 ids: two batches
    fake_apis.requests.clear()
    with client() as api:
        rows = fetch_kolada(api, fake_apis.kolada, many_kpis, ["1490"], [2023])
    assert len(fake_apis.requests_to("/v3/kpi/")) == 2
    assert len(fake_apis.requests_to("/v3/data/")) == 2
    assert [(r["kpi"], r["kommunkod"]) for r in rows] == [("U07801", "1490")]


def test_kolada_missing_municipality_is_absent_from_rows(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v3/data/", "missing_municipality", municipality="1465")
    with client() as api:
        rows = fetch_kolada(api, fake_apis.kolada, ["U07801"], MEMBERS, [2022, 2023])
    assert {r["kommunkod"] for r in rows} == set(MEMBERS) - {"1465"}
    assert len(rows) == 7 * 2


def test_kolada_empty_answer_is_no_rows(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v3/data/", "empty")
    with client() as api:
        assert fetch_kolada(api, fake_apis.kolada, ["U07801"], MEMBERS, [2023]) == []


def test_kolada_answer_of_the_wrong_shape_names_the_url(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v3/data/", "malformed", body='{"result": []}', content_type="application/json")
    with client() as api, pytest.raises(SourceResponseError) as caught:
        fetch_kolada(api, fake_apis.kolada, ["U07801"], ["1490"], [2023])
    message = str(caught.value)
    assert f"{fake_apis.url}/v3/data/kpi/U07801/municipality/1490/year/2023" in message
    assert "malformed answer" in message and "'values'" in message
    assert caught.value.exit_code == 3


# Retries, timeouts, terminal errors --------------------------------------------------------


def test_429_with_retry_after_then_success(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v3/data/", "429", times=2, retry_after="2")
    sleeps = Sleeps()
    with client(sleeps) as api:
        rows = fetch_kolada(api, fake_apis.kolada, ["U07801"], ["1490"], [2023])
        assert api.requests_sent == 1 + 3  # the KPI metadata, then 429, 429, 200
    assert sleeps.calls == [2.0, 2.0]
    assert rows == served_kolada(fake_apis, ["U07801"], ["1490"], [2023])


def test_retry_after_as_http_date_and_capped(fake_apis: FakeApis) -> None:
    now = datetime(2024, 5, 2, 12, 0, 0, tzinfo=UTC)
    fake_apis.fail(
        "/api/data",
        "429",
        times=1,
        retry_after=format_datetime(now + timedelta(seconds=3), usegmt=True),
    )
    fake_apis.fail("/api/data", "500", times=1, status=503, retry_after="86400")
    sleeps = Sleeps()
    with client(sleeps, clock=Clock(now)) as api:
        rows = fetch_trafa(api, fake_apis.trafa, "t10016|ar:2023|regkom:1443")
    assert sleeps.calls == [3.0, 60.0]  # the date 3 s ahead; a day, capped at max_retry_after
    assert rows == [{"ar": "2023", "regkom": "1443", "itrfslut": 22_023.0}]


def test_500_then_success_backs_off(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v2beta/", "500", times=2)
    sleeps = Sleeps()
    with client(sleeps, rng=lambda: 0.5) as api:  # no jitter: rng 0.5 is the middle
        rows = fetch_pxweb(api, fake_apis.pxweb, "TAB638", {"Region": ["1490"], "Tid": ["2023"]})
        assert api.requests_sent == 3
    assert sleeps.calls == [0.001, 0.002]  # base_delay, doubled
    assert [(r["Kon"], r["value"]) for r in rows] == [("1", 50_001.0), ("2", 50_101.0)]


def test_server_errors_that_persist_make_the_source_unavailable(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v3/", "500")
    sleeps = Sleeps()
    with client(sleeps) as api, pytest.raises(SourceUnavailable) as caught:
        fetch_kolada(api, fake_apis.kolada, ["U07801"], ["1490"], [2023])
    assert len(sleeps.calls) == FAST.attempts - 1
    assert len(fake_apis.requests) == FAST.attempts
    assert f"GET {fake_apis.url}/v3/kpi/U07801" in str(caught.value)
    assert "HTTP 500" in str(caught.value) and caught.value.exit_code == 3
    # What failed, in parts a run words its skip with (opendata.run.Unreachable).
    assert (caught.value.request, caught.value.reason, caught.value.attempts) == (
        f"GET {fake_apis.url}/v3/kpi/U07801?per_page=5000",
        "HTTP 500 Internal Server Error",
        FAST.attempts,
    )


def test_a_timeout_retries_then_makes_the_source_unavailable(fake_apis: FakeApis) -> None:
    fake_apis.fail("/v2beta/", "delay", delay=1.0)
    short = httpx.Timeout(connect=1.0, read=0.25, write=1.0, pool=1.0)
    retry = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.001)
    with client(timeout=short, retry=retry) as api, pytest.raises(SourceUnavailable) as caught:
        fetch_pxweb(api, fake_apis.pxweb, "TAB638", {"Region": ["1490"]})
    assert "ReadTimeout" in str(caught.value) and "2 attempts" in str(caught.value)
    assert f"POST {fake_apis.url}/v2beta/api/v2/tables/TAB638/data" in str(caught.value)
    assert api.requests_sent == 2
    # The server may record the last request a little later: waited for (generously, so that
    # only a request never recorded fails), not timed.
    deadline = time.monotonic() + 60.0
    while len(fake_apis.requests_to("/v2beta/")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(fake_apis.requests_to("/v2beta/")) == 2


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    with client(sleeps) as api, pytest.raises(SourceUnavailable, match="ConnectError"):
        api.get_json(f"http://127.0.0.1:{port}/v3/kpi/U07801")
    assert len(sleeps.calls) == FAST.attempts - 1


def test_malformed_body_is_terminal_and_names_the_url(fake_apis: FakeApis) -> None:
    fake_apis.fail("/api/data", "malformed")
    sleeps = Sleeps()
    with client(sleeps) as api, pytest.raises(SourceResponseError) as caught:
        fetch_trafa(api, fake_apis.trafa, "t10016|ar:2023")
    assert f"GET {fake_apis.url}/api/data?query=t10016" in str(caught.value)
    assert "not JSON (text/html" in str(caught.value)
    assert sleeps.calls == [] and len(fake_apis.requests) == 1


def test_other_4xx_is_terminal_and_hides_credentials(fake_apis: FakeApis) -> None:
    sleeps = Sleeps()
    url = fake_apis.url.replace("http://", "http://steward:hunter2@") + "/v3/nowhere"
    with client(sleeps) as api, pytest.raises(SourceResponseError) as caught:
        api.get_json(url, params={"api_key": "s3cr3t", "page": 1})
    message = str(caught.value)
    assert "HTTP 404" in message and "/v3/nowhere" in message and "page=1" in message
    assert "api_key=***" in message  # in the URL, and where the server's answer echoes it
    assert "s3cr3t" not in message and "hunter2" not in message and "steward" not in message
    assert sleeps.calls == []
    assert safe_url("https://u:p@h.se:8443/a?token=x&b=2") == "https://h.se:8443/a?token=***&b=2"


# Cache -------------------------------------------------------------------------------------


def test_cache_answers_within_expiry_and_refetches_after(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    clock = Clock(datetime(2024, 5, 2, 12, 0, tzinfo=UTC))
    cache = ResponseCache(store, expiry=timedelta(hours=6), clock=clock)
    arguments = (["U07801", "N01951"], MEMBERS, [2022, 2023])

    with client(cache=cache) as api:
        first = fetch_kolada(api, fake_apis.kolada, *arguments)
        sent = api.requests_sent
    assert sent == len(fake_apis.requests) == 2  # metadata and one page of data
    keys = store.list("")
    assert len(keys) == 2 and all(k.startswith("_private/cache/") for k in keys)
    entry = json.loads(store.read_bytes(keys[0]) or b"")
    assert entry["fetched"] == "2024-05-02T12:00:00+00:00" and "answer" in entry

    fake_apis.requests.clear()
    clock.now += timedelta(hours=5, minutes=59)
    with client(cache=cache) as api:  # a re-run within the expiry: nothing is sent
        assert fetch_kolada(api, fake_apis.kolada, *arguments) == first
        assert api.requests_sent == 0 and api.cache_hits == 2
    assert fake_apis.requests == []

    clock.now += timedelta(minutes=1)  # six hours after fetching: expired
    with client(cache=cache) as api:
        assert fetch_kolada(api, fake_apis.kolada, *arguments) == first
        assert api.requests_sent == 2
    assert len(fake_apis.requests) == 2


def test_cache_key_ignores_query_order_and_counts_the_body(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    cache = ResponseCache(LocalStore(tmp_path), expiry=timedelta(days=1))
    one = cache.key("GET", httpx.URL("http://h/a?b=2&a=1"))
    assert one == cache.key("get", httpx.URL("http://h/a?a=1&b=2"))
    assert cache.key("POST", httpx.URL("http://h/a"), {"x": [1]}) != cache.key(
        "POST", httpx.URL("http://h/a"), {"x": [2]}
    )
    selection = {"Region": ["1490"], "Tid": ["2023"]}
    with client(cache=cache) as api:
        fetch_pxweb(api, fake_apis.pxweb, "TAB638", selection)
        fetch_pxweb(api, fake_apis.pxweb, "TAB638", selection)
        fetch_pxweb(api, fake_apis.pxweb, "TAB638", {"Region": ["1443"], "Tid": ["2023"]})
        assert api.requests_sent == 2 and api.cache_hits == 1


# PxWeb -------------------------------------------------------------------------------------


def test_pxweb_rows_equal_the_served_cells(fake_apis: FakeApis) -> None:
    selection = {"Region": ["1490", "1466"], "Kon": ["1", "2"], "Tid": ["2022", "2023"]}
    with client() as api:
        rows = fetch_pxweb(api, fake_apis.pxweb, "TAB638", selection)
    (request,) = fake_apis.requests
    assert request.method == "POST" and request.query["outputFormat"] == ["json-stat2"]
    assert request.body == {
        "selection": [{"variableCode": k, "valueCodes": v} for k, v in selection.items()]
    }
    labels = {"1490": "Borås", "1466": "Herrljunga", "1": "män", "2": "kvinnor"}
    table = fake_apis.pxweb_tables["TAB638"]
    expected = [
        {
            "Region": region,
            "Region_label": labels[region],
            "Kon": sex,
            "Kon_label": labels[sex],
            "ContentsCode": "000003O5",
            "ContentsCode_label": "Folkmängd (TESTDATA)",
            "Tid": year,
            "Tid_label": year,
            "value": table.cells[(region, sex, "000003O5", year)],
            "status": None if table.cells[(region, sex, "000003O5", year)] is not None else "..",
        }
        for region, sex, year in itertools.product(["1490", "1466"], ["1", "2"], ["2022", "2023"])
    ]
    assert rows == expected
    assert rows[-1]["value"] is None and rows[-1]["status"] == ".."
    assert rows[0]["value"] == 50_000.0


def test_pxweb_unknown_table_is_terminal(fake_apis: FakeApis) -> None:
    with client() as api, pytest.raises(SourceResponseError, match=r"HTTP 404.*TAB9999"):
        fetch_pxweb(api, fake_apis.pxweb, "TAB9999", {"Region": ["1490"]})


@st.composite
def datasets(draw: st.DrawFn) -> tuple[dict[str, Any], list[str], list[list[str]]]:
    """A JSON-stat 2.0 dataset with random sizes, index forms, and dense or sparse values."""
    sizes = draw(st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=4))
    ids = [f"D{k}" for k in range(len(sizes))]
    codes = [[f"{dim}c{j}" for j in range(size)] for dim, size in zip(ids, sizes, strict=True)]
    dimension: dict[str, Any] = {}
    for dim, dim_codes in zip(ids, codes, strict=True):
        order = draw(st.permutations(dim_codes))  # the listed order need not be the index order
        if draw(st.booleans()):
            index: Any = list(dim_codes)
        else:
            index = {code: dim_codes.index(code) for code in order}
        labels = {code: f"label {code}" for code in order}
        dimension[dim] = {"label": dim, "category": {"index": index, "label": labels}}
    total = 1
    for size in sizes:
        total *= size
    value: Any = [float(i) for i in range(total)]
    if draw(st.booleans()):  # sparse: an object index -> value, some cells absent
        kept = (
            draw(st.sets(st.integers(min_value=0, max_value=max(total - 1, 0)))) if total else set()
        )
        value = {str(i): float(i) for i in sorted(kept)}
    dataset = {"version": "2.0", "class": "dataset", "id": ids, "size": sizes,
               "dimension": dimension, "value": value}  # fmt: skip
    return dataset, ids, codes


@settings(max_examples=150, deadline=None)
@given(datasets())
def test_jsonstat_index_arithmetic_puts_every_value_on_its_coordinates(
    case: tuple[dict[str, Any], list[str], list[list[str]]],
) -> None:
    dataset, ids, codes = case
    rows = jsonstat_rows(dataset, "http://test/jsonstat")
    # The oracle: itertools.product walks the cube in row-major order (last dimension fastest).
    coordinates = list(itertools.product(*codes))
    assert len(rows) == len(coordinates)
    value = dataset["value"]
    for flat, (row, cell) in enumerate(zip(rows, coordinates, strict=True)):
        assert tuple(row[dim] for dim in ids) == cell
        assert all(row[f"{dim}_label"] == f"label {row[dim]}" for dim in ids)
        expected = value[flat] if isinstance(value, list) else value.get(str(flat))
        assert row["value"] == expected
        if expected is not None:
            assert expected == float(flat)


def test_jsonstat_status_forms_and_single_category_without_index() -> None:
    dataset = {
        "version": "2.0", "class": "dataset", "id": ["A", "B"], "size": [1, 3],
        "dimension": {
            "A": {"category": {"label": {"only": "Den enda"}}},
            "B": {"category": {"index": {"y": 1, "x": 0, "z": 2}}},
        },
        "value": {"0": 1.5, "2": 3},
    }  # fmt: skip
    rows = jsonstat_rows({**dataset, "status": {"1": ".."}}, "u")
    assert [
        (r["A"], r["A_label"], r["B"], r["B_label"], r["value"], r["status"]) for r in rows
    ] == [
        ("only", "Den enda", "x", "x", 1.5, None),
        ("only", "Den enda", "y", "y", None, ".."),
        ("only", "Den enda", "z", "z", 3.0, None),
    ]
    assert [r["status"] for r in jsonstat_rows({**dataset, "status": "p"}, "u")] == ["p"] * 3
    assert [r["status"] for r in jsonstat_rows({**dataset, "status": ["e"]}, "u")] == ["e"] * 3
    bad = {**dataset, "value": [1.0, 2.0]}
    with pytest.raises(SourceResponseError, match="has 2 cells, sizes give 3"):
        jsonstat_rows(bad, "http://scb.test/tables/T/data")


# Trafikanalys ------------------------------------------------------------------------------


def test_trafa_rows_equal_the_served_rows(fake_apis: FakeApis) -> None:
    with client() as api:
        rows = fetch_trafa(api, fake_apis.trafa, "t10016|ar:2022,2023|regkom:1443,1490")
    assert rows == [
        {"ar": "2022", "regkom": "1443", "itrfslut": 22_022.0},
        {"ar": "2023", "regkom": "1443", "itrfslut": 22_023.0},
        {"ar": "2022", "regkom": "1490", "itrfslut": 23_256.0},
        {"ar": "2023", "regkom": "1490", "itrfslut": None},  # served as "-"
    ]
    (request,) = fake_apis.requests
    assert request.query["query"] == ["t10016|ar:2022,2023|regkom:1443,1490"]


def test_trafa_empty_and_error_answers(fake_apis: FakeApis) -> None:
    fake_apis.fail("/api/data", "empty", times=1)
    with client() as api:
        assert fetch_trafa(api, fake_apis.trafa, "t10016|ar:2023") == []
        with pytest.raises(SourceResponseError, match="Okänd produkt"):
            fetch_trafa(api, fake_apis.trafa, "t99999|ar:2023")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12345", 12345.0),
        ("12 345", 12345.0),
        ("12\u00a0345", 12345.0),
        ("1\u202f234\u202f567", 1234567.0),
        ("12,5", 12.5),
        ("1 234,5", 1234.5),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("1.234.567", 1234567.0),
        ("12.5", 12.5),
        ("\u22123,25", -3.25),
        ("-7", -7.0),
        (17, 17.0),
        ("-", None),
        ("..", None),
        ("", None),
        (None, None),
    ],
)
def test_trafa_number_parsing(text: object, number: float | None) -> None:
    assert parse_number(text, "u", "c") == number


@pytest.mark.parametrize("text", ["12,3,4", "abc", "1 2x", True])
def test_trafa_non_numbers_are_malformed(text: object) -> None:
    with pytest.raises(SourceResponseError, match=r"column 'antal'.*not a number"):
        trafa_rows(
            {"Rows": [{"Cell": {"Column": "antal", "IsMeasure": True, "Value": text}}]},
            "https://api.trafa.se/api/data?query=t1",
        )
