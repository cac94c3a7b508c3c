"""The delivery app: a page for stewards and an API for their scripts (Starlette, uvicorn).

Everything a steward uploads is hostile until proven otherwise:

- **Authenticate** every request: a bearer token (the API), a session cookie after signing in
  with a password (the page), or the identity header of a configured single-sign-on proxy, which
  is trusted only on connections from that proxy's address.
- **Authorise** every request: a steward reaches only the datasets they hold (403, logged with
  who and what), and only their own datasets' deliveries.
- **Bound** every input: the body is refused past the dataset's byte limit before anything is
  stored (Content-Length first, then counted as it streams), one file and a few short fields per
  upload, a file name is only ever shown (escaped), never a path.
- **Keep** what was delivered: `deliveries.receive` stores the bytes before anything else.

Forms carry a CSRF token bound to the session; sessions expire after a spell of idleness and a
working day at most; sign-in attempts are rate-limited per address and per name.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from opendata import deliveries
from opendata.collect.remote import remote_sources
from opendata.config import Settings
from opendata.definitions import Dataset, discover, load_dataset
from opendata.deliveries import DeliveryRecord, DeliveryRefused
from opendata.delivery_records import Via, check_id
from opendata.errors import DefinitionError, OpendataError
from opendata.inbox import copy_upload, sweep_inbox
from opendata.runners import PUBLISH_REQUESTED, RECEIVED, WAITING_NOTE, LocalRunner, Runner
from opendata.state import read_history
from opendata.stewards import Steward, read_registry, steward_for_password, steward_for_token
from opendata.storage import Store

log = logging.getLogger("opendata.deliveries")
audit = logging.getLogger("opendata.deliveries.audit")

SESSION_COOKIE = "opendata_session"
IDLE = 30 * 60  # seconds of inactivity before a session ends
LONGEST = 8 * 60 * 60  # a session ends after a working day whatever happens
SIGNIN_WINDOW = 15 * 60
SIGNIN_FAILURES = 5  # failed sign-ins per address, and per name, within the window
FIELD_BYTES = 4096  # `message` and `source`
MULTIPART_OVERHEAD = 64 * 1024
DEFAULT_MAX_UPLOAD = 512 * 2**20


@dataclass
class Session:
    steward: str
    csrf: str
    started: float
    seen: float


@dataclass
class Identity:
    steward: Steward
    how: str  # token | session | proxy
    session: Session | None = None


@dataclass
class AppConfig:
    settings: Settings
    store: Store
    runner: Runner | None = None
    offline: bool = False
    max_upload: int = DEFAULT_MAX_UPLOAD
    trusted_proxies: list[str] = field(default_factory=list)
    identity_header: str | None = None
    secure_cookies: bool = False
    inbox_interval: float = 30.0
    clock: Callable[[], float] = time.time


class RateLimiter:
    """Failed sign-ins per key within a sliding window."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.failures: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def blocked(self, *keys: str) -> float:
        """Seconds until `keys` may try again (0: now)."""
        now = self.clock()
        wait = 0.0
        with self.lock:
            for key in keys:
                recent = [t for t in self.failures.get(key, []) if now - t < self.window]
                self.failures[key] = recent
                if len(recent) >= self.limit:
                    wait = max(wait, self.window - (now - recent[0]))
        return wait

    def failed(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.failures.setdefault(key, []).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.failures.pop(key, None)


class TooLarge(Exception):
    pass


class DeliveryApp:
    """The app's state: settings, store, runner, sessions; the routes are its methods."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.settings = config.settings
        self.store = config.store
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.limiter = RateLimiter(SIGNIN_FAILURES, SIGNIN_WINDOW, config.clock)
        self.runner: Runner = config.runner or LocalRunner(self.process)
        self.templates = Environment(
            loader=PackageLoader("opendata", "templates/deliveries"),
            autoescape=select_autoescape(["html"], default=True),
        )
        self.stop = threading.Event()
        self.sweeper: threading.Thread | None = None
        self.asked: dict[str, float] = {}  # dataset: when Prefect last took its event

    # -- runs --------------------------------------------------------------------------------

    def process(self, name: str) -> list[DeliveryRecord]:
        """A dataset's delivery run in this process (no Prefect API configured)."""
        remote = None if self.config.offline else remote_sources(self.settings, self.store)
        return deliveries.process_dataset(self.settings, self.store, name, remote)

    def start_run(self, name: str, event: str = RECEIVED, delivery: str | None = None) -> None:
        """Ask for the dataset's run. Blocks while Prefect is slow to answer: a request
        handler calls it in a worker thread (`start_run_soon`), never on the event loop."""
        if self.runner.start(name, event, delivery):
            self.asked[name] = self.config.clock()
            deliveries.clear_waiting(self.store, name)
        else:
            deliveries.mark_waiting(self.store, name, WAITING_NOTE)

    async def start_run_soon(
        self, name: str, event: str = RECEIVED, delivery: str | None = None
    ) -> None:
        await run_in_threadpool(self.start_run, name, event, delivery)

    def ask_again(self, name: str) -> bool:
        """Whether a later look asks Prefect again for a dataset it returned as stuck: always
        while Prefect did not answer (`waiting`), but a run that Prefect took and did not start
        (no worker, a crash) once per STALLED, not at every look: a worker away for hours must
        not come back to a queue of one run per look."""
        asked = self.asked.get(name)
        if asked is None or self.config.clock() - asked > deliveries.STALLED.total_seconds():
            return True
        return any(r.waiting is not None for r in deliveries.list_records(self.store, name))

    def resume(self, first: bool = False) -> None:
        """Start the runs of every dataset with deliveries waiting (after a restart or while
        Prefect was away), and take in what machines put in the inbox. Later looks ask Prefect
        again only for deliveries it never took (it did not answer) or that a run left."""
        names = discover(self.settings.datasets_dir)
        try:
            with tempfile.TemporaryDirectory(prefix="opendata-inbox-") as scratch:
                loaded = {}
                for name in names:
                    try:
                        loaded[name] = load_dataset(
                            self.settings.datasets_dir / name, self.settings.schemas_dir
                        )
                    except DefinitionError:
                        continue
                new, refused = sweep_inbox(self.store, loaded, Path(scratch))
            for problem in refused:
                log.warning("inbox: %s", problem)
            for name in dict.fromkeys(r.dataset for r in new):
                self.start_run(name)
            stuck_only = not first and not isinstance(self.runner, LocalRunner)
            for name in deliveries.pending_datasets(self.store, names, stuck_only):
                if name not in {r.dataset for r in new} and (
                    not stuck_only or self.ask_again(name)
                ):
                    self.start_run(name)
        except OpendataError as error:
            log.warning("deliveries: %s", error)

    def start_background(self) -> None:
        def loop() -> None:
            while not self.stop.wait(self.config.inbox_interval):
                self.resume()

        self.resume(first=True)
        self.sweeper = threading.Thread(target=loop, name="deliveries-inbox", daemon=True)
        self.sweeper.start()

    def close(self) -> None:
        self.stop.set()
        self.runner.close()

    # -- who is asking -----------------------------------------------------------------------

    def steward_named(self, name: str) -> Steward | None:
        registry, _ = read_registry(self.store)
        return registry.get(name)

    def identify(self, request: Request) -> Identity | None:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            registry, _ = read_registry(self.store)
            steward = steward_for_token(registry, token.strip())
            return Identity(steward, "token") if steward else None
        proxied = self.proxy_identity(request)
        if proxied is not None:
            return proxied
        session = self.session_of(request)
        if session is None:
            return None
        steward = self.steward_named(session.steward)
        if steward is None:  # removed since signing in: the session ends with them
            self.end_session(request)
            return None
        return Identity(steward, "session", session)

    def proxy_identity(self, request: Request) -> Identity | None:
        """The steward a trusted single-sign-on proxy vouches for, from its header; a header
        from anywhere else is ignored (anyone can send one)."""
        header = self.config.identity_header
        if not header or request.client is None or not self.from_proxy(request.client.host):
            return None
        name = request.headers.get(header, "").strip().lower()
        if not name:
            return None
        steward = self.steward_named(name.split("@")[0]) or self.steward_named(name)
        return Identity(steward, "proxy") if steward else None

    def from_proxy(self, host: str) -> bool:
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in ip_network(p, strict=False) for p in self.config.trusted_proxies)

    def session_of(self, request: Request) -> Session | None:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        now = self.config.clock()
        with self.lock:
            session = self.sessions.get(sid)
            if session is None:
                return None
            if now - session.seen > IDLE or now - session.started > LONGEST:
                del self.sessions[sid]
                return None
            session.seen = now
            return session

    def new_session(self, steward: str) -> tuple[str, Session]:
        now = self.config.clock()
        sid = secrets.token_urlsafe(32)
        session = Session(steward, secrets.token_urlsafe(32), now, now)
        with self.lock:
            self.sessions[sid] = session
        return sid, session

    def end_session(self, request: Request) -> None:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            with self.lock:
                self.sessions.pop(sid, None)

    def check_csrf(self, identity: Identity, sent: str | None) -> None:
        """A session's forms and scripts must send its CSRF token (a bearer token needs none:
        a browser never sends one by itself)."""
        if identity.how != "session":
            return
        assert identity.session is not None
        if not sent or not hmac.compare_digest(sent, identity.session.csrf):
            raise HTTPException(403, "CSRF-token saknas eller är fel / missing or wrong CSRF token")

    # -- datasets ----------------------------------------------------------------------------

    def dataset(self, name: str) -> Dataset:
        names = discover(self.settings.datasets_dir)
        if name not in names:
            raise HTTPException(404, f"no dataset {name[:80]!r}")
        try:
            return load_dataset(self.settings.datasets_dir / name, self.settings.schemas_dir)
        except DefinitionError as error:
            raise HTTPException(500, f"the definition of {name} is wrong: {error}") from None

    def authorise(self, identity: Identity, name: str, request: Request) -> Dataset:
        dataset = self.dataset(name)
        if not identity.steward.holds(name):
            audit.warning(
                "refused: steward %s (%s) asked for dataset %s: %s %s from %s",
                identity.steward.name,
                identity.steward.organisation,
                name,
                request.method,
                request.url.path,
                request.client.host if request.client else "?",
            )
            raise HTTPException(403, f"you do not hold the dataset {name}")
        return dataset

    # -- the upload ------------------------------------------------------------------------

    async def take_upload(
        self, request: Request, dataset: Dataset, identity: Identity, via: Via
    ) -> tuple[DeliveryRecord, bool]:
        limit = min(deliveries.byte_limit(dataset), self.config.max_upload)
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise HTTPException(400, "Content-Length is not a number")
            if int(length) > limit + MULTIPART_OVERHEAD:
                raise HTTPException(
                    413, f"the file is larger than {limit:,} bytes, the most {dataset.name} takes"
                )
        bounded = Request(request.scope, _bounded(request.receive, limit + MULTIPART_OVERHEAD))
        try:
            form = await bounded.form(max_files=1, max_fields=8, max_part_size=FIELD_BYTES)
        except TooLarge:
            raise HTTPException(
                413, f"the file is larger than {limit:,} bytes, the most {dataset.name} takes"
            ) from None
        except MultiPartException as error:
            raise HTTPException(400, f"not a multipart upload: {error.message}") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, "send the file in the multipart field `file`")
            if identity.how == "session":
                self.check_csrf(
                    identity, _text(form.get("csrf")) or request.headers.get("x-csrf-token")
                )
            source = _text(form.get("source")) or None
            message = _text(form.get("message")) or None
            return await run_in_threadpool(
                self.keep, upload, dataset, identity, via, source, message, limit
            )
        finally:
            await form.close()

    def keep(
        self,
        upload: UploadFile,
        dataset: Dataset,
        identity: Identity,
        via: Via,
        source: str | None,
        message: str | None,
        limit: int,
    ) -> tuple[DeliveryRecord, bool]:
        """Hash the uploaded file and keep it as a delivery (off the event loop)."""
        with tempfile.TemporaryDirectory(prefix="opendata-upload-") as scratch:
            local = Path(scratch) / "upload"
            upload.file.seek(0)
            try:
                _size, digest = copy_upload(upload.file, local, limit)
                return deliveries.receive(
                    self.store,
                    dataset,
                    local,
                    upload.filename or "",
                    steward=identity.steward.name,
                    organisation=identity.steward.organisation,
                    via=via,
                    source=source,
                    message=message,
                    sha256=digest,
                )
            except DeliveryRefused as refused:
                raise HTTPException(refused.status, refused.message) from None

    def record_for(self, identity: Identity, delivery_id: str) -> DeliveryRecord:
        try:
            found = deliveries.find_record(
                self.store, identity.steward.datasets, check_id(delivery_id)
            )
        except DeliveryRefused:
            found = None
        if found is None:
            raise HTTPException(404, f"no delivery {delivery_id[:40]!r} of yours")
        return found

    def delivery_json(self, record: DeliveryRecord) -> dict[str, Any]:
        shown = record.public()
        shown["url"] = f"/api/deliveries/{record.id}"
        shown["version_url"] = record.url
        return shown

    # -- API routes --------------------------------------------------------------------------

    async def api_deliver(self, request: Request) -> Response:
        identity = await self.require(request)
        dataset = await run_in_threadpool(
            self.authorise, identity, request.path_params["dataset"], request
        )
        record, created = await self.take_upload(request, dataset, identity, "api")
        if created:
            await self.start_run_soon(dataset.name, RECEIVED, record.id)
        body: dict[str, Any] = {
            "id": record.id,
            "url": f"/api/deliveries/{record.id}",
            "state": record.state,
        }
        if not created:
            body["duplicate"] = True
        return JSONResponse(body, status_code=202)

    async def api_delivery(self, request: Request) -> Response:
        identity = await self.require(request)
        record = await run_in_threadpool(self.record_for, identity, request.path_params["id"])
        return JSONResponse(self.delivery_json(record))

    async def api_publish(self, request: Request) -> Response:
        identity = await self.require(request)
        record = await run_in_threadpool(self.record_for, identity, request.path_params["id"])
        message = await self.small_field(request, "message")
        if identity.how == "session":
            self.check_csrf(identity, request.headers.get("x-csrf-token"))
        record = await run_in_threadpool(self.ask_publish, identity, record, message)
        return JSONResponse(self.delivery_json(record), status_code=202)

    def ask_publish(
        self, identity: Identity, record: DeliveryRecord, message: str | None
    ) -> DeliveryRecord:
        try:
            record = deliveries.request_publish(self.store, record, identity.steward.name, message)
        except DeliveryRefused as refused:
            raise HTTPException(refused.status, refused.message) from None
        self.start_run(record.dataset, PUBLISH_REQUESTED, record.id)
        return record

    async def small_field(self, request: Request, name: str) -> str | None:
        """A short field from a JSON or form body (or the query), bounded."""
        kind = request.headers.get("content-type", "")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > FIELD_BYTES * 4:
            raise HTTPException(413, "the request is too large")
        if kind.startswith("application/json"):
            body = await request.body()
            if len(body) > FIELD_BYTES * 4:
                raise HTTPException(413, "the request is too large")
            try:
                value = json.loads(body or b"{}").get(name)
            except (ValueError, AttributeError):
                raise HTTPException(400, "the body is not a JSON object") from None
            return str(value)[:FIELD_BYTES] if value is not None else None
        if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form(max_files=0, max_fields=8, max_part_size=FIELD_BYTES)
            return _text(form.get(name)) or None
        return request.query_params.get(name)

    async def require(self, request: Request) -> Identity:
        """Who asks (a token's Argon2 check and the registry's read run off the event loop)."""
        identity = await run_in_threadpool(self.identify, request)
        if identity is None:
            raise HTTPException(
                401,
                "sign in: send `Authorization: Bearer <token>` (opendata steward add prints one)",
            )
        return identity

    # -- the page ------------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **values: Any) -> Response:
        page = self.templates.get_template(name).render(**values)
        response = HTMLResponse(page, status_code=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def overview(self, identity: Identity) -> list[dict[str, Any]]:
        rows = []
        for name in identity.steward.datasets:
            try:
                dataset = self.dataset(name)
            except HTTPException:
                continue
            history, _ = read_history(self.store, name)
            records = deliveries.list_records(self.store, name)
            rows.append(
                {
                    "name": name,
                    "title": dataset.definition.title.sv,
                    "title_en": dataset.definition.title.en,
                    "latest": str(history.latest) if history.latest else None,
                    "page": deliveries.dataset_page(self.settings, name, None),
                    "last": records[-1] if records else None,
                    "sources": [s.path for s in deliveries.declared_sources(dataset)],
                    "automatic": dataset.definition.deliveries.publish == "automatic",
                }
            )
        return rows

    async def home(self, request: Request) -> Response:
        identity = await run_in_threadpool(self.identify, request)
        if identity is None or identity.how == "token":
            return self.signin_page(request, None, 200)
        return self.render(
            "home.html",
            steward=identity.steward,
            csrf=identity.session.csrf if identity.session else "",
            datasets=await run_in_threadpool(self.overview, identity),
            proxy=identity.how == "proxy",
        )

    async def signin(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=4, max_part_size=FIELD_BYTES)
        name = (_text(form.get("name")) or "").strip().lower()[:64]
        password = _text(form.get("password")) or ""
        sent = _text(form.get("csrf")) or ""
        cookie = request.cookies.get("opendata_login") or ""
        address = request.client.host if request.client else "?"
        if not cookie or not hmac.compare_digest(sent, cookie):
            return self.signin_page(
                request, "Formuläret har gått ut; försök igen. / The form expired; try again.", 403
            )
        wait = self.limiter.blocked(f"ip:{address}", f"name:{name}")
        if wait > 0:
            minutes = int(wait // 60) + 1
            response = self.signin_page(
                request,
                f"För många misslyckade inloggningar; försök igen om {minutes} minuter. / "
                f"Too many failed sign-ins; try again in {minutes} minutes.",
                429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        steward = await run_in_threadpool(self.check_password, name, password)
        if steward is None:
            self.limiter.failed(f"ip:{address}", f"name:{name}")
            audit.warning("failed sign-in as %r from %s", name, address)
            return self.signin_page(
                request, "Fel namn eller lösenord. / Wrong name or password.", 401
            )
        self.limiter.succeeded(f"name:{name}")
        sid, _session = self.new_session(steward.name)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=LONGEST,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path="/",
        )
        response.delete_cookie("opendata_login", path="/")
        return response

    def check_password(self, name: str, password: str) -> Steward | None:
        registry, _ = read_registry(self.store)
        return steward_for_password(registry, name, password)

    def signin_page(self, request: Request, error: str | None, status: int) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render("signin.html", status, csrf=token, error=error)
        response.set_cookie(
            "opendata_login",
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path="/",
        )
        return response

    def secure(self, request: Request) -> bool:
        return self.config.secure_cookies or request.url.scheme == "https"

    async def signin_form(self, request: Request) -> Response:
        return self.signin_page(request, None, 200)

    async def signout(self, request: Request) -> Response:
        identity = await run_in_threadpool(self.identify, request)
        if identity is not None and identity.how == "session":
            form = await request.form(max_files=0, max_fields=2, max_part_size=FIELD_BYTES)
            self.check_csrf(identity, _text(form.get("csrf")))
            self.end_session(request)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def page_identity(self, request: Request) -> Identity:
        identity = await run_in_threadpool(self.identify, request)
        if identity is None or identity.how == "token":
            raise HTTPException(401, "sign in first")
        return identity

    async def page_upload(self, request: Request) -> Response:
        identity = await self.page_identity(request)
        name = request.query_params.get("dataset") or request.path_params.get("dataset", "")
        dataset = await run_in_threadpool(self.authorise, identity, name, request)
        record, created = await self.take_upload(request, dataset, identity, "page")
        if created:
            await self.start_run_soon(dataset.name, RECEIVED, record.id)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {"id": record.id, "state": record.state, "page": f"/deliveries/{record.id}"},
                status_code=202,
            )
        return RedirectResponse(f"/deliveries/{record.id}", status_code=303)

    async def page_delivery(self, request: Request) -> Response:
        identity = await self.page_identity(request)
        record = await run_in_threadpool(self.record_for, identity, request.path_params["id"])
        return self.render(
            "delivery.html",
            steward=identity.steward,
            record=record,
            csrf=identity.session.csrf if identity.session else "",
            final=record.state in deliveries.FINAL
            or (record.state == "ready" and not record.publish_requested),
        )

    async def page_outcome(self, request: Request) -> Response:
        identity = await self.page_identity(request)
        record = await run_in_threadpool(self.record_for, identity, request.path_params["id"])
        return self.render(
            "outcome.html",
            record=record,
            csrf=identity.session.csrf if identity.session else "",
        )

    async def page_publish(self, request: Request) -> Response:
        identity = await self.page_identity(request)
        record = await run_in_threadpool(self.record_for, identity, request.path_params["id"])
        form = await request.form(max_files=0, max_fields=4, max_part_size=FIELD_BYTES)
        self.check_csrf(identity, _text(form.get("csrf")))
        await run_in_threadpool(
            self.ask_publish, identity, record, _text(form.get("message")) or None
        )
        return RedirectResponse(f"/deliveries/{record.id}", status_code=303)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})


