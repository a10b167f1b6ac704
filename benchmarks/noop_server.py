"""The load test's baseline: a FastAPI service that does nothing, run by uvicorn exactly as `keraslab serve` runs
(same host, same log level, same event loop and HTTP parser). POST /predict accepts any JSON list and answers a
constant; GET /health answers ok. What keraslab's server does beyond this is its own cost.

    python benchmarks/noop_server.py PORT

(No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at run time.)
"""

import sys
from typing import Annotated, Any


def create_app():
    from fastapi import Body, FastAPI

    app = FastAPI(title="no-op")

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/predict")
    def predict(rows: Annotated[list[Any], Body()]):
        return {"predictions": [], "warnings": []}

    return app


def main(argv=None) -> int:
    import uvicorn

    port = int((argv or sys.argv[1:])[0])
    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
