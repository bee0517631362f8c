"""Atomic outputs: build a folder or file beside its destination, then rename it into place.

Every output of bert-tf (an export, a fine-tuned classifier, an embeddings
`.npy`, a run's JSON files) is written through this module. A reader of the
destination sees either nothing (or the previous version, with
`overwrite=True`) or the finished output, never a half-written one. New
folders and files follow the process umask, like any other output. If the
writer fails, is interrupted (Ctrl-C) or raises, the temporary folder is removed
and any parent folders this module created are removed again. A writer killed
with SIGKILL cannot clean up: its `.NAME.tmp-PID-*` folder stays hidden beside
`output_dir` and the next export to the same place removes it.

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_directory(root / "out") as tmp:
...     _ = (tmp / "hello.txt").write_text("hi")
>>> sorted(p.name for p in root.iterdir()), (root / "out" / "hello.txt").read_text()
(['out'], 'hi')
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from absl import logging

from bert_tf.errors import OutputError

_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)


def os_error_message(error: OSError, path: os.PathLike | str) -> str:
    """A one-line message for an `OSError` raised while writing under `path`."""
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        return f"disk full while writing {path}: {reason}"
    if error.errno == errno.EDQUOT:
        return f"disk quota exceeded while writing {path}: {reason}"
    if error.errno in _NOT_WRITABLE:
        return f"output folder not writable: {error.filename or path}: {reason}"
    return f"cannot write {error.filename or path}: {reason}"


def check_destination(
    output_dir: os.PathLike | str, *, overwrite: bool, name: str = "--output_dir"
) -> pathlib.Path:
    """Fails early when `output_dir` cannot be (over)written; returns its absolute path.

    Args:
        output_dir: the folder to create.
        overwrite: whether an existing folder may be replaced.
        name: how messages call the destination (the flag that names it).

    Raises:
        OutputError: `output_dir` exists and `overwrite` is False, or it exists
            and is not a folder.
    """
    out = pathlib.Path(output_dir).expanduser().absolute()
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise OutputError(f"{name} {out} exists and is not a folder")
        if not overwrite:
            raise OutputError(f"{name} {out} already exists: pass --overwrite to replace it")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"output folder not writable: {parent} is not a folder")
            break
    return out


def _remove_stale_temporaries(out: pathlib.Path) -> None:
    """Removes temp folders of earlier writers to `out` that were killed."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        pid = stale.name[len(f".{out.name}.tmp-") :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            logging.info("Removing %s, left by an export that was killed.", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_parents(folder: pathlib.Path) -> list[pathlib.Path]:
    """Creates `folder` and its missing parents; returns those created, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    for path in reversed(missing):
        path.mkdir()
    return missing


def _remove_empty(folders: list[pathlib.Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _move_into_place(tmp: pathlib.Path, out: pathlib.Path, overwrite: bool, name: str) -> None:
    """Renames `tmp` to `out`; an existing `out` is replaced only if the rename succeeds."""
    if not (out.exists() or out.is_symlink()):
        os.rename(tmp, out)
        return
    if not overwrite:
        raise OutputError(
            f"{name} {out} appeared while it was written: pass --overwrite to replace it"
        )
    backup = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.rename(out, backup)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(backup, out)
        raise
    if backup.is_symlink() or not backup.is_dir():
        backup.unlink()
    else:
        shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(
    output_dir: os.PathLike | str, *, overwrite: bool = False, name: str = "--output_dir"
) -> Iterator[pathlib.Path]:
    """Yields an empty temporary folder beside `output_dir`; renames it there on success.

    Args:
        output_dir: the folder to create. Missing parent folders are created
            (and removed again if the write fails).
        overwrite: replace an existing `output_dir`. The old folder is removed
            only after the new one is in place.
        name: how messages call the destination (the flag that names it).

    Yields:
        The temporary folder to fill, on the same file system as `output_dir`.

    Raises:
        OutputError: `output_dir` exists without `overwrite`, or its parent is
            not writable, or the disk fills up while renaming.
    """
    out = check_destination(output_dir, overwrite=overwrite, name=name)
    try:
        created = _make_parents(out.parent)
        _remove_stale_temporaries(out)
        tmp = pathlib.Path(
            tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent)
        )
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0o700 would make the export private.
    except OSError as error:
        raise OutputError(os_error_message(error, out.parent)) from error
    try:
        yield tmp
        _move_into_place(tmp, out, overwrite, name)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)
        if isinstance(error, OSError):
            raise OutputError(os_error_message(error, tmp)) from error
        raise


@contextlib.contextmanager
def atomic_file(path: os.PathLike | str) -> Iterator[pathlib.Path]:
    """Yields a temporary path beside `path`; renames it to `path` when the block succeeds.

    The file is created empty with the umask's permissions (`mkstemp`'s 0o600
    would make it private). On any error the temporary file is removed and
    `path` is left as it was; an `OSError` becomes a one-line `OutputError`.
    """
    path = pathlib.Path(path)
    try:
        # Same suffix: writers such as `np.save` append `.npy` to a name without it.
        fd, name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-", suffix=path.suffix
        )
        os.close(fd)
        tmp = pathlib.Path(name)
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as error:
        raise OutputError(os_error_message(error, path.parent)) from error
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(os_error_message(error, path)) from error
        raise


def write_json(path: os.PathLike | str, value: Any) -> pathlib.Path:
    """Writes `value` as indented JSON to `path`, atomically; returns the path."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return pathlib.Path(path)
