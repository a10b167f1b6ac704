"""The pieces every keraslab page shares (a run's report, `run all`'s index, `runs compare`'s page): numbers as they
print, tables in HTML and Markdown, figures as embedded PNGs, and the head, style and Content-Security-Policy of a
self-contained page (its inline style and data: images only, no script)."""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np
import pandas as pd


def fmt(value, digits: int = 4) -> str:
    """A number with `digits` decimals (integers as they are); anything else, text included, as it is: a class
    label "7" stays "7", not "7.0000"."""
    if value is None or isinstance(value, (str, bool, np.bool_, int, np.integer)):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "nan"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 10**-digits):
        return f"{v:.{digits}g}"
    return f"{v:.{digits}f}"


def pm(mean, sd=None, digits: int = 4) -> str:
    """ "mean ± sd", or the mean alone when there is no spread to show (one seed, one fold: sd None or NaN)."""
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt(sd, digits)}"


def summary_frame(summary: dict[str, float]) -> pd.DataFrame:
    """A two-column table: metric, value (with ± sd when the summary holds <name>_sd)."""
    rows = []
    for key, value in summary.items():
        if key.endswith("_sd") and key[:-3] in summary:
            continue
        rows.append({"metric": key, "value": pm(value, summary.get(f"{key}_sd"))})
    return pd.DataFrame(rows, columns=["metric", "value"])


def markdown_table(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    head = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    rows = ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(head + rows)


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


# a page allows only what it holds: its inline style and its PNGs as data: URLs (no scripts, nothing fetched)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1f24;line-height:1.5}
h1{border-bottom:2px solid #d0d7de;padding-bottom:.3rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eaeef2}pre{background:#f6f8fa;padding:.8rem;overflow-x:auto}
.caption{color:#57606a;font-style:italic}
.notice{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem .8rem;font-weight:600}
footer{margin-top:3rem;color:#57606a;font-size:.9rem}
"""


def html_table(frame: pd.DataFrame) -> str:
    # a header may break after an underscore (balanced_<wbr>accuracy), so wide tables fit a 1280-pixel page
    head = "".join(f"<th>{html.escape(str(c)).replace('_', '_<wbr>')}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page_head(title: str, heading: str | None = None, css: str = "") -> list[str]:
    """The opening of every keraslab page (report, index, comparison) up to its <h1>: self-contained, with the
    Content-Security-Policy that allows only its inline style and data: images (`css`: more style)."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}{css}</style></head><body>",
        f"<h1>{html.escape(heading or title)}</h1>",
    ]


def notices_html(notices) -> list[str]:
    return [f'<p class="notice">{html.escape(n)}</p>' for n in notices]


def png_figure(png: bytes, alt: str) -> str:
    """A <figure> with the PNG embedded as data (the only images the pages' policy allows)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'
