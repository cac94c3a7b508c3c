"""The delivery app's doors, in process (Starlette's test client): the single-sign-on header is
trusted only from the configured proxy, sessions expire, forms need their CSRF token, and a
dataset that publishes its valid deliveries at once does so."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from opendata import layout
from opendata.config import load_settings
from opendata.delivery_app import AppConfig, DeliveryApp, create_app
from opendata.stewards import add_steward
from opendata.storage import LocalStore
from tests.conftest import copy_home

PASSWORD = "ett-långt-lösenord-2026"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_client(
    tmp_path: Path, client: tuple[str, int] = ("203.0.113.9", 40000), **options: Any
) -> tuple[TestClient, DeliveryApp, Clock, str]:
    home = tmp_path / "home"
    if not home.exists():
        copy_home(home, "avfallsplan")
    settings = load_settings(home=home, store=str(home / "public"))
    store = LocalStore(home / "public")
    _, token = add_steward(store, "anna", "Borås stad", ["avfallsplan"], PASSWORD)
    clock = Clock()
    config = AppConfig(settings=settings, store=store, offline=True, clock=clock, **options)
    app = create_app(config, background=False)
    return TestClient(app, client=client), app.state.delivery, clock, token


def sign_in(client: TestClient) -> str:
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = client.post("/signin", data={"name": "anna", "password": PASSWORD, "csrf": csrf[1]})
    assert answer.status_code == 200 and "Dina dataset" in answer.text
    found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert found is not None
    return found[1]


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    trusted, _, _, _ = make_client(
        tmp_path,
        ("127.0.0.1", 40000),
        trusted_proxies=["127.0.0.1"],
        identity_header="X-Forwarded-Preferred-Username",
    )
    stranger, _, _, _ = make_client(
        tmp_path,
        ("198.51.100.7", 40000),
        trusted_proxies=["127.0.0.1"],
        identity_header="X-Forwarded-Preferred-Username",
    )
    yield trusted, stranger


def test_the_identity_header_counts_only_from_the_trusted_proxy(
    proxied: tuple[TestClient, TestClient],
) -> None:
    trusted, stranger = proxied
    header = {"X-Forwarded-Preferred-Username": "anna@boras.se"}
    assert "Dina dataset" in trusted.get("/", headers=header).text
    assert "Logga in" in stranger.get("/", headers=header).text
    assert (
        stranger.get("/deliveries/20260101T000000Z-000000000000", headers=header).status_code == 401
    )
    # Someone the proxy vouches for who is no steward signs in like anyone else.
    assert "Logga in" in trusted.get("/", headers={"X-Forwarded-Preferred-Username": "eve"}).text


def test_sessions_expire_and_forms_need_their_token(tmp_path: Path) -> None:
    client, state, clock, _ = make_client(tmp_path)
    csrf = sign_in(client)
    goals = (tmp_path / "home/datasets/avfallsplan/sources/mal.csv").read_bytes()
    forged = client.post(
        "/upload/avfallsplan",
        files={"file": ("mal.csv", goals, "text/csv")},
        headers={"Accept": "application/json"},
    )
    assert forged.status_code == 403
    assert forged.json() == {
        "error": "CSRF-token saknas eller är fel / missing or wrong CSRF token"
    }
    assert not (tmp_path / "home/public" / layout.Deliveries.ROOT / "records").exists()
    taken = client.post(
        "/upload/avfallsplan",
        files={"file": ("mal.csv", goals, "text/csv")},
        data={"csrf": csrf},
        headers={"Accept": "application/json"},
    )
    assert taken.status_code == 202
    clock.now += 29 * 60
    assert "Dina dataset" in client.get("/").text  # active: the idle time starts again
    clock.now += 31 * 60
    assert "Logga in" in client.get("/").text
    state.close()


def test_a_dataset_may_publish_valid_deliveries_at_once(tmp_path: Path) -> None:
    home = copy_home(tmp_path / "home", "avfallsplan")
    definition = home / "datasets/avfallsplan/dataset.yaml"
    definition.write_text(
        definition.read_text("utf-8") + "deliveries: {publish: automatic}\n", "utf-8"
    )
    client, state, _, token = make_client(tmp_path)
    goals = (home / "datasets/avfallsplan/sources/mal.csv").read_text("utf-8")
    changed = goals.replace(",35,g per portion", ",30,g per portion")
    answer = client.post(
        "/api/datasets/avfallsplan/deliveries",
        files={"file": ("mal.csv", changed.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202
    delivery = answer.json()["id"]
    deadline = time.monotonic() + 120
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = client.get(
            f"/api/deliveries/{delivery}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        if record["state"] in ("published", "invalid", "failed"):
            break
        time.sleep(0.2)
    assert (record["state"], record["version"]) == ("published", "1.0.0")
    assert (home / "public/datasets/avfallsplan/1.0.0/datapackage.json").is_file()
    state.close()
