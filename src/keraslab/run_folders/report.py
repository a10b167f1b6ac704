"""A run's report: its executed notebook rendered as report.html and report.md (the prose, the code, the outputs
and figures in order, headed by how the run was made and its summary, followed, with several seeds, by every seed's
summary); the pieces it shares with every keraslab page are in keraslab.run_folders.pages.

One renderer serves every report: a lesson's from the notebook the run executed, a `keraslab train` bundle's from
the cells its training wrote (`Report`: text, tables and figures as a notebook's markdown cells and outputs).

report.html is one self-contained file under the same Content-Security-Policy as every keraslab page (its inline
style and data: images only, no script): markdown through markdown-it-py, formulas drawn by matplotlib's mathtext as
SVG images (a formula mathtext cannot draw is shown as its TeX source), code highlighted by Pygments with inline
styles, wide tables scrolled inside their box so that the page never grows wider than its window.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from dataclasses import dataclass, field

import pandas as pd

from keraslab.run_folders.pages import (
    figure_png,
    html_table,
    markdown_table,
    notices_html,
    page_head,
    summary_frame,
)


def tags_of(run: dict) -> list[str]:
    """The tags of metrics.json's `run` entry: "quick run", and "substitute data" or "stand-in data"."""
    data = str(run.get("data", "real"))
    flags = (("quick run", bool(run.get("quick"))), (f"{data} data", data != "real"))
    return [tag for tag, on in flags if on]


QUICK_NOTICE = (
    "Quick run (--quick): a smoke test with fewer epochs, rows or folds than the lesson needs. Its numbers show "
    "that the lesson runs; they are not the lesson's result, do not compare with the course's figures, and no "
    "conclusion is drawn from them. Run without --quick for the real thing."
)


def notices(prov: dict) -> list[str]:
    """What the tags of a run (metrics.json's `run`, keraslab.run_state.RunState.provenance) mean, at the top of
    its report."""
    out = [QUICK_NOTICE] if prov["quick"] else []
    if prov["data"] == "substitute":
        out.append(
            "Substitute data: the files read were small copies in the real formats, vouched for by "
            f"$KERASLAB_CHECKSUMS ({', '.join(prov['substitute_files'])}), not the course's dataset. The numbers "
            "say nothing about how the lesson does on the real data."
        )
    if "stand_in" in prov:
        s = prov["stand_in"]
        out.append(
            f"Stand-in data: this lesson's data set, {s['instead_of']}, is not on this machine ({s['reason']}), so "
            f"this run used {s['dataset']} in its place. The numbers say nothing about how the lesson does on "
            f"{s['instead_of']}; `keraslab data fetch {s['instead_of']}` gets it."
        )
    return out


def how_made(prov: dict, seeds: list[int], manifest: dict) -> str:
    """One line: quick or full, the seed(s), real or substitute data, the backend and versions."""
    seed = f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]})"
    return (
        f"{'Quick' if prov['quick'] else 'Full'} run, {seed}, {prov['data']} data; backend "
        f"{manifest.get('backend')}, keras {manifest.get('versions', {}).get('keras')}, keraslab "
        f"{manifest.get('keraslab')}; {manifest.get('created_utc')}."
    )


EXTRA_CSS = """
.cell{margin:.8rem 0}.code pre{background:#f6f8fa;border-left:3px solid #8c959f;margin:.3rem 0}
pre.out{background:#fff;border:1px solid #eaeef2;max-height:30rem;overflow:auto}pre.err{background:#ffebe9}
.scroll{overflow-x:auto;max-width:100%}.math{vertical-align:middle}.md img.math{border:none}
p.display{text-align:center}.how{color:#57606a}
"""


@dataclass
class ReportHead:
    """What heads a report: its title and how the run was made."""

    title: str
    how: str  # "full run, seed 0, real data; backend jax" and the like
    summary: dict[str, float]
    tags: list[str] = field(default_factory=list)  # "quick run", "substitute data"
    notices: list[str] = field(default_factory=list)
    reproduce: str = ""
    footer: str = ""
    seeds: pd.DataFrame | None = None  # every seed's summary, for a run of several seeds
    timing: str = ""  # where the time went up to the report (keraslab.phases.line)
    body: str = "The lesson, as this run executed it"  # the heading over the cells
    provenance: dict = field(default_factory=dict)  # how the run was made (metrics.json's `run`)

    @property
    def full_title(self) -> str:
        return f"{self.title} [{', '.join(self.tags)}]" if self.tags else self.title


