"""The HTTP service for a bundle (FastAPI; `pip install 'keraslab[serve]'`).

POST /predict takes a JSON list of 1 to 1000 rows, each validated by a model generated from the bundle's schema
(extra fields forbidden, numbers finite); GET /health; GET /model (schema and metrics). Every bad request gets a
4xx with a JSON error, never a 5xx: malformed JSON, wrong types, NaN or Infinity, extra fields, an empty list, too
many rows, a body over the size limit. The endpoints are plain `def` (CPU-bound work runs in the thread pool).

(No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time, and the row
model they name is made inside create_app.)
"""

import json
import math
from typing import Annotated, Any

MAX_ROWS = 1000
MAX_BODY_BYTES = 2 * 1024 * 1024


def _blank_to_none(v):
    return None if isinstance(v, str) and v.strip() == "" else v


def _row_model(schema: dict):
    from pydantic import BeforeValidator, ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for col in schema["columns"]:
        if col["role"] == "numeric":  # numbers, numeric strings; blank strings and null are missing values
            tp = Annotated[Annotated[float, Field(allow_inf_nan=False)] | None, BeforeValidator(_blank_to_none)]
        elif col["role"] == "yes_no":
            tp = bool | str | None
        else:
            tp = str | int | float | None
        fields[col["name"]] = (tp, Field(default=None))
    return create_model("Row", __config__=ConfigDict(extra="forbid"), **fields)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes gets 413 before it is parsed."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                return await _send_json(
                    send, 413, {"error": f"request body of {int(value)} bytes is over the limit of {self.limit} bytes"}
                )
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge()
            return message

        try:
            return await self.app(scope, limited_receive, send)
        except _TooLarge:
            return await _send_json(send, 413, {"error": f"request body is over the limit of {self.limit} bytes"})


class _TooLarge(Exception):
    pass


async def _send_json(send, status: int, payload: dict):
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _clean(value):
    """Make a validation error's details JSON-safe (NaN / Infinity inputs broke FastAPI's default handler)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def create_app(bundle):
    from fastapi import Body, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    Row = _row_model(bundle.schema)
    app = FastAPI(title="keraslab model", version="1")

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
        return JSONResponse(status_code=422, content={"error": "invalid request", "details": _clean(errors)})

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/model")
    def model_info():
        return {"schema": bundle.schema, "metrics": bundle.metrics.get("summary", {})}

    @app.post("/predict")
    def predict(rows: Annotated[list[Row], Body(min_length=1, max_length=MAX_ROWS)]):
        from keraslab.errors import DataFormatError

        try:
            predictions, warnings = bundle.predict_records([r.model_dump() for r in rows])
        except DataFormatError as exc:
            return JSONResponse(status_code=422, content={"error": str(exc)})
        return {"predictions": predictions, "warnings": warnings}

    return BodyLimit(app)


def serve(bundle_dir, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    import uvicorn

    from keraslab.serving.bundle import load

    uvicorn.run(create_app(load(bundle_dir)), host=host, port=port, log_level=log_level)
