"""An encrypted local index of item summaries, so finding a title among 10,000 items does
not mean 10,000 decryptions per command.

TAKUSU_HOME/vaults/<id>/index.enc holds, per readable item, the version it was made from
and its title, username, url and tags, sealed under a key only this identity can derive
(from the vault key for the owner, from the signing key for a member).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import fsutil, labels
from .crypto import aead_open, aead_seal, local_key
from .encoding import dumps, loads
from .errors import TakusuError

if TYPE_CHECKING:
    from .session import Session


class TitleIndex:
    """The index of one vault for this identity; entries are refreshed by the session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.path = session.store.mirror.local / "index.enc"
        me = session.me
        secret = session.vault_key() if session.is_owner else me.signing.raw()
        self.key = local_key(secret, session.vault_id + "\n" + me.id)
        self.aad = labels.INDEX_AAD + f"{session.vault_id}\n{me.id}".encode()
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        try:
            sealed = fsutil.read_bytes(self.path, labels.MAX_LOG)
            self.entries = loads(aead_open(self.key, sealed, self.aad, "index"), "index")
        except (FileNotFoundError, TakusuError):
            self.entries = {}  # missing or unreadable: rebuilt from the log, nothing lost

    def get(self, item_id: str, version: int) -> dict[str, Any] | None:
        entry = self.entries.get(item_id)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == version:
            return dict(entry[1])
        return None

    def put(self, item_id: str, version: int, summary: dict[str, Any]) -> None:
        self.entries[item_id] = [version, summary]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        fsutil.ensure_dir(self.path.parent)
        fsutil.atomic_write(self.path, aead_seal(self.key, dumps(self.entries), self.aad))
        self.dirty = False
