"""`keraslab runs compare`: several finished runs side by side - how their configs differ, their summaries (mean ±
sd where seeded) and their learning curves overlaid - as frames for the terminal and a self-contained HTML page."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from keraslab import plots
from keraslab.errors import UsageError
from keraslab.run_folders.browse import RunInfo
from keraslab.run_folders.pages import figure_png, fmt, html_table, notices_html, page_head, pm, png_figure

NOT_CURVES = frozenset({"epoch", "seconds"})


@dataclass
class Comparison:
    labels: list[str]  # one short name per run, in the order given
    runs: list[RunInfo]
    config: pd.DataFrame  # option, one column per run: only the options whose values differ
    summary: pd.DataFrame  # metric, one column per run
    curves: dict[str, object] = field(default_factory=dict)  # metric -> matplotlib figure
    notes: list[str] = field(default_factory=list)


def labels_for(runs: list[RunInfo]) -> list[str]:
    """One label per run: its folder's name, with as many of its parents as make every label unique. The same
    folder given twice is refused (two columns of one run would read as two runs)."""
    resolved = [r.folder.resolve() for r in runs]
    twice = next((p for p in resolved if resolved.count(p) > 1), None)
    if twice is not None:
        raise UsageError(f"runs compare: {twice} is given more than once; name each run folder once")
    parts = [r.folder.parts for r in runs]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in resolved]  # given as different relative paths that end alike: the full paths


def compare(runs: list[RunInfo]) -> Comparison:
    if len(runs) < 2:
        raise UsageError(f"runs compare needs at least two run folders; got {len(runs)}")
    labels = labels_for(runs)
    notes = []
    lessons = sorted({r.lesson for r in runs})
    if len(lessons) > 1:
        notes.append(
            f"These runs are of different lessons ({', '.join(lessons)}): their configs are shown side by side, "
            f"and curves only where the metric names match."
        )
    tagged = [label for label, r in zip(labels, runs, strict=True) if r.quick or r.data != "real"]
    if tagged:
        notes.append(
            f"Quick or substitute-data runs ({', '.join(tagged)}): smoke tests, not results to compare with the "
            f"course's figures."
        )
    result = Comparison(labels, runs, _config_frame(runs, labels), _summary_frame(runs, labels), notes=notes)
    result.curves = _curves(runs, labels, notes)
    if not result.curves:
        notes.append("No metric curve is shared by two of these runs (or they wrote no history.csv).")
    return result


def _config_frame(runs: list[RunInfo], labels: list[str]) -> pd.DataFrame:
    keys = list(dict.fromkeys(k for r in runs for k in r.config))
    rows = []
    for key in keys:
        values = [r.config.get(key, "-") for r in runs]
        if len({repr(v) for v in values}) > 1:
            rows.append({"option": key, **{lab: _shown(v) for lab, v in zip(labels, values, strict=True)}})
    return pd.DataFrame(rows, columns=["option", *labels])


def _shown(value) -> str:
    return value if isinstance(value, str) else ("-" if value is None else fmt(value))


def _summary_frame(runs: list[RunInfo], labels: list[str]) -> pd.DataFrame:
    keys = list(dict.fromkeys(k for r in runs for k in r.summary if not (k.endswith("_sd") and k[:-3] in r.summary)))
    rows = []
    for key in keys:
        cells = {
            lab: pm(r.summary[key], r.summary.get(f"{key}_sd")) if key in r.summary else "-"
            for lab, r in zip(labels, runs, strict=True)
        }
        rows.append({"metric": key, **cells})
    return pd.DataFrame(rows, columns=["metric", *labels])


def _curves(runs: list[RunInfo], labels: list[str], notes: list[str], limit: int = 8) -> dict[str, object]:
    histories = []
    for run in runs:  # a history that cannot be read is named, and its run drawn without curves
        try:
            histories.append(run.history())
        except UsageError as exc:
            notes.append(f"{exc}: no curves for that run.")
            histories.append(None)
    columns = list(dict.fromkeys(c for h in histories if h is not None for c in h.columns if c not in NOT_CURVES))
    figures = {}
    for col in columns:
        series = {
            lab: h[col].dropna().tolist()
            for lab, h in zip(labels, histories, strict=True)
            if h is not None and col in h
        }
        if len(series) >= 2:
            figures[col] = plots.curves(series, title=col, ylabel=col)
        if len(figures) == limit:
            break
    return figures


def render_compare_html(comparison: Comparison) -> str:
    """The comparison as one self-contained page (plots embedded as PNG data, a Content-Security-Policy that
    allows nothing else)."""
    parts = [
        *page_head(f"keraslab: {len(comparison.runs)} runs compared", f"{len(comparison.runs)} runs compared"),
        *notices_html(comparison.notes),
        "<h2>Runs</h2>",
        html_table(
            pd.DataFrame(
                [
                    {
                        "run": lab,
                        "folder": str(r.folder),
                        "lesson": r.lesson,
                        "created (UTC)": r.created,
                        "kind": r.kind,
                    }
                    for lab, r in zip(comparison.labels, comparison.runs, strict=True)
                ]
            )
        ),
        "<h2>Config: the options that differ</h2>",
        html_table(comparison.config) if len(comparison.config) else "<p>The configs are the same.</p>",
        "<h2>Summaries</h2>",
        html_table(comparison.summary),
    ]
    if comparison.curves:
        parts.append("<h2>Curves</h2>")
        parts += [png_figure(figure_png(fig), name) for name, fig in comparison.curves.items()]
    parts.append("</body></html>")
    return "\n".join(parts)
