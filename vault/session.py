"""One opened vault: what I can read in it, and the owner's item operations.

A Session is built on verified state only. For a member (secretary), every read of
a secret first appends a signed `retrieve` receipt to their own log, fsynced; if that
fails, nothing is revealed. Work that spans sessions and sharing (the expiry sweep)
runs from the layer above (sharing.upkeep), never from here.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import envelope, labels, scoped, totp
from .clock import Clock, is_expired, parse_time, shown_time, system_clock
from .codebook import CodeBook
from .codewindow import MARGIN_STEPS, Hours, next_opening, parse_zone, plan, within
from .crypto import local_key, sha256_hex
from .encoding import loads
from .errors import (
    AccessRevoked,
    Ambiguous,
    BadInput,
    GrantExpired,
    IntegrityError,
    KeptDiffers,
    NoCodeNow,
    NotFound,
    NotOwner,
    NotShared,
    PolicyRefused,
    TakusuError,
)
from .events import split_line
from .home import VaultEntry
from .i18n import _
from .identity import Card, Identity
from .index import TitleIndex, finder_header, finder_lines, finder_lookup, read_sealed, save_finder
from .item import (
    SECRET_FIELDS,
    Payload,
    field_value,
    field_words,
    receipt_problem,
    summary,
    validate,
)
from .memo import remember
from .scoped import OTP_FIELD
from .state import ITEM_EVENTS, Grant, Head, Item, Scope, State
from .store import Loaded, Store, Writer
from .store.store import Precheck


def _without(rows: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of `rows` without those of the changed items (a copy and a few deletions:
    a comprehension over 10,000 rows costs an `add` through the agent 0.7 ms)."""
    kept = dict(rows)
    for item_id in changes:
        kept.pop(item_id, None)
    return kept


class _Readable:
    """What one identity can read in one vault at one owner head: the summaries, and the
    titles by exact and by folded form (for `find`). Items, versions and grants come from
    the owner's log alone, so they are the same for as long as its head hash is; a
    member's view also ends at the first expiry among her grants (`until`)."""

    __slots__ = (
        "head", "sealed", "built", "until", "summaries", "titles", "exact", "fold_of", "folded",
        "twice", "folded_twice", "_order", "shown", "rows", "at",
    )  # fmt: skip

    def __init__(
        self,
        head: str,
        sealed: bytes | None,
        built: datetime,
        until: datetime,
        summaries: dict[str, dict[str, Any]],
    ) -> None:
        self.head, self.sealed, self.built, self.until = head, sealed, built, until
        self.summaries = summaries
        self.titles = {i: str(s["title"]) for i, s in summaries.items()}
        # title -> id, and folded title -> id, built by comprehension (10,000 titles); the
        # titles and folded forms more than one item has are set apart, and `find` walks
        # every title for them
        self.exact = {t: i for i, t in self.titles.items()}
        self.fold_of = {i: t.casefold() for i, t in self.titles.items()}
        self.folded = {f: i for i, f in self.fold_of.items()}
        self._order: list[str] | None = None
        self.shown: dict[tuple[Any, ...], str] = {}  # Session.shown
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}  # Session.shown's rows
        self.at = (-1, 0)  # the owner head's (seq, size) it was built at
        self.twice = _repeated(self.titles.values()) if len(self.exact) < len(summaries) else set()
        self.folded_twice = (
            _repeated(self.fold_of.values()) if len(self.folded) < len(summaries) else set()
        )

    def expires_at(self, stamp: str | None) -> None:
        """A member's grant ending at `stamp` ends this view then, at the latest."""
        if stamp:
            self.until = min(self.until, parse_time(stamp))

    def changed(
        self,
        head: str,
        sealed: bytes | None,
        built: datetime,
        changes: dict[str, dict[str, Any] | None],
    ) -> _Readable:
        """A copy for a later owner head at which only `changes` differ (an item's new
        summary, or None: no longer readable). The title maps are carried over and mended;
        a title more than one item has (rare) builds them afresh."""
        summaries = dict(self.summaries)
        for item_id, found in changes.items():
            if found is None:
                summaries.pop(item_id, None)
            else:
                summaries[item_id] = found
        old_titles = {self.titles[i] for i in changes if i in self.titles}
        old_folds = {self.fold_of[i] for i in changes if i in self.fold_of}
        if old_titles & self.twice or old_folds & self.folded_twice:
            return _Readable(head, sealed, built, self.until, summaries)
        fresh = object.__new__(_Readable)
        fresh.head, fresh.sealed, fresh.built, fresh.until = head, sealed, built, self.until
        fresh.summaries, fresh.at, fresh.shown, fresh._order = summaries, self.at, {}, None
        fresh.rows = {key: _without(rows, changes) for key, rows in self.rows.items()}
        titles, exact, fold_of, folded = (
            dict(self.titles),
            dict(self.exact),
            dict(self.fold_of),
            dict(self.folded),
        )
        twice, folded_twice = set(self.twice), set(self.folded_twice)
        for item_id in changes:  # out with the old titles (each one item's alone)...
            if item_id in titles:
                del exact[titles.pop(item_id)]
                del folded[fold_of.pop(item_id)]
        for item_id, found in changes.items():  # ...and in with the new
            if found is None:
                continue
            title = titles[item_id] = str(found["title"])
            fold = fold_of[item_id] = title.casefold()
            if title in exact:
                twice.add(title)
            else:
                exact[title] = item_id
            if fold in folded:
                folded_twice.add(fold)
            else:
                folded[fold] = item_id
        fresh.titles, fresh.exact, fresh.fold_of, fresh.folded = titles, exact, fold_of, folded
        fresh.twice, fresh.folded_twice = twice, folded_twice
        return fresh

    @property
    def order(self) -> list[str]:
        """The readable ids by folded title (as `list` shows them), sorted once."""
        if self._order is None:
            self._order = sorted(self.fold_of, key=self.fold_of.__getitem__)
        return self._order

    def one(self, title: str, folded: str) -> str | None:
        """The one item with exactly this title, else the one with this folded title; None
        when that is not one item's alone (then `find` walks the titles and says why)."""
        if title in self.exact:
            return None if title in self.twice else self.exact[title]
        if folded in self.folded and folded not in self.folded_twice:
            return self.folded[folded]
        return None

    def fits(self, head: str, sealed: bytes | None, now: datetime) -> bool:
        """Still true at `now`, for this owner head and these bytes of the title index
        (an index file damaged or replaced since is opened, and rebuilt, again)."""
        return (
            head == self.head
            and sealed is not None
            and sealed == self.sealed
            and self.built <= now < self.until
        )