# --- HTML -----------------------------------------------------------------------------------------------------------


def render_html(nb: dict, head: ReportHead) -> str:
    out = page_head(head.full_title, css=EXTRA_CSS)
    out += notices_html(head.notices)
    out.append(f'<p class="how">{html.escape(head.how)}</p>')
    if head.timing:
        out.append(f'<p class="how">Time: {html.escape(head.timing)}</p>')
    out.append(f"<h2>Summary{' (' + ', '.join(head.tags) + ')' if head.tags else ''}</h2>")
    out.append(html_table(summary_frame(head.summary)))
    out.append(f"<h2>{html.escape(head.body)}</h2>")
    for cell in report_cells(nb):
        out.append(_cell_html(cell))
    if head.seeds is not None:
        out.append(f"<h2>Every seed ({len(head.seeds)})</h2>")
        out.append(
            "<p>The summary above is the mean ± sample standard deviation over these seeds; each seed's own "
            "report is in its folder <code>seed&lt;N&gt;/</code>.</p>"
        )
        out.append(f'<div class="scroll">{html_table(head.seeds)}</div>')
    out.append("<h2>Reproduce</h2>")
    out.append(f"<pre>{html.escape(head.reproduce)}</pre>")
    out.append(f"<footer>{html.escape(head.footer)}</footer></body></html>")
    return "\n".join(out)


def _cell_html(cell: dict) -> str:
    source = _text(cell.get("source", ""))
    if cell["cell_type"] == "markdown":
        return f'<div class="cell md">{markdown_html(_demote(source))}</div>'
    parts = [f'<div class="cell code">{code_html(source) if source else ""}']
    parts += [_output_html(o) for o in cell.get("outputs", [])]
    return "".join(parts) + "</div>"


def _output_html(output: dict) -> str:
    kind = output["output_type"]
    if kind == "stream":
        return f'<pre class="out">{html.escape(_text(output["text"]))}</pre>'
    if kind == "error":
        return f'<pre class="out err">{html.escape("".join(output.get("traceback", [])) or output["evalue"])}</pre>'
    data = output.get("data", {})
    if "image/png" in data:
        png = _text(data["image/png"]).replace("\n", "")
        alt = html.escape(_figure_meta(output).get("title") or _text(data.get("text/plain", "figure")))
        return f'<figure><img alt="{alt}" src="data:image/png;base64,{png}"></figure>'
    if "text/html" in data:  # a DataFrame's table (pandas escapes its cells); scrolled when wider than the page
        return f'<div class="scroll">{_text(data["text/html"])}</div>'
    return f'<pre class="out">{html.escape(_text(data.get("text/plain", "")))}</pre>'


@functools.lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.use(dollarmath_plugin, renderer=_math_html, allow_space=True, allow_digits=False, double_inline=True)
    return md


def markdown_html(text: str) -> str:
    """Markdown as HTML: raw HTML in it is escaped, $...$ and $$...$$ are drawn as formulas."""
    return _markdown().render(text)


def _math_html(tex: str, options: dict) -> str:
    display = bool(options.get("display_mode"))
    svg, depth = math_svg(" ".join(tex.split()), 14 if display else 12)
    if svg is None:
        code = f'<code class="tex">{html.escape(tex)}</code>'
        return f'<p class="display">{code}</p>' if display else code
    data = base64.b64encode(svg).decode("ascii")
    style = "" if display else f' style="vertical-align:-{depth:.1f}pt"'
    img = f'<img class="math" alt="{html.escape(tex)}" src="data:image/svg+xml;base64,{data}"{style}>'
    return f'<p class="display">{img}</p>' if display else img


@functools.lru_cache(maxsize=512)
def math_svg(tex: str, size: int) -> tuple[bytes | None, float]:
    """(SVG of the formula drawn by matplotlib's mathtext, its depth below the baseline in points), or (None, 0)
    when mathtext cannot draw it."""
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buf = io.BytesIO()
    try:
        depth = mathtext.math_to_image(f"${tex}$", buf, prop=FontProperties(size=size), format="svg")
    except ValueError:
        return None, 0.0
    return buf.getvalue(), float(depth)


def code_html(source: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True, style="default"))


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# --- Markdown -------------------------------------------------------------------------------------------------------


def _figure_meta(output: dict) -> dict:
    return output.get("metadata", {}).get("keraslab", {})


