"""The safetensors file format, read and written with NumPy alone (no pickle, nothing executable).

Layout: an 8-byte little-endian header length N; N bytes of JSON mapping each tensor name to its dtype, shape and
[begin, end) byte offsets into the data that follows (plus an optional "__metadata__" of strings); then the data.
The files are interchangeable with the `safetensors` library's (the tests check both directions).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_CODES = {np.dtype(v).str: k for k, v in _DTYPES.items()}
MAX_HEADER = 100_000_000


def save_file(tensors: dict[str, np.ndarray], path, metadata: dict[str, str] | None = None) -> Path:
    path = Path(path)
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        code = _CODES.get(arr.dtype.newbyteorder("<").str if arr.dtype.byteorder == ">" else arr.dtype.str)
        if code is None:
            raise ValueError(
                f"Invalid value for `tensors[{name!r}]`. Expected a numeric array. Received: dtype={arr.dtype}"
            )
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little"))
        fh.write(raw)
        for blob in blobs:
            fh.write(blob)
    os.replace(tmp, path)
    return path


def load_file(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata). A truncated or malformed file is a ValueError naming it."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (only {len(raw)} bytes)")
    n = int.from_bytes(raw[:8], "little")
    if n > MAX_HEADER or 8 + n > len(raw):
        raise ValueError(f"{path}: not a safetensors file, or truncated (header of {n} bytes in a file of {len(raw)})")
    try:
        header = json.loads(raw[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the safetensors header is not valid JSON ({exc})") from None
    metadata = header.pop("__metadata__", {}) or {}
    data = raw[8 + n :]
    tensors = {}
    for name, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
            begin, end = info["data_offsets"]
            shape = tuple(int(d) for d in info["shape"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: tensor {name!r} has a malformed entry {info!r}") from None
        if not 0 <= begin <= end <= len(data) or (end - begin) != int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(
                f"{path}: tensor {name!r} does not fit the file (offsets {begin}-{end}, shape {shape},"
                f" {len(data)} data bytes): truncated or corrupt"
            )
        tensors[name] = (
            np.frombuffer(data, dtype=dtype, count=int(np.prod(shape)), offset=begin)
            .reshape(shape)
            .astype(dtype.newbyteorder("="))
        )
    return tensors, metadata
