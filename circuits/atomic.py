"""Atomic output: write to a temporary file beside the target, then rename it into place.

A failure at any point (a full disk, no permission, no memory, an interrupt) leaves no
temporary file behind and every target as it was before.
"""
from __future__ import annotations

import os
import tempfile
from typing import Sequence

from .errors import CotsimInputError


def _refuse(path: str, e: OSError) -> CotsimInputError:
    if isinstance(e, IsADirectoryError) or os.path.isdir(path):
        return CotsimInputError(f"{path}: is a folder; name a file to write")
    return CotsimInputError(f"{path}: cannot write ({e.strerror or e})")


def _stage(path: str, data: bytes) -> str:
    """Write ``data`` to a new temporary file in the folder of ``path``; its name."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CotsimInputError(f"{path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise CotsimInputError(f"{path}: is a folder; name a file to write")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cotsim-", suffix=".tmp", dir=folder)
    except OSError as e:
        raise CotsimInputError(f"{path}: cannot write here ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    except BaseException as e:
        _remove(tmp)
        if isinstance(e, OSError):
            raise _refuse(path, e) from None
        raise
    return tmp


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _commit(tmp: str, path: str, overwrite: bool) -> None:
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the target appeared meanwhile
            except FileExistsError:
                raise CotsimInputError(f"{path}: exists; pass --force to overwrite it") from None
            os.unlink(tmp)
    except OSError as e:
        raise _refuse(path, e) from None


def write_atomic_many(files: Sequence[tuple[str | os.PathLike, bytes | str]], *,
                      overwrite: bool = True) -> None:
    """Write several files together: every one is first written in full to a temporary
    file, and only then are they renamed into place. A failure while writing (a full
    disk, no memory) leaves none of the targets changed and no temporary file behind."""
    items = [(os.fspath(p), d.encode("utf-8") if isinstance(d, str) else d)
             for p, d in files]
    if not overwrite:
        for path, _ in items:
            if os.path.lexists(path):
                raise CotsimInputError(f"{path}: exists; pass --force to overwrite it")
    staged: list[tuple[str, str]] = []
    try:
        for path, data in items:
            staged.append((_stage(path, data), path))
        while staged:
            tmp, path = staged[0]
            _commit(tmp, path, overwrite)
            staged.pop(0)
    finally:
        for tmp, _ in staged:
            _remove(tmp)


def write_atomic(path: str | os.PathLike, data: bytes | str, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    With ``overwrite=False`` an existing file is left untouched and an error is raised.
    """
    write_atomic_many([(path, data)], overwrite=overwrite)
