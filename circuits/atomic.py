"""Atomic output: write to a temporary file beside the target, then rename it into place."""
from __future__ import annotations

import os
import tempfile

from .errors import CotsimInputError


def write_atomic(path: str | os.PathLike, data: bytes | str, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    With ``overwrite=False`` an existing file is left untouched and an error is raised.
    """
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not overwrite and os.path.lexists(path):
        raise CotsimInputError(f"{path}: exists; pass --force to overwrite it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CotsimInputError(f"{path}: folder {folder} does not exist")
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
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the target appeared meanwhile
            except FileExistsError:
                raise CotsimInputError(f"{path}: exists; pass --force to overwrite it") from None
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
