"""Reports a learner can trust: quick and substitute runs say so everywhere and draw no conclusion,
numbers print as what they are, the terminal says where it is, and `run all` writes an index page."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from keraslab import lessons, plots
from keraslab.cli.main import main
from keraslab.run_folders.pages import CSP, fmt, pm, summary_frame
from keraslab.run_folders.report import Report, ReportHead, render_html, render_markdown


def shown(folder) -> str:
    """What the executed lesson printed and displayed (its outputs, not its code), as text."""
    nb = json.loads((folder / "lesson.ipynb").read_text())
    texts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            texts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(texts)


def test_a_quick_run_on_substitute_data_says_so_in_title_summary_notice_and_metrics(quick_run):
    folder, _ = quick_run("cnn")  # quick, on the small CIFAR-format files vouched for by KERASLAB_CHECKSUMS
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["run"]["quick"] is True and metrics["run"]["data"] == "substitute"
    assert metrics["run"]["substitute_files"] == ["cifar-10-python.tar.gz"]
    assert metrics["title"].endswith("[quick run, substitute data]")
    page = (folder / "report.html").read_text()
    assert f"<h1>{metrics['title']}</h1>" in page and "<h2>Summary (quick run, substitute data)</h2>" in page
    assert '<p class="notice">Quick run (--quick)' in page and '<p class="notice">Substitute data:' in page
    md = (folder / "report.md").read_text()
    assert md.startswith(f"# {metrics['title']}\n") and "## Summary (quick run, substitute data)" in md
    assert "Quick run, seed 0, substitute data; backend jax" in md  # headed by how the run was made
    # the quick cnn run states no winner, and the course's CIFAR-10 figures stand beside its own as the course's
    out = shown(folder)
    assert "scores higher" not in out and "fewer parameters than the dense network" in out  # the count, no verdict
    assert "the course (the original's notebook, CIFAR-10)" in out


def test_a_quick_dropout_run_draws_no_conclusion(quick_run):
    folder, _ = quick_run("dropout")
    assert json.loads((folder / "metrics.json").read_text())["verdict"] is None
    out = shown(folder)
    assert "the noise" not in out and "of its training rows, without it" not in out  # the numbers, no reading
    assert "(mean ± sd over the 3 folds)](plots/" in (folder / "report.md").read_text()  # a spread over folds, named


def test_a_full_run_on_real_data_has_no_tags(tmp_path, shared_data):
    from keraslab.running import one_lesson as runner

    lesson = lessons.get_lesson("losses")  # full-size and fast
    folder, _ = runner.run_lesson(lesson, {}, out=tmp_path / "losses", quiet=True, offline=True)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["run"] == {"quick": False, "data": "real"} and "[" not in metrics["title"]
    page = (folder / "report.html").read_text()
    assert "<h2>Summary</h2>" in page and 'class="notice"' not in page
    assert "Full run, seed 0, real data" in page


def test_labels_stay_labels_and_one_seed_shows_no_sd():
    assert fmt("7") == "7" and fmt(np.int64(3)) == "3" and fmt(0.25) == "0.2500" and fmt("yes") == "yes"
    assert pm(0.5, float("nan")) == "0.5000" and pm(0.5, None, 3) == "0.500" and pm(0.5, 0.01, 3) == "0.500 ± 0.010"
    frame = summary_frame({"acc": 0.9, "acc_sd": 0.01, "loss": 0.3})
    assert frame["value"].tolist() == ["0.9000 ± 0.0100", "0.3000"]


def test_the_mnist_classification_report_prints_class_labels(quick_run):
    folder, _ = quick_run("mnist")
    md = (folder / "report.md").read_text()
    rows = [line.split() for line in md.splitlines() if line.strip()[:1].isdigit() and len(line.split()) == 5]
    assert [row[0] for row in rows][:10] == [str(d) for d in range(10)]  # the digits as labels, not 7.0000


def test_the_imbalance_summary_has_no_sd_from_a_single_seed(quick_run):
    folder, summary = quick_run("imbalance")
    for name in ("report.md", "report.html"):
        assert "± 0.000" not in (folder / name).read_text(), name
    assert not any(k.endswith("_sd") for k in summary)  # one seed: no sd at all, rather than a claimed 0.0
    out = shown(folder)
    assert "one seed: no spread to show" in out
    assert "highest F1" not in out  # no winner from one quick seed


def test_the_imbalance_report_and_the_readme_agree_on_the_strategies(quick_run):
    from keraslab.imbalance import REGISTRY

    folder, _ = quick_run("imbalance")
    metrics = json.loads((folder / "metrics.json").read_text())
    readme = (__import__("pathlib").Path(__file__).resolve().parents[2] / "README.md").read_text()
    listed = [name for name in REGISTRY if f"| `{name}` |" in readme]
    assert listed == list(REGISTRY) and metrics["strategies_run"] == [s.summary for s in REGISTRY.values()]


def test_epoch_ticks_are_whole_numbers():
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.9, 0.5, 0.4], "accuracy": [0.5, 0.7, 0.8]})
    fig = plots.learning_curves(history, title="t")
    assert all(line.get_marker() == "o" for ax in fig.axes for line in ax.lines)  # few epochs: each one marked
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(math.isclose(t, round(t)) for t in ticks), ticks


def test_reports_carry_a_content_security_policy():
    report = Report(title="t", summary={"a": 1.0})
    head = ReportHead(report.title, "made here", report.summary, reproduce="keraslab run x")
    page = render_html(report.notebook(), head)
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert render_markdown(report.notebook(), head).startswith("# t\n")


def test_a_bundle_report_shows_the_users_text_as_written():
    """A bundle's report goes through the one renderer: text from the user's table is never markdown or a formula;
    its `code` spans stay code, its tables and figures keep their order."""
    report = Report(title="t", summary={"a": 1.0})
    report.text("column '$0_$50' and **x** <b>, `code` _y_").table("scores", pd.DataFrame({"class": ["$0_$50"]}), "cap")
    report.figure("curves", plots.curves({"loss": [1.0, 0.5]}, title="t"))
    page = render_html(report.notebook(), ReportHead("t", "made here", {"a": 1.0}, body="The training"))
    assert "column '$0_$50' and **x** &lt;b&gt;, <code>code</code> _y_" in page and "<svg" not in page
    assert "<h2>The training</h2>" in page and "<td>$0_$50</td>" in page and "<em>cap</em>" in page
    assert page.index("**x**") < page.index("<em>cap</em>") < page.index('alt="curves"')


def test_lesson_help_shows_every_default_epochs_included(capsys):
    assert main(["run", "churn", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split()).split("options:", 1)[1]  # past the usage lines
    assert "passes over the training customers; None: 100 (5 when quick) (default: None; an integer in [1, inf))" in out
    for flag in ("--seed SEED", "--test-size", "--threshold", "--no-quick", "--data-dir", "--checkpoints", "--seeds"):
        assert "default" in out.split(flag, 1)[1][:150], flag


def test_run_all_announces_each_lesson_and_writes_an_index(tmp_path, small_data_home, capsys, monkeypatch):
    home, checksums = small_data_home
    monkeypatch.setenv("KERASLAB_CHECKSUMS", str(checksums))
    fast = {k: v for k, v in lessons.all_lessons().items() if k in ("losses", "churn")}
    monkeypatch.setattr(lessons, "all_lessons", lambda: fast)
    out_dir = tmp_path / "a-rather-long-folder-name-for-the-runs-of-every-lesson" / "all"
    code = main(["run", "all", "--quick", "--data-dir", str(home), "--out", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 0
    first, second = out.index("[1/2] losses: "), out.index("[2/2] churn: ")
    training = out.index("Training churn_ann: ")
    assert first < second < training < out.index("Epoch 1/")  # the lesson, then the model, then its progress
    assert "(quick)" in out and "smoke runs, not the lessons' results" in out
    rows = [line.split("│") for line in out.splitlines() if line.count("│") == 6]
    assert [(r[1].strip(), r[-2].strip()) for r in rows] == [("losses", "losses"), ("churn", "churn")]  # whole names
    assert f"run folders: {out_dir}/<lesson>" in out  # the folder they are in, on one line, never wrapped
    assert f"index: {(out_dir / 'index.html').resolve()}" in out.splitlines()
    assert out.splitlines()[-1] == "2 ran, 0 skipped, 0 failed"
    index = (out_dir / "index.html").read_text()
    assert '<a href="losses/report.html">losses</a>' in index and '<a href="churn/report.html">churn</a>' in index
    assert "0.57 (S, one unseeded run)" in index and 'class="notice"' in index and CSP in index


# --- runs list / runs compare ----------------------------------------------------------------------------------------


def test_runs_list_gives_one_line_per_run(quick_run, tmp_path, capsys):
    import shutil

    root = tmp_path / "runs"
    for name in ("churn", "dropout"):
        shutil.copytree(quick_run(name)[0], root / name / "r1")
    (root / "churn" / ".r2.partial").mkdir()  # a staging folder is not a run
    assert main(["runs", "list", str(root)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].split()[:3] == ["created", "(UTC)", "lesson"]
    churn = next(line for line in lines if line.endswith(str(root / "churn" / "r1")))
    assert " churn " in churn and " quick " in churn and "churn_f1 0." in churn
    assert "cv_accuracy_dropout 0." in next(line for line in lines if " dropout " in line)


def test_runs_compare_shows_differences_summaries_and_curves(quick_run, tmp_path, capsys):
    a, b = quick_run("churn")[0], quick_run("churn", threshold=0.4)[0]
    page = tmp_path / "compare.html"
    assert main(["runs", "compare", str(a), str(b), "--out", str(page)]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "0.4000" in out and "churn_f1" in out
    assert "config: the options that differ" in out and "seed " not in out.split("summaries")[0]  # same seed
    html = page.read_text()
    assert CSP in html and html.count("data:image/png;base64,") >= 2  # loss and accuracy overlaid
    assert "<h2>Curves</h2>" in html


def test_runs_compare_of_different_lessons_is_allowed_with_a_note(quick_run, capsys):
    assert main(["runs", "compare", str(quick_run("churn")[0]), str(quick_run("dropout")[0])]) == 0
    out = capsys.readouterr().out
    assert "note: These runs are of different lessons (churn, dropout)" in out


@pytest.mark.parametrize("case", ["one run", "not a run", "partial run", "staging folder", "missing"])
def test_runs_compare_bad_input_is_one_line(quick_run, tmp_path, capsys, case):
    good = quick_run("churn")[0]
    (tmp_path / "plain").mkdir()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    (tmp_path / ".half.partial").mkdir()
    other = {
        "one run": [],
        "not a run": [str(tmp_path / "plain")],
        "partial run": [str(tmp_path / "half")],
        "staging folder": [str(tmp_path / ".half.partial")],
        "missing": [str(tmp_path / "nope")],
    }[case]
    code = main(["runs", "compare", str(good), *other])
    err = capsys.readouterr().err
    expected = {
        "one run": "runs compare needs at least two run folders; got 1",
        "not a run": "plain is not a keraslab run folder (config.json, metrics.json, manifest.json missing)",
        "partial run": "half is an unfinished run (its staging folder .half.partial is still there)",
        "staging folder": ".half.partial is an unfinished run (a staging folder)",
        "missing": "nope: no such run folder",
    }[case]
    assert code == 2 and expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_runs_compare_labels_runs_of_the_same_name_apart_and_refuses_one_run_twice(quick_run, tmp_path, capsys):
    """P1/x/run and p2/x/run showed the second run's numbers under both labels."""
    import shutil

    a, b = quick_run("churn")[0], quick_run("churn", threshold=0.4)[0]
    first, second = tmp_path / "p1" / "x" / "run", tmp_path / "p2" / "x" / "run"
    shutil.copytree(a, first)
    shutil.copytree(b, second)
    assert main(["runs", "compare", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert "p1/x/run" in out and "p2/x/run" in out
    f1 = {json.loads((f / "metrics.json").read_text())["summary"]["churn_f1"] for f in (first, second)}
    assert len(f1) == 2 and all(f"{v:.4f}" in out for v in f1)  # both runs' own figures, not one twice
    assert main(["runs", "compare", str(first), str(first)]) == 2
    assert "is given more than once" in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage",
    ["bad json", "run is a text", "seed is a text", "summary is a list", "history unparsable", "history is a link"],
)
def test_one_hostile_run_folder_breaks_no_browsing(quick_run, tmp_path, capsys, damage):
    """One bad folder made `runs list` fail for every run, `runs compare` raise AttributeError or
    ParserError, and followed a history.csv link out of the folder."""
    import shutil

    good, other = quick_run("churn")[0], quick_run("churn", threshold=0.4)[0]
    root = tmp_path / "runs"
    shutil.copytree(good, root / "churn" / "good")
    bad = root / "churn" / "bad"
    shutil.copytree(other, bad)
    metrics = json.loads((bad / "metrics.json").read_text())
    manifest = json.loads((bad / "manifest.json").read_text())
    if damage == "bad json":
        (bad / "metrics.json").write_text("{not json")
    elif damage == "run is a text":
        (bad / "metrics.json").write_text(json.dumps({**metrics, "run": "quick"}))
    elif damage == "seed is a text":
        (bad / "manifest.json").write_text(json.dumps({**manifest, "seed": "abc"}))
    elif damage == "summary is a list":
        (bad / "metrics.json").write_text(json.dumps({**metrics, "summary": [1, 2]}))
    elif damage == "history unparsable":
        (bad / "history.csv").write_text('epoch,loss\n1,"0.5\n2,0.4,9,9\n')
    else:
        (bad / "history.csv").unlink()
        (bad / "history.csv").symlink_to("/etc/passwd")
    capsys.readouterr()
    assert main(["runs", "list", str(root)]) == 0
    out, err = capsys.readouterr()
    assert str(root / "churn" / "good") in out  # the readable run is listed
    history_damage = damage.startswith("history")
    if not history_damage:  # the unreadable one is named on stderr, and left out
        assert f"keraslab: warning: skipped {bad}" in err and str(bad) not in out
    code = main(["runs", "compare", str(root / "churn" / "good"), str(bad)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "root:" not in out  # /etc/passwd is never read
    if history_damage:
        assert code == 0 and "history.csv" in out and "no curves for that run" in out
    else:
        assert code == 2 and str(bad) in err and len(err.strip().splitlines()) == 1
