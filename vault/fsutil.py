"""Careful file I/O: private modes, no symlinks followed, single-write appends, real fsync.

`Disk` is the seam the tests use to inject write and fsync failures; production code
always gets the plain one. A failed fsync raises StorageError and is never retried
into a success (the kernel may already have dropped the dirty pages).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

from . import i18n
from .errors import IntegrityError, KeptDiffers, StorageError
from .i18n import N_, _, ngettext

FILE_MODE = 0o600
DIR_MODE = 0o700
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_ID = re.compile(r"^[0-9a-f]{32}$")


def check_id(value: object, what: str = N_("member id")) -> str:
    """A member or vault id (32 hex digits) safe to use in a file name; IntegrityError if not."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise IntegrityError(_("{what} is not 32 hex digits").format(what=i18n._(what)))
    return value


_CANNOT_WRITE = {
    errno.ENOSPC: N_("cannot write {path}: the disk is full"),
    errno.EROFS: N_("cannot write {path}: the folder is read-only"),
    errno.EACCES: N_("cannot write {path}: permission denied"),
    errno.EPERM: N_("cannot write {path}: permission denied"),
    errno.EDQUOT: N_("cannot write {path}: the disk quota is exceeded"),
    errno.ELOOP: N_("cannot write {path}: it is a symbolic link (refused)"),
}


def _describe(exc: OSError, path: Path | str) -> str:
    sentence = _CANNOT_WRITE.get(exc.errno or 0)
    if sentence is not None:
        return i18n._(sentence).format(path=path)
    reason = exc.strerror or "I/O error"  # the system's own words
    return _("cannot write {path}: {reason}").format(path=path, reason=reason)


class Disk:
    """The write and fsync calls takusu makes; subclassed in tests to inject faults."""

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)


DEFAULT_DISK = Disk()


def ensure_dir(path: Path, disk: Disk = DEFAULT_DISK) -> None:
    """Create `path` (and parents) as private folders; refuse a symlink in its place."""
    if path.is_symlink():
        raise IntegrityError(
            _("{path} is a symbolic link; takusu does not follow links").format(path=path)
        )
    if path.is_dir():
        return
    ensure_dir(path.parent, disk)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir() or path.is_symlink():
            raise IntegrityError(_("{path} exists and is not a folder").format(path=path)) from None
        return
    except OSError as exc:
        raise StorageError(_describe(exc, path)) from exc
    fsync_dir(path.parent, disk)


def fsync_dir(path: Path, disk: Disk = DEFAULT_DISK) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    except OSError as exc:
        raise StorageError(_describe(exc, path)) from exc
    try:
        disk.fsync(fd)
    except OSError as exc:
        raise StorageError(
            _("saving the folder {path} to disk failed: {reason}").format(
                path=path, reason=exc.strerror
            )
        ) from exc
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, path: Path, disk: Disk) -> None:
    try:
        written = disk.write(fd, data)
    except OSError as exc:
        raise StorageError(_describe(exc, path)) from exc
    if written != len(data):
        raise StorageError(
            ngettext(
                "cannot write {path}: only {written} of {total} byte was written",
                "cannot write {path}: only {written} of {total} bytes were written",
                len(data),
            ).format(path=path, written=written, total=len(data))
        )


def _fsync(fd: int, path: Path, disk: Disk) -> None:
    try:
        disk.fsync(fd)
    except OSError as exc:
        raise StorageError(
            _("saving {path} to disk failed: {reason}; nothing was saved").format(
                path=path, reason=exc.strerror
            )
        ) from exc


def write_new(path: Path, data: bytes, disk: Disk = DEFAULT_DISK, *, sync_dir: bool = True) -> None:
    """Create `path` exclusively (O_EXCL|O_NOFOLLOW, 0600), write, fsync file and folder
    (`sync_dir=False`: not the folder, for a temp file renamed next, whose rename is what
    the folder's fsync must keep)."""
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, FILE_MODE
        )
    except FileExistsError as exc:
        raise StorageError(_("{path} already exists").format(path=path)) from exc
    except OSError as exc:
        raise StorageError(_describe(exc, path)) from exc
    try:
        _write_all(fd, data, path, disk)
        _fsync(fd, path, disk)
    except StorageError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)
    if sync_dir:
        fsync_dir(path.parent, disk)


