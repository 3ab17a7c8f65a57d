"""This machine's verified copy of a vault's logs, and the folded state cached beside it.

Lives in TAKUSU_HOME/vaults/<vault-id>/, outside the synced folder. Only lines that
verified are ever written here, so the mirror is what takusu trusts when the folder
shrinks, forks or is rewritten, and what `doctor --repair` restores the folder from.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .. import fsutil, labels
from ..crypto import sha256_hex
from ..encoding import dumps, loads
from ..errors import CacheDamaged, IntegrityError, Malformed, StorageError, UnknownVersion
from ..events import split_line
from ..i18n import _
from ..memo import remember
from ..state import Head, LazyItems, State, check_shape

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_STATE_FAMILY = labels.MIRROR_STATE.rsplit("/", 1)[0] + "/"


FileId = tuple[int, int, int, int]


def _file_id(path: Path) -> FileId | None:
    """Which file is at `path` now (device, inode, size, modification time); None: none."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


class _LoneSurrogate(ValueError):
    pass


def _cache_json(raw: bytes) -> Any:
    """JSON bytes of the state cache, which only this machine writes, as strict UTF-8 with
    no escapes but the ones JSON needs: a lone surrogate (raw, or as a \\uD800-\\uDFFF
    escape) cannot come from us and would crash the next save (_LoneSurrogate); anything
    else that is not JSON is a ValueError. Plain json is enough, and 10x faster than the
    strict decoder used for what comes from the shared folder. (json.loads on bytes would
    let surrogates through: decode strictly first.)"""
    if _SURROGATE_ESCAPE.search(raw):
        raise _LoneSurrogate("a lone surrogate")
    return json.loads(raw.decode("utf-8"))


