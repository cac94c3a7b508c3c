"""Issue 18, item 7: researchers' recipes, any two versions, changes that show their values.

A published store is served by `opendata serve` (never the internet) and read as a researcher
would: the dataset page's recipes run as they stand (pandas, frictionless, the comparison of two
versions; DuckDB's SQL on the same files from disk, since its https reader is an extension the
build machines cannot download), `opendata history` and `opendata diff` read the site over HTTP
and say exactly what they say of the folder, and a publish to an http(s) URL is a configuration
error. Added and removed rows show their values, metadata changes read in words, and the index
shows the steward's message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from opendata.catalog import rebuild_catalog
from opendata.catalog.pages import render_dataset_page
from opendata.config import load_settings
from opendata.errors import ConfigError, StoreError
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package
from opendata.storage import LocalStore, open_store
from opendata.storage.http import HttpStore
from opendata.versioning import change_text, metadata_words
from tests.catalog.test_pages import Node, parse
from tests.conftest import copy_home, run_cli

MESSAGE = "Målvärdet för matsvinn rättat efter direktionens beslut"
TIMES = [datetime(2025, 3, day, 5, 0, tzinfo=UTC) for day in (1, 2, 3)]
NEW_GOAL = "ny-mal,2,Ett nytt mål,,,,,https://example.org/\n"


@dataclass
class Site:
    home: Path
    root: Path  # the store's folder
    base: str  # where it is served: OPENDATA_BASE_URL, and the --store of the http commands

    def page(self, key: str) -> Node:
        return parse((self.root / key).read_text("utf-8"))

    def recipes(self, name: str) -> dict[str, str]:
        section = self.page(f"datasets/{name}/index.html").find(
            "section", aria_labelledby="las-data"
        )
        return {pre.attrs["data-recipe"]: pre.text() for pre in section.find_all("pre")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def wait_until_served(url: str) -> None:
    """Until `opendata serve` answers (a generous bound against a hang, not a timing)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """avfallsplan and befolkning published and served: avfallsplan 1.0.0; 1.0.1 a corrected
    value with the steward's message; 1.1.0 a goal added, one removed, a target area renamed
    and the period extended (no message)."""
    home = copy_home(tmp_path_factory.mktemp("home"), "avfallsplan", "befolkning")
    root = home / "public"
    port = free_port()
    base = f"http://localhost:{port}/"
    settings = load_settings(home=home, base_url=base)
    store = LocalStore(root)

    def publish(name: str, when: datetime, message: str | None = None) -> str:
        prepared = prepare(settings, name)
        try:
            package = require_valid(prepared)
            outcome = publish_package(store, package, base, now=when, message=message)
        finally:
            prepared.discard()
        assert outcome.version is not None
        return str(outcome.version)

    sources = home / "datasets/avfallsplan/sources"
    assert publish("befolkning", TIMES[0]) == "1.0.0"
    assert publish("avfallsplan", TIMES[0]) == "1.0.0"
    edit(sources / "mal.csv", ",35,g per portion", ",30,g per portion")
    assert publish("avfallsplan", TIMES[1], MESSAGE) == "1.0.1"
    goals = (sources / "mal.csv").read_text("utf-8").splitlines(keepends=True)
    removed = [line for line in goals if line.startswith("matavfall-naringsaterforing,")]
    (sources / "mal.csv").write_text(
        "".join(line for line in goals if line not in removed) + NEW_GOAL, "utf-8"
    )
    edit(sources / "malomraden.csv", "2,Konsumera hållbart,", "2,Konsumera hållbart och smart,")
    edit(home / "datasets/avfallsplan/dataset.yaml", 'end: "2030"', 'end: "2031"')
    assert publish("avfallsplan", TIMES[2]) == "1.1.0"
    rebuild_catalog(store, base)

    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
    environment.update(OPENDATA_STORE=str(root), OPENDATA_BASE_URL=base)
    server = subprocess.Popen(
        [sys.executable, "-m", "opendata", "serve"],
        cwd=home,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_served(f"http://127.0.0.1:{port}/catalog.json")
        yield Site(home, root, base)
    finally:
        server.terminate()
        server.wait(timeout=30)


def cli(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(list(args), site.home, OPENDATA_BASE_URL=site.base)


# -- opendata history and diff over HTTP -------------------------------------------------------


HISTORY = [
    "1.1.0 (latest)  2025-03-03T05:00:00Z  published  9 rows  [minor] malomraden: 1 row changed; "
    "mal: 1 row added, 1 row removed; temporal coverage changed",
    "    malomraden: changed nummer=2: malomrade Konsumera hållbart → Konsumera hållbart och smart",
    "    mal: added id=ny-mal: malomrade_nummer=2, mal=Ett nytt mål, "
    "kalla_url=https://example.org/",
    "    mal: removed id=matavfall-naringsaterforing: malomrade_nummer=1, mal=Minst 60 procent "
    "av matavfallet ska tas om hand så att näringsämnen återförs och biogas produceras, "
    "malvarde=60, enhet=% av matavfallet, "
    "kalla_url=https://borasregionen.se/var-verksamhet/regional-utveckling/regional-avfallsplan.html",
    "1.0.1  2025-03-02T05:00:00Z  published  9 rows  [patch] mal: 1 row changed",
    f"    why: {MESSAGE}",
    "    mal: changed id=matsvinn-per-portion: malvarde 35 → 30",
    "1.0.0  2025-03-01T05:00:00Z  published  9 rows  [first] first version",
]

DIFF = [
    "avfallsplan 1.0.0 → 1.1.0: minor change (rows added, rows removed, values changed, "
    "metadata changed)",
    f"  why 1.0.1: {MESSAGE}",
    "  malomraden: 1 row changed",
    "    changed nummer=2: malomrade Konsumera hållbart → Konsumera hållbart och smart",
    "  mal: 1 row added, 1 row removed, 1 row changed",
    "    changed id=matsvinn-per-portion: malvarde 35 → 30",
    "    added id=ny-mal: malomrade_nummer=2, mal=Ett nytt mål, kalla_url=https://example.org/",
    "    removed id=matavfall-naringsaterforing: malomrade_nummer=1, mal=Minst 60 procent av "
    "matavfallet ska tas om hand så att näringsämnen återförs och biogas produceras, "
    "malvarde=60, enhet=% av matavfallet, "
    "kalla_url=https://borasregionen.se/var-verksamhet/regional-utveckling/regional-avfallsplan.html",
    "  temporal coverage changed",
]


def test_history_and_diff_read_a_published_site_over_http(site: Site) -> None:
    for store in (site.base, str(site.root)):
        history = cli(site, "history", "avfallsplan", "--store", store)
        assert history.returncode == 0, history.stderr
        assert history.stdout.splitlines() == HISTORY
        # Any two versions, not only a version and the one before it.
        diff = cli(site, "diff", "avfallsplan", "1.0.0", "1.1.0", "--store", store)
        assert diff.returncode == 0, diff.stderr
        assert diff.stdout.splitlines() == DIFF
    as_json = [
        json.loads(
            cli(site, "diff", "avfallsplan", "1.0.0", "1.1.0", "--json", "--store", s).stdout
        )
        for s in (site.base, str(site.root))
    ]
    assert as_json[0] == as_json[1]
    assert as_json[0]["metadata_changes"] == [
        {"name": "temporal", "en": "temporal coverage changed", "sv": "tidsperiod ändrad"}
    ]
    listed = cli(site, "list", "--store", site.base)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        ["dataset", "latest"],
        ["avfallsplan", "1.1.0"],
        ["befolkning", "1.0.0"],
    ]


def test_a_site_read_over_http_cannot_be_written(site: Site) -> None:
    refusal = (
        f"Error: OPENDATA_STORE={site.base} is a published site read over HTTP: opendata reads "
        "it (history, diff, list) but cannot write to it; publish to a folder, file:// or "
        "s3://bucket/prefix\n"
    )
    for args in (
        ["publish", "avfallsplan", "--no-prefect"],
        ["withdraw", "avfallsplan", "1.1.0", "--reason", "x"],
        ["verify"],
    ):
        done = cli(site, *args, "--store", site.base)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", refusal), args
    with pytest.raises(ConfigError, match="cannot write to it"):
        open_store(site.base)
    assert not (site.root / "datasets/avfallsplan/1.1.1").exists()


def test_the_http_store_reads_and_nothing_else(site: Site, tmp_path: Path) -> None:
    store = open_store(site.base, read_only=True)
    assert isinstance(store, HttpStore)
    key = "datasets/avfallsplan/1.1.0/mal.csv"
    stored = (site.root / key).read_bytes()
    found = store.read(key)
    assert found is not None and found[0] == stored
    assert store.read("datasets/avfallsplan/9.9.9/mal.csv") is None
    assert store.read_head(key, 10) == stored[:10]
    assert store.read_head(key, 10**6) == stored
    assert store.download(key, tmp_path / "mal.csv") and (tmp_path / "mal.csv").read_bytes() == (
        stored
    )
    assert not store.download("datasets/nothing/1.0.0/x.csv", tmp_path / "x.csv")
    with pytest.raises(StoreError, match="cannot be listed"):
        store.list("datasets/")
    with pytest.raises(ConfigError, match="cannot write to it"):
        store.create("datasets/avfallsplan/x.txt", b"x")
    with pytest.raises(ValueError, match="invalid store key"):
        store.read("../catalog.json")


def test_a_site_that_does_not_answer_is_an_operational_error(site: Site) -> None:
    port = free_port()
    done = cli(site, "history", "avfallsplan", "--store", f"http://127.0.0.1:{port}/")
    assert done.returncode == 3
    assert done.stderr.startswith(
        f"Error: cannot read http://127.0.0.1:{port}/datasets/avfallsplan/versions.json: "
    )
    assert done.stderr.count("\n") == 1  # one line, no traceback


# -- the page: version history with values, metadata in words, the index's message -------------


def test_the_page_lists_added_and_removed_rows_with_their_values(site: Site) -> None:
    page = site.page("datasets/avfallsplan/index.html")
    section = page.by_id("v1.1.0")
    facts = {
        dt.words(): dd.words()
        for dt, dd in zip(section.find_all("dt"), section.find_all("dd"), strict=True)
    }
    assert facts["Ändringar"] == (
        "malomraden: 1 rad ändrad; mal: 1 rad tillagd, 1 rad borttagen; tidsperiod ändrad"
    )
    changes = page.by_id("v1.1.0-mal")
    added = changes.find("table", class_="rows-added")
    assert added.find("caption").words() == "Tillagda rader: 1"
    assert [th.words() for th in added.find("thead").find_all("th")] == [
        "id",
        "malomrade_nummer",
        "mal",
        "malvarde",
        "enhet",
        "jamforelsear",
        "giltighet",
        "kalla_url",
    ]
    (row,) = added.find("tbody").find_all("tr")
    assert [cell.text() for cell in row.find_all("th") + row.find_all("td")] == [
        "ny-mal",
        "2",
        "Ett nytt mål",
        "",
        "",
        "",
        "",
        "https://example.org/",
    ]
    removed = changes.find("table", class_="rows-removed")
    assert removed.find("caption").words() == "Borttagna rader: 1"
    (row,) = removed.find("tbody").find_all("tr")
    assert row.find("th").text() == "matavfall-naringsaterforing"
    assert [cell.text() for cell in row.find_all("td")][:4] == [
        "1",
        "Minst 60 procent av matavfallet ska tas om hand så att näringsämnen återförs och "
        "biogas produceras",
        "60",
        "% av matavfallet",
    ]
    changes_json = json.loads((site.root / "datasets/avfallsplan/1.1.0/changes.json").read_bytes())
    mal = next(r for r in changes_json["resources"] if r["name"] == "mal")
    assert mal["added_rows"]["rows"] == [
        ["ny-mal", "2", "Ett nytt mål", "", "", "", "", "https://example.org/"]
    ]
    assert mal["removed_rows"]["rows"][0][0] == "matavfall-naringsaterforing"
    assert changes_json["metadata_changed"] == ["temporal"]  # the keys stay, words beside them
    # The index: the steward's message where there is one, else the summary.
    index = site.page("index.html").by_id("avfallsplan").find("details")
    assert [item.words() for item in index.find_all("li")] == [
        "1.1.0 – 2025-03-03 senaste – malomraden: 1 rad ändrad; mal: 1 rad tillagd, "
        "1 rad borttagen; tidsperiod ändrad",
        f"1.0.1 – 2025-03-02 – {MESSAGE}",
        "1.0.0 – 2025-03-01 – första versionen",
    ]


def test_metadata_changes_are_named_in_words() -> None:
    summary = "mal: 1 row added; metadata changed: sources, temporal, formats added: parquet"
    assert change_text(summary, "en") == (
        "mal: 1 row added; sources changed, temporal coverage changed, formats added: parquet"
    )
    assert change_text(summary, "sv") == (
        "mal: 1 rad tillagd; källor ändrade, tidsperiod ändrad, nya format: parquet"
    )
    assert change_text("metadata changed: title, opendata:x", "sv") == (
        "titel ändrad, opendata:x ändrad"
    )
    assert change_text("first version", "sv") == "första versionen"
    assert metadata_words(["accrualPeriodicity", "translations"], "en") == [
        "update frequency changed",
        "English title or description changed",
    ]


# -- the recipes ---------------------------------------------------------------------------------


def test_the_page_shows_how_to_load_the_data(site: Site) -> None:
    base = site.base
    folder = f"{base}datasets/befolkning/"
    page = site.page("datasets/befolkning/index.html")
    section = page.find("section", aria_labelledby="las-data")
    assert section.find("h2").words() == "Så läser du data / How to load the data"
    assert [h.words() for h in section.find_all("h3")] == [
        "Python med pandas",
        "DuckDB",
        "R med readr och arrow",
        "frictionless",
        "Jämför två versioner / Compare two versions",
    ]
    recipes = site.recipes("befolkning")
    text = '{"kommunkod": "string", "kommun": "string"}'
    assert recipes["pandas"] == "\n".join(
        [
            "import pandas as pd",
            "",
            "# Senaste versionen (stabil adress) / the latest version:",
            f'bas = "{folder}latest/"',
            "# En viss version, här 1.0.0 / a chosen version:",
            f'# bas = "{folder}1.0.0/"',
            "",
            "kommuner = pd.read_csv(",
            '    bas + "kommuner.csv",',
            f"    dtype={text},",
            ")",
            "folkmangd = pd.read_csv(",
            '    bas + "folkmangd.csv",',
            f"    dtype={text},",
            ")",
            "",
            "# Parquet: typerna finns i filen / Parquet carries its types (pyarrow):",
            'folkmangd = pd.read_parquet(bas + "folkmangd.parquet")',
        ]
    )
    types = "types = {'kommunkod': 'VARCHAR', 'kommun': 'VARCHAR'}"
    assert recipes["duckdb"] == "\n".join(
        [
            "-- https-adresser läses med tillägget httpfs / https URLs need the httpfs extension:",
            "INSTALL httpfs;",
            "LOAD httpfs;",
            "",
            "-- Senaste versionen / the latest version:",
            "CREATE TABLE kommuner AS SELECT * FROM read_csv("
            f"'{folder}latest/kommuner.csv', {types});",
            "CREATE TABLE folkmangd AS SELECT * FROM read_csv("
            f"'{folder}latest/folkmangd.csv', {types});",
            "",
            "-- En viss version, här 1.0.0 / a chosen version:",
            f"SELECT * FROM read_csv('{folder}1.0.0/folkmangd.csv', {types});",
            "",
            "-- Parquet: typerna finns i filen / Parquet carries its types:",
            f"SELECT * FROM read_parquet('{folder}latest/folkmangd.parquet');",
        ]
    )
    columns = "cols(kommunkod = col_character(), kommun = col_character())"
    assert recipes["r"] == "\n".join(
        [
            "library(readr)",
            "",
            f'bas <- "{folder}latest/"  # senaste versionen / the latest version',
            f'# bas <- "{folder}1.0.0/"  # version 1.0.0',
            "",
            'kommuner <- read_csv(paste0(bas, "kommuner.csv"),',
            f"  col_types = {columns})",
            'folkmangd <- read_csv(paste0(bas, "folkmangd.csv"),',
            f"  col_types = {columns})",
            "",
            "# Parquet med arrow / Parquet with arrow (the file's own types):",
            "library(arrow)",
            'fil <- tempfile(fileext = ".parquet")',
            'download.file(paste0(bas, "folkmangd.parquet"), fil, mode = "wb")',
            "folkmangd <- read_parquet(fil)",
        ]
    )
    assert recipes["frictionless"] == "\n".join(
        [
            "# Kommandoraden: validera mot scheman och kontrollsummor / validate:",
            f"frictionless validate {folder}latest/datapackage.json",
            f"frictionless validate {folder}1.0.0/datapackage.json  # version 1.0.0",
            "",
            "# Python: raderna typade enligt Table Schema / rows typed by the Table Schema",
            "from frictionless import Package",
            "",
            f'paket = Package("{folder}latest/datapackage.json")',
            'rader = paket.get_resource("folkmangd").read_rows()',
        ]
    )
    # Each version says how to read it with the recipes.
    line = page.by_id("v1.0.0").find_all("p", class_="small")[0]
    assert line.words() == (
        "Läs in den här versionen: byt latest/ mot 1.0.0/ i recepten under Så läser du data."
    )
    assert line.find("a").attrs["href"] == "#las-data"


def test_the_page_shows_how_to_compare_two_versions(site: Site) -> None:
    base = site.base
    recipes = site.recipes("avfallsplan")
    assert recipes["diff"] == "\n".join(
        [
            f"opendata diff avfallsplan 1.0.1 1.1.0 --store {base}",
            f"opendata diff avfallsplan 1.0.1 1.1.0 --store {base} --json  # maskinläsbart",
            f"opendata history avfallsplan --store {base}",
        ]
    )
    text = '{"nummer": "string", "malomrade": "string", "kalla_url": "string"}'
    assert text not in recipes["pandas-jamfor"]  # nummer is an integer: read as a number
    assert recipes["pandas-jamfor"] == "\n".join(
        [
            "import pandas as pd",
            "",
            f'bas = "{base}datasets/avfallsplan/"',
            "",
            "def las(version):",
            '    return pd.read_csv(bas + version + "/malomraden.csv", '
            'dtype={"malomrade": "string", "kalla_url": "string"})',
            "",
            'fore, efter = las("1.0.1"), las("1.1.0")',
            "# rader som är nya eller ändrade / rows new or changed:",
            'nya = efter.merge(fore, how="left", indicator=True)',
            'nya = nya[nya["_merge"] == "left_only"]',
            "# rader som är borttagna eller ändrade / rows removed or changed:",
            'gamla = fore.merge(efter, how="left", indicator=True)',
            'gamla = gamla[gamla["_merge"] == "left_only"]',
        ]
    )
    words = site.page("datasets/avfallsplan/index.html").by_id("las-diff").words()
    assert words == "opendata diff"
    section = site.page("datasets/avfallsplan/index.html").find(
        "section", aria_labelledby="las-data"
    )
    assert (
        "Exemplen jämför 1.0.1 med 1.1.0; byt till de två versioner du vill jämföra. "
        "opendata diff jämför vilka två versioner som helst" in section.words()
    )


def test_the_recipes_run_against_the_served_site(site: Site) -> None:
    """The page's code as a researcher copies it: pandas and frictionless over HTTP."""
    recipes = site.recipes("befolkning")
    found: dict[str, Any] = {}
    exec(recipes["pandas"].split("\n\n# Parquet")[0], found)
    population = found["folkmangd"]
    assert str(population["kommunkod"].dtype) == "string"
    assert population["kommunkod"].iloc[0] == "1442"
    assert len(population) == 80
    exec(recipes["pandas"], found)
    assert found["folkmangd"]["kommunkod"].iloc[0] == "1442"
    # A chosen version: the commented line in force.
    chosen = re.sub(r"\nbas = .*\n# En viss version.*\n# bas = ", "\nbas = ", recipes["pandas"])
    exec(chosen, found)
    assert found["bas"].endswith("/datasets/befolkning/1.0.0/")
    assert str(found["kommuner"]["kommunkod"].dtype) == "string"

    python = recipes["frictionless"].split("from frictionless", 1)[1]
    exec("from frictionless" + python, found)
    assert found["rader"][0]["kommunkod"] == "1442" and len(found["rader"]) == 80
    frictionless = shutil.which("frictionless", path=str(Path(sys.executable).parent))
    assert frictionless is not None
    for line in recipes["frictionless"].splitlines():
        if line.startswith("frictionless validate"):
            command = line.split("  #")[0].split()
            done = subprocess.run(
                [frictionless, *command[1:]], capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr

    # Comparing two versions with pandas: the target area renamed in 1.1.0.
    exec(site.recipes("avfallsplan")["pandas-jamfor"], found)
    assert found["nya"]["malomrade"].tolist() == ["Konsumera hållbart och smart"]
    assert found["gamla"]["malomrade"].tolist() == ["Konsumera hållbart"]


def test_the_duckdb_recipes_run_on_the_same_files(site: Site) -> None:
    """DuckDB's SQL as the page gives it, with the site's URLs read from the served folder
    (its https reader, httpfs, is an extension that is downloaded on first use)."""
    for name, recipe in (("befolkning", "duckdb"), ("avfallsplan", "duckdb-jamfor")):
        sql = site.recipes(name)[recipe].replace(site.base, f"{site.root}/")
        statements = [
            s for s in sql.split(";") if s.strip() and "httpfs" not in s.strip().splitlines()[-1]
        ]
        with duckdb.connect() as con:
            results = [con.execute(statement).fetchall() for statement in statements]
            if recipe == "duckdb":
                assert con.execute("DESCRIBE kommuner").fetchall()[0][:2] == (
                    "kommunkod",
                    "VARCHAR",
                )
                assert results[2][0][:2] == ("1442", "Vårgårda")
                assert results[3][0] == results[2][0]  # Parquet: the same row, typed
            else:
                assert results == [
                    [(2, "Konsumera hållbart och smart", results[0][0][2])],
                    [(2, "Konsumera hållbart", results[0][0][2])],
                ]


def test_recipes_quote_any_field_name_and_the_page_escapes_them(site: Site) -> None:
    """A field name is text of any kind: each language's literal quotes it, and the page shows
    the code as text (nothing of it becomes markup)."""
    catalog = json.loads((site.root / "catalog.json").read_bytes())
    entry = next(e for e in catalog["datasets"] if e["name"] == "befolkning")
    hostile = "k'o\"d</code></pre><script>alert(1)</script>"
    for resource in entry["resources"]:
        resource["schema"]["fields"][0]["name"] = hostile
    html = render_dataset_page(entry, {}, catalog)
    assert "<script>alert(1)</script>" not in html
    section = parse(html).find("section", aria_labelledby="las-data")
    recipes = {pre.attrs["data-recipe"]: pre.text() for pre in section.find_all("pre")}
    for name in ("pandas", "pandas-jamfor"):
        compile(recipes[name], name, "exec")  # still Python, the name a string literal in it
    assert json.dumps(hostile, ensure_ascii=False) + ': "string"' in recipes["pandas"]
    assert "{'k''o\"d</code></pre><script>alert(1)</script>': 'VARCHAR'" in recipes["duckdb"]
    assert json.dumps(hostile, ensure_ascii=False) + " = col_character()" in recipes["r"]
