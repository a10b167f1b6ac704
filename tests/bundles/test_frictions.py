"""Small frictions of `keraslab train` / `predict`: `--output -` writes to standard output and `--output` defaults to
a file beside the input; a semicolon-separated, decimal-comma or latin-1 CSV is read as such (sniffed, or said with
--sep and --encoding), and a failure names what the file was read with."""

import io

import numpy as np
import pandas as pd
import pytest

from keraslab.cli.main import main
from keraslab.datasets.csv_tables import read_csv, sniffed
from keraslab.errors import DataFormatError


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"größe": rng.normal(170, 10, n).round(1), "stadt": rng.choice(["Köln", "Zürich"], n)})
    frame["kauf"] = np.where(frame["größe"] + 5 * (frame.stadt == "Köln") > 172, "ja", "nein")
    return frame


def test_a_semicolon_decimal_comma_latin1_csv_is_read_as_such(tmp_path):
    frame = _table()
    path = tmp_path / "de.csv"
    path.write_bytes(frame.to_csv(sep=";", decimal=",", index=False).encode("latin-1"))
    assert sniffed(path) == (";", "cp1252", ",")
    read = read_csv(path)
    assert list(read.columns) == ["größe", "stadt", "kauf"] and read["größe"].dtype == float
    assert set(read.stadt) == {"Köln", "Zürich"}
    tabbed = tmp_path / "t.tsv"
    frame.to_csv(tabbed, sep="\t", index=False)
    assert sniffed(tabbed) == ("\t", "utf-8-sig", None)
    with pytest.raises(DataFormatError, match=r"no encoding called 'nope'"):
        read_csv(path, encoding="nope")
    with pytest.raises(DataFormatError, match=r"missing required column 'kauf'.*read with separator ',' and encoding"):
        read_csv(path, sep=",", required=["kauf"])


def test_predict_writes_to_standard_output_or_beside_the_input(tmp_path, capsys):
    frame = _table()
    path = tmp_path / "de.csv"
    path.write_bytes(frame.to_csv(sep=";", decimal=",", index=False).encode("latin-1"))
    bundle = tmp_path / "b"
    assert main(["train", str(path), "--target", "kauf", "--epochs", "2", "--out", str(bundle), "--quiet"]) == 0
    new = tmp_path / "new.csv"
    frame.drop(columns=["kauf"]).head(5).to_csv(new, index=False)
    capsys.readouterr()
    assert main(["predict", str(bundle), str(new), "--output", "-"]) == 0
    out = capsys.readouterr()
    answers = pd.read_csv(io.StringIO(out.out))
    assert (
        len(answers) == 5
        and "label" in answers
        and not (tmp_path / "-").exists()
        and not (tmp_path.cwd() / "-").exists()
    )
    assert "5 predictions -> standard output" in out.err
    assert main(["predict", str(bundle), str(new), "--quiet"]) == 0
    assert len(pd.read_csv(tmp_path / "new.predictions.csv")) == 5