def split_complete(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without newline) and the torn remainder after the last newline."""
    if not data:
        return [], b""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


# The state caches this process parsed or wrote, by path. A long-lived process (the
# agent) reading the very same bytes again hands out the same state instead of parsing
# and walking megabytes again. The state is mutable: whoever applies an event to a state
# forgets the memo first (`forget_state`, naming the items the event may change), so a
# write that fails half-way never leaves a changed state behind bytes that do not hold it;
# a saved state is remembered with the bytes written. TAKUSU_CHECK_MEMO=1 (the tests set
# it) parses the files on every hit as well, and after every journal append, and refuses a
# memo or a journal that differs from the state.
class _Memo:
    __slots__ = (
        "state_raw", "items_raw", "journal", "token", "seen_raw", "seen_token", "st", "dirty",
        "seen_dirty", "digest", "items_id",
    )  # fmt: skip

    def __init__(
        self,
        state_raw: bytes | None,
        items_raw: bytes,
        journal: bytes,
        token: str,
        seen_raw: bytes | None,
        seen_token: str | None,
        st: State,
        digest: str,
        items_id: FileId | None,
    ) -> None:
        self.state_raw = state_raw  # None: the state changed since (no hit)
        self.items_raw = items_raw  # the bytes of items.json
        self.journal = journal  # the bytes of the journal that state.json acknowledges
        self.token = token  # the token that ties state.json to items.json and the journal
        self.seen_raw = seen_raw  # the bytes of retrievals.json (None: kept in state.json)
        self.seen_token = seen_token  # the token that ties state.json to retrievals.json
        self.st = st
        self.digest = digest  # the SHA-256 of items_raw, as state.json names it
        self.items_id = items_id  # the items.json file those bytes are (None: not known)
        # the items changed since: saved as one journal line; None: not known which
        self.dirty: set[str] | None = set()
        # the retrievals may have changed since (a member's event was applied)
        self.seen_dirty = False


_STATE_MEMO: dict[str, _Memo] = {}
ITEMS_LABEL = labels.MIRROR_STATE + "/items"
RETRIEVALS_LABEL = labels.MIRROR_STATE + "/retrievals"
# From this many (member, item) retrievals on, they are kept in retrievals.json, apart
# from state.json: then an owner's event does not write them again (~160 kB at 1,000
# items a member has read). Fewer stay in state.json, and a receipt writes one file.
RETRIEVALS_APART = 256
_ITEMS_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _items_head(token: str) -> bytes:
    return b'{"label":"' + ITEMS_LABEL.encode() + b'","token":"' + token.encode() + b'","items":{'


def items_file(token: str, items: dict[str, Any]) -> bytes:
    """items.json: JSON whose first line names its label and token, then one line per item,
    `"<item id>":<item>,` in the order of their ids, then `}}`. A reader can then take any
    one item without parsing the others (`Mirror._items`)."""
    encode = _ITEMS_ENCODER.encode
    body = ",\n".join(f'"{item_id}":{encode(item)}' for item_id, item in sorted(items.items()))
    return _items_head(token) + b"\n" + body.encode() + (b"\n}}" if body else b"}}")


class Mirror:
    """TAKUSU_HOME/vaults/<id>/: mirror/<log>.jsonl, state.json, items.json, items.journal
    and retrievals.json (the state cache), quarantine/."""

    def __init__(self, local: Path, disk: fsutil.Disk = fsutil.DEFAULT_DISK) -> None:
        self.local = local
        self.logs = local / "mirror"
        self.state_path = local / "state.json"
        # The items are the bulk of the state (10,000 items: ~2.5 MB) and change only with
        # the owner's events: kept apart, so a receipt rewrites a few kilobytes, not them.
        self.items_path = local / "items.json"
        # Items an owner's event changed since items.json was written, one line per save:
        # an `add` appends a few hundred bytes instead of rewriting megabytes.
        self.journal_path = local / "items.journal"
        # The latest retrieval per member and item (1,000 items a member has read: ~160 kB)
        # change only with members' receipts: kept apart, so an owner's `add` does not
        # write them again.
        self.retrievals_path = local / "retrievals.json"
        self.quarantine_dir = local / "quarantine"
        self.disk = disk

    def path(self, log: str) -> Path:
        return self.logs / f"{fsutil.check_id(log)}.jsonl"

    def read(self, log: str) -> bytes:
        try:
            return fsutil.read_bytes(self.path(log), labels.MAX_LOG)
        except FileNotFoundError:
            return b""

    def lines(self, log: str) -> list[bytes]:
        return split_complete(self.read(log))[0]

    def hashes(self, log: str, lines: list[bytes] | None = None) -> list[str]:
        """The event hash (SHA-256 of the payload) of every mirrored line, by sequence
        (`lines`: the mirror's lines of `log`, when the caller has read them already)."""
        mirrored = self.lines(log) if lines is None else lines
        return [sha256_hex(split_line(line, log, seq)[0]) for seq, line in enumerate(mirrored)]

    def last_line(self, log: str, head: Head) -> bytes:
        return self.line_at(log, head["size"] - head["last"], head["last"])

    def line_at(self, log: str, offset: int, length: int) -> bytes:
        with open(self.path(log), "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def event_at(self, log: str, ref: list[int] | None) -> dict[str, Any]:
        """The fields of one mirrored event, found by its [offset, length] reference."""
        if not ref:
            raise IntegrityError(_("this machine's state cache lacks an event reference"), log=log)
        line = self.line_at(log, ref[0], ref[1])
        payload, _sig = split_line(line.rstrip(b"\n"), log, -1)
        fields = loads(payload, "event payload")
        if not isinstance(fields, dict):
            raise Malformed(_("mirrored event is not an object"), log=log)
        return fields

    def events(self, log: str) -> list[dict[str, Any]]:
        """Payloads of a log as this machine verified and mirrored them, in order, each with
        its event hash under `_hash`."""
        out = []
        for seq, line in enumerate(self.lines(log)):
            payload, _sig = split_line(line, log, seq)
            fields = loads(payload)
            fields["_hash"] = sha256_hex(payload)
            out.append(fields)
        return out

    def append(self, log: str, blob: bytes, at: int) -> None:
        """Append verified lines where the state cache says the mirror ends (`at` bytes).

        Bytes past `at` were written by a process killed before it saved the state that
        acknowledges them: they are cut off first, so a retry never duplicates a line."""
        fsutil.ensure_dir(self.logs, self.disk)
        path = self.path(log)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < at:
            raise IntegrityError(
                _("this machine's mirror of log {log} is shorter than its state says").format(
                    log=log[:12]
                ),
                log=log,
            )
        if size > at:
            try:
                os.truncate(path, at)
            except OSError as exc:
                raise StorageError(
                    _("cannot repair the mirror of log {log}: {why}").format(
                        log=log[:12], why=exc.strerror
                    )
                ) from exc
        fsutil.append_line(path, blob, self.disk)

    def load_state(self, empty: State) -> State:
        key = str(self.state_path)
        try:
            raw = fsutil.read_bytes(self.state_path, labels.MAX_LOG)
        except FileNotFoundError:
            _STATE_MEMO.pop(key, None)
            return empty
        journal = self._read_or_none(self.journal_path) or b""
        seen_raw = self._read_or_none(self.retrievals_path)
        memo = _STATE_MEMO.get(key)
        items_id = _file_id(self.items_path)  # (before its bytes: a file replaced between
        items_raw = None  # the two is read again next time, never taken for the old one)
        if (
            memo is not None
            and memo.state_raw is not None
            and memo.state_raw == raw
            and (memo.seen_token is None or memo.seen_raw == seen_raw)
            and journal.startswith(memo.journal)
        ):
            # items.json, megabytes, is read again only if it is not the very file the
            # memo read or wrote (state.json, which names its digest, was compared whole).
            # Where inodes are reused and times are coarse, another file could pass for
            # it only after a writer died between items.json and state.json; the memo is
            # still the state state.json names, and a fresh reader checks the digest.
            same_file = items_id is not None and items_id == memo.items_id
            items_raw = memo.items_raw if same_file else self._read_or_none(self.items_path)
            if items_raw == memo.items_raw:
                if os.environ.get("TAKUSU_CHECK_MEMO") == "1":
                    on_disk = self._read_or_none(self.items_path)
                    self._check_memo(memo.st, raw, on_disk, journal, seen_raw)
                memo.items_id = items_id
                return memo.st
        _STATE_MEMO.pop(key, None)
        if items_raw is None:
            items_raw = self._read_or_none(self.items_path)
        parsed = self._parse_state(raw, items_raw, journal, seen_raw)
        if parsed is None:
            return empty
        st, token, length, seen_token, digest = parsed
        assert items_raw is not None  # _parse_state refuses a cache without its items
        kept = seen_raw if seen_token is not None else None
        memo = _Memo(
            raw, items_raw, journal[:length], token, kept, seen_token, st, digest, items_id
        )
        remember(_STATE_MEMO, key, memo)
        return st

    @staticmethod
    def _read_or_none(path: Path) -> bytes | None:
        try:
            return fsutil.read_bytes(path, labels.MAX_LOG)
        except FileNotFoundError:
            return None

    def _check_memo(
        self,
        st: State,
        raw: bytes,
        items_raw: bytes | None,
        journal: bytes,
        seen_raw: bytes | None,
    ) -> None:
        parsed = self._parse_state(raw, items_raw, journal, seen_raw)
        if parsed is None or parsed[0] != st:
            raise IntegrityError(
                _("this process changed a state it had not forgotten: {path}").format(
                    path=self.state_path
                )
            )

    def _parse_state(
        self, raw: bytes, items_raw: bytes | None, journal: bytes, seen_raw: bytes | None
    ) -> tuple[State, str, int, str | None, str] | None:
        """The state in the cache files' bytes, the token that ties items.json and the
        journal to state.json, the length of the journal that belongs to them, the token
        that ties retrievals.json (None: the retrievals are in state.json) and the SHA-256
        of items.json; None for an older takusu's cache (rebuilt from the mirror, not a
        problem); Malformed or UnknownVersion for a damaged one (or files that do not
        belong together)."""
        doc = self._cache_doc(self.state_path, raw)
        label = doc.get("label") if isinstance(doc, dict) else None
        if (
            isinstance(label, str)
            and label.startswith(_STATE_FAMILY)
            and label != labels.MIRROR_STATE
        ):
            return None
        if label != labels.MIRROR_STATE:
            raise UnknownVersion(
                _("{path} is not a takusu state cache").format(path=self.state_path)
            )
        token, length, rest = doc.get("items"), doc.get("journal"), doc.get("state")
        seen_token, digest = doc.get("retrievals"), doc.get("digest")
        journal_digest = doc.get("journal_digest")
        if not isinstance(rest, dict) or "items" in rest:
            raise Malformed(_("{path} is damaged").format(path=self.state_path))
        items = self._items(items_raw, token, digest)
        if type(length) is not int or not 0 <= length <= len(journal):
            raise self._alien(self.journal_path)
        # The journal is not fsynced (save_state): whatever a power cut left of it, its first
        # LENGTH bytes are the ones state.json was saved with, or it is rebuilt.
        if hashlib.sha256(journal[:length]).hexdigest() != journal_digest:
            raise self._alien(self.journal_path)
        # Bytes past `length` were appended by a process stopped before it saved the
        # state.json that acknowledges them: not part of this state (the next save cuts them).
        lines, torn = split_complete(journal[:length])
        entries = [self._cache_doc(self.journal_path, line) for line in lines]
        if torn or not all(
            isinstance(e, dict) and e.get("token") == token and isinstance(e.get("items"), dict)
            for e in entries
        ):
            raise self._alien(self.journal_path)
        for entry in entries:
            items.update(entry["items"])
        whole = {**rest, "items": items}
        if seen_token is not None and "retrievals" in rest:  # kept in both places
            raise Malformed(_("{path} is damaged").format(path=self.state_path))
        if seen_token is not None or "retrievals" not in rest:  # apart (or missing)
            seen = self._part(self.retrievals_path, seen_raw, RETRIEVALS_LABEL, seen_token)
            whole["retrievals"] = seen.get("retrievals")
        try:
            return check_shape(whole), token, length, seen_token, digest
        except Malformed:
            raise Malformed(_("{path} is damaged").format(path=self.state_path)) from None

    def _items(self, raw: bytes | None, token: object, digest: object) -> LazyItems:
        """The items in items.json, parsed one by one as they are asked for. Its bytes must
        have the SHA-256 that state.json names (anything else is a file from another save,
        or damaged: rebuilt), then the layout `items_file` writes, one item per line."""
        if raw is None:
            raise Malformed(_("{path} is missing").format(path=self.items_path))
        if not isinstance(token, str) or not isinstance(digest, str):
            raise self._alien(self.items_path)
        if hashlib.sha256(raw).hexdigest() != digest:
            raise self._alien(self.items_path)
        lines = raw.split(b"\n")
        if len(lines) < 2 or lines[0] != _items_head(token) or lines[-1] != b"}}":
            raise self._alien(self.items_path)
        body = lines[1:-1]
        # each line is `"<item id>":<item>,` (the last without its comma), as written
        try:
            unparsed = {line[1:33].decode("ascii"): line.rstrip(b",") for line in body}
        except UnicodeDecodeError:
            unparsed = {}
        if len(unparsed) != len(body):  # (each line's framing is checked when it is read)
            raise Malformed(_("{path} is damaged").format(path=self.items_path))
        return LazyItems(unparsed, _cache_json, self._damaged_item)

    def _part(self, path: Path, raw: bytes | None, label: str, token: object) -> dict[str, Any]:
        """A part of the state cache kept apart from state.json (items.json,
        retrievals.json): it must carry its label and the very token state.json names."""
        if raw is None:
            raise Malformed(_("{path} is missing").format(path=path))
        doc = self._cache_doc(path, raw)
        if (
            not isinstance(doc, dict)
            or doc.get("label") != label
            or not isinstance(token, str)
            or doc.get("token") != token
        ):
            raise self._alien(path)
        return doc

    def _damaged_item(self) -> CacheDamaged:
        """An item line of items.json did not parse or check when it was first asked for,
        though the file had its digest: this cache is forgotten (state.json removed), so
        the next load rebuilds it from the verified mirror, and never uses it again."""
        _STATE_MEMO.pop(str(self.state_path), None)
        with contextlib.suppress(OSError):
            os.unlink(self.state_path)
        return CacheDamaged(
            _("an item in {path} is damaged").format(path=self.items_path),
            hint=_("run the command again: this machine's cache is rebuilt from the mirror"),
        )

    def _alien(self, path: Path) -> Malformed:
        """`path` is not the part of the state cache that state.json goes with."""
        return Malformed(
            _("{path} does not belong with {other}").format(path=path, other=self.state_path)
        )

    @staticmethod
    def _cache_doc(path: Path, raw: bytes) -> Any:
        """A file of the cache read (`_cache_json`); Malformed, so rebuilt, if it is not
        what this machine writes."""
        try:
            return _cache_json(raw)
        except _LoneSurrogate:
            raise Malformed(
                _("{path} is damaged (it holds a lone surrogate)").format(path=path)
            ) from None
        except (ValueError, RecursionError) as exc:
            raise Malformed(_("{path} is damaged; remove it to rebuild").format(path=path)) from exc

    def forget_state(
        self, *, items: Collection[str] | None = None, retrievals: bool = True
    ) -> None:
        """Drop this process's memo of the state cache: call it before changing a state
        that `load_state` handed out (applying an event). `items` names the items the change
        may touch (`state.items_touched`; empty for a member's event, which leaves them as
        they are), so the next save journals only those; None: any of them. `retrievals`:
        the change may touch the retrievals (False only for an owner's event, which never
        does: `state.apply_owner`), so the next save writes retrievals.json again."""
        memo = _STATE_MEMO.get(str(self.state_path))
        if memo is not None:
            memo.state_raw = None
            memo.seen_dirty = memo.seen_dirty or retrievals
            if items is None or memo.dirty is None:
                memo.dirty = None
            else:
                memo.dirty.update(items)

    def save_state(self, st: State) -> None:
        """Save the state. The items go first: the few an owner's events changed as one line
        appended to the journal, or (when it is not known which, or the journal would
        outgrow a quarter of items.json) all of them in a new items.json with a new token.
        Then the retrievals, once there are RETRIEVALS_APART of them: in a new
        retrievals.json with a new token, unless this state is the one last read or written
        and no member's event was applied to it since (fewer are kept in state.json). Then
        state.json, which names both tokens and the length of the journal it goes with: a
        crash in between leaves journal bytes it does not acknowledge (ignored, then cut)
        or files that do not match (rebuilt from the mirror, never mixed)."""
        fsutil.ensure_dir(self.local, self.disk)
        key = str(self.state_path)
        memo = _STATE_MEMO.pop(key, None)
        same = memo is not None and memo.st is st
        journal: bytes | None = None
        items_id = None
        if memo is not None and same and memo.dirty is not None:
            token, items_raw, journal = memo.token, memo.items_raw, memo.journal
            digest, items_id = memo.digest, memo.items_id
            if memo.dirty:
                journal = self._journal(memo, st)
        if journal is None:
            token = secrets.token_hex(16)
            items_raw = items_file(token, st["items"])
            digest = hashlib.sha256(items_raw).hexdigest()
            fsutil.atomic_write(self.items_path, items_raw, self.disk)
            items_id = _file_id(self.items_path)
            journal = b""
            if self.journal_path.exists():
                fsutil.truncate_to(self.journal_path, 0)
        seen_token: str | None
        seen_raw: bytes | None
        if memo is not None and same and not memo.seen_dirty:
            seen_token, seen_raw = memo.seen_token, memo.seen_raw
        elif sum(map(len, st["retrievals"].values())) < RETRIEVALS_APART:
            seen_token, seen_raw = None, None
        else:
            seen_token = secrets.token_hex(16)
            seen_raw = dumps(
                {"label": RETRIEVALS_LABEL, "token": seen_token, "retrievals": st["retrievals"]}
            )
            fsutil.atomic_write(self.retrievals_path, seen_raw, self.disk)
        apart = ("items", "retrievals") if seen_token is not None else ("items",)
        rest = {k: v for k, v in st.items() if k not in apart}
        raw = dumps(
            {
                "label": labels.MIRROR_STATE,
                "items": token,
                "digest": digest,
                "journal": len(journal),
                "journal_digest": hashlib.sha256(journal).hexdigest(),
                "retrievals": seen_token,
                "state": rest,
            }
        )
        fsutil.atomic_write(self.state_path, raw, self.disk)
        if os.environ.get("TAKUSU_CHECK_MEMO") == "1" and (journal or same):
            self._check_memo(st, raw, items_raw, journal, seen_raw)
        memo = _Memo(raw, items_raw, journal, token, seen_raw, seen_token, st, digest, items_id)
        remember(_STATE_MEMO, key, memo)

    def _journal(self, memo: _Memo, st: State) -> bytes | None:
        """Append the items changed since the last save as one journal line; returns the
        journal's bytes after it, or None when items.json should be written whole instead."""
        assert memo.dirty is not None
        items = st["items"]
        if not all(item_id in items for item_id in memo.dirty):
            return None
        line = dumps({"token": memo.token, "items": {i: items[i] for i in sorted(memo.dirty)}})
        at = len(memo.journal)
        if (at + len(line) + 1) * 4 > len(memo.items_raw):
            return None
        try:
            size = self.journal_path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < at:
            return None
        if size > at:
            try:
                os.truncate(self.journal_path, at)
            except OSError:
                return None
        # Not fsynced: state.json, fsynced next, names the journal's length and digest, and
        # whatever else a power cut leaves of it does not belong with it (_parse_state):
        # rebuilt from the mirror, never mixed. (It was one of an `add`'s five fsyncs.)
        fsutil.append_line(self.journal_path, line + b"\n", self.disk, sync=False)
        return memo.journal + line + b"\n"

    def quarantine(self, name: str, data: bytes) -> Path:
        """Keep bytes takusu will not use (a torn tail) for inspection; returns where."""
        fsutil.ensure_dir(self.quarantine_dir, self.disk)
        path = self.quarantine_dir / name
        fsutil.atomic_write(path, data, self.disk)
        return path

    def quarantine_once(self, name: str, data: bytes) -> Path:
        """Quarantine unless the same bytes are already kept under that name."""
        path = self.quarantine_dir / name
        try:
            if path.read_bytes() == data:
                return path
        except OSError:
            pass
        return self.quarantine(name, data)

    def quarantined(self) -> list[Path]:
        if not self.quarantine_dir.is_dir():
            return []
        return sorted(self.quarantine_dir.iterdir())
