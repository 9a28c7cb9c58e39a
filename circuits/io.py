"""Loading and saving circuits; the format comes from the file extension.

Each format module provides ``parse(data: bytes, path: str) -> Loaded`` (readers) and
``dump(circuit: Circuit) -> bytes`` (writers). Modules are imported on demand, so that
reading a ``.bench`` file never imports Graphviz glue or Numba.
"""
from __future__ import annotations

import importlib
import os
import stat
from dataclasses import dataclass
from typing import Any, BinaryIO

from .atomic import write_atomic
from .errors import CotsimInputError, ParseError
from .ir import Circuit

#: extension -> (module, can read, can write)
FORMATS: dict[str, tuple[str, bool, bool]] = {
    ".bench": ("circuits.bench", True, True),
    ".blif": ("circuits.blif", True, True),
    ".aag": ("circuits.aiger", True, True),
    ".aig": ("circuits.aiger", True, True),
    ".json": ("circuits.jsonfmt", True, True),
    ".dot": ("circuits.draw", False, True),
    ".svg": ("circuits.draw", False, True),
}

#: the largest input file any reader accepts (circuits, models, bit strings)
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Loaded:
    """A circuit as read, plus the statistics of the file as written, where the file's
    own notion of a gate differs from the IR's (an AIGER AND with inverted edges, a BLIF
    ``.names`` cover). ``file_stats`` has the keys of ``analysis.stats``."""

    circuit: Circuit
    file_stats: dict[str, Any] | None = None


def extension(path: str | os.PathLike) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        known = " ".join(FORMATS)
        raise CotsimInputError(f"{os.fspath(path)}: unknown file format {ext or '(none)'!r}; "
                               f"known: {known}")
    return ext


def _module(path: str | os.PathLike, want_read: bool):
    ext = extension(path)
    mod, can_read, can_write = FORMATS[ext]
    if want_read and not can_read:
        raise CotsimInputError(f"{os.fspath(path)}: {ext} is an output-only format")
    if not want_read and not can_write:
        raise CotsimInputError(f"{os.fspath(path)}: {ext} cannot be written")
    return importlib.import_module(mod)


#: bytes read from one stream at a time, so that a capped read never allocates the cap
_CHUNK = 1 << 20


def read_stream(f: BinaryIO, name: str, limit: int | None = None) -> bytes:
    """Read an open binary stream to its end, refusing it once it passes ``limit`` bytes
    (default `MAX_FILE_BYTES`). A device or a pipe has no size to check beforehand
    (``/dev/zero`` never ends), so the cap is applied while reading."""
    limit = MAX_FILE_BYTES if limit is None else limit
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = f.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise CotsimInputError(f"{name}: more than {limit} bytes, over the limit of "
                                   f"{limit} bytes for an input file")


def _open_regular(path: str):
    """Open ``path`` for reading, refusing anything that is not a regular file before a
    byte is read: a named pipe with no writer would block for ever, and a device such as
    ``/dev/zero`` never ends. ``O_NONBLOCK`` lets the open itself return at once on a
    FIFO; the check is on the opened file, so a file swapped meanwhile is caught too."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(st.st_mode):
            kind = ("a named pipe" if stat.S_ISFIFO(st.st_mode) else
                    "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                    "a socket" if stat.S_ISSOCK(st.st_mode) else "a special file")
            raise CotsimInputError(f"{path}: is {kind}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The contents of the regular file ``path``, at most ``limit`` bytes (default
    `MAX_FILE_BYTES`); one-line `CotsimInputError` for a missing, unreadable or oversized
    file, and for anything that is not a regular file (a FIFO, a device, a socket)."""
    path = os.fspath(path)
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        f, st = _open_regular(path)
        with f:
            if st.st_size > limit:  # refuse without reading
                raise CotsimInputError(f"{path}: file of {st.st_size} bytes is over the "
                                       f"limit of {limit} bytes for an input file")
            return read_stream(f, path, limit)
    except FileNotFoundError:
        raise CotsimInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CotsimInputError(f"{path}: is a folder, not a file") from None
    except PermissionError:
        raise CotsimInputError(f"{path}: permission denied") from None
    except OSError as e:
        raise CotsimInputError(f"{path}: cannot read ({e.strerror or e})") from None


def read_input(path: str | os.PathLike, limit: int | None = None) -> tuple[bytes, str]:
    """`read_bytes`, or standard input for an explicit ``-`` (with the same cap);
    (contents, the name to show in errors)."""
    if os.fspath(path) == "-":
        import sys

        return read_stream(sys.stdin.buffer, "<stdin>", limit), "<stdin>"
    return read_bytes(path, limit), os.fspath(path)


def decode_text(data: bytes, name: str, what: str = "UTF-8 text") -> str:
    """UTF-8 text, a leading byte-order mark dropped (editors on Windows write one);
    a `ParseError` at the line of the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(f"not {what}: byte {e.start} is not UTF-8", name,
                         data[:e.start].count(b"\n") + 1) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | os.PathLike, limit: int | None = None,
              what: str = "UTF-8 text") -> str:
    """`read_bytes` decoded by `decode_text`."""
    return decode_text(read_bytes(path, limit), os.fspath(path), what)


def parse_json(text: str, name: str, line: int | None = None) -> Any:
    """Plain JSON (a marker, metrics, a result line) with every refusal one line: a syntax
    error with its line, nesting too deep, an integer over Python's digit limit."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError(f"not valid JSON: {e.msg} (column {e.colno})", name,
                         e.lineno if line is None else line) from None
    except RecursionError:
        raise ParseError("JSON nested too deeply", name, line) from None
    except ValueError as e:  # a number over Python's int digit limit
        raise ParseError("not valid JSON: an integer of more than 4300 digits", name,
                         line) from None


def read_json(path: str | os.PathLike, limit: int | None = None) -> Any:
    """The JSON document in ``path``, read with the cap of `read_bytes`."""
    return parse_json(read_text(path, limit, "UTF-8 JSON"), os.fspath(path))


def load_file(path: str | os.PathLike) -> Loaded:
    mod = _module(path, want_read=True)
    return mod.parse(read_bytes(path), os.fspath(path))


def load(path: str | os.PathLike) -> Circuit:
    """Read a circuit from ``.bench``, ``.blif``, ``.aag``, ``.aig`` or ``.json``."""
    return load_file(path).circuit


def dumps(circuit: Circuit, ext: str, **options: Any) -> bytes:
    mod = _module("x" + ext, want_read=False)
    if ext in (".aag", ".aig", ".dot", ".svg"):
        return mod.dump(circuit, fmt=ext[1:], **options)
    return mod.dump(circuit, **options)


def save(circuit: Circuit, path: str | os.PathLike, *, overwrite: bool = True,
         **options: Any) -> None:
    """Write ``circuit`` atomically; the format comes from the extension."""
    data = dumps(circuit, extension(path), **options)
    write_atomic(path, data, overwrite=overwrite)