def _repeated(values: Iterable[str]) -> set[str]:
    """The values that occur more than once."""
    seen: set[str] = set()
    twice: set[str] = set()
    for value in values:
        (twice if value in seen else seen).add(value)
    return twice


# By (this machine's mirror of the vault, identity): a long-lived process (the agent)
# finds a title among 10,000 items without walking them on every command. Read-only.
_READABLE: dict[tuple[str, str], _Readable] = {}
# The owner's vault key, by (vault, identity, the wrap it was opened from): the agent, which
# holds the identity that opens it anyway, does not open it again for every command (an
# HPKE decryption). TAKUSU_CHECK_MEMO=1 opens it anyway and refuses a kept key that differs.
_VAULT_KEYS: dict[tuple[str, str, str], bytes] = {}
# At most this many owner events since the memo are looked at one by one; more (an
# import, an offboarding) build it all again.
_ADVANCE_AT_MOST = 64
_NEVER = datetime.max.replace(tzinfo=UTC)


class Session:
    """A vault opened by this machine's identity."""

    def __init__(
        self,
        identity: Identity,
        store: Store,
        entry: VaultEntry,
        clock: Clock = system_clock,
    ) -> None:
        self.me = identity
        self.store = store
        self.entry = entry
        self.clock = clock
        self.loaded: Loaded = store.load()
        self.state: State = self.loaded.state
        self._vault_key: bytes | None = None
        self._payloads: dict[tuple[str, int], Payload] = {}
        self._writer: Writer | None = None

    def reload(self, loaded: Loaded | None = None) -> None:
        """Take the store's current verified state (or `loaded`, just returned by it)."""
        self.loaded = loaded if loaded is not None else self.store.load()
        self.state = self.loaded.state

    @property
    def vault_id(self) -> str:
        return self.store.vault_id

    @property
    def owner_id(self) -> str:
        return self.store.owner

    @property
    def is_owner(self) -> bool:
        return self.store.owner == self.me.id

    def member_name(self, member_id: str) -> str:
        """A member's name in this vault (removed ones too), or their id's first 8 digits."""
        member = self.state["members"].get(member_id)
        return member["name"] if member else member_id[:8]

    @property
    def owner_card(self) -> Card:
        return self.store.owner_card

    @property
    def warnings(self) -> list[str]:
        return [str(p) for p in self.loaded.problems]

    def require_owner(self) -> None:
        if not self.is_owner:
            raise NotOwner(
                _("only the vault's owner ({owner}) can do that").format(owner=self.owner_card.name)
            )

    def append(self, type_: str, body: dict[str, Any], precheck: Precheck | None = None) -> None:
        """Append one event to my log (inside `batch()`, add it to the batch's one write)."""
        if self._writer is not None:
            if precheck is not None:
                precheck(self.state)
            self._writer.add(type_, body)
            return
        self.reload(self.store.append(self.me, type_, body, precheck))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Every event appended inside goes out in one locked write with one fsync; if
        anything fails, nothing is written and the session reloads the verified state."""
        if self._writer is not None:
            yield
            return
        try:
            with self.store.writing(self.me) as writer:
                self._writer = writer
                self.reload(writer.loaded)
                yield
        except BaseException:
            self._writer = None
            self.reload()
            raise
        self._writer = None

    # --- keys and decryption ------------------------------------------------------------------

    def vault_key(self) -> bytes:
        self.require_owner()
        if self._vault_key is None:
            wrap = self.state["vault_key_wrap"]
            if wrap is None:
                raise IntegrityError(_("the vault has no key for its owner"))
            key = (self.vault_id, self.me.id, str(wrap))
            kept = _VAULT_KEYS.get(key)
            if kept is None or os.environ.get("TAKUSU_CHECK_MEMO") == "1":
                opened = envelope.open_vault_key(self.vault_id, self.me, wrap)
                if kept is not None and opened != kept:
                    raise KeptDiffers(_("a kept vault key differs from the one its wrap holds"))
                kept = opened
                remember(_VAULT_KEYS, key, kept)
            self._vault_key = kept
        return self._vault_key

    def material(self, item_id: str, put_ref: list[int] | None = None) -> dict[str, Any]:
        """The sealed fields of an item version (ciphertext, wraps) from the mirrored log."""
        owner = self.owner_id
        item = self.state["items"][item_id]
        put = self.store.event_at(owner, put_ref or item["put_ref"])
        if put.get("type") != "item.put" or put.get("item") != item_id:
            raise IntegrityError(_("the state cache points at the wrong event"), log=owner)
        return {k: put.get(k) for k in ("version", "ct", "owner_wrap", "key_commit", "aead")}

    def wrap_of(self, item_id: str, ref: list[int] | None) -> str:
        """My wrap of an item's data key, from the owner event the state points at (a
        `grant`, or an `item.put` that sealed the version for me too)."""
        owner = self.owner_id
        event = self.store.event_at(owner, ref)
        if event.get("item") != item_id:
            raise IntegrityError(_("the state cache points at the wrong event"), log=owner)
        if event.get("type") == "grant" and event.get("member") == self.me.id:
            wrap = event.get("wrap")
        elif event.get("type") == "item.put" and isinstance(event.get("wraps"), dict):
            wrap = event["wraps"].get(self.me.id)
        else:
            wrap = None
        if not isinstance(wrap, str):
            raise IntegrityError(_("the state cache points at the wrong event"), log=owner)
        return wrap

    def data_key(self, item_id: str, sealed: dict[str, Any] | None = None) -> bytes:
        item = self.state["items"][item_id]
        if self.is_owner:
            return envelope.owner_data_key(
                self.vault_id, item_id, sealed or self.material(item_id), self.vault_key()
            )
        grant = self.grant(item_id)
        if "scope" in grant:
            raise NotShared(_("only some fields of this item are shared with you"))
        wrap = self.wrap_of(item_id, grant["wrap_ref"])
        return envelope.grantee_data_key(
            self.vault_id, item_id, item["version"], wrap, item["key_commit"], self.me
        )

    def payload(self, item_id: str) -> Payload:
        """The current version's fields as I can read them (a scoped grantee: her view)."""
        item = self.state["items"][item_id]
        key = (item_id, item["version"])
        if key not in self._payloads:
            grant = None if self.is_owner else self.grant(item_id)
            if grant is not None and "scope" in grant:
                self._payloads[key] = self._view(item_id, grant)
            else:
                sealed = self.material(item_id)
                self._payloads[key] = envelope.open_item(
                    self.vault_id, item_id, sealed, self.data_key(item_id, sealed)
                )
        return self._payloads[key]

    def _view(self, item_id: str, grant: Grant) -> Payload:
        view = grant.get("view")
        if view is None:
            raise NotShared(_("the owner has not prepared your copy of this version yet"))
        body = self.store.event_at(self.owner_id, view["ref"])
        return scoped.open_view(self.vault_id, item_id, grant["version"], self.me, body)

    def scope(self, item_id: str) -> list[str] | None:
        """The fields of an item shared with me (None: all of them)."""
        if self.is_owner:
            return None
        grant = self.grant(item_id)
        return list(grant["scope"]["fields"]) if "scope" in grant else None

    def code_book(self, item_id: str) -> CodeBook | None:
        """The 2FA codes delivered to me for an item (None: it gives me no code windows)."""
        grant = self.grant(item_id)
        if "otp" not in grant.get("scope", {}):
            return None
        book: CodeBook | None = None
        for ref in grant.get("codes", []):
            body = self.store.event_at(self.owner_id, ref["ref"])
            part = scoped.open_codes(self.vault_id, item_id, self.me, body)
            book = part if book is None else book.merge(part)
        return book

    def grant(self, item_id: str) -> Grant:
        """My grant on the current version of an item; NotShared or GrantExpired if none."""
        item = self.state["items"][item_id]
        grant = item["grants"].get(self.me.id)
        if grant is None or grant["version"] != item["version"]:
            raise NotShared(_("this item is not shared with you"))
        if is_expired(grant["expires"], self.clock()):
            raise GrantExpired(
                _("your access to this item expired on {when}").format(when=grant["expires"]),
                hint=_("ask the vault's owner to share it again"),
            )
        return grant

    # --- finding items ------------------------------------------------------------------------

    def readable(self) -> list[str]:
        """Ids of the active items I can decrypt now (all for the owner, shared ones for others)."""
        items = self.state["items"]
        if self.is_owner:
            return [i for i, it in items.items() if not it["deleted"]]
        now, me = self.clock(), self.me.id
        return [i for i, it in items.items() if _member_reads(it, me, now)]

    def titles(self) -> dict[str, str]:
        """Title of every readable item, by id. Read-only."""
        return self._readable().titles

    @property
    def _index_path(self) -> Path:
        return self.store.mirror.local / "index.enc"

    def _local_key(self) -> tuple[bytes, bytes]:
        """The key of this identity's caches of this vault (index, finder), and their
        context (part of each file's AAD)."""
        secret = self.vault_key() if self.is_owner else self.me.signing.raw()
        context = f"{self.vault_id}\n{self.me.id}"
        return local_key(secret, context), context.encode()

    def title_index(self) -> TitleIndex:
        """This identity's encrypted index of this vault's summaries."""
        key, context = self._local_key()
        return TitleIndex(self._index_path, key, labels.INDEX_AAD + context)

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Title, username, url and tags of every readable item, from an encrypted local index
        that is refreshed only for item versions it has not seen (so 10,000 items do not
        mean 10,000 decryptions per command). Read-only: the summaries are the index's own."""
        return self._readable().summaries

    def in_order(self) -> list[str]:
        """The ids of `summaries`, by title as a person sorts them (case folded). Read-only."""
        return self._readable().order

    def shown(self, key: tuple[Any, ...], build: Callable[[dict[str, Any]], str]) -> str:
        """The text `build` makes of what is readable now (a listing), kept with it for as
        long as that holds: only the owner's events change it, and for a member her first
        expiry. `key` names whatever else the text depends on (form, language, time zone).
        `build` is given a dict to keep its rows in, by item id: it is carried to the next
        owner head without the items that changed there, so an `add` to 10,000 items
        builds one row again, not 10,000. TAKUSU_CHECK_MEMO=1 builds the text from
        nothing as well and refuses a kept text, or one made of kept rows, that differs."""
        readable = self._readable()
        text = readable.shown.get(key)
        if text is None:
            text = build(readable.rows.setdefault(key, {}) if len(readable.rows) < 8 else {})
            if len(readable.shown) < 8:
                readable.shown[key] = text
        if os.environ.get("TAKUSU_CHECK_MEMO") == "1" and build({}) != text:
            raise IntegrityError(_("a kept listing differs from the vault: {key}").format(key=key))
        return text

    def _readable(self) -> _Readable:
        head = self.state["heads"].get(self.owner_id)
        if head is None:
            found, sealed = self._summaries()
            return _Readable("", sealed, self.clock(), _NEVER, found)
        key = (str(self.store.mirror.local), self.me.id)
        now = self.clock()
        memo = _READABLE.get(key)
        sealed = read_sealed(self._index_path)
        if memo is not None and memo.fits(head["hash"], sealed, now):
            return memo
        moved = self._moved_items(memo, head, sealed, now) if memo is not None else None
        if memo is not None and moved is not None:
            fresh = self._advanced(memo, moved, head, now)
        else:
            found, sealed = self._summaries()
            fresh = _Readable(head["hash"], sealed, now, _NEVER, found)
            self._note_expiries(fresh, found)
        fresh.at = (head["seq"], head["size"])
        remember(_READABLE, key, fresh)
        return fresh

    def _moved_items(
        self, memo: _Readable, head: Head, sealed: bytes | None, now: datetime
    ) -> set[str] | None:
        """The items the owner's events since `memo` changed, when that is all that
        changed (a few events that each change one item); None: build it all again."""
        if sealed != memo.sealed or now < memo.built or now >= memo.until:
            return None
        return self.items_moved((memo.at[0], memo.at[1], memo.head))

    def items_moved(self, since: tuple[int, int, str]) -> set[str] | None:
        """The items the owner's events after the head `since` (seq, size, hash) changed,
        when that is all they changed: a few events (at most 64) that each change one item,
        read back from the mirror on that very hash chain up to the owner's head now.
        None: anything else (members, policies, more events, another chain): look at it
        all again."""
        head = self.state["heads"].get(self.owner_id)
        seq, size, chain = since
        if head is None or not 0 < head["seq"] - seq <= _ADVANCE_AT_MOST:
            return None
        if head["size"] <= size:
            # (a log that did not grow past the one `since` was taken at is not that log:
            # a vault made again at this place, as a long test run does)
            return None
        count = head["seq"] - seq
        blob = self.store.mirror.line_at(self.owner_id, size, head["size"] - size)
        lines = blob.split(b"\n")
        if len(blob) != head["size"] - size or len(lines) != count + 1 or lines[-1]:
            return None  # not in the mirror yet (a batch in progress): from the state
        moved: set[str] = set()
        for n, line in enumerate(lines[:-1]):
            try:
                payload, _sig = split_line(line, self.owner_id, seq + 1 + n)
                fields = loads(payload, "event payload")
            except TakusuError:
                return None
            if not isinstance(fields, dict) or fields.get("prev") != chain:
                return None
            chain = sha256_hex(payload)
            if fields.get("type") not in ITEM_EVENTS or not isinstance(fields.get("item"), str):
                return None  # members, policies: the rows name them, so all again
            moved.add(fields["item"])
        return moved if chain == head["hash"] else None

    def _advanced(self, memo: _Readable, moved: set[str], head: Head, now: datetime) -> _Readable:
        """`memo` carried to this owner head: only the moved items looked at again."""
        index = self.title_index()
        items, me, owner = self.state["items"], self.me.id, self.is_owner
        gone = [
            i
            for i in sorted(moved)
            if i not in items
            or (items[i]["deleted"] if owner else not _member_reads(items[i], me, now))
        ]
        kept = [i for i in sorted(moved) if i not in gone]
        was = memo.summaries.keys()  # how many are readable now, for the index's save rule
        readable = len(was) + sum(i not in was for i in kept) - sum(i in was for i in gone)
        changes: dict[str, dict[str, Any] | None] = dict.fromkeys(gone)
        changes.update(self._summaries_of(index, kept, readable))
        fresh = memo.changed(head["hash"], index.sealed, now, changes)
        self._note_expiries(fresh, kept)
        return fresh

    def _summaries(self) -> tuple[dict[str, dict[str, Any]], bytes | None]:
        """The summaries of what is readable now, and the sealed index they agree with."""
        index = self.title_index()
        readable = self.readable()
        return self._summaries_of(index, readable, len(readable)), index.sealed

    def _summaries_of(
        self, index: TitleIndex, ids: list[str], readable: int
    ) -> dict[str, dict[str, Any]]:
        """The summaries of these readable items, from the index or decrypted.

        The index is saved once enough versions it lacked were decrypted (16, or a
        sixteenth of the `readable` items): rewriting 1.3 MB for each item added to a
        10,000-item vault would cost more than decrypting the few new ones again."""
        items = self.state["items"]
        out = {}
        missing = 0
        for item_id in ids:
            version = items[item_id]["version"]
            cached = index.peek(item_id, version)
            if cached is None:
                cached = summary(self.payload(item_id))
                index.put(item_id, version, cached)
                missing += 1
            out[item_id] = cached
        if missing and (missing >= 16 or missing * 16 >= readable):
            index.save()
        return out

    def _note_expiries(self, readable: _Readable, ids: Iterable[str]) -> None:
        """A member's view of these items ends at the first of her grants' expiries."""
        if not self.is_owner:
            items, me = self.state["items"], self.me.id
            for item_id in ids:
                readable.expires_at(items[item_id]["grants"][me]["expires"])

    def find(self, query: str) -> str:
        """Item id for a title: exact, then case-insensitive, then unambiguous prefix (in
        Unicode's composed form, so カ+゛ finds ガ)."""
        query = unicodedata.normalize("NFC", query)
        folded = query.casefold()
        found, stale = self._from_finder(query, folded)
        if found is not None:
            return found
        readable = self._readable()
        if stale:
            self._save_finder(readable)
        titles = readable.titles
        found = readable.one(query, folded)
        if found is not None:  # the usual case, without a walk of every title
            return found
        matchers: tuple[Callable[[str], bool], ...] = (
            lambda t: t == query,
            lambda t: t.casefold() == folded,
            lambda t: t.casefold().startswith(folded),
        )
        for match in matchers:
            hits = sorted(i for i, t in titles.items() if match(t))
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                names = ", ".join(sorted(repr(titles[h]) for h in hits))
                raise Ambiguous(
                    _("{query!r} matches several items: {titles}").format(
                        query=query, titles=names
                    ),
                    hint=_("give the full title"),
                )
        self._explain_missing(query)
        raise NotFound(
            _("no item titled {title!r}").format(title=query)
            if self.is_owner
            else _("no item titled {title!r} is shared with you").format(title=query),
            hint=_did_you_mean(query, list(titles.values())),
        )

    @property
    def _finder_path(self) -> Path:
        return self.store.mirror.local / "finder.enc"

    def _from_finder(self, query: str, folded: str) -> tuple[str | None, bool]:
        """`query`'s item from the finder (finder.enc), in a process that has not built the
        title maps of this vault (a command started afresh), and whether the finder should
        be written again (missing, damaged, or of another owner head or time span).

        Its answer is checked against the state: an item it names that is not readable
        now is a question for the full build, as is anything it does not hold."""
        head = self.state["heads"].get(self.owner_id)
        if head is None or (str(self.store.mirror.local), self.me.id) in _READABLE:
            return None, False  # nothing to find, or the maps are in memory (the agent)
        key, context = self._local_key()
        header, plain = finder_header(
            read_sealed(self._finder_path), key, labels.FINDER_AAD + context
        )
        now = self.clock()
        if not _finder_fits(header, head["hash"], now):
            return None, True
        found = finder_lookup(plain, "E", query)
        if found is None:
            found = finder_lookup(plain, "F", folded)
        items = self.state["items"]
        if not found or found not in items:
            return None, False
        item = items[found]
        if item["deleted"] if self.is_owner else not _member_reads(item, self.me.id, now):
            return None, False
        if (
            os.environ.get("TAKUSU_CHECK_MEMO") == "1"
            and self._readable().one(query, folded) != found
        ):
            raise IntegrityError(
                _("the finder differs from the vault: {title!r}").format(title=query)
            )
        return found, False

    def _save_finder(self, readable: _Readable) -> None:
        """The finder for `readable` (just built), for the next command started afresh.
        A cache: a finder that cannot be written is not an error."""
        header = {
            "head": readable.head,
            "built": readable.built.isoformat(),
            "until": None if readable.until == _NEVER else readable.until.isoformat(),
        }
        exact = {t: ("" if t in readable.twice else i) for t, i in readable.exact.items()}
        folded = {f: ("" if f in readable.folded_twice else i) for f, i in readable.folded.items()}
        key, context = self._local_key()
        with contextlib.suppress(TakusuError, OSError):
            save_finder(
                self._finder_path,
                key,
                labels.FINDER_AAD + context,
                finder_lines(header, exact, folded),
            )

    def _explain_missing(self, query: str) -> None:
        """For a member: say 'revoked'/'expired'/'not shared' where they can know the item."""
        if self.is_owner:
            return
        items = self.state["items"]
        if query.lower() in items or (
            len(query) >= 8 and any(i.startswith(query.lower()) for i in items)
        ):
            raise NotShared(_("this item is not shared with you"))
        now = self.clock()
        for item_id, item in items.items():
            grant = item["grants"].get(self.me.id)
            if grant and grant["version"] == item["version"] and is_expired(grant["expires"], now):
                if self._title_matches(item_id, item["version"], grant["wrap_ref"], item, query):
                    raise GrantExpired(
                        _("your access to {title!r} expired on {when}").format(
                            title=query, when=shown_time(parse_time(grant["expires"] or ""))
                        ),
                        hint=_("ask the vault's owner to share it again"),
                    )
        for rev in reversed(self.state["revocations"]):
            old = rev.get("old")
            if rev["member"] != self.me.id or old is None:
                continue
            if self._title_matches(rev["item"], old["version"], old["wrap_ref"], old, query) or (
                self._view_title_matches(rev, query)
            ):
                if rev["reason"] == "expired":
                    said = _(
                        "your access to {title!r} was revoked on {when} by {owner} "
                        "(the share expired)"
                    )
                else:
                    said = _("your access to {title!r} was revoked on {when} by {owner}")
                raise AccessRevoked(
                    said.format(
                        title=query,
                        when=shown_time(parse_time(rev["at"])),
                        owner=self.owner_card.name,
                    ),
                    hint=_("ask the vault's owner if you still need it"),
                )

    def _title_matches(
        self, item_id: str, version: int, wrap_ref: list[int] | None, item: Any, query: str
    ) -> bool:
        try:
            wrap = self.wrap_of(item_id, wrap_ref)
            key = envelope.grantee_data_key(
                self.vault_id, item_id, version, wrap, item["key_commit"], self.me
            )
            sealed = self.material(item_id, item["put_ref"])
            title = envelope.open_item(self.vault_id, item_id, sealed, key)["title"]
        except Exception:  # noqa: BLE001 - an old version we cannot open simply does not match
            return False
        return bool(title.casefold().startswith(query.casefold()))

    def _view_title_matches(self, rev: Any, query: str) -> bool:
        view = rev.get("old_view")
        if view is None:
            return False
        try:
            body = self.store.event_at(self.owner_id, view["ref"])
            opened = scoped.open_view(
                self.vault_id, rev["item"], rev["old"]["version"], self.me, body
            )
        except Exception:  # noqa: BLE001 - a view we cannot open simply does not match
            return False
        return bool(opened["title"].casefold().startswith(query.casefold()))

    # --- reading secrets ----------------------------------------------------------------------

    def check_policy(self, reason: str | None) -> None:
        """The owner's policy for retrievals (a reason, working hours), before anything is
        decrypted. Enforced here, by my own client: audit verify reports any breach."""
        policy = self.state["policy"]
        if self.is_owner or policy is None:
            return
        if policy["require_reason"] and not reason:
            raise PolicyRefused(
                _("{owner} asks for a reason with every retrieval").format(
                    owner=self.owner_card.name
                ),
                hint=_('add --reason "what it is for"'),
            )
        if policy["hours"] is not None and policy["zone"] is not None:
            hours, zone = Hours.from_json(policy["hours"]), parse_zone(policy["zone"])
            now = self.clock()
            if not within(hours, zone, now):
                opens = next_opening(hours, zone, now)
                if opens:
                    said = _(
                        "{owner} allows retrievals only {hours} ({zone}); they open again at {when}"
                    )
                else:
                    said = _("{owner} allows retrievals only {hours} ({zone})")
                raise PolicyRefused(
                    said.format(
                        owner=self.owner_card.name,
                        hours=hours.describe(),
                        zone=policy["zone"],
                        when=shown_time(opens) if opens else "",
                    ),
                    hint=_("ask the vault's owner if this cannot wait"),
                )

    def _check_scope(self, item_id: str, fields: list[str]) -> None:
        shared = self.scope(item_id)
        if shared is None:
            return
        for name in fields:
            if name not in shared and name != "title":
                listed = ", ".join(field_words(f) for f in shared)
                if listed:
                    said = _("the {field} of this item was not shared with you (shared: {shared})")
                else:
                    said = _("the {field} of this item was not shared with you (shared: nothing)")
                raise NotShared(
                    said.format(field=field_words(name), shared=listed),
                    hint=_("ask the vault's owner if you need it"),
                )

    def reveal(self, item_id: str, fields: list[str], reason: str | None) -> dict[str, Any]:
        """Decrypt, then (for a member) write the receipt, then return the values asked for."""
        for _attempt in range(3):
            try:
                return self._reveal_once(item_id, fields, reason)
            except _NewVersion:
                # The owner rotated or edited it meanwhile and I still hold a grant: retry
                # with the version that stands now, so the receipt names what was released.
                self.reload()
                self.grant(item_id)
        raise AccessRevoked(
            _("the item kept changing while it was being retrieved; nothing was revealed"),
            hint=_("run the command again"),
        )

    def _reveal_once(self, item_id: str, fields: list[str], reason: str | None) -> dict[str, Any]:
        problem = receipt_problem(fields, reason)
        if problem is not None:  # checked before anything is decrypted
            raise BadInput(
                _("this retrieval cannot be recorded: {problem}").format(problem=problem)
            )
        self.check_policy(reason)
        self._check_scope(item_id, [f for f in fields if f != OTP_FIELD])
        payload = self.payload(item_id)
        values = {f: field_value(payload, f) for f in fields if f != OTP_FIELD}
        if not self.is_owner:
            version = self.state["items"][item_id]["version"]
            body: dict[str, Any] = {"item": item_id, "version": version, "fields": fields}
            if reason:
                body["reason"] = reason
            self.append("retrieve", body, _still_granted(item_id, self.me.id, version))
        return values

    def otp(
        self,
        item_id: str,
        reason: str | None,
        *,
        wait_below: int = 0,
        waiting: Callable[[int], None] = lambda seconds: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> totp.Code:
        """The current 2FA code (a receipt naming one code, not the seed, written first):
        from the delivered code windows of a scoped grant, else from the seed. With fewer
        than `wait_below` seconds left, it waits for the next code (told to `waiting`)."""
        book = None if self.is_owner else self.code_book(item_id)
        uri = None
        if book is None:
            if not self.is_owner:
                self._check_scope(item_id, ["totp"])
            uri = field_value(self.payload(item_id), "totp")  # NotFound before any receipt

        def code_at() -> totp.Code | None:
            if book is not None:
                return _book_code(book, self.clock())
            return totp.current(str(uri), self.clock().timestamp())

        first = code_at()
        if first is None:
            raise _no_code_now(book, self.clock())  # type: ignore[arg-type]
        if not self.is_owner:
            self.reveal(item_id, [OTP_FIELD], reason)
        code = code_at() or first
        if code.seconds_left < wait_below:
            waiting(code.seconds_left)
            sleep(code.seconds_left + 0.05)
            code = code_at() or code
        return code

    # --- owner's item operations --------------------------------------------------------------

    def grantees(
        self, item_id: str | None, exclude: set[str] | None = None
    ) -> list[tuple[Card, Grant]]:
        """Who a new version is sealed for: every grantee, but the excluded and the expired
        (an expired grantee never receives a new version, even before upkeep revokes)."""
        if item_id is None:
            return []
        members = self.state["members"]
        now = self.clock()
        return [
            (Card.from_envelope(members[m]["card"]), grant)
            for m, grant in self.state["items"][item_id]["grants"].items()
            if m not in (exclude or set()) and not is_expired(grant["expires"], now)
        ]

    def put(
        self,
        item_id: str | None,
        payload: Payload,
        *,
        rotated: bool | list[str] = False,
        exclude: set[str] | None = None,
    ) -> str:
        """Seal a new version (fresh data key) for the owner and every current grantee: the
        data key to full grantees, a fresh view (and 2FA codes) to scoped ones."""
        self.require_owner()
        payload = validate(payload)
        title = payload["title"]
        # a new title must be free; a re-key or an edit that keeps the title (revoke, rotate)
        # need not look at every title again (offboarding re-keys a thousand items)
        kept = item_id is not None and self.payload(item_id).get("title") == title
        clash = False
        if not kept:  # (asked only then: in a batch every event moves the owner's head)
            readable = self._readable()
            clash = title in readable.exact and (
                title in readable.twice or readable.exact[title] != item_id
            )
        if clash:
            raise BadInput(_("an item titled {title!r} already exists").format(title=title))
        new = item_id is None
        item_id = item_id or secrets.token_hex(16)
        version = 1 if new else self.state["items"][item_id]["version"] + 1
        grantees = self.grantees(None if new else item_id, exclude)
        full = [card for card, grant in grantees if "scope" not in grant]
        body, _key = envelope.seal_item(
            self.vault_id, item_id, version, payload, self.vault_key(), full
        )
        limited = [(card, grant) for card, grant in grantees if "scope" in grant]
        if limited:
            body["scoped"] = [card.id for card, _grant in limited]
        if rotated:
            body["rotated"] = rotated
        with self.batch():
            self.append("item.put", body)
            for card, grant in limited:
                self.seal_scoped(item_id, card, grant["scope"], payload, fresh_codes=True)
        return item_id

    def seal_scoped(
        self, item_id: str, card: Card, scope: Scope, payload: Payload, fresh_codes: bool
    ) -> None:
        """A scoped grantee's view of the current version, and (with `fresh_codes`, for a
        grant with code windows) her 2FA codes for the seed this version holds."""
        version = self.state["items"][item_id]["version"]
        self.append(
            "view",
            scoped.seal_view(self.vault_id, item_id, version, card, payload, scope["fields"]),
        )
        if fresh_codes and "otp" in scope and payload.get("totp"):
            self.deliver_codes(item_id, card, replace=True, payload=payload)

    def deliver_codes(
        self, item_id: str, card: Card, *, replace: bool, payload: Payload | None = None
    ) -> bool:
        """Compute and append the 2FA codes still owed to a code-window grantee (all from now
        when `replace`, else only the steps after those delivered). True if any were."""
        grant = self.state["items"][item_id]["grants"][card.id]
        otp = grant["scope"]["otp"]
        uri = (payload or self.payload(item_id)).get("totp")
        if not uri:
            return False
        now = self.clock()
        have = None if replace or "codes_until" not in grant else parse_time(grant["codes_until"])
        expires = parse_time(grant["expires"]) if grant["expires"] else None
        period = totp.parameters(uri)[0]
        span = plan(
            Hours.from_json(otp["hours"]),
            parse_zone(otp["zone"]),
            now,
            otp["days"],
            have,
            expires,
            period,
        )
        if span is None:
            return False
        for body in scoped.code_bodies(self.vault_id, item_id, card, uri, dict(otp), span, replace):
            self.append("codes", body)
        return True

    def add(self, payload: Payload) -> str:
        return self.put(None, payload)

    def edit(
        self, item_id: str, changes: dict[str, Any], fields: dict[str, str] | None = None
    ) -> None:
        """A new version with `changes` and the custom `fields` merged into the item's own;
        changing a secret of an exposed item records a rotation."""
        payload = dict(self.payload(item_id))
        if fields:
            changes = {**changes, "fields": {**self.payload(item_id)["fields"], **fields}}
        changed = [k for k in SECRET_FIELDS if k in changes and changes[k] != payload.get(k)]
        payload.update(changes)
        item = self.state["items"][item_id]
        exposed = bool(item["exposed"] or item.get("seed_exposed"))
        self.put(item_id, payload, rotated=changed if exposed else False)  # type: ignore[arg-type]

    def remove(self, item_id: str) -> None:
        self.require_owner()
        self.append("item.delete", {"item": item_id})


def _finder_fits(header: dict[str, Any], head: str, now: datetime) -> bool:
    """A finder built at this owner head, for a span that holds `now`."""
    try:
        built = datetime.fromisoformat(header["built"])
        until = _NEVER if header["until"] is None else datetime.fromisoformat(header["until"])
    except (KeyError, TypeError, ValueError):
        return False
    return header.get("head") == head and built.tzinfo is not None and built <= now < until


def _member_reads(item: Item, me: str, now: datetime) -> bool:
    """A member can read this item now: her grant is on its current version and has not
    expired (an expired one must not stop the others being listed), and a scoped grant's
    view is sealed already (before that there is nothing to read)."""
    grant = _current_grant(item, me) if not item["deleted"] else None
    return (
        grant is not None
        and not is_expired(grant["expires"], now)
        and ("scope" not in grant or "view" in grant)
    )


def _current_grant(item: Item, member_id: str) -> Grant | None:
    grant = item["grants"].get(member_id)
    return grant if grant is not None and grant["version"] == item["version"] else None


def _still_granted(item_id: str, me: str, version: int) -> Precheck:
    """A receipt's last check under the lock: the owner may have revoked or rotated since the
    session opened, so release only what the grant as it stands now covers."""

    def check(current: State) -> None:
        item = current["items"].get(item_id)
        grant = item["grants"].get(me) if item else None
        if item and grant and grant["version"] == item["version"] != version:
            raise _NewVersion()
        if not item or item["version"] != version or not grant or grant["version"] != version:
            raise AccessRevoked(
                _(
                    "your access to this item changed while it was being retrieved "
                    "(revoked or rotated); nothing was revealed"
                ),
                hint=_("run the command again"),
            )

    return check


class _NewVersion(Exception):
    """Raised under the lock when the item moved to a new version I can also read."""


def _book_code(book: CodeBook, now: datetime) -> totp.Code | None:
    found = book.code_at(now)
    return None if found is None else totp.Code(found[0], found[1], book.period)


def _no_code_now(book: CodeBook, now: datetime) -> NoCodeNow:
    """Why there is no code now: when the next window opens, and when the codes run out."""
    opens, horizon = book.next_window(now), book.horizon()
    if opens is not None:  # its first code is the step of margin before the window opens
        opens += timedelta(seconds=book.period * MARGIN_STEPS)
    hint = _("the vault's owner delivers more when they next run takusu; ask them")
    if opens is None and horizon:
        return NoCodeNow(
            _("no 2FA codes are left for this item (they ran out at {when})").format(
                when=shown_time(horizon)
            ),
            hint=hint,
        )
    if opens is None:
        return NoCodeNow(_("no 2FA codes are left for this item"), hint=hint)
    if horizon:
        return NoCodeNow(
            _(
                "no 2FA code now: the next window opens at {opens}; your codes run until {until}"
            ).format(opens=shown_time(opens), until=shown_time(horizon))
        )
    return NoCodeNow(
        _("no 2FA code now: the next window opens at {opens}").format(opens=shown_time(opens))
    )


def _did_you_mean(query: str, titles: list[str]) -> str:
    """A hint naming the titles closest to a mistyped one, and `takusu list`."""
    folded = {t.casefold(): t for t in titles}
    close = difflib.get_close_matches(query.casefold(), list(folded), n=3, cutoff=0.6)
    if not close:
        return _("'takusu list' shows the items you can read")
    names = _(" or ").join(repr(folded[c]) for c in close)
    return _("did you mean {titles}? ('takusu list' shows the items you can read)").format(
        titles=names
    )
