"""Write a small store with the installed opendata, for tests/publish/test_state.py.

    python -m tests.stores.generate DIR

What each format of versions.json and catalog.json looks like is pinned by a store that the
release writing it produced. The store holds every kind of entry: avfallsplan has a published
version (1.0.0), a withdrawn one (1.0.1) and the claim of a run killed right after claiming
1.1.0; handlingsplan has one published version. The times are fixed, so a run writes the same
bytes (but for the claim's owner, the process that wrote it). Left out: the killed run's mark in
the private area, and the files a publish derives again (index, pages, DCAT).

Kept in tests/stores: `files/`, the version folders and `latest/` copies as formats 1 and 2
wrote them; `format-N/`, the pointer files (catalog.json and each versions.json) and, from
format 3, the version files its release writes differently (changes.json, which lists changed
cells since then). Format 1 was written by the code before stored state had a format (commit
339254d), format 2 by the code that introduced it, format 3 (a version's `message`, given to
1.0.1 here) by the code that introduced that; test_state checks that this script still writes
format 3's bytes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from opendata import preparing
from opendata import publish as publishing
from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.storage import LocalStore

# The tests' frozen datasets (tests/fixtures/home/README.md), not the repository's datasets/:
# what stewards deliver there must not change the bytes test_state pins.
HOME = Path(__file__).resolve().parents[1] / "fixtures" / "home"
MAL = "datasets/avfallsplan/sources/mal.csv"
EXTRA = (
    "test-extra,1,Ett mål som bara finns i teststoren,10,procent,,,"
    "https://borasregionen.se/var-verksamhet/regional-utveckling/regional-avfallsplan.html\n"
)


# Left out: the killed run's mark, and what a publish derives again from the pointers (the
# places' pages under kommuner/ and region/, each version's page and DCAT documents beside its
# folder: <version>.html, .rdf, .ttl, .jsonld).
DERIVED = (
    *("_private", "index.html", "dcat", "kommuner", "region"),
    *("*.html", "*.rdf", "*.ttl", "*.jsonld"),
)


class Killed(Exception):
    """Stands for a SIGKILL right after the claim was written."""


def publish(
    home: Path, store: LocalStore, name: str, when: datetime, message: str | None = None
) -> None:
    settings = load_settings(home=home, store=str(store.root))
    prepared = preparing.prepare(settings, name)
    try:
        package = preparing.require_valid(prepared)
        publishing.publish_package(store, package, settings.base_url, now=when, message=message)
    finally:
        prepared.discard()


def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        shutil.copytree(HOME / "datasets", home / "datasets")
        shutil.copytree(HOME / "schemas", home / "schemas")
        store = LocalStore(Path(scratch) / "store")
        base_url = load_settings(home=home).base_url
        mal = home / MAL
        original = mal.read_text(encoding="utf-8")

        mal.write_text(original + EXTRA, encoding="utf-8")
        publish(home, store, "avfallsplan", datetime(2025, 1, 15, 10, 0, tzinfo=UTC))
        publish(home, store, "handlingsplan", datetime(2025, 1, 15, 10, 0, 5, tzinfo=UTC))
        rebuild_catalog(store, base_url)

        mal.write_text(original + EXTRA.replace(",10,", ",20,"), encoding="utf-8")
        publish(
            home,
            store,
            "avfallsplan",
            datetime(2025, 2, 1, 9, 30, tzinfo=UTC),
            "Målvärdet för test-extra enligt nämndens beslut",
        )
        rebuild_catalog(store, base_url, ["avfallsplan"])
        publishing.withdraw(
            store,
            "avfallsplan",
            "1.0.1",
            "Fel målvärde i test-extra",
            base_url,
            now=datetime(2025, 2, 2, 8, 0, tzinfo=UTC),
        )
        rebuild_catalog(store, base_url, ["avfallsplan"])

        mal.write_text(original + EXTRA + EXTRA.replace("test-extra", "test-extra-2"), "utf-8")
        real = publishing._clear_displaced

        def killed(*args: object) -> set[str]:
            raise Killed

        publishing._clear_displaced = killed  # type: ignore[assignment]
        try:
            publish(home, store, "avfallsplan", datetime(2025, 3, 1, 7, 0, tzinfo=UTC))
        except Killed:
            pass
        finally:
            publishing._clear_displaced = real  # type: ignore[assignment]

        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(store.root, target, ignore=shutil.ignore_patterns(*DERIVED))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
