"""An encrypted local index of item summaries, so finding a title among 10,000 items does
not mean 10,000 decryptions per command.

TAKUSU_HOME/vaults/<id>/index.enc holds, per readable item, the version it was made from
and its title, username, url and tags, sealed under a key only this identity can derive.
The session computes the path, key and AAD (`Session.title_index`); this module only
keeps the entries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import fsutil, labels
from .crypto import aead_open, aead_seal
from .encoding import dumps
from .errors import KeptDiffers, TakusuError
from .memo import LIMIT, remember

# The entries this process opened or sealed, by path: (the sealed bytes, key, AAD,
# entries). A long-lived process (the agent) finding the very same sealed bytes again
# under the same key skips decrypting and parsing them (with the entries `put` added
# since: see there); `save` remembers what it sealed.
_MEMO: dict[str, tuple[bytes, bytes, bytes, dict[str, Any]]] = {}


# The sealed bytes of an index or finder file this process read or saved, by path. The
# agent asks for the index twice per command (is what it can read still what it built?
# then the entries), 1.2 MB at 10,000 items: while the file there is as long as those
# bytes, and begins with their nonce and ends with their tag (`fsutil.read_unless_kept`),
# it is not read again. (Not by inode and time: on tmpfs two saves a moment apart can
# have both.) TAKUSU_CHECK_MEMO=1 (the tests) reads the file anyway and refuses kept
# bytes that pass for it and differ.
_READ: dict[str, bytes] = {}
_ENDS = 16  # the tag's length; the nonce is 12


def read_sealed(path: Path) -> bytes | None:
    """The sealed bytes of an index file; None if it is missing or cannot be read."""
    key = str(path)
    kept = _READ.get(key)
    verify = os.environ.get("TAKUSU_CHECK_MEMO") == "1"
    try:
        sealed = fsutil.read_unless_kept(path, labels.MAX_LOG, kept, _ENDS, verify=verify)
    except KeptDiffers:
        raise
    except (FileNotFoundError, TakusuError):
        _READ.pop(key, None)
        return None
    _kept(path, sealed)
    return sealed


def _kept(path: Path, sealed: bytes) -> None:
    """Remember the sealed bytes read from, or written to, `path` (a file another process
    writes next has another nonce: it is read)."""
    remember(_READ, str(path), sealed, 2 * LIMIT)  # an index and a finder per vault


class TitleIndex:
    """The summaries of one vault for one identity, sealed in one file."""

    def __init__(self, path: Path, key: bytes, aad: bytes) -> None:
        self.path = path
        self.key = key
        self.aad = aad
        self.entries: dict[str, Any] = {}
        self.dirty = False
        self.sealed = read_sealed(path)  # the bytes the entries come from (None: none)
        sealed = self.sealed
        if sealed is None:
            return  # missing or unreadable: rebuilt from the log, nothing lost
        memo = _MEMO.get(str(path))
        if memo is not None and memo[:3] == (sealed, key, aad):
            self.entries = memo[3]
            return
        try:
            plain = aead_open(self.key, sealed, self.aad, "index")
            # Authenticated under a key only this identity derives: these are bytes this
            # machine wrote with `dumps`, so plain json (ten times faster than the strict
            # decoder the shared folder needs) reads them; strict UTF-8 first, as for the
            # state cache.
            entries = json.loads(plain.decode("utf-8"))
        except (TakusuError, ValueError, RecursionError):
            return  # unreadable: rebuilt from the log, nothing lost
        if isinstance(entries, dict):
            self.entries = entries
            self._remember(sealed)

    def _remember(self, sealed: bytes) -> None:
        remember(_MEMO, str(self.path), (sealed, self.key, self.aad, self.entries))

    def peek(self, item_id: str, version: int) -> dict[str, Any] | None:
        """The summary of this item version, or None if the index has not seen it: the
        index's own dict, for callers that only read it."""
        entry = self.entries.get(item_id)
        if type(entry) is list and len(entry) == 2 and entry[0] == version:
            summary = entry[1]
            if type(summary) is dict:
                return summary
        return None

    def put(self, item_id: str, version: int, summary: dict[str, Any]) -> None:
        # The entries may be the memo's, and it keeps them: an entry is the summary of one
        # item version, what decrypting that version gives, so the memo of these sealed
        # bytes holds a few more true entries than the file until the next save.
        self.entries[item_id] = [version, summary]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        fsutil.ensure_dir(self.path.parent)
        sealed = aead_seal(self.key, dumps(self.entries), self.aad)
        fsutil.atomic_write(self.path, sealed)
        _kept(self.path, sealed)
        self.dirty = False
        self.sealed = sealed
        self._remember(sealed)


# --- the finder ------------------------------------------------------------------------------
#
# TAKUSU_HOME/vaults/<id>/finder.enc: which item each title names, at one owner head, sealed
# under the index's key. A command started afresh (no agent) finds a title in it with one
# decryption and a search of its bytes, instead of opening the index and every item's
# state to build the title maps (tens of milliseconds at 10,000 items). Its lines are
# `E<title>\t<id>` (exact) and `F<folded title>\t<id>` after a JSON header; an empty id is
# a title more than one item has. A title holding a tab or a line break is left out (the
# command then builds the maps, as without a finder). It answers only what it holds: any
# miss, or any doubt, is a question for the full build.


def finder_lines(header: dict[str, Any], exact: dict[str, str], folded: dict[str, str]) -> bytes:
    """The finder's plaintext: the header, then one line per title and per folded title
    (`exact` and `folded` map them to an item id, or to "" when more than one item has it)."""
    parts = [json.dumps(header, separators=(",", ":")), "\n"]
    for tag, titles in (("E", exact), ("F", folded)):
        parts.extend(
            f"{tag}{title}\t{item_id}\n"
            for title, item_id in titles.items()
            if "\t" not in title and "\n" not in title
        )
    return "".join(parts).encode("utf-8")


def finder_header(sealed: bytes | None, key: bytes, aad: bytes) -> tuple[dict[str, Any], bytes]:
    """The finder's header and its whole plaintext ({} and b"" when it is missing or does not
    open: it is rebuilt, nothing is lost)."""
    if sealed is None:
        return {}, b""
    try:
        plain = aead_open(key, sealed, aad, "finder")
    except TakusuError:
        return {}, b""
    end = plain.find(b"\n")
    try:
        header = json.loads(plain[:end].decode("utf-8")) if end > 0 else None
    except ValueError:
        header = None
    return (header, plain) if isinstance(header, dict) else ({}, b"")


def finder_lookup(plain: bytes, tag: str, title: str) -> str | None:
    """The item id on the `tag` line of `title`; "" when more than one item has it; None
    when the finder does not hold it."""
    if "\t" in title or "\n" in title:
        return None
    needle = f"\n{tag}{title}\t".encode()
    at = plain.find(needle)
    if at < 0:
        return None
    start = at + len(needle)
    end = plain.find(b"\n", start)
    return plain[start:end].decode("ascii", "replace") if end > 0 else None


def save_finder(path: Path, key: bytes, aad: bytes, plain: bytes) -> None:
    fsutil.ensure_dir(path.parent)
    sealed = aead_seal(key, plain, aad)
    fsutil.atomic_write(path, sealed)
    _kept(path, sealed)
