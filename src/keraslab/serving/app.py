"""The HTTP service for a bundle (FastAPI; `pip install 'keraslab[serve]'`).

POST /predict takes a JSON list of 1 to 1000 rows, each an object of column: value checked by the one rule of
keraslab.bundles.rows (the same as `keraslab predict`'s and the Python API's: a required column missing, a wrong
type, NaN or Infinity is a 422 naming row and column; an unknown column is ignored and named in the answer's
warnings); GET /health; GET /model (schema and metrics); GET /docs (a page of its own, no internet needed) and GET
/openapi.json (every column with its type, its values, whether it is required, and an example). Any column name
works: rows are plain JSON objects, never attributes of a generated class. Every bad request gets a 4xx with a
JSON error, never a 5xx: malformed JSON, wrong types, NaN or Infinity, an empty list, too many rows, a body over the
size limit. CPU-bound work runs in the thread pool, except the few microseconds of a
request of at most INLINE_ROWS rows, answered on the event loop.

(No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time, and the row
model they name is made inside create_app.)
"""

import asyncio
import json
import math
import time
from typing import Annotated, Any

MAX_ROWS = 1000
MAX_BODY_BYTES = 2 * 1024 * 1024
CLIENT_TIMEOUT = 10.0  # seconds a client may take to send its request's headers, and then its body
MAX_CONNECTIONS = 200  # concurrent connections and requests; beyond it, 503
INLINE_ROWS = 16  # requests of up to this many rows are answered on the event loop (see predict)


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(value: bytes) -> str:
    """The name in a Host header, without its port: b"[::1]:8000" -> "::1", b"localhost:8000" -> "localhost"."""
    text = value.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class HostAllowList:
    """ASGI middleware in front of the app: a request whose Host header names none of `allowed` gets 400 (a service
    bound to a loopback address answers only requests addressed to it, a guard against DNS rebinding)."""

    def __init__(self, app, allowed: frozenset[str]):
        self.app, self.allowed = app, allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope.get("headers", [])).get(b"host", b"")
            if host_name(host) not in self.allowed:
                shown = host.decode("latin-1")
                error = {"error": f"Host {shown!r} is not served here (allowed: {', '.join(sorted(self.allowed))})"}
                return await _send_json(send, 400, error)
        return await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware in front of the app: a request body over `limit` bytes gets 413 before it is parsed, whether
    it announces its length or comes in chunks (the body is read here, at most `limit` bytes of it, and handed on
    whole); a body that does not arrive within `body_timeout` seconds gets 408."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, body_timeout: float = CLIENT_TIMEOUT):
        self.app, self.limit, self.body_timeout = app, limit, body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            return await _send_json(
                send, 413, {"error": f"request body of {int(length)} bytes is over the limit of {self.limit} bytes"}
            )
        chunks, received, more = [], 0, True
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        while more:
            try:  # a client that stops sending its body is dropped, not waited for
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                error = {"error": f"the request body did not arrive within {self.body_timeout:g} s"}
                return await _send_json(send, 408, error, close=True)
            if message["type"] != "http.request":  # the client went away
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.limit:
                return await _send_json(send, 413, {"error": f"request body is over the limit of {self.limit} bytes"})
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, handed = b"".join(chunks), False

        async def replay():
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _send_json(send, status: int, payload: dict, close: bool = False):
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + ([(b"connection", b"close")] if close else []),
        }
    )
    await send({"type": "http.response.body", "body": body})


MAX_ECHO = 200  # characters of a client's text echoed back in an error


def _text(value: str, limit: int = MAX_ECHO) -> str:
    """A client's text as it may come back: encodable (a lone surrogate escaped) and bounded."""
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clean(value, depth: int = 0):
    """Make a validation error's details JSON-safe and bounded (NaN / Infinity and lone surrogates broke FastAPI's
    default handler; a 2 MB input was echoed whole)."""
    if depth > 3:
        return "..."
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_text(str(k)): _clean(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value[:5]]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return _text(str(value))


