"""keraslab.serving: a bundle (keraslab.bundles) served over HTTP (`pip install 'keraslab[serve]'`).

- app: the FastAPI service, `create_app(bundle)` and `serve(folder)`
- api_docs: its documentation generated from the bundle (OpenAPI, and GET /docs without internet)
"""
