"""One local HTTP server answering like Kolada v3, SCB's PxWeb API v2 and Trafikanalys.

TEST DATA: every number, and every label marked "(TESTDATA)", is made up for the tests. Only the
wire formats are real (shapes as documented and as public clients of these APIs read them):

- Kolada v3: `/v3/kpi/{ids}` and `/v3/data/kpi/{ids}/municipality/{ids}[/year/{years}]`, pages
  of `per_page` values (at most 5000, or the fake's own `kolada_page_size`) linked by `next_url`
  (or `next_page`, as in v2); more than 25 ids of a kind is refused with 400.
- PxWeb v2: `POST /v2beta/api/v2/tables/{id}/data` with `{"selection": [...]}`, or GET with
  `valueCodes[Var]=a,b`, answering JSON-stat 2.0 (missing cells: null + status "..").
- Trafikanalys: `GET /api/data?query=product|var:a,b|...`, answering `{"Header", "Rows": [{"Cell":
  [...]}], "Errors", ...}`.

Faults are injected per path prefix (`fail`): N× 429 with Retry-After, N× 500, a delay longer
than the client's timeout, a malformed body, an empty result, a missing municipality. Every
request is recorded (method, path, query, body) so tests can count and inspect them.
"""

from __future__ import annotations

import atexit
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

MARK = "(TESTDATA)"

# Boråsregionen's eight members first, then 22 more municipalities of Västra Götaland.
MEMBERS = ["1443", "1490", "1466", "1463", "1465", "1452", "1491", "1442"]
OTHERS = [
    "1401", "1402", "1407", "1415", "1419", "1421", "1427", "1430", "1435", "1438", "1439",
    "1440", "1441", "1444", "1445", "1446", "1447", "1460", "1461", "1462", "1470", "1480",
]  # fmt: skip
MUNICIPALITIES = MEMBERS + OTHERS
YEARS = [2020, 2021, 2022, 2023]


def _kpi(kpi_id: str, title: str, divided_by_gender: bool) -> dict[str, Any]:
    """A KPI in Kolada v3's metadata shape (which has no unit field)."""
    return {
        "id": kpi_id,
        "title": f"{title} {MARK}",
        "description": f"Testdata för {kpi_id}; inte Koladas siffror.",
        "is_divided_by_gender": divided_by_gender,
        "municipality_type": "K",
        "auspice": "X",
        "operating_area": "Miljö och klimat",
        "perspective": "Resultat",
        "prel_publication_date": None,
        "publication_date": "2024-06-15",
        "publ_period": "2023",
        "has_ou_data": False,
    }


def default_kolada_kpis() -> dict[str, dict[str, Any]]:
    return {
        "U07801": _kpi("U07801", "Insamlat kommunalt avfall totalt, kg/invånare", False),
        "N07945": _kpi("N07945", "Andel elbilar av nyregistrerade personbilar, %", False),
        "N01951": _kpi("N01951", "Invånare totalt, antal", True),
    }


def default_kolada_values() -> list[dict[str, Any]]:
    """One entry per KPI × municipality × year, Kolada's data shape; values are made up."""
    entries: list[dict[str, Any]] = []
    for kpi in ("U07801", "N07945", "N01951"):
        for number, municipality in enumerate(MUNICIPALITIES):
            for year in YEARS:
                base = 400.0 + number * 7.25 + (year - 2020) * 3.5
                if kpi == "N07945":
                    base = round(10.0 + number * 0.5 + (year - 2020) * 4.25, 2)
                if kpi == "N01951":
                    total = 10_000 + number * 1_000 + (year - 2020) * 10
                    women = total // 2
                    values = [
                        {"gender": "T", "count": 1, "status": "", "value": total},
                        {"gender": "K", "count": 1, "status": "", "value": women},
                        {"gender": "M", "count": 1, "status": "", "value": total - women},
                    ]
                elif kpi == "U07801" and municipality == "1466" and year == 2021:
                    values = [{"gender": "T", "count": 0, "status": "Missing", "value": None}]
                else:
                    values = [{"gender": "T", "count": 1, "status": "", "value": base}]
                for value in values:
                    value["isdeleted"] = False
                entries.append(
                    {"kpi": kpi, "municipality": municipality, "period": year, "values": values}
                )
    return entries


@dataclass
class PxTable:
    """A PxWeb table: its dimensions (id, label, [(code, label)]) and cells by code tuple."""

    label: str
    dimensions: list[tuple[str, str, list[tuple[str, str]]]]
    cells: dict[tuple[str, ...], float | None]


