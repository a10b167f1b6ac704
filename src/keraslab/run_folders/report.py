"""A lesson's result, and its rendering as report.md and a self-contained report.html (plots embedded).

A report is a list of blocks: headings, paragraphs, tables (DataFrames) and figures (matplotlib). The same blocks
render to Markdown and to HTML, so the two reports never disagree.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Block:
    kind: str  # "heading" | "text" | "table" | "figure"
    content: Any
    caption: str = ""


@dataclass
class Result:
    """What a lesson's run(config) returns. The run writer turns it into the run folder."""

    title: str
    summary: dict[str, float]
    history: pd.DataFrame | None = None
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure -> plots/<name>.png
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # name -> tables/<name>.csv
    texts: dict[str, str] = field(default_factory=dict)  # file name -> text (e.g. classification_report.txt)
    metrics: dict[str, Any] = field(default_factory=dict)  # extra entries for metrics.json
    blocks: list[Block] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # "quick run", "substitute data": in the title and the summary
    notices: list[str] = field(default_factory=list)  # what the tags mean, at the top of the report

    @property
    def full_title(self) -> str:
        return f"{self.title} [{', '.join(self.tags)}]" if self.tags else self.title

    @property
    def summary_heading(self) -> str:
        return f"Summary ({', '.join(self.tags)})" if self.tags else "Summary"

    # -- building the report, notebook style --
    def heading(self, text: str) -> Result:
        self.blocks.append(Block("heading", text))
        return self

    def text(self, text: str) -> Result:
        self.blocks.append(Block("text", text))
        return self

    def table(self, name: str, frame: pd.DataFrame, caption: str = "") -> Result:
        self.tables[name] = frame
        self.blocks.append(Block("table", name, caption))
        return self

    def figure(self, name: str, fig, caption: str = "") -> Result:
        self.figures[name] = fig
        self.blocks.append(Block("figure", name, caption))
        return self


def fmt(value, digits: int = 4) -> str:
    """A number with `digits` decimals (integers as they are); anything else, text included, as it is: a class
    label "7" stays "7", not "7.0000"."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)):
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


def render_markdown(result: Result, manifest: dict, reproduce: str) -> str:
    """report.md: the summary, every block, and `reproduce` (the command that makes the same run again)."""
    out = [f"# {result.full_title}", ""]
    for notice in result.notices:
        out += [f"> **{notice}**", ""]
    out += [f"## {result.summary_heading}", "", markdown_table(summary_frame(result.summary)), ""]
    for block in result.blocks:
        if block.kind == "heading":
            out += [f"## {block.content}", ""]
        elif block.kind == "text":
            out += [block.content, ""]
        elif block.kind == "table":
            if block.caption:
                out += [f"*{block.caption}*", ""]
            out += [markdown_table(result.tables[block.content]), ""]
        elif block.kind == "figure":
            out += [f"![{block.caption or block.content}](plots/{block.content}.png)", ""]
    out += [
        "## Reproduce",
        "",
        "```",
        reproduce,
        "```",
        "",
        (
            f"keraslab {manifest.get('keraslab')}, backend {manifest.get('backend')}, "
            f"keras {manifest.get('versions', {}).get('keras')}, seed {manifest.get('seed')}."
        ),
        "",
    ]
    return "\n".join(out)


# report.html allows only what it holds: its inline style and its PNGs as data: URLs (no scripts, nothing fetched)
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


def _html_text(text: str) -> str:
    # Paragraphs separated by blank lines; `code` spans; nothing else is interpreted.
    parts = []
    for para in text.strip().split("\n\n"):
        escaped = html.escape(para)
        pieces = escaped.split("`")
        escaped = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
        parts.append(f"<p>{escaped}</p>")
    return "\n".join(parts)


def tags_of(run: dict) -> list[str]:
    """The tags of metrics.json's `run` entry: "quick run", and "substitute data" or "stand-in data"."""
    data = str(run.get("data", "real"))
    flags = (("quick run", bool(run.get("quick"))), (f"{data} data", data != "real"))
    return [tag for tag, on in flags if on]


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


def png_figure(png: bytes, alt: str, caption: str = "") -> str:
    """A <figure> with the PNG embedded as data (the only images the pages' policy allows)."""
    data = base64.b64encode(png).decode("ascii")
    alt = html.escape(alt)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
        + (f'<figcaption class="caption">{html.escape(caption)}</figcaption>' if caption else "")
        + "</figure>"
    )


def render_html(result: Result, manifest: dict, reproduce: str, pngs: dict[str, bytes]) -> str:
    """A self-contained report.html (figures embedded as PNG data) with the same blocks as report.md."""
    out = [
        *page_head(result.full_title),
        *notices_html(result.notices),
        f"<h2>{html.escape(result.summary_heading)}</h2>",
        html_table(summary_frame(result.summary)),
    ]
    for block in result.blocks:
        if block.kind == "heading":
            out.append(f"<h2>{html.escape(block.content)}</h2>")
        elif block.kind == "text":
            out.append(_html_text(block.content))
        elif block.kind == "table":
            if block.caption:
                out.append(f'<p class="caption">{html.escape(block.caption)}</p>')
            out.append(html_table(result.tables[block.content]))
        elif block.kind == "figure":
            out.append(png_figure(pngs[block.content], block.caption or block.content, block.caption))
    out.append("<h2>Reproduce</h2>")
    out.append(f"<pre>{html.escape(reproduce)}</pre>")
    out.append(
        f"<footer>keraslab {html.escape(str(manifest.get('keraslab')))}, backend "
        f"{html.escape(str(manifest.get('backend')))}, keras "
        f"{html.escape(str(manifest.get('versions', {}).get('keras')))}, seed "
        f"{html.escape(str(manifest.get('seed')))}, created {html.escape(str(manifest.get('created_utc')))}"
        "</footer></body></html>"
    )
    return "\n".join(out)
