"""`keraslab train` on a numeric target, with its defaults (100 epochs): the course's home prices (20 rows) and a
larger table of known formula plus noise (keraslab.datasets.synthetic.regression_table: 5,000 rows, two numeric
columns and a categorical one), each scored on its untouched test part beside the mean and linear baselines.

    python benchmarks/regression_tables.py --shared ../shared/datasets --json benchmarks/results/regression.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from keraslab.bundles import TrainOptions, load, train_table
from keraslab.datasets.synthetic import regression_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared/datasets")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = Path(tmp) / "prices.csv"
        regression_table(args.rows, seed=0).to_csv(synthetic, index=False)
        for name, csv in (
            ("homeprices (20 rows)", Path(args.shared) / "homeprices_banglore.csv"),
            (f"synthetic ({args.rows:,} rows)", synthetic),
        ):
            t0 = time.perf_counter()
            out, summary = train_table(
                csv, TrainOptions(target="price", quiet=True), Path(tmp) / name[:5], lambda m: None
            )
            seconds = time.perf_counter() - t0
            frame = __import__("pandas").read_csv(csv).drop(columns=["price"]).head(50)
            api, _ = load(out).predict_frame(frame)
            rows.append(
                {
                    "table": name,
                    "seconds": round(seconds, 1),
                    **{k: round(v, 4) for k, v in summary.items()},
                    "first_prediction": round(float(api["prediction"].iloc[0]), 4),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print("| table | R² network | R² mean baseline | R² linear baseline | RMSE network | RMSE linear | train s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['table']} | {r['test_r2']:.3f} | {r['mean_baseline_r2']:.3f} | {r['linear_baseline_r2']:.3f} | "
            f"{r['test_rmse']:.3f} | {r['linear_baseline_rmse']:.3f} | {r['seconds']:.1f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
