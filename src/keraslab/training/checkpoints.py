"""Per-epoch checkpoints, so that a killed run resumes where it stopped and ends bit-identical to an uninterrupted one.

A run's fits are numbered in the order the lesson makes them (fit-000, fit-001, ...: a lesson is deterministic
given its config, so a resumed run makes the same fits in the same order). After each epoch of a fit of at least
`min_epochs` epochs, the fit's state goes to `<run>/checkpoints/fit-NNN/epoch-EEEE.npz`: the trainable and
non-trainable variables (dropout's seed-generator state among them), the optimizer's variables (moments, step
count), the epoch and the history so far. The epoch's shuffle order is drawn from (seed, epoch), so nothing else
decides what comes next. Each file is written to a temporary name, flushed and renamed; the zip format's CRC-32
catches a damaged one, which is then skipped, with a warning, for the one before it.

A fit's last two checkpoints are kept while it runs (the newest and a fallback); a finished fit keeps its final
one, so a resumed run skips it. A finished run removes the whole folder unless asked to keep it.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from keraslab import run_state
from keraslab.errors import KeraslabError
from keraslab.files import atomic_write_bytes

_NAME = re.compile(r"^epoch-(\d{4,})\.npz$")


class CheckpointError(KeraslabError):
    """A checkpoint cannot be used for this run."""


def warn(message: str) -> None:
    print(f"keraslab: warning: {message}", file=sys.stderr, flush=True)


class Store:
    """The checkpoints of one run. `writer=False` (the other processes of a distributed job): nothing is written
    or read here; the state comes from process 0."""

    def __init__(self, folder: str | Path, *, min_epochs: int = 5, writer: bool = True, keep: int = 2):
        self.folder = Path(folder)
        self.min_epochs, self.writer, self.keep = int(min_epochs), writer, int(keep)
        self._count = 0

    def next_fit(self, epochs: int) -> FitCheckpoints | None:
        """The checkpoints of the run's next fit (None for a fit too short to checkpoint; it still takes a number,
        so the numbering does not depend on the threshold)."""
        index = self._count
        self._count += 1
        if epochs < self.min_epochs:
            return None
        return FitCheckpoints(self.folder / f"fit-{index:03d}", writer=self.writer, keep=self.keep)


def current() -> Store | None:
    """The checkpoints of the run in progress (keraslab.run_state), or None."""
    return run_state.current().checkpoints


def active(store: Store | None):
    """Fits made inside this block checkpoint into `store`."""
    return run_state.changed(checkpoints=store)


HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


def history_table(rows: list[dict]) -> np.ndarray:
    """History rows as a float64 (epochs, columns) table in HISTORY_COLUMNS' order, NaN where a row has none."""
    values = [[row.get(col, np.nan) for col in HISTORY_COLUMNS] for row in rows]
    return np.array(values, dtype=np.float64).reshape(len(rows), len(HISTORY_COLUMNS))


def history_rows(table: np.ndarray) -> list[dict]:
    return [
        {
            c: (int(v) if c == "epoch" else float(v))
            for c, v in zip(HISTORY_COLUMNS, line, strict=True)
            if not np.isnan(v)
        }
        for line in np.asarray(table, dtype=np.float64)
    ]


def _encode(epoch: int, state, rows: list[dict], signature: dict) -> bytes:
    """One .npz of three members: every variable's bytes in one `state` blob (a zip member costs more to write
    than a small variable: one member per variable made a 2 ms epoch's checkpoint take 3 ms), the history as a
    table, and the JSON `meta` that says where each variable lies in the blob."""
    values = [np.asarray(v) for group in state for v in group]  # (not ascontiguousarray: it makes scalars 1-d)
    index, offset = [], 0
    for v in values:
        index.append([v.dtype.str, list(v.shape), offset])
        offset += v.nbytes
    blob = np.empty(offset, dtype=np.uint8)
    for v, (_, _, start) in zip(values, index, strict=True):
        blob[start : start + v.nbytes] = np.ascontiguousarray(v).reshape(-1).view(np.uint8)
    meta = {"epoch": int(epoch), "signature": signature, "counts": [len(group) for group in state], "index": index}
    buf = io.BytesIO()
    np.savez(
        buf,
        state=blob,
        history=history_table(rows),
        meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
    )
    return buf.getvalue()


_STATE_KINDS = "fiub"  # float, signed and unsigned integer, bool: what a model's and an optimizer's state holds


