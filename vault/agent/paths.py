"""Where the agent's socket lives, and the checks that folder and socket must pass.

The folder is `$XDG_RUNTIME_DIR/takusu/` when XDG_RUNTIME_DIR is a private folder of
ours (a tmpfs that the system empties at logout), else `TAKUSU_HOME/run/`. One agent per
TAKUSU_HOME: the socket's name is derived from the home's absolute path.
"""

from __future__ import annotations

import os
import stat

from .. import i18n
from ..errors import IntegrityError, UserError
from ..i18n import N_, _

try:  # the builtin SHA-256: `hashlib` loads OpenSSL, ~4 ms on every command (same digest)
    from _sha256 import sha256
except ImportError:  # Python 3.12 and later name it _sha2
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

TYPE_CHECKING = False  # the thin client imports this module: no `typing`, no `pathlib`
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    StrPath = str | os.PathLike[str]

FOLDER_MODE = 0o700
# sun_path holds 108 bytes on Linux (104 on the BSDs), the terminating NUL included.
MAX_SOCKET_PATH = 103


def absolute(path: StrPath) -> str:
    """`path` made absolute as `pathlib.Path(path).absolute()` writes it (from the working
    folder, without `.` parts, doubled or trailing slashes; `..` kept), without pathlib."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        text = os.path.join(os.getcwd(), text)
    lead = "//" if text.startswith("//") and not text.startswith("///") else "/"
    return lead + "/".join(part for part in text.split("/") if part not in ("", "."))


def home_key(home: StrPath) -> str:
    """16 hex digits naming this TAKUSU_HOME (SHA-256 of its absolute path)."""
    digest: str = sha256(absolute(home).encode()).hexdigest()
    return digest[:16]


def _private_dir_of_ours(path: StrPath) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def runtime_folder(home: StrPath) -> str:
    """The folder that holds this home's socket (it may not exist yet)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and _private_dir_of_ours(xdg):
        return os.path.join(xdg, "takusu")
    return os.path.join(absolute(home), "run")


def socket_file(home: StrPath) -> str:
    """The agent socket of this TAKUSU_HOME; UserError if the path is too long for a socket."""
    path = os.path.join(runtime_folder(home), f"agent-{home_key(home)}.sock")
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise UserError(
            _("the agent socket path is too long for this system: {path}").format(path=path),
            hint=_("set XDG_RUNTIME_DIR to a short private folder, or use a shorter TAKUSU_HOME"),
        )
    return path


def runtime_dir(home: StrPath) -> Path:
    """`runtime_folder` as a Path."""
    from pathlib import Path

    return Path(runtime_folder(home))


def socket_path(home: StrPath) -> Path:
    """`socket_file` as a Path."""
    from pathlib import Path

    return Path(socket_file(home))


def lock_path(home: StrPath) -> Path:
    """The lock file that serialises starting and stopping this home's agent."""
    return runtime_dir(home) / f"agent-{home_key(home)}.lock"


def check_folder(path: StrPath) -> bool:
    """True if the socket folder exists and is safe; False if it does not exist.

    IntegrityError for a symlink, a non-folder, another owner or a mode open to others:
    someone else could then plant or read the socket.
    """
    info = _checked(
        path,
        stat.S_ISDIR,
        N_("{path} is not a folder"),
        link_hint=_("remove it ('rm {path}'); takusu creates the folder itself").format(path=path),
        open_hint=_("check who could have used it, then run: chmod 700 {path}").format(path=path),
    )
    return info is not None


def _checked(
    path: StrPath, is_kind: Callable[[int], bool], not_kind: str, link_hint: str, open_hint: str
) -> os.stat_result | None:
    """`path`'s lstat if `is_kind`, ours and closed to others; None if it is not there;
    IntegrityError for anything else (a link, another kind, another owner, an open mode).
    `not_kind` is the sentence (marked with N_) for another kind of file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise IntegrityError(
            _("{path} is a symbolic link; takusu does not follow links").format(path=path),
            hint=link_hint,
        )
    if not is_kind(info.st_mode):
        raise IntegrityError(
            i18n._(not_kind).format(path=path),
            hint=_("remove it: rm {path}").format(path=path),
        )
    if info.st_uid != os.geteuid():
        raise IntegrityError(
            _("{path} belongs to another user (uid {uid}); refusing to use it").format(
                path=path, uid=info.st_uid
            ),
            hint=_("check who created it, then remove it"),
        )
    if info.st_mode & 0o077:
        raise IntegrityError(
            _("{path} is open to other users (mode {mode}); refusing it").format(
                path=path, mode=oct(info.st_mode & 0o777)
            ),
            hint=open_hint,
        )
    return info


def ensure_folder(path: Path) -> None:
    """Create the socket folder (0700; parents as private folders) or check the one there."""
    if check_folder(path):
        return
    from .. import fsutil  # the client never creates the folder: keep this off its path

    fsutil.ensure_dir(path.parent)
    try:
        os.mkdir(path, FOLDER_MODE)
    except FileExistsError:
        pass
    check_folder(path)


def check_socket(path: StrPath) -> os.stat_result | None:
    """The socket's lstat if it exists and is safe; None if there is none.

    IntegrityError for anything but a socket of ours closed to others.
    """
    return _checked(
        path,
        stat.S_ISSOCK,
        N_("{path} is not a socket"),
        link_hint=_("remove it: rm {path}").format(path=path),
        open_hint=_("run 'takusu lock', then 'takusu unlock' again"),
    )