def render_markdown(nb: dict, head: ReportHead, plots: str = "plots") -> str:
    """report.md: the same content, each figure a link to its PNG in the folder `plots` (relative to report.md)."""
    out = [f"# {head.full_title}", ""]
    out += [line for notice in head.notices for line in (f"> **{notice}**", "")]
    timing = [f"Time: {head.timing}", ""] if head.timing else []
    out += [head.how, "", *timing, f"## Summary{' (' + ', '.join(head.tags) + ')' if head.tags else ''}", ""]
    out += [markdown_table(summary_frame(head.summary)), "", f"## {head.body}", ""]
    for cell in report_cells(nb):
        source = _text(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            out += [_demote(source), ""]
            continue
        out += ["```python", source, "```", ""] if source else []
        for output in cell.get("outputs", []):
            out += _output_markdown(output, plots)
    if head.seeds is not None:
        out += [f"## Every seed ({len(head.seeds)})", "", markdown_table(head.seeds), ""]
    out += ["## Reproduce", "", "```", head.reproduce, "```", "", head.footer, ""]
    return "\n".join(out)


def _output_markdown(output: dict, plots: str) -> list[str]:
    kind = output["output_type"]
    if kind == "stream":
        return ["```text", _text(output["text"]).rstrip("\n"), "```", ""]
    if kind == "error":
        return ["```text", "".join(output.get("traceback", [])).rstrip("\n") or output["evalue"], "```", ""]
    data = output.get("data", {})
    if "image/png" in data:
        meta = _figure_meta(output)
        return [f"![{meta.get('title', 'figure')}]({plots}/{meta['figure']}.png)", ""] if "figure" in meta else []
    return ["```text", _text(data.get("text/plain", "")).rstrip("\n"), "```", ""]


def report_cells(nb: dict) -> list[dict]:
    """The notebook's cells as a report shows them: the title the report already carries (the first markdown
    cell's heading) left out."""
    cells = list(nb["cells"])
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            lines = _text(cell["source"]).splitlines()
            if lines and lines[0].startswith("# "):
                cells[i] = {**cell, "source": "\n".join(lines[1:]).lstrip("\n")}
            break
    return cells


def _demote(markdown: str) -> str:
    """A notebook's headings one level down, under the report's own title."""
    return "\n".join(f"#{line}" if line.startswith("#") else line for line in markdown.splitlines())


def seeds_frame(seeds: list[int], summaries: list[dict]) -> pd.DataFrame:
    """One row per seed: the seed, then its summary."""
    return pd.DataFrame([{"seed": s, **summary} for s, summary in zip(seeds, summaries, strict=True)])


@dataclass
class Report:
    """A report written by code rather than executed (a `keraslab train` bundle's): its text, tables and figures
    kept as a notebook's cells, so that the one renderer draws it. Text is shown as written (`code` spans aside):
    a column named "$0_$50" or "**x**" comes from the user's table, not from markdown."""

    title: str
    summary: dict[str, float]
    history: pd.DataFrame | None = None
    cells: list[dict] = field(default_factory=list)

    def text(self, text: str) -> Report:
        return self._markdown(_literal(text))

    def heading(self, text: str) -> Report:
        return self._markdown("## " + _literal(text))

    def table(self, name: str, frame: pd.DataFrame, caption: str = "") -> Report:
        if caption:
            self._markdown(f"*{_literal(caption)}*")
        data = {"text/html": html_table(frame), "text/plain": markdown_table(frame)}
        return self._output({"output_type": "display_data", "data": data, "metadata": {"keraslab": {"table": name}}})

    def figure(self, name: str, fig, caption: str = "") -> Report:
        data = {"image/png": base64.b64encode(figure_png(fig)).decode("ascii"), "text/plain": caption or name}
        meta = {"keraslab": {"figure": name, "title": caption or name}}
        return self._output({"output_type": "display_data", "data": data, "metadata": meta})

    def notebook(self) -> dict:
        return {"cells": list(self.cells)}

    def _markdown(self, source: str) -> Report:
        self.cells.append({"cell_type": "markdown", "source": source})
        return self

    def _output(self, output: dict) -> Report:
        self.cells.append({"cell_type": "code", "source": "", "outputs": [output]})
        return self


_PUNCTUATION = re.compile(r"([!-/:-@\[-_{-~])")  # ASCII punctuation but the backtick (`)


def _literal(text: str) -> str:
    """`text` as markdown that shows it as written: every punctuation mark escaped outside `code` spans."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: shown as one
        parts = ["\\`".join(parts)]
    return "`".join(p if i % 2 else _PUNCTUATION.sub(r"\\\1", p) for i, p in enumerate(parts))