def default_pxweb_tables() -> dict[str, PxTable]:
    regions = [("1490", "Borås"), ("1443", "Bollebygd"), ("1466", "Herrljunga")]
    sexes = [("1", "män"), ("2", "kvinnor")]
    contents = [("000003O5", f"Folkmängd {MARK}")]
    years = [("2022", "2022"), ("2023", "2023")]
    cells: dict[tuple[str, ...], float | None] = {}
    for r, (region, _) in enumerate(regions):
        for s, (sex, _) in enumerate(sexes):
            for y, (year, _) in enumerate(years):
                cells[(region, sex, "000003O5", year)] = float(50_000 + r * 1000 + s * 100 + y)
    cells[("1466", "2", "000003O5", "2023")] = None  # a missing cell: null + status ".."
    return {
        "TAB638": PxTable(
            label=f"Folkmängd efter region, kön och år {MARK}",
            dimensions=[
                ("Region", "region", regions),
                ("Kon", "kön", sexes),
                ("ContentsCode", "tabellinnehåll", contents),
                ("Tid", "år", years),
            ],
            cells=cells,
        )
    }


@dataclass
class TrafaProduct:
    """A Trafikanalys product: its columns (name, type D/M, label) and rows (column -> value)."""

    name: str
    columns: list[tuple[str, str, str]]
    rows: list[dict[str, str]]


def default_trafa_products() -> dict[str, TrafaProduct]:
    rows: list[dict[str, str]] = []
    for number, municipality in enumerate(MEMBERS):
        for year in ("2022", "2023"):
            count = 20_000 + number * 1_234 + int(year)
            rows.append({"ar": year, "regkom": municipality, "itrfslut": str(count)})
    rows[3]["itrfslut"] = "-"  # no value
    return {
        "t10016": TrafaProduct(
            name=f"Personbilar {MARK}",
            columns=[("ar", "D", "År"), ("regkom", "D", "Kommun"), ("itrfslut", "M", "I trafik")],
            rows=rows,
        )
    }


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class Fault:
    path: str  # a path prefix
    kind: str  # "429", "500", "delay", "malformed", "empty", "missing_municipality"
    times: int | None  # how many requests it spoils; None: all
    retry_after: str | None = None
    status: int = 500
    delay: float = 0.0
    body: str = "<html><body><h1>Service Unavailable</h1></body></html>"
    content_type: str = "text/html; charset=utf-8"
    municipality: str | None = None


