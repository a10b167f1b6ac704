"""What every bundle writes, whatever it learned: schema.json's columns, the lines about capped categorical columns,
and the bundle folder itself (model.keras, preprocessing.json, schema.json, metrics.json, report.html, manifest.json),
written atomically."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from keraslab.bundles.bundle import write_manifest
from keraslab.bundles.features import FeatureSpec
from keraslab.files import sha256_file
from keraslab.run_folders.folder import RunDir
from keraslab.run_folders.manifest import build_manifest
from keraslab.run_folders.report import Report, ReportHead, render_html


def capped_lines(features: FeatureSpec) -> list[str]:
    """One line per categorical column that --max-categories capped."""
    return [
        f"column {c['name']!r}: {c['distinct']:,} distinct values in training; the {c['kept']} most frequent keep a "
        f"column each, the other {c['distinct'] - c['kept']:,} (and values never seen) share an 'other' column "
        f"(--max-categories)"
        for c in features.capped()
    ]


def schema_columns(features: FeatureSpec) -> list[dict]:
    """schema.json's columns: each input column with its role, type and values."""
    return (
        [{"name": c["name"], "role": "numeric", "dtype": "float"} for c in features.numeric]
        + [{"name": c["name"], "role": "yes_no", "dtype": "str", "values": c["values"]} for c in features.yes_no]
        + [
            {
                "name": c["name"],
                "role": "categorical",
                "dtype": "str",
                "categories": c["categories"],  # the kept ones: a capped column does not publish its rare values
                "other": c.get("other", False),
                "distinct": c.get("distinct", len(c["categories"])),
            }
            for c in features.categorical
        ]
    )


def bundle_schema(features: FeatureSpec, roles, options, target: dict) -> dict:
    """schema.json: every input column with its role and values, what was dropped, and the target (its name, and
    what the task adds: labels, positive class, threshold, or a regression's scale)."""
    return {
        "format": "keraslab.schema/1",
        "columns": schema_columns(features),
        "dropped": {**dict.fromkeys(options.drop, "dropped with --drop"), **roles.dropped},
        "target": {"name": options.target, **target},
    }


def describe_inputs(result: Report, split, roles, features: FeatureSpec) -> None:
    """The report's lines on what the figures mean and what went in: the split's notes, the inferred columns, the
    capped categorical columns."""
    for note in split.notes:
        result.text(f"Note: {note}.")
    result.text("Inferred columns: " + "; ".join(roles.describe()))
    for line in capped_lines(features):
        result.text(line[0].upper() + line[1:] + ".")


def write_bundle(
    out,
    model,
    features: FeatureSpec,
    schema: dict,
    summary: dict,
    extra: dict,
    result: Report,
    command: str,
    options,  # keraslab.bundles.train.TrainOptions (not imported: train imports this module)
    csv: Path,
) -> None:
    manifest = build_manifest(
        lesson="train", seed=options.seed, data_files=[{"file": csv.name, "path": str(csv), "sha256": sha256_file(csv)}]
    )
    with RunDir(out) as run:
        model.save(run.staging / "model.keras")
        run.write_json("preprocessing.json", features.to_json())
        run.write_json("schema.json", schema)
        run.write_json(
            "metrics.json",
            {
                "summary": summary,
                **extra,
                "options": {**dataclasses.asdict(options), "csv": str(csv)},
                "command": command,
                "history": result.history.to_dict(orient="list") if result.history is not None else None,
            },
        )
        run.write_text("report.html", render_html(result.notebook(), _report_head(result, manifest, command, csv)))
        write_manifest(
            run.staging,
            {"created_by": {k: manifest[k] for k in ("keraslab", "versions", "backend", "created_utc", "git_commit")}},
        )


def _report_head(result: Report, manifest: dict, command: str, csv: Path) -> ReportHead:
    made = (
        f"Trained on {csv.name}, seed {manifest.get('seed')}; backend {manifest.get('backend')}, keras "
        f"{manifest.get('versions', {}).get('keras')}, keraslab {manifest.get('keraslab')}; "
        f"{manifest.get('created_utc')}."
    )
    footer = (
        f"keraslab {manifest.get('keraslab')}, backend {manifest.get('backend')}, created {manifest.get('created_utc')}"
    )
    return ReportHead(result.title, made, result.summary, reproduce=command, footer=footer, body="The training")