def atomic_write(path: Path, data: bytes, disk: Disk = DEFAULT_DISK) -> None:
    """Replace `path` atomically: private temp file, fsync, rename, fsync the folder. (The
    folder is not fsynced before the rename: a crash before the rename's fsync leaves the
    old file, whether or not the temp file's name survived. A temp file left by a process
    that crashed is a dot-file named with its pid, never read; a later process with that
    pid removes it.)"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    write_new(tmp, data, disk, sync_dir=False)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StorageError(_describe(exc, path)) from exc
    fsync_dir(path.parent, disk)


def append_line(path: Path, line: bytes, disk: Disk = DEFAULT_DISK, *, sync: bool = True) -> None:
    """Append one whole line with a single O_APPEND write, then fsync (and the folder if new).
    `sync=False`: no fsync of the file, for a cache whose reader finds a line the disk lost
    and rebuilds what it holds (the state cache's journal: docs/format.md §7.4)."""
    if path.is_symlink():
        raise IntegrityError(
            _("{path} is a symbolic link; takusu does not follow links").format(path=path)
        )
    is_new = not path.exists()
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        raise StorageError(_describe(exc, path)) from exc
    try:
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, line, path, disk)
            if sync:
                _fsync(fd, path, disk)
        except StorageError:
            # A write we report as failed must not take effect later: cut it back off
            # (the caller holds the log's lock, so nobody appended after us).
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)
    if is_new:
        fsync_dir(path.parent, disk)


def truncate_to(path: Path, size: int) -> None:
    """Cut a file back to `size` bytes (undoing an append that could not be completed)."""
    with contextlib.suppress(OSError):
        os.truncate(path, size)


def read_bytes(path: Path, limit: int) -> bytes:
    """Read a regular file without following a symlink; refuse one larger than `limit`."""
    return read_unless_kept(path, limit, None, 0)


def read_unless_kept(
    path: Path, limit: int, kept: bytes | None, ends: int, *, verify: bool = False
) -> bytes:
    """`read_bytes`, or `kept` itself, unread, when the file is as long as `kept` and its
    first and last `ends` bytes are `kept`'s: for a sealed file that a long-lived process
    read before, whose random nonce begins it and whose tag (over every byte) ends it, so
    that only the very bytes it sealed can pass (a hostile copy with those ends and other
    middle bytes would not open under the key anyway: the kept bytes are what did).
    `verify` (TAKUSU_CHECK_MEMO): read the file anyway, and KeptDiffers if `kept`
    passed for bytes that differ."""
    try:
        # O_NONBLOCK: a FIFO planted in the folder must not hang the command; it is then
        # refused below as "not a regular file".
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IntegrityError(
                _("{path} is a symbolic link; takusu does not follow links").format(path=path)
            ) from exc
        raise StorageError(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)
        ) from exc
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IntegrityError(_("{path} is not a regular file").format(path=path))
        if info.st_size > limit:
            raise IntegrityError(
                _("{path} is larger than takusu allows ({limit} bytes)").format(
                    path=path, limit=limit
                )
            )
        size = info.st_size
        if kept is not None and 0 < ends and 2 * ends <= size == len(kept):
            if (
                os.pread(fd, ends, 0) == kept[:ends]
                and os.pread(fd, ends, size - ends) == kept[size - ends :]
            ):
                if verify and read_all(fd, limit + 1, size + 1) != kept:
                    raise KeptDiffers(
                        _("kept bytes of {path} differ from the file").format(path=path)
                    )
                return kept
        data = read_all(fd, limit + 1, size + 1)
        if len(data) > limit:
            raise IntegrityError(
                _("{path} is larger than takusu allows ({limit} bytes)").format(
                    path=path, limit=limit
                )
            )
        return data
    finally:
        os.close(fd)


def read_all(fd: int, count: int, expected: int = 0) -> bytes:
    """Up to `count` bytes from `fd`, in chunks (a short read is not the end of a file).
    `expected`: the size it likely has (a file's, plus one to see its end), read in one
    chunk: the bytes are then the very object read, not a joined copy of 1 MB chunks."""
    chunks, remaining = [], count
    while remaining > 0:
        chunk = os.read(fd, min(remaining, max(expected, 1 << 20)))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def check_private(path: Path) -> None:
    """Refuse a secret-holding file that others can read or that is a link."""
    info = os.lstat(path)
    import stat

    if stat.S_ISLNK(info.st_mode):
        raise IntegrityError(_("{path} is a symbolic link; refusing to use it").format(path=path))
    if info.st_mode & 0o077:
        from .errors import KeyFileUnsafe

        raise KeyFileUnsafe(
            _("{path} is readable by other users (mode {mode}); refusing to use it").format(
                path=path, mode=oct(info.st_mode & 0o777)
            ),
            hint=_("check who could have copied it, then run: chmod 600 {path}").format(path=path),
        )


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the block; a killed holder frees it."""
    ensure_dir(lock_path.parent)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise StorageError(
            _("cannot open the lock file {path}: {reason}").format(
                path=lock_path, reason=exc.strerror
            )
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