def _error_handlers(app) -> None:
    """Every error the same shape, {"error": one line, ...}: a malformed body (FastAPI's validation, its first
    error named, a few given), a path or method that does not exist (404, 405)."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError):
        errors = [
            {
                "loc": list(map(str, e.get("loc", ()))),
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
                "input": _clean(e.get("input")),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": ""}
        where = " -> ".join(first["loc"][1:]) or "body"
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            told = f"content-type {kind!r}" if kind else "no content-type"
            return JSONResponse(
                status_code=415,
                content={
                    "error": _text(
                        f"the body was sent with {told}: send the rows as JSON with the header "
                        "'content-type: application/json' (curl -H 'content-type: application/json' -d '[{...}]')"
                    )
                },
            )
        return JSONResponse(
            status_code=422,
            content={"error": _text(f"invalid request: {where}: {first['msg']}"), "details": _clean(errors[:5])},
        )

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException):  # 404, 405: the same shape as every other error
        return JSONResponse(status_code=exc.status_code, content={"error": _text(str(exc.detail))})


def create_app(
    bundle,
    allowed_hosts: frozenset[str] | None = None,
    warm_up: bool = True,
    allow_missing: bool = False,
    base_url: str = "http://127.0.0.1:8000",
    client_timeout: float = CLIENT_TIMEOUT,
):
    """The service for a loaded bundle. `allowed_hosts`: the Host names it answers (None: any). `warm_up` compiles
    the model for each padded batch size before the first request (see Bundle.warm_up). `allow_missing`: fill any
    missing value as in training (`serve --allow-missing`). `base_url`: where it listens, for its /docs example."""
    from fastapi import Body, FastAPI
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

    from keraslab.serving.api_docs import ERROR_RESPONSES, docs_page, openapi_extra

    if warm_up:
        bundle.warm_up()
    app = FastAPI(title="keraslab model", version="1", docs_url=None, redoc_url=None)

    _error_handlers(app)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/docs")

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/model")
    def model_info():
        return {"schema": bundle.schema, "metrics": bundle.metrics.get("summary", {})}

    def answer(rows) -> JSONResponse:
        from keraslab.errors import DataFormatError

        try:
            predictions, warnings = bundle.predict_records(rows, allow_missing=allow_missing, nan_is_missing=False)
        except DataFormatError as exc:
            # keraslab's own one line: client values in it are already cut short (keraslab.bundles.rows)
            return JSONResponse(status_code=422, content={"error": _text(str(exc), limit=2000)})
        # plain floats, strings and lists: serialized as they are, without FastAPI's generic encoder
        return JSONResponse(content={"predictions": predictions, "warnings": [_text(w) for w in warnings]})

    @app.post("/predict", openapi_extra=openapi_extra(bundle, allow_missing), responses=ERROR_RESPONSES)
    async def predict(rows: Annotated[list[dict[str, Any]], Body(min_length=1, max_length=MAX_ROWS)]):
        # a few rows take tens of microseconds: answered on the event loop, which saves the hop to a worker
        # thread; larger requests run in the thread pool so that they never hold up the others
        if len(rows) <= INLINE_ROWS:
            return answer(rows)
        return await run_in_threadpool(answer, rows)

    page = docs_page(bundle, allow_missing, base_url)

    @app.get("/docs", response_class=HTMLResponse)
    def docs():
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    app = BodyLimit(app, body_timeout=client_timeout)
    return app if allowed_hosts is None else HostAllowList(app, allowed_hosts)


def allowed_hosts_for(host: str, extra=()) -> frozenset[str] | None:
    """Bound to a loopback address: only loopback names (and `extra`) may be asked for; bound elsewhere: any."""
    if host.strip("[]").lower() in LOOPBACK_NAMES or host.startswith("127."):
        return LOOPBACK_NAMES | {host.strip("[]").lower()} | {h.lower() for h in extra}
    return None


def server(
    app,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    client_timeout: float = CLIENT_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
):
    """A uvicorn server for `app` that drops slow clients: a connection that has not sent a whole request's headers
    within `client_timeout` seconds is closed (the body has its own deadline, BodyLimit's), and at most
    `max_connections` connections and requests are served at once (the rest get 503)."""
    import uvicorn

    class Server(uvicorn.Server):
        def __init__(self, config):
            super().__init__(config)
            self.waiting: dict = {}  # connection -> when it was first seen without a whole request

        async def on_tick(self, counter: int) -> bool:
            now = time.monotonic()
            for proto in list(self.server_state.connections):
                if getattr(proto, "cycle", None) is not None:  # a request arrived: its body has its own deadline
                    self.waiting.pop(proto, None)
                elif now - self.waiting.setdefault(proto, now) > client_timeout:
                    proto.transport.close()  # headers never completed
            for proto in [p for p in self.waiting if p not in self.server_state.connections]:
                self.waiting.pop(proto, None)
            return await super().on_tick(counter)

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, limit_concurrency=max_connections)
    return Server(config)


def serve(
    bundle_dir,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    allow_hosts=(),
    allow_missing: bool = False,
    client_timeout: float = CLIENT_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> None:
    from keraslab.bundles.bundle import load

    shown_host = f"[{host}]" if ":" in host else host
    app = create_app(
        load(bundle_dir),
        allowed_hosts=allowed_hosts_for(host, allow_hosts),
        allow_missing=allow_missing,
        base_url=f"http://{shown_host}:{port}",
        client_timeout=client_timeout,
    )
    server(app, host, port, log_level=log_level, client_timeout=client_timeout, max_connections=max_connections).run()
