"""Files inside a run directory: every path held inside it, every write atomic.

meshbench often runs as root, and whoever can write into a results directory can plant
a symbolic link there (``plots -> /etc``, ``run.json -> /etc/shadow``). Every file that
meshbench reads or writes under a run directory (or a report's output directory, its
*root*) goes through this module:

- every directory below the root is opened relative to its parent's descriptor without
  following links (``O_NOFOLLOW``), so a link is refused, never followed, even one that
  appears between a check and a write;
- a file is written to a temporary file in its own directory (``.<name>.<8 hex>``),
  flushed to disk and renamed over its name: a reader, a crash or a kill finds the old
  file, the new one or none, never a part of one; a link at that name is replaced, not
  written through;
- a file is read only where it resolves inside the root.

What a user can fix (a full disk, a read-only filesystem, no permission) becomes a
:class:`~meshbench.errors.StorageError` naming the path; other failures a
:class:`~meshbench.errors.ResultsError`.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from meshbench.errors import STORAGE_ERRNOS, ResultsError, storage_error

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


class LinkRefused(ResultsError):
    """A path inside a run directory is a symbolic link meshbench will not follow."""


def temp_name(name: str) -> str:
    """The name of a temporary file for ``name`` (``.<name>.<8 hex>``): hidden, and
    recognised by ``meshbench clean`` as a killed write's leftover."""
    return f".{name}.{secrets.token_hex(4)}"


def _parts(rel: str | os.PathLike[str]) -> tuple[str, ...]:
    p = PurePosixPath(os.fspath(rel))
    if p.is_absolute() or ".." in p.parts:
        raise ValueError(f"{rel!r} is not a path inside a run directory")
    return tuple(x for x in p.parts if x != ".")


def _failure(e: OSError, path: Path, action: str) -> ResultsError:
    if e.errno in STORAGE_ERRNOS:
        return storage_error(e, path, action)
    return ResultsError(f"cannot {action} {path}: {e.strerror or e}")


def _refuse(dir_fd: int, name: str, path: Path) -> ResultsError:
    """Why ``name`` (in ``dir_fd``) could not be opened as a directory."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError:
        return ResultsError(f"{path} is not a directory")
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(name, dir_fd=dir_fd)
        return LinkRefused(
            f"{path} is a symbolic link (to {target}): meshbench reads and writes only inside "
            "the run directory and never follows a link there",
            fix=f"remove the link (rm {path}); meshbench recreates what it needs",
        )
    return ResultsError(
        f"{path} is not a directory", fix=f"move {path} away; meshbench recreates it"
    )


def _open_root(root: Path, create: bool) -> int:
    if create:
        root.mkdir(parents=True, exist_ok=True)
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


@contextmanager
def _directory(root: Path, parts: tuple[str, ...], create: bool) -> Iterator[int]:
    """A descriptor of ``root/parts`` reached without following any link below ``root``
    (missing directories made when ``create``)."""
    fd = _open_root(root, create)
    try:
        for i, name in enumerate(parts):
            path = root.joinpath(*parts[: i + 1])
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
                try:
                    sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _refuse(fd, name, path) from None
                    raise
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refuse(fd, name, path) from None
                raise
            os.close(fd)
            fd = sub
        yield fd
    finally:
        os.close(fd)


def _sync_dir(dir_fd: int) -> None:
    """Flush a directory, so a rename in it survives a crash; filesystems that cannot
    sync a directory (EINVAL, ENOTSUP) are left as they are."""
    try:
        os.fsync(dir_fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise


def make_dir(root: Path, rel: str | os.PathLike[str]) -> Path:
    """Make ``root/rel`` and its parents (no link followed); returns its path."""
    parts = _parts(rel)
    path = root.joinpath(*parts)
    try:
        with _directory(root, parts, create=True):
            return path
    except OSError as e:
        raise _failure(e, path, "create") from None


def write_atomic(
    root: Path, rel: str | os.PathLike[str], write: Callable[[BinaryIO], None]
) -> Path:
    """Write ``root/rel`` atomically with ``write(file)``: a temporary file in the same
    directory, flushed to disk, renamed over the name. Returns the path."""
    *dirs, name = _parts(rel)
    path = root.joinpath(*dirs, name)
    try:
        with _directory(root, tuple(dirs), create=True) as dir_fd:
            tmp = temp_name(name)
            fd = os.open(tmp, _NEW_FILE_FLAGS, 0o666, dir_fd=dir_fd)  # umask applies
            try:
                with os.fdopen(fd, "wb") as f:
                    write(f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
            _sync_dir(dir_fd)
    except OSError as e:
        raise _failure(e, path, "write") from None
    return path


def write_bytes(root: Path, rel: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``root/rel``."""

    def write(f: BinaryIO) -> None:
        f.write(data)

    return write_atomic(root, rel, write)