def read(path: str | Path):
    """(epoch, rows, signature, state) from a checkpoint file; reading every member checks its CRC-32, and every
    field of its meta is checked (ValueError for anything keraslab does not write: a count that is not a number, an
    object dtype, an infinite epoch, a slice outside the blob, a weight that is NaN or infinite)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode("utf-8"))
        blob, table = data["state"], data["history"]
    if not isinstance(meta, dict):
        raise ValueError("its meta is not an object")
    epoch, counts, index = meta.get("epoch"), meta.get("counts"), meta.get("index")
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0):
        raise ValueError(f"its epoch {epoch!r:.40} is not a count of epochs")
    if not (
        isinstance(counts, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
    ):
        raise ValueError(f"its variable counts {counts!r:.40} are not counts")
    if not isinstance(index, list) or sum(counts) != len(index) or not isinstance(meta.get("signature"), dict):
        raise ValueError("its index does not match its counts")
    if blob.dtype != np.uint8 or blob.ndim != 1 or table.dtype.kind != "f":
        raise ValueError("its state or history member is not what keraslab writes")
    values = [_variable(blob, entry) for entry in index]
    rows = history_rows(table)
    state, at = [], 0
    for n in counts:
        state.append(values[at : at + n])
        at += n
    return epoch, rows, meta["signature"], state


def _variable(blob: np.ndarray, entry) -> np.ndarray:
    """One variable out of the blob, its dtype, shape and place checked, its values finite."""
    if not (isinstance(entry, list) and len(entry) == 3):
        raise ValueError(f"an index entry {entry!r:.40} is not [dtype, shape, start]")
    dtype, shape, start = entry
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype {dtype!r:.20} is not a dtype") from None
    if dt.kind not in _STATE_KINDS or dt.hasobject:
        raise ValueError(f"dtype {dtype!r:.20} is not a numeric one")
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise ValueError(f"shape {shape!r:.40} is not a shape")
    size = dt.itemsize * math.prod(shape)
    if not (isinstance(start, int) and not isinstance(start, bool) and start >= 0 and start + size <= blob.size):
        raise ValueError(f"a variable at {start!r:.20} lies outside the saved state")
    value = blob[start : start + size].view(dt).reshape(shape).copy()
    if dt.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError("a saved weight is NaN or infinite")
    return value


class FitCheckpoints:
    """The checkpoints of one fit."""

    def __init__(self, folder: Path, *, writer: bool = True, keep: int = 2):
        self.folder, self.writer, self.keep = Path(folder), writer, keep

    def _files(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return sorted(found, reverse=True)

    def save(self, epoch: int, state, rows: list[dict], signature: dict) -> Path | None:
        """Checkpoint after `epoch` epochs (state: host arrays), keeping the newest `keep`."""
        if not self.writer:
            return None
        path = atomic_write_bytes(self.folder / f"epoch-{epoch:04d}.npz", _encode(epoch, state, rows, signature))
        for _, old in self._files()[self.keep :]:
            old.unlink(missing_ok=True)
        return path

    def finish(self) -> None:
        """The fit is done: keep only its final checkpoint."""
        if self.writer:
            for _, old in self._files()[1:]:
                old.unlink(missing_ok=True)

    def latest(self, template, signature: dict):
        """(epoch, rows, state) of the newest readable checkpoint, or None. A damaged file is skipped with a
        warning for the one before it; one written for a different fit is an error naming what differs."""
        if not self.writer:
            return None
        files = self._files()
        for n, (epoch, path) in enumerate(files):
            try:
                got_epoch, rows, sig, state = read(path)
            except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
                fallback = (
                    f"falling back to {files[n + 1][1].name}"
                    if n + 1 < len(files)
                    else "no earlier checkpoint: this fit starts again from its first epoch"
                )
                warn(f"checkpoint {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); {fallback}")
                continue
            _check(path, sig, signature, state, template)
            if got_epoch != epoch:
                raise CheckpointError(f"checkpoint {path} holds epoch {got_epoch}, not {epoch}")
            return epoch, rows, state
        return None


def _check(path: Path, saved: dict, now: dict, state, template) -> None:
    diffs = [
        f"{k}={saved.get(k)!r} there, {now.get(k)!r} now"
        for k in sorted(set(saved) | set(now))
        if saved.get(k) != now.get(k)
    ]
    if diffs:
        raise CheckpointError(f"checkpoint {path} was written by a different training run: {'; '.join(diffs)}")
    for kind, got, want in zip(("trainable", "non-trainable", "optimizer"), state, template, strict=True):
        shapes_got = [tuple(a.shape) for a in got]
        shapes_want = [tuple(np.shape(a)) for a in want]
        if shapes_got != shapes_want:
            raise CheckpointError(
                f"checkpoint {path}: its {kind} variables have shapes {shapes_got}, the model's are {shapes_want}"
            )
