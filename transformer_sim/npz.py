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
import math
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from circuits.atomic import write_atomic

from .errors import FormatError, ModelError
from .floatformat import FloatFormat
from .model import LAYER_ARRAYS, SOFTMAXES, SUM_MODES, Layer, Model

VERSION = 1
META_INT_KEYS = ("vocab", "d_model", "heads", "d_head", "d_ff", "layers", "max_len")
META_KEYS = ("version", "format", "sum") + META_INT_KEYS
#: the most weights a model may have: 2^26 float64 values are 512 MiB, the largest input
#: file (circuits.io.MAX_FILE_BYTES)
MAX_PARAMS = 1 << 26
#: room for a member's .npy header (and the whole of 'meta'): numpy's own header limit
#: is 10000 bytes
MAX_NPY_HEADER = 1 << 16


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
    except RecursionError:
        raise ModelError(f"{where}: 'meta' is not valid JSON (nested too deeply)") from None
    except ValueError as e:  # e.g. a number of more than 4300 digits
        raise ModelError(f"{where}: 'meta' is not valid JSON ({_short(e)})") from None
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
    # a file without the key predates it: the paper's softmax
    if meta.setdefault("softmax", "paper") not in SOFTMAXES:
        raise ModelError(f"{where}: meta 'softmax' must be one of {', '.join(SOFTMAXES)}, "
                         f"got {meta['softmax']!r}")
    if "source" in meta and not isinstance(meta["source"], dict):
        raise ModelError(f"{where}: meta 'source' must be a JSON object")
    return meta


def param_count(vocab: int, d_model: int, heads: int, d_head: int, d_ff: int, layers: int,
                max_len: int) -> int:
    """The number of weights of a model of these sizes (exact, in Python integers)."""
    V, d, H, k, f, N, L = vocab, d_model, heads, d_head, d_ff, max_len, layers
    per_layer = 4 * H * k * d + 2 * f * d + f + d
    return 2 * V * d + V + N * d + L * per_layer


def check_size(sizes: dict[str, int], where: str | None = None) -> int:
    """Refuse, before anything is allocated, a model over `MAX_PARAMS` weights; return
    its weight count. ``sizes`` has the meta's integer keys (``d_head`` included)."""
    n = param_count(**{k: sizes[k] for k in META_INT_KEYS})
    if n > MAX_PARAMS:
        shown = ", ".join(f"{k} {sizes[k]}" for k in META_INT_KEYS)
        raise ModelError(f"{where + ': ' if where else ''}{shown} make {n} weights, over "
                         f"the limit of {MAX_PARAMS} (2^{MAX_PARAMS.bit_length() - 1}) "
                         "weights")
    return n


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


#: errors of a damaged archive or member, turned into one line naming the file
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError)


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                   where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """The shape and dtype that a member's ``.npy`` header declares, and the header's
    length, reading the header only (never the data)."""
    try:
        with zf.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unknown .npy version {version}")
            length = fp.tell()
    except _READ_ERRORS as e:
        raise ModelError(f"{where}: array {name!r} cannot be read ({_short(e)})") from None
    return tuple(int(x) for x in shape), dtype, length


def _member_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                  where: str) -> np.ndarray:
    try:
        with zf.open(info) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except _READ_ERRORS as e:
        raise ModelError(f"{where}: array {name!r} cannot be read ({_short(e)})") from None


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def _checked_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                    shape: tuple[int, ...], where: str) -> np.ndarray:
    """Read one array after checking, from the zip directory and the ``.npy`` header
    alone, that it is float64 of the declared shape and unpacks to no more bytes than
    that needs (a zip bomb is refused before it is decompressed)."""
    want = 8 * math.prod(shape)
    if info.file_size > want + MAX_NPY_HEADER:
        raise ModelError(f"{where}: array {name!r} unpacks to {info.file_size} bytes, but "
                         f"the header declares shape {shape} ({want} bytes of data)")
    got_shape, dtype, header = _member_header(zf, info, name, where)
    if dtype != np.float64:
        raise ModelError(f"{where}: array {name!r} has dtype {dtype}, expected float64")
    if got_shape != shape:
        raise ModelError(f"{where}: array {name!r} has shape {got_shape}, but the "
                         f"header declares {shape}")
    if info.file_size - header != want:  # a cut member: refused before allocating it
        raise ModelError(f"{where}: array {name!r} holds {info.file_size - header} bytes "
                         f"of data, but its shape {shape} needs {want}")
    return _member_array(zf, info, name, where)