def write_text(root: Path, rel: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``root/rel``."""
    return write_bytes(root, rel, text.encode("utf-8"))


@contextmanager
def text_file(root: Path, rel: str | os.PathLike[str]) -> Iterator[io.StringIO]:
    """A text stream whose whole content becomes ``root/rel`` (atomically, UTF-8) when the
    ``with`` block ends without an error; nothing is written when it fails."""
    buf = io.StringIO()
    yield buf
    write_text(root, rel, buf.getvalue())


def copy_in(root: Path, rel: str | os.PathLike[str], source: Path) -> Path:
    """Atomically copy the regular file ``source`` (from outside the root, e.g. a log in a
    platform's state directory) to ``root/rel``; a ``source`` that is a link is refused."""
    try:
        fd = os.open(source, _READ_FLAGS)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LinkRefused(
                f"{source} is a symbolic link: not copied into {root}",
                fix="nothing to do: meshbench copies only the files its processes wrote",
            ) from None
        raise _failure(e, source, "read") from None
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ResultsError(f"{source} is not a regular file: not copied into {root}")
        return write_atomic(root, rel, lambda f: shutil.copyfileobj(src, f, COPY_CHUNK))


def copy_all_in(root: Path, rel: str | os.PathLike[str], source: Path, files: list[Path]) -> None:
    """:func:`copy_in` each of ``files`` (under ``source``) to the same place under
    ``root/rel``; one that cannot be copied (a link put in its place, a full disk) does
    not stop the others: the first such error is raised once all were tried."""
    failed: list[ResultsError] = []
    for path in files:
        try:
            copy_in(root, Path(rel, path.relative_to(source)), path)
        except ResultsError as e:
            failed.append(e)
    if failed:
        if len(failed) > 1:
            failed[0].add_note(f"{len(failed) - 1} more file(s) of {source} not copied")
        raise failed[0]


def _inside(root: Path, parts: tuple[str, ...]) -> tuple[str, ...]:
    """``parts`` with every link resolved, if they resolve inside ``root``; else refused."""
    top = os.path.realpath(root)
    real = os.path.realpath(root.joinpath(*parts))
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        path = root.joinpath(*parts)
        raise LinkRefused(
            f"{path} resolves outside the run directory (to {real}): refused",
            fix=f"replace the link {path} with the file itself",
        )
    return _parts(os.path.relpath(real, top))


def read_bytes(root: Path, rel: str | os.PathLike[str]) -> bytes:
    """The bytes of the regular file ``root/rel``; a link is followed only where it
    resolves inside ``root``. A missing file raises :class:`FileNotFoundError`."""
    parts = _parts(rel)
    path = root.joinpath(*parts)
    try:
        real = _inside(root, parts)
        if not real:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        with _directory(root, real[:-1], create=False) as dir_fd:
            try:
                fd = os.open(real[-1], _READ_FLAGS, dir_fd=dir_fd)
            except OSError as e:
                if e.errno == errno.ELOOP:  # became a link since it was resolved
                    raise _refuse(dir_fd, real[-1], path) from None
                raise
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise ResultsError(f"{path} is not a regular file")
                return f.read()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise _failure(e, path, "read") from None


def read_text(root: Path, rel: str | os.PathLike[str]) -> str:
    """The UTF-8 text of ``root/rel`` (see :func:`read_bytes`)."""
    return read_bytes(root, rel).decode("utf-8")


def move(root: Path, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Rename ``root/src`` to ``root/dst`` (both inside, no link followed on the way; the
    moved entry itself is moved as it is). Returns the new path."""
    *src_dirs, src_name = _parts(src)
    *dst_dirs, dst_name = _parts(dst)
    path = root.joinpath(*dst_dirs, dst_name)
    try:
        with (
            _directory(root, tuple(src_dirs), create=False) as src_fd,
            _directory(root, tuple(dst_dirs), create=True) as dst_fd,
        ):
            os.replace(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            _sync_dir(dst_fd)
    except OSError as e:
        raise _failure(e, path, "write") from None
    return path


def remove(root: Path, rel: str | os.PathLike[str]) -> None:
    """Remove ``root/rel`` if it exists: a directory with everything in it, a file, or a
    link (the link itself, never what it points to)."""
    *dirs, name = _parts(rel)
    path = root.joinpath(*dirs, name)
    try:
        with _directory(root, tuple(dirs), create=False) as dir_fd:
            try:
                st = os.lstat(name, dir_fd=dir_fd)
            except FileNotFoundError:
                return
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dir_fd)
            else:
                os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    except OSError as e:
        raise _failure(e, path, "remove") from None


def list_names(root: Path, rel: str | os.PathLike[str]) -> list[str]:
    """The names in the directory ``root/rel`` (empty if it does not exist)."""
    parts = _parts(rel)
    try:
        with _directory(root, parts, create=False) as dir_fd:
            return sorted(os.listdir(dir_fd))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise _failure(e, root.joinpath(*parts), "read") from None


def check_writable(root: Path) -> None:
    """Refuse, before anything starts, a root this user cannot write a file into."""
    try:
        with _directory(root, (), create=False) as dir_fd:
            tmp = temp_name("probe")
            fd = os.open(tmp, _NEW_FILE_FLAGS, 0o600, dir_fd=dir_fd)
            os.close(fd)
            os.unlink(tmp, dir_fd=dir_fd)
    except OSError as e:
        raise _failure(e, root, "write into") from None