@dataclass
class FakeApis:
    """The server and its configurable test data; `url` is its root (http://127.0.0.1:port)."""

    url: str = ""
    kolada_kpis: dict[str, dict[str, Any]] = field(default_factory=default_kolada_kpis)
    kolada_values: list[dict[str, Any]] = field(default_factory=default_kolada_values)
    kolada_page_size: int = 5000
    kolada_next_key: str = "next_url"
    pxweb_tables: dict[str, PxTable] = field(default_factory=default_pxweb_tables)
    trafa_products: dict[str, TrafaProduct] = field(default_factory=default_trafa_products)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def kolada(self) -> str:
        return f"{self.url}/v3"

    @property
    def pxweb(self) -> str:
        return f"{self.url}/v2beta/api/v2"

    @property
    def trafa(self) -> str:
        return f"{self.url}/api"

    def fail(self, path: str, kind: str, times: int | None = None, **options: Any) -> None:
        """Spoil the next `times` requests whose path starts with `path` (all if None)."""
        with self._lock:
            self.faults.append(Fault(path, kind, times, **options))

    def requests_to(self, prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def reset(self) -> None:
        with self._lock:
            self.kolada_kpis = default_kolada_kpis()
            self.kolada_values = default_kolada_values()
            self.kolada_page_size = 5000
            self.kolada_next_key = "next_url"
            self.pxweb_tables = default_pxweb_tables()
            self.trafa_products = default_trafa_products()
            self.faults.clear()
            self.requests.clear()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            apis = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind == "missing_municipality":
                    continue  # a change of data, applied by the Kolada route
                if path.startswith(fault.path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _missing(self, path: str) -> set[str]:
        with self._lock:
            return {
                f.municipality
                for f in self.faults
                if f.kind == "missing_municipality" and path.startswith(f.path) and f.municipality
            }


class _Handler(BaseHTTPRequestHandler):
    apis: FakeApis
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self.apis._lock:
            self.apis.requests.append(Recorded(method, path, query, body))
        try:
            fault = self.apis._take_fault(path)
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.delay)
                fault = None
            if fault is not None:
                self._fault(fault, path, query)
                return
            status, answer = self._route(method, path, query, body)
            self._send(status, json.dumps(answer, ensure_ascii=False).encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nobody to answer

    def _fault(self, fault: Fault, path: str, query: dict[str, list[str]]) -> None:
        if fault.kind == "429":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(429, b'{"message": "Too Many Requests"}', headers=headers)
        elif fault.kind == "500":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, b"Internal Server Error", "text/plain", headers)
        elif fault.kind == "malformed":
            self._send(200, fault.body.encode("utf-8"), fault.content_type)
        elif fault.kind == "empty":
            self._send(200, json.dumps(self._empty(path)).encode("utf-8"))
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Test-Data", "true")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _empty(self, path: str) -> dict[str, Any]:
        if path.startswith("/v3/"):
            return {"count": 0, "values": [], "next_url": None, "previous_url": None}
        if path.startswith("/api/"):
            return _trafa_answer(None, [])
        raise ValueError(f"no empty answer for {path}")

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        segments = [s for s in path.split("/") if s]
        if segments[:2] == ["v3", "kpi"] and len(segments) == 3 and method == "GET":
            return self._kolada_kpis(path, segments[2].split(","), query)
        if segments[:3] == ["v3", "data", "kpi"] and method == "GET":
            return self._kolada_data(path, segments, query)
        if segments[:4] == ["v2beta", "api", "v2", "tables"] and segments[5:] == ["data"]:
            return self._pxweb(segments[4], query, body)
        if segments == ["api", "data"] and method == "GET":
            return self._trafa(query)
        return 404, {"error": f"no such resource: {method} {self.path}"}  # echoes the query

    # Kolada v3 ------------------------------------------------------------------------------

    def _kolada_kpis(
        self, path: str, ids: list[str], query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        if len(ids) > 25:
            return 400, {"error": "at most 25 ids"}
        found = [self.apis.kolada_kpis[i] for i in ids if i in self.apis.kolada_kpis]
        return 200, self._kolada_page(path, found, query)

    def _kolada_data(
        self, path: str, segments: list[str], query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        parts = dict(zip(segments[2::2], segments[3::2], strict=False))
        kpis = parts.get("kpi", "").split(",")
        municipalities = parts.get("municipality", "").split(",")
        years = parts["year"].split(",") if "year" in parts else None
        if len(kpis) > 25 or len(municipalities) > 25 or (years and len(years) > 25):
            return 400, {"error": "at most 25 ids of each kind"}
        missing = self.apis._missing(path)
        found = [
            entry
            for entry in self.apis.kolada_values
            if entry["kpi"] in kpis
            and entry["municipality"] in municipalities
            and entry["municipality"] not in missing
            and (years is None or str(entry["period"]) in years)
        ]
        return 200, self._kolada_page(path, found, query)

    def _kolada_page(
        self, path: str, found: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> dict[str, Any]:
        per_page = min(int(query.get("per_page", ["5000"])[0]), self.apis.kolada_page_size)
        page = int(query.get("page", ["1"])[0])
        values = found[(page - 1) * per_page : page * per_page]
        last = page * per_page >= len(found)

        def link(number: int) -> str:
            return f"{self.apis.url}{path}?{urlencode({'page': number, 'per_page': per_page})}"

        key = self.apis.kolada_next_key
        previous = "previous_url" if key == "next_url" else "previous_page"
        return {
            "count": len(values),
            "values": values,
            key: None if last else link(page + 1),
            previous: None if page == 1 else link(page - 1),
        }

    # PxWeb v2 -------------------------------------------------------------------------------

    def _pxweb(self, table_id: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        table = self.apis.pxweb_tables.get(table_id)
        if table is None:
            return 404, {"type": "Not Found", "title": f"No such table {table_id}", "status": 404}
        if query.get("outputFormat", ["json-stat2"])[0] != "json-stat2":
            return 400, {"title": "only json-stat2 in this fake", "status": 400}
        selection: dict[str, list[str]] = {}
        if isinstance(body, dict):
            for item in body.get("selection", []):
                selection[item["variableCode"]] = list(item["valueCodes"])
        for name, values in query.items():
            if name.startswith("valueCodes[") and name.endswith("]"):
                selection[name[11:-1]] = values[0].split(",")
        known = {dim for dim, _, _ in table.dimensions}
        if set(selection) - known:
            return 400, {"title": f"unknown variables {sorted(set(selection) - known)}"}
        chosen: list[tuple[str, str, list[tuple[str, str]]]] = []
        for dim, label, categories in table.dimensions:
            wanted = selection.get(dim)
            codes = dict(categories)
            if wanted is not None and set(wanted) - set(codes):
                return 400, {"title": f"non-existent values for {dim}: {wanted}", "status": 400}
            picked = [(c, t) for c, t in categories if wanted is None or c in wanted]
            chosen.append((dim, label, picked))
        return 200, _jsonstat(table, chosen)

    # Trafikanalys ---------------------------------------------------------------------------

    def _trafa(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        text = query.get("query", [""])[0]
        product_name, *filters = text.split("|")
        product = self.apis.trafa_products.get(product_name)
        if product is None:
            answer = _trafa_answer(None, [])
            answer["Errors"] = [f"Okänd produkt: {product_name}"]
            return 200, answer
        rows = product.rows
        for part in filters:
            if ":" in part:
                column, values = part.split(":", 1)
                rows = [r for r in rows if column not in r or r[column] in values.split(",")]
        return 200, _trafa_answer(product, rows)


def _jsonstat(table: PxTable, chosen: list[tuple[str, str, list[tuple[str, str]]]]) -> Any:
    """JSON-stat 2.0 as PxWeb v2 writes it: row-major values, nulls with status ".."."""
    ids = [dim for dim, _, _ in chosen]
    sizes = [len(categories) for _, _, categories in chosen]
    values: list[float | None] = []
    status: dict[str, str] = {}

    def walk(prefix: tuple[str, ...], depth: int) -> None:
        if depth == len(chosen):
            value = table.cells.get(prefix)
            if value is None:
                status[str(len(values))] = ".."
            values.append(value)
            return
        for code, _ in chosen[depth][2]:
            walk((*prefix, code), depth + 1)

    walk((), 0)
    answer: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "label": table.label,
        "source": "SCB (TESTDATA)",
        "updated": "2024-02-22T07:00:00Z",
        "id": ids,
        "size": sizes,
        "dimension": {
            dim: {
                "label": label,
                "category": {
                    "index": {code: i for i, (code, _) in enumerate(categories)},
                    "label": dict(categories),
                },
                "extension": {"elimination": False, "show": "value"},
            }
            for dim, label, categories in chosen
        },
        "role": {"time": ["Tid"], "metric": ["ContentsCode"]},
        "value": values,
        "extension": {"px": {"tableid": "TAB638", "decimals": 0, "language": "sv"}},
    }
    if status:
        answer["status"] = status
    return answer


def _trafa_answer(product: TrafaProduct | None, rows: list[dict[str, str]]) -> dict[str, Any]:
    columns = product.columns if product else []
    types = {name: kind for name, kind, _ in columns}

    def cell(name: str, value: str) -> dict[str, Any]:
        measure = types.get(name) == "M"
        formatted = f"{int(value):,}".replace(",", " ") if measure and value.isdigit() else value
        return {
            "Name": name,
            "IsMeasure": measure,
            "Description": "",
            "Column": name,
            "Value": value,
            "FormattedValue": formatted,
            "Level": "",
            "Gis": "",
            "UniqueId": f"{name}-{value}",
            "NoteIds": [],
            "Versions": [],
        }

    return {
        "Header": {
            "Column": [
                {
                    "Name": name,
                    "Type": kind,
                    "DataType": "Time" if name == "ar" else "String",
                    "Filters": None,
                    "Value": label,
                    "Unit": "antal" if kind == "M" else None,
                    "Description": f"{label} {MARK}",
                    "UniqueId": name.upper(),
                }
                for name, kind, label in columns
            ],
            "Description": None,
        },
        "Rows": [{"Cell": [cell(n, v) for n, v in row.items()], "IsTotal": False} for row in rows],
        "Errors": None,
        "Description": None,
        "Name": product.name if product else None,
        "OriginalName": None,
        "Notes": {},
        "NextPublishDate": "2025-02-15T09:30:00",
        "ActiveFrom": "2024-02-15T09:30:00",
        "ValidatedRequestType": None,
    }


_shared: FakeApis | None = None


def shared_server() -> FakeApis:
    """The one server of the test session, started on first use (its threads are daemons)."""
    global _shared
    if _shared is None:
        _shared = FakeApis()
        _shared.start()
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture
def fake_apis() -> Iterator[FakeApis]:
    """The shared fake server, reset to its default test data, no faults and no requests."""
    apis = shared_server()
    apis.reset()
    yield apis
    apis.reset()
