"""Save and load a `Model` as one `.npz` file (DESIGN.md layout, version 1).

``meta`` is a JSON string: {"version": 1, "format", "sum", "vocab", "d_model", "heads",
"d_head", "d_ff", "layers", "max_len"}. The arrays are float64: TE, PE, Wout, bout and,
for each layer l, layers.l.Wq ... layers.l.b2. Loading never unpickles
(``allow_pickle=False``), checks the header against the arrays, and rejects missing,
extra, non-float64 and unrepresentable arrays with one line naming the file.
Saving is atomic.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from circuits.atomic import write_atomic

from .errors import FormatError, ModelError
from .floatformat import FloatFormat
from .model import LAYER_ARRAYS, SUM_MODES, Layer, Model

VERSION = 1
META_INT_KEYS = ("vocab", "d_model", "heads", "d_head", "d_ff", "layers", "max_len")
META_KEYS = ("version", "format", "sum") + META_INT_KEYS


def to_bytes(model: Model) -> bytes:
    """The `.npz` file of ``model``, as bytes."""
    buf = io.BytesIO()
    arrays = {name: np.ascontiguousarray(a, dtype=np.float64)
              for name, a in model.named_arrays().items()}
    np.savez(buf, meta=np.array(json.dumps(model.meta())), **arrays)
    return buf.getvalue()


def save(model: Model, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``model`` to ``path`` atomically; an existing file is kept unless
    ``overwrite``."""
    write_atomic(path, to_bytes(model), overwrite=overwrite)


def _meta(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, np.ndarray) or raw.shape != () or raw.dtype.kind not in "US":
        raise ModelError(f"{where}: 'meta' must be a JSON string (a 0-d str array)")
    text = raw.item()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelError(f"{where}: 'meta' is not valid JSON ({e.msg} at char {e.pos})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{where}: 'meta' must be a JSON object")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise ModelError(f"{where}: 'meta' lacks {', '.join(missing)}")
    if meta["version"] != VERSION or isinstance(meta["version"], bool):
        raise ModelError(f"{where}: unsupported model version {meta['version']!r} "
                         f"(this cotsim reads version {VERSION})")
    for k in META_INT_KEYS:
        v = meta[k]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ModelError(f"{where}: meta {k!r} must be an integer >= 1, got {v!r}")
    if not isinstance(meta["format"], str):
        raise ModelError(f"{where}: meta 'format' must be a string, got {meta['format']!r}")
    if meta["sum"] not in SUM_MODES:
        raise ModelError(f"{where}: meta 'sum' must be one of {', '.join(SUM_MODES)}, "
                         f"got {meta['sum']!r}")
    return meta


def expected_shapes(meta: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Array name -> shape, as the header declares them."""
    V, d, H, k = meta["vocab"], meta["d_model"], meta["heads"], meta["d_head"]
    f, N = meta["d_ff"], meta["max_len"]
    shapes: dict[str, tuple[int, ...]] = {"TE": (V, d), "PE": (N, d), "Wout": (V, d),
                                          "bout": (V,)}
    per_layer = {"Wq": (H, k, d), "Wk": (H, k, d), "Wv": (H, k, d), "Wo": (H, d, k),
                 "W1": (f, d), "b1": (f,), "W2": (d, f), "b2": (d,)}
    for i in range(meta["layers"]):
        for name in LAYER_ARRAYS:
            shapes[f"layers.{i}.{name}"] = per_layer[name]
    return shapes


def from_bytes(data: bytes, path: str = "<model>") -> Model:
    """Read a model from `.npz` bytes; errors name ``path``."""
    if not data.startswith(b"PK"):  # an .npz is a zip archive; never let np.load guess
        raise ModelError(f"{path}: not a cotsim model .npz file (not a zip archive)")
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path}: not a cotsim model .npz file ({e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ModelError(f"{path}: not a cotsim model .npz file (a single .npy array)")
    with npz:
        names = list(npz.files)
        if "meta" not in names:
            raise ModelError(f"{path}: not a cotsim model .npz file (no 'meta' entry)")
        arrays: dict[str, np.ndarray] = {}
        for name in names:
            try:
                arrays[name] = npz[name]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise ModelError(f"{path}: array {name!r} cannot be read ({e})") from None
    meta = _meta(arrays.pop("meta"), path)
    try:
        fmt = FloatFormat.parse(meta["format"])
    except (FormatError, ValueError) as e:
        raise ModelError(f"{path}: meta 'format': {e}") from None
    shapes = expected_shapes(meta)
    missing = [n for n in shapes if n not in arrays]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ModelError(f"{path}: array {missing[0]!r} is missing{more}")
    extra = sorted(n for n in arrays if n not in shapes)
    if extra:
        raise ModelError(f"{path}: unexpected array {extra[0]!r} (the header declares "
                         f"{meta['layers']} layers)")
    for name, shape in shapes.items():
        a = arrays[name]
        if a.dtype != np.float64:
            raise ModelError(f"{path}: array {name!r} has dtype {a.dtype}, expected float64")
        if a.shape != shape:
            raise ModelError(f"{path}: array {name!r} has shape {tuple(a.shape)}, but the "
                             f"header declares {shape}")
    layers = tuple(Layer(**{n: arrays[f"layers.{i}.{n}"] for n in LAYER_ARRAYS})
                   for i in range(meta["layers"]))
    try:
        return Model(fmt=fmt, sum_mode=meta["sum"], TE=arrays["TE"], PE=arrays["PE"],
                     Wout=arrays["Wout"], bout=arrays["bout"], layers=layers)
    except ModelError as e:
        raise ModelError(f"{path}: {e}") from None


def load(path: str | os.PathLike) -> Model:
    """Read a model from a `.npz` file (never unpickling); raises `ModelError`."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror})") from None
    return from_bytes(data, path)
