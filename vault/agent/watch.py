"""The identity file the agent is bound to: which identity it holds, and whether it changed.

The agent locks itself when `TAKUSU_HOME/identity.key` changes or disappears (a new
identity, a restored one, a removed one): the keys in its memory are then no longer the
ones this home stands for.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..encoding import loads
from ..errors import IntegrityError, Malformed, NotInitialized
from ..fsutil import read_bytes
from ..i18n import _
from ..labels import MAX_SMALL_FILE

KEY_FILE = "identity.key"  # the name vault/keystore.py gives it (not imported: heavy)

Snapshot = tuple[int, int, int, int, int]


def snapshot(home: Path) -> Snapshot | None:
    """(device, inode, size, mtime_ns, ctime_ns) of the identity file, None if it is gone.

    Any write, replacement (a new inode), chmod or touch changes it.
    """
    try:
        info = os.lstat(Path(home) / KEY_FILE)
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def bind(home: Path, identity_id: str) -> Snapshot:
    """The identity file's snapshot, after checking that it names `identity_id`.

    NotInitialized if there is no identity file, IntegrityError if it holds another
    identity or changes while it is read.
    """
    path = Path(home) / KEY_FILE
    before = snapshot(home)
    if before is None:
        raise NotInitialized(
            _("no identity file in {home}; the agent holds only the identity of this home").format(
                home=home
            )
        )
    try:
        doc = loads(read_bytes(path, MAX_SMALL_FILE), "key file")
    except FileNotFoundError:
        raise NotInitialized(_("no identity file in {home}").format(home=home)) from None
    except Malformed as exc:
        raise IntegrityError(
            _("the identity file {path} is damaged: {reason}").format(path=path, reason=exc.message)
        ) from None
    if not isinstance(doc, dict) or doc.get("id") != identity_id:
        raise IntegrityError(
            _("the identity file {path} holds another identity than the one unlocked").format(
                path=path
            ),
            hint=_("run 'takusu unlock' again"),
        )
    if snapshot(home) != before:
        raise IntegrityError(
            _("{path} changed while the agent started").format(path=path), hint=_("try again")
        )
    return before
