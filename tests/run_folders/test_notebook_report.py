"""A lesson's report from its executed notebook: the cells in order under the page's policy, formulas drawn, raw HTML
in the prose escaped, figures linked by name in report.md."""

import re

from keraslab.run_folders.pages import CSP
from keraslab.run_folders.report import ReportHead, markdown_html, math_svg, render_html, render_markdown

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _nb():
    return {
        "cells": [
            {"cell_type": "markdown", "source": "# Lesson 1 of 9: a title\n\nProse with $x^2$ and <script>x</script>."},
            {
                "cell_type": "code",
                "source": "print('hi')\nfig",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "hi <b>\n"},
                    {
                        "output_type": "execute_result",
                        "data": {"image/png": PNG, "text/plain": "<Figure>"},
                        "metadata": {"keraslab": {"figure": "01-a-figure", "title": "a figure"}},
                    },
                    {"output_type": "display_data", "data": {"text/html": "<table><tr><td>1</td></tr></table>"}},
                ],
            },
        ]
    }


def _head(**kw):
    return ReportHead(title="A title", how="Quick run, seed 0, real data.", summary={"acc": 0.5}, **kw)


def test_the_page_holds_the_cells_in_order_under_the_policy():
    page = render_html(_nb(), _head(tags=["quick run"], notices=["Quick run (--quick): ..."]))
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "<h1>A title [quick run]</h1>" in page and "Lesson 1 of 9" not in page  # the title once, as the page's
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script" not in page  # prose cannot inject markup
    assert "hi &lt;b&gt;" in page  # outputs are text
    assert page.index("Prose with") < page.index("print") < page.index("hi &lt;b&gt;") < page.index("data:image/png")
    assert 'alt="a figure"' in page and '<div class="scroll"><table><tr><td>1</td>' in page


def test_formulas_are_drawn_and_what_mathtext_cannot_draw_is_shown_as_tex():
    assert 'src="data:image/svg+xml;base64,' in markdown_html("where $x^2$ is")
    svg, depth = math_svg(r"\frac{1}{n}\sum_i x_i", 12)
    assert svg.startswith(b"<?xml") and b"<svg" in svg and depth >= 0
    assert math_svg(r"\notacommand{x}", 12) == (None, 0.0)
    shown = markdown_html(r"$$\notacommand{x}$$")
    assert '<code class="tex">\\notacommand{x}</code>' in shown and "<img" not in shown


def test_the_markdown_report_links_each_figure_by_its_name_and_keeps_the_text():
    md = render_markdown(_nb(), _head(reproduce="keraslab run x --config config.json"))
    assert md.startswith("# A title\n") and "## Lesson" not in md
    assert "![a figure](plots/01-a-figure.png)" in md and "```python\nprint('hi')\nfig\n```" in md
    assert "```text\nhi <b>\n```" in md and "keraslab run x --config config.json" in md
    assert "![a figure](seed0/plots/01-a-figure.png)" in render_markdown(_nb(), _head(), "seed0/plots")
    assert re.search(r"\| acc \| 0\.5000 \|", md)