def _text(value: object) -> str:
    return value[:FIELD_BYTES] if isinstance(value, str) else ""


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def _bounded(receive: Receive, limit: int) -> Receive:
    """The request body, refused (TooLarge) once more than `limit` bytes came."""
    seen = 0

    async def bounded() -> MutableMapping[str, Any]:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge
        return message

    return bounded


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    wants_html = not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )
    if wants_html:
        app: DeliveryApp = request.app.state.delivery
        if exc.status_code == 401:
            return RedirectResponse("/", status_code=303)
        return app.render(
            "error.html", exc.status_code, code=exc.status_code, detail=str(exc.detail)
        )
    headers = {"WWW-Authenticate": 'Bearer realm="opendata"'} if exc.status_code == 401 else None
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)


async def _operational(request: Request, exc: Exception) -> Response:
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"error": f"the store failed: {exc}"}, status_code=503)


def static(name: str, media: str) -> Callable[[Request], Awaitable[Response]]:
    text = (Path(__file__).parent / "templates" / "deliveries" / name).read_text("utf-8")

    async def serve(request: Request) -> Response:
        return Response(text, media_type=media, headers={"Cache-Control": "max-age=300"})

    return serve


def create_app(config: AppConfig, background: bool = True) -> Starlette:
    state = DeliveryApp(config)
    routes = [
        Route("/", state.home),
        Route("/signin", state.signin_form, methods=["GET"]),
        Route("/signin", state.signin, methods=["POST"]),
        Route("/signout", state.signout, methods=["POST"]),
        Route("/upload/{dataset}", state.page_upload, methods=["POST"]),
        Route("/deliveries/{id}", state.page_delivery),
        Route("/deliveries/{id}/outcome", state.page_outcome),
        Route("/deliveries/{id}/publish", state.page_publish, methods=["POST"]),
        Route("/api/datasets/{dataset}/deliveries", state.api_deliver, methods=["POST"]),
        Route("/api/deliveries/{id}", state.api_delivery),
        Route("/api/deliveries/{id}/publish", state.api_publish, methods=["POST"]),
        Route("/healthz", state.health),
        Route("/static/deliveries.css", static("deliveries.css", "text/css")),
        Route("/static/deliveries.js", static("deliveries.js", "text/javascript")),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if background:
            state.start_background()
        try:
            yield
        finally:
            state.close()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _error, OpendataError: _operational},
        lifespan=lifespan,
    )
    app.state.delivery = state
    return app


def version_link(record: DeliveryRecord) -> str | None:
    return record.page or (quote(record.url, safe=":/#.") if record.url else None)
