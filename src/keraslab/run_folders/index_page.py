"""index.html of a `run all` folder: every lesson's report linked, its headline beside the course's figure, and
how each run was made (quick or full; real, substitute or stand-in data), or why a lesson was skipped or failed;
self-contained like the reports."""

from __future__ import annotations

import html
from pathlib import Path

from keraslab.run_folders.pages import page_head


def render_index(outcomes, root: Path, title: str) -> str:
    """The page for `outcomes` (every_lesson.LessonOutcome, in the course's order) written into `root`."""
    rows = []
    for k, o in enumerate(outcomes, 1):
        if o.folder is None:  # skipped or failed: the reason, and for a skip the command that would run it
            link, ours = html.escape(o.lesson), html.escape(o.explain())
        else:
            rel = Path(o.folder).resolve().relative_to(Path(root).resolve()) / "report.html"
            link = f'<a href="{html.escape(rel.as_posix())}">{html.escape(o.lesson)}</a>'
            ours = "-" if o.value is None else html.escape(o.row()[3])
        rows.append(
            f"<tr><td>{k}</td><td>{link}</td><td>{html.escape(o.headline or '-')}</td>"
            f"<td>{html.escape(o.course_figure or '-')}</td><td>{ours}</td></tr>"
        )
    tagged = any(o.tags for o in outcomes)
    note = (
        '<p class="notice">Runs marked quick are smoke tests, runs marked substitute read small copies of the data '
        "and runs marked stand-in ran on another data set than the lesson's (named in their report): their numbers "
        "show that a lesson runs, not what it teaches, and do not compare with the course's figures.</p>"
        if tagged
        else ""
    )
    return "\n".join(
        [
            *page_head(title),
            note,
            (
                "<table><thead><tr><th>#</th><th>lesson (report)</th><th>headline metric</th><th>course</th>"
                "<th>ours</th></tr></thead><tbody>"
            ),
            *rows,
            "</tbody></table></body></html>",
        ]
    )
