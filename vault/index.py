"""An encrypted local index of item summaries, so finding a title among 10,000 items does
not mean 10,000 decryptions per command.

TAKUSU_HOME/vaults/<id>/index.enc holds, per readable item, the version it was made from
and its title, username, url and tags, sealed under a key only this identity can derive.
The session computes the path, key and AAD (`Session.title_index`); this module only
keeps the entries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import fsutil, labels
from .crypto import aead_open, aead_seal
from .encoding import dumps
from .errors import TakusuError


class TitleIndex:
    """The summaries of one vault for one identity, sealed in one file."""

    def __init__(self, path: Path, key: bytes, aad: bytes) -> None:
        self.path = path
        self.key = key
        self.aad = aad
        self.entries: dict[str, Any] = {}
        self.dirty = False
        try:
            sealed = fsutil.read_bytes(self.path, labels.MAX_LOG)
            plain = aead_open(self.key, sealed, self.aad, "index")
            # Authenticated under a key only this identity derives: these are bytes this
            # machine wrote with `dumps`, so plain json (ten times faster than the strict
            # decoder the shared folder needs) reads them; strict UTF-8 first, as for the
            # state cache.
            entries = json.loads(plain.decode("utf-8"))
            self.entries = entries if isinstance(entries, dict) else {}
        except (FileNotFoundError, TakusuError, ValueError, RecursionError):
            self.entries = {}  # missing or unreadable: rebuilt from the log, nothing lost

    def get(self, item_id: str, version: int) -> dict[str, Any] | None:
        """The summary of this item version, or None if the index has not seen it."""
        entry = self.entries.get(item_id)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == version:
            if isinstance(entry[1], dict):
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