def from_bytes(data: bytes, path: str = "<model>") -> Model:
    """Read a model from `.npz` bytes; errors name ``path``. Every member is checked
    against the header and the size limits before its data is read."""
    if not data.startswith(b"PK"):  # an .npz is a zip archive; never let np.load guess
        raise ModelError(f"{path}: not a cotsim model .npz file (not a zip archive)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except _READ_ERRORS as e:
        raise ModelError(f"{path}: not a cotsim model .npz file ({_short(e)})") from None
    with zf:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            members[name] = info
        if "meta" not in members:
            raise ModelError(f"{path}: not a cotsim model .npz file (no 'meta' entry)")
        info = members.pop("meta")
        if info.file_size > MAX_NPY_HEADER:
            raise ModelError(f"{path}: 'meta' unpacks to {info.file_size} bytes, over the "
                             f"limit of {MAX_NPY_HEADER}")
        shape, dtype, header = _member_header(zf, info, "meta", path)
        if shape != () or dtype.kind not in "US" or info.file_size - header != dtype.itemsize:
            # checked before reading: a header may claim 400 MB of string in a few bytes
            raise ModelError(f"{path}: 'meta' must be a JSON string (a 0-d str array)")
        meta = _meta(_member_array(zf, info, "meta", path), path)
        check_size(meta, f"{path}: the header's")
        if meta["layers"] > len(members):  # more layers than arrays: some are missing
            raise ModelError(f"{path}: the header declares {meta['layers']} layers, but the "
                             f"file holds only {len(members)} arrays")
        try:
            fmt = FloatFormat.parse(meta["format"])
        except (FormatError, ValueError) as e:
            raise ModelError(f"{path}: meta 'format': {e}") from None
        shapes = expected_shapes(meta)
        missing = [n for n in shapes if n not in members]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ModelError(f"{path}: array {missing[0]!r} is missing{more}")
        extra = sorted(n for n in members if n not in shapes)
        if extra:
            raise ModelError(f"{path}: unexpected array {extra[0]!r} (the header declares "
                             f"{meta['layers']} layers)")
        arrays = {name: _checked_member(zf, members[name], name, shape, path)
                  for name, shape in shapes.items()}
    layers = tuple(Layer(**{n: arrays[f"layers.{i}.{n}"] for n in LAYER_ARRAYS})
                   for i in range(meta["layers"]))
    try:
        return Model(fmt=fmt, sum_mode=meta["sum"], TE=arrays["TE"], PE=arrays["PE"],
                     Wout=arrays["Wout"], bout=arrays["bout"], layers=layers,
                     softmax=meta["softmax"], source=meta.get("source"))
    except ModelError as e:
        raise ModelError(f"{path}: {e}") from None


def load(path: str | os.PathLike) -> Model:
    """Read a model from a `.npz` file (never unpickling, at most `MAX_FILE_BYTES`
    bytes); raises `ModelError`."""
    from circuits.errors import CotsimInputError
    from circuits.io import read_bytes

    path = os.fspath(path)
    try:
        data = read_bytes(path)
    except CotsimInputError as e:
        reason = str(e).removeprefix(f"{path}: ")
        raise ModelError(f"{path}: cannot read ({reason})") from None
    return from_bytes(data, path)
