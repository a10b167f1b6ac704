"""The service's documentation, generated from the bundle: the request body's JSON schema (every column with its
type, its values and whether it is required), an example request and its real answer, every error status; as the
OpenAPI entry of POST /predict and as GET /docs, a page of its own that needs no internet (FastAPI's default page
loads its scripts from a CDN)."""

from __future__ import annotations

import html
import json

MAX_ROWS, MAX_BODY_MB = 1000, 2
ERRORS = (
    (
        400,
        (
            "the Host header names no host this service answers (a service on 127.0.0.1 answers only loopback "
            "names; serve --allow-host NAME adds one)"
        ),
    ),
    (413, f"the body is over {MAX_BODY_MB} MB"),
    (
        422,
        (
            "the body is not a JSON list of 1 to 1000 objects, or a row breaks the rule: a required column missing, "
            "a wrong type (true/false is not a number), NaN or Infinity; the error names the row and the column"
        ),
    ),
    (404, "no such path"),
    (405, "a method other than POST on /predict"),
)


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "one line: what is wrong (a row's error names row and column)"},
        "details": {"type": "array", "description": "for a malformed body: the first few validation errors"},
    },
    "required": ["error"],
}
ERROR_RESPONSES = {
    code: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for code, text in ERRORS
    if code in (400, 413, 422)
}


def _columns(bundle, allow_missing: bool) -> list[dict]:
    """One entry per input column: name, role, the JSON schema of its value, required or not, the fill."""
    spec = bundle.features
    out = [
        (col, "number", {"type": ["number", "string", "null"]}, f"{col['median']:g}", col["median"])
        for col in spec.numeric
    ]
    for col in spec.yes_no:
        fill = "yes" if col["fill"] >= 0.5 else "no"
        out.append((col, "yes/no", {"type": ["boolean", "string", "integer", "null"]}, fill, fill))
    for col in spec.categorical:
        values = {"type": ["string", "number", "null"], "examples": col["categories"][:20]}
        out.append((col, "category", values, repr(col["fill"]), col["fill"]))
    return [
        {
            "name": col["name"],
            "role": role,
            "schema": schema,
            "required": not (allow_missing or col.get("missing_in_training", True)),
            "fill": fill,
            "example": example,
            "values": col.get("categories") or col.get("values"),
            "other": bool(col.get("other")),
        }
        for col, role, schema, fill, example in out
    ]


def example_rows(bundle) -> list[dict]:
    """One row of each column's training fill (median, most frequent value): a request that works."""
    return [{c["name"]: c["example"] for c in _columns(bundle, False)}]


def request_schema(bundle, allow_missing: bool) -> dict:
    columns = _columns(bundle, allow_missing)
    properties = {}
    for c in columns:
        kept = f"; values: {', '.join(map(str, c['values'][:20]))}" if c["values"] else ""
        other = " (any other value: the 'other' column)" if c["other"] else ""
        need = "required" if c["required"] else f"may be missing (absent, null, blank): filled with {c['fill']}"
        properties[c["name"]] = {**c["schema"], "description": f"{c['role']}{kept}{other}; {need}"}
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_ROWS,
        "items": {
            "type": "object",
            "properties": properties,
            "required": [c["name"] for c in columns if c["required"]],
            "additionalProperties": True,
            "description": "a column the model does not know is ignored and named in the answer's warnings",
        },
    }


def _answer(bundle) -> dict:
    predictions, warnings = bundle.predict_records(example_rows(bundle), allow_missing=True)
    return {"predictions": predictions, "warnings": warnings}


def openapi_extra(bundle, allow_missing: bool) -> dict:
    example = example_rows(bundle)
    answer = {
        "type": "object",
        "properties": {
            "predictions": {"type": "array", "items": {"type": "object"}, "description": "one per row, in order"},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request_schema(bundle, allow_missing), "example": example}},
        },
        "responses": {
            "200": {
                "description": "one answer per row, in order, and the warnings (ignored columns, values filled)",
                "content": {"application/json": {"schema": answer, "example": _answer(bundle)}},
            },
        },
    }


def curl_example(bundle, url: str = "http://127.0.0.1:8000") -> str:
    body = json.dumps(example_rows(bundle), ensure_ascii=False)
    return f"curl -s {url}/predict -H 'content-type: application/json' -d '{body}'"


def docs_page(bundle, allow_missing: bool, base_url: str = "http://127.0.0.1:8000") -> str:
    """GET /docs: a self-contained page (no script, no external asset)."""
    e = html.escape
    target = bundle.schema["target"]
    if bundle.regression:
        what = f"the value of {target['name']!r} (a regression; in its own units)"
    else:
        classes = ", ".join(map(repr, bundle.labels))
        what = f"the class of {target['name']!r}: one of {classes}, with each one's probability"
    rows = "".join(
        f"<tr><td><code>{e(c['name'])}</code></td><td>{e(c['role'])}</td>"
        f"<td>{'required' if c['required'] else 'may be missing: filled with ' + e(str(c['fill']))}</td>"
        f"<td>{e(', '.join(map(str, (c['values'] or [])[:20])))}{' (others: other)' if c['other'] else ''}</td></tr>"
        for c in _columns(bundle, allow_missing)
    )
    errors = "".join(f"<tr><td>{code}</td><td>{e(text)}</td></tr>" for code, text in ERRORS)
    answer = json.dumps(_answer(bundle), indent=1, ensure_ascii=False)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>keraslab model: {e(target["name"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}
pre{{background:#f4f4f4;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}}</style></head><body>
<h1>keraslab model: {e(target["name"])}</h1>
<p>POST <code>/predict</code> with a JSON list of 1 to {MAX_ROWS} rows (a body of at most {MAX_BODY_MB} MB), each an
object of column: value. The answer gives, for each row in order, {e(what)}, and the warnings: columns the model
does not know (ignored) and values it filled. GET <code>/health</code>, GET <code>/model</code> (schema and test
scores), GET <code>/openapi.json</code> (this, as OpenAPI).</p>
<h2>Columns</h2><table><tr><th>column</th><th>type</th><th>missing</th><th>values</th></tr>{rows}</table>
<h2>Example</h2><pre>{e(curl_example(bundle, base_url))}</pre><p>answers</p><pre>{e(answer)}</pre>
<h2>Errors</h2><p>Every error is a JSON object with an <code>error</code>; never a 5xx for a bad request.</p>
<table><tr><th>status</th><th>when</th></tr>{errors}</table></body></html>
"""
