"""The fold of verified events into the vault's current state. Pure: no I/O, no crypto.

State is a plain JSON-able dict (typed below) so the store can cache it beside the mirror
and apply only new events next time. Only the owner's events change state; anything else
a member's log carries besides receipts is kept aside as `rejected` for `audit verify`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

from . import i18n
from .clock import is_stamp
from .codewindow import MAX_DAYS, Hours
from .errors import CacheDamaged, IntegrityError, Malformed
from .events import MEMBER_TYPES, OWNER_TYPES, Event
from .i18n import N_, _
from .identity import Card
from .item import receipt_problem
from .text import unsafe


class Head(TypedDict):
    """How far this machine accepted a log: last seq and hash, bytes, last line's length."""

    seq: int
    hash: str
    size: int
    last: int


class Witness(TypedDict):
    """The furthest point of a log that someone else's signed event has seen."""

    seq: int
    hash: str | None
    by: str


class Member(TypedDict):
    name: str
    card: dict[str, Any]
    added: str
    removed: bool
    removed_at: str | None


class OtpScope(TypedDict):
    """2FA code windows: the hours (codewindow.Hours JSON), their zone, days ahead."""

    hours: Any
    zone: str
    days: int


class Scope(TypedDict):
    """What a scoped grant covers: some fields (a view), perhaps 2FA code windows."""

    fields: list[str]
    otp: NotRequired[OtpScope]


class ViewRef(TypedDict):
    ref: list[int] | None  # the `view` event in the mirror
    key_commit: str


class CodesRef(TypedDict):
    ref: list[int] | None  # a `codes` event in the mirror
    id: str
    until: str


class Grant(TypedDict):
    """One member's access to an item: where the wrap of the current version's data key is
    (a full grant), or a scope and the view sealed for this member (a scoped grant)."""

    version: int
    # The owner event that carries this member's wrap (a `grant`'s "wrap", or an
    # `item.put`'s "wraps"), as [offset, length] in the mirrored owner log: the wraps stay
    # in the log, so the state (saved on every write) does not grow by ~3 KB per grant.
    # None for a scoped grant: the member never receives the data key.
    wrap_ref: list[int] | None
    expires: str | None
    granted: str
    grant_seq: int
    scope: NotRequired[Scope]
    view: NotRequired[ViewRef]  # the scoped grant's view of the current version
    codes: NotRequired[list[CodesRef]]  # 2FA codes delivered for the current seed
    codes_from: NotRequired[str]  # when the latest codes were delivered (the horizon start)
    codes_until: NotRequired[str]  # when the last delivered code expires
    request: NotRequired[str]  # the access request this grant answered


class Item(TypedDict):
    """An item's current version, by reference to its `item.put` line in the mirror."""

    created: str
    grants: dict[str, Grant]
    exposed: dict[str, str]  # member id -> since when they could read it
    deleted: bool
    version: int
    key_commit: str
    put_ref: list[int] | None  # [offset, length] of the item.put line in the mirror
    updated: str
    put_seq: int
    rotated: NotRequired[str]
    seed_exposed: NotRequired[dict[str, str]]  # member id -> since they could see the 2FA seed
    held_full: NotRequired[dict[str, str]]  # member id -> when they first held a full grant


class OldVersion(TypedDict):
    """What a revoked member could open before the re-key (so their CLI can say why)."""

    version: int
    wrap_ref: list[int] | None  # as in Grant
    put_ref: list[int] | None
    key_commit: str


class Revocation(TypedDict):
    item: str
    member: str
    reason: str
    at: str
    seq: int
    old: NotRequired[OldVersion]
    codes_until: NotRequired[str]  # delivered 2FA codes stay valid until then
    scope: NotRequired[Scope]
    old_view: NotRequired[ViewRef]  # a scoped member's view of the revoked version


class Policy(TypedDict):
    """What the owner asks of retrievals (enforced by members' own clients; audited)."""

    require_reason: bool
    hours: Any  # codewindow.Hours JSON, or None
    zone: str | None
    seq: int
    at: str


class Answer(TypedDict):
    """The owner's answer to one access request."""

    status: str  # "approved" or "denied"
    seq: int
    at: str
    ref: list[int] | None  # the answering event in the mirror (a denial's sealed reason)
    item: NotRequired[str]


class RequestRecord(TypedDict):
    """An access request a member signed (its text is sealed: see envelope.seal_for)."""

    at: str
    seq: int
    ref: list[int] | None
    duration: int | None  # --for, in seconds


class Retrieval(TypedDict):
    """Every field one member ever retrieved of one item, with the first and latest time."""

    first: str
    last: str
    fields: list[str]  # the union, sorted
    version: int  # of the latest retrieval
    seq: int  # of the latest receipt in the member's log
    count: int


class Rejected(TypedDict):
    log: str
    seq: int
    type: str
    at: str


class Rollback(TypedDict):
    at: str
    seq: int
    detail: Any


class State(TypedDict):
    vault: str | None
    name: str | None
    owner: str | None
    owner_card: dict[str, Any] | None
    vault_key_wrap: str | None
    created: str | None
    members: dict[str, Member]
    items: dict[str, Item]
    revocations: list[Revocation]
    retrievals: dict[str, dict[str, Retrieval]]  # member id -> item id -> what they saw
    receipt_count: int
    rejected: list[Rejected]
    heads: dict[str, Head]
    rollbacks: list[Rollback]
    witness: dict[str, Witness]
    policy: Policy | None
    policies: list[Policy]  # every policy ever set, oldest first (for audit verify)
    requests: dict[str, dict[str, RequestRecord]]  # member id -> request id -> request
    answers: dict[str, dict[str, Answer]]  # member id -> request id -> the owner's answer


def empty() -> State:
    return {
        "vault": None,
        "name": None,
        "owner": None,
        "owner_card": None,
        "vault_key_wrap": None,
        "created": None,
        "members": {},
        "items": {},
        "revocations": [],
        "retrievals": {},
        "receipt_count": 0,
        "rejected": [],
        "heads": {},
        "rollbacks": [],
        "witness": {},
        "policy": None,
        "policies": [],
        "requests": {},
        "answers": {},
    }


# --- the cached copy --------------------------------------------------------------------------


def _need(ok: bool) -> None:
    if not ok:
        raise Malformed(_("the state cache has an unexpected shape"))


_REF_END = 2**40


def _is_ref(ref: Any) -> bool:
    if ref is None:
        return True
    if type(ref) is not list or len(ref) != 2:
        return False
    offset, length = ref
    return (
        type(offset) is int
        and type(length) is int
        and 0 <= offset < _REF_END
        and 0 <= length < _REF_END
    )


def _check_item(item: Any) -> None:
    # written out without generators: a cold start checks 10,000 of these (JSON gives
    # exact dicts and lists, so `type(x) is` is enough)
    _need(
        type(item) is dict
        and type(item.get("version")) is int
        and type(item.get("grants")) is dict
        and type(item.get("exposed")) is dict
        and type(item.get("deleted")) is bool
        and type(item.get("key_commit")) is str
        and _is_ref(item.get("put_ref"))
    )
    for grant in item["grants"].values():
        _need(
            type(grant) is dict
            and type(grant.get("version")) is int
            and _is_ref(grant.get("wrap_ref"))
            and (grant.get("expires") is None or type(grant["expires"]) is str)
        )


class LazyItems(dict[str, Item]):
    """A state's items as read from the state cache, each parsed (and its shape checked)
    when it is first asked for: a command that needs one item of 10,000 does not parse
    10,000. Every id is a key from the start, with the bytes of its line standing in for
    the item until then, so `len`, `in` and the ids are the dict's own; what hands out
    items (`[]`, `get`, `values`, `items`, `pop`, comparing, copying) parses them first
    (`values` and `items` all at once). Code that reached past these methods to the
    dict's own storage would meet bytes, which no item is, and fail loudly.

    Only the mirror makes one, from the lines of an items.json whose SHA-256 state.json
    names (bytes this machine wrote): `lines` maps each item id to its line,
    `"<item id>":<item>`; `decode` reads JSON bytes as the mirror reads its cache, and
    `damaged` is the error for a line that still does not parse or check."""

    __slots__ = ("_left", "_decode", "_damaged")

    def __init__(
        self,
        lines: dict[str, bytes],
        decode: Callable[[bytes], Any],
        damaged: Callable[[], CacheDamaged],
    ) -> None:
        _init(self, lines)
        self._left = len(lines)  # how many still stand as bytes
        self._decode = decode  # JSON bytes -> value; ValueError for what we never write
        self._damaged = damaged  # the error for a line that does not parse or check

    def _parse(self, item_id: str, line: bytes) -> Item:
        end = len(item_id) + 1
        try:
            if line[:1] != b'"' or line[end : end + 2] != b'":':
                raise ValueError("not the line of an item")
            item = self._decode(line[end + 2 :])
            _check_item(item)
        except (ValueError, RecursionError, Malformed):
            raise self._damaged() from None
        dict.__setitem__(self, item_id, item)
        self._left -= 1
        return item  # type: ignore[no-any-return]

    def _all(self) -> None:
        if not self._left:
            return
        lines = {k: v for k, v in _items(self) if type(v) is bytes}
        try:
            parsed = self._decode(b"{" + b",".join(lines.values()) + b"}")
            if type(parsed) is not dict or parsed.keys() != lines.keys():
                raise ValueError("not the items of these lines")
            for item in parsed.values():
                _check_item(item)
        except (ValueError, RecursionError, Malformed):
            raise self._damaged() from None
        dict.update(self, parsed)
        self._left = 0

    def parsed(self) -> list[Item]:
        """The items parsed so far (for check_shape: the others are checked when parsed)."""
        return [v for v in _values(self) if type(v) is not bytes]

    def __getitem__(self, item_id: str) -> Item:
        value = _getitem(self, item_id)
        return self._parse(item_id, value) if type(value) is bytes else value

    def get(self, item_id: str, default: Any = None) -> Any:
        value = _get(self, item_id, _ABSENT)
        if value is _ABSENT:
            return default
        return self._parse(item_id, value) if type(value) is bytes else value

    def __setitem__(self, item_id: str, item: Item) -> None:
        if type(_get(self, item_id)) is bytes:
            self._left -= 1
        dict.__setitem__(self, item_id, item)

    def __delitem__(self, item_id: str) -> None:
        if type(_get(self, item_id)) is bytes:
            self._left -= 1
        dict.__delitem__(self, item_id)

    def __iter__(self) -> Any:
        # the ids, unparsed; defined so that dict(x), {**x} and update(x) copy through
        # keys() and [] (which parse) instead of the storage
        return dict.__iter__(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for item_id, item in dict(*args, **kwargs).items():
            self[item_id] = item

    def setdefault(self, item_id: str, default: Any = None) -> Any:
        if item_id in self:
            return self[item_id]
        self[item_id] = default
        return default

    def pop(self, item_id: str, *default: Any) -> Any:
        if item_id in self:
            value = self[item_id]
            dict.__delitem__(self, item_id)
            return value
        return dict.pop(self, item_id, *default)

    def popitem(self) -> tuple[str, Item]:
        self._all()
        return dict.popitem(self)

    def values(self) -> Any:
        self._all()
        return dict.values(self)

    def items(self) -> Any:
        self._all()
        return dict.items(self)

    def __eq__(self, other: object) -> bool:
        self._all()
        if isinstance(other, LazyItems):
            other._all()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def copy(self) -> dict[str, Item]:
        self._all()
        return dict(dict.items(self))

    def clear(self) -> None:
        dict.clear(self)
        self._left = 0

    @classmethod
    def fromkeys(cls, keys: Any, value: Any = None) -> Any:
        return dict.fromkeys(keys, value)

    def __or__(self, other: Any) -> Any:
        self._all()
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        self._all()
        return dict.__ror__(self, other)

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self

    def __repr__(self) -> str:
        self._all()
        return dict.__repr__(self)

    def __reduce__(self) -> Any:
        self._all()
        return (dict, (dict(dict.items(self)),))


_ABSENT = object()
# the dict's own methods, for LazyItems, whose storage holds bytes until an item is parsed
_init: Callable[..., None] = dict.__init__
_get: Callable[..., Any] = dict.get
_getitem: Callable[..., Any] = dict.__getitem__
_items: Callable[..., Any] = dict.items
_values: Callable[..., Any] = dict.values


def check_shape(st: Any) -> State:
    """Malformed unless `st` has the shape this module builds (the cached copy is derived
    data: a damaged one is rebuilt from the verified mirror, never trusted)."""
    _need(isinstance(st, dict) and not set(empty()) - set(st))
    for key in ("members", "items", "heads", "witness", "retrievals", "requests", "answers"):
        _need(isinstance(st[key], dict))
    for key in ("revocations", "rejected", "rollbacks", "policies"):
        _need(isinstance(st[key], list))
    for head in st["heads"].values():
        _need(
            isinstance(head, dict)
            and all(type(head.get(k)) is int for k in ("seq", "size", "last"))
        )
        _need(isinstance(head.get("hash"), str) and 0 <= head["last"] <= head["size"] < 2**40)
    for member in st["members"].values():
        _need(
            isinstance(member, dict)
            and isinstance(member.get("name"), str)
            and isinstance(member.get("card"), dict)
            and type(member.get("removed")) is bool
        )
    items = st["items"]
    for item in items.parsed() if isinstance(items, LazyItems) else items.values():
        _check_item(item)
    for per_item in st["retrievals"].values():
        _need(isinstance(per_item, dict))
        for seen in per_item.values():
            _need(
                isinstance(seen, dict)
                and isinstance(seen.get("first"), str)
                and isinstance(seen.get("last"), str)
                and isinstance(seen.get("fields"), list)
                and all(isinstance(f, str) for f in seen["fields"])
                and type(seen.get("count")) is int
            )
    for seen in st["witness"].values():
        _need(
            isinstance(seen, dict)
            and type(seen.get("seq")) is int
            and isinstance(seen.get("by"), str)
            and isinstance(seen.get("hash"), str | None)
        )
    for rev in st["revocations"]:
        _need(
            isinstance(rev, dict)
            and all(isinstance(rev.get(k), str) for k in ("item", "member", "at", "reason"))
        )
    checked: State = st
    return checked


# --- rules shared by the owner's events -------------------------------------------------------


_REQUEST_ID = re.compile(r"[0-9a-f]{16}")
BAD_TIME = N_("its time is not in the format takusu writes")


def _fail(event: Event, why: str) -> IntegrityError:
    """`why` is already in the reader's language; the place (log, seq) is the error's."""
    return IntegrityError(
        _("owner event '{type}' is invalid: {why}").format(type=event.type, why=why),
        log=event.actor,
        seq=event.seq,
    )


def _need_fields(event: Event, *names: str) -> list[Any]:
    missing = [n for n in names if n not in event.fields]
    if missing:
        raise _fail(event, _("missing {names}").format(names=", ".join(missing)))
    return [event.fields[n] for n in names]


def _item(state: State, event: Event, item_id: Any) -> Item:
    item = state["items"].get(item_id) if isinstance(item_id, str) else None
    if item is None or item["deleted"]:
        raise _fail(event, _("unknown or deleted item"))
    return item


def _member_id(event: Event, value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) != 32
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise _fail(event, _("member id is not 32 hex digits"))
    return value


def _is_name(value: Any) -> bool:
    """A member's name as the owner's takusu writes it: 1-40 characters, none unsafe."""
    return isinstance(value, str) and 0 < len(value) <= 40 and not any(unsafe(c) for c in value)


def _active_member(state: State, event: Event, member_id: Any) -> Member:
    member = state["members"].get(member_id) if isinstance(member_id, str) else None
    if member is None or member["removed"]:
        raise _fail(event, _("unknown or removed member"))
    return member


def _witness(state: State, event: Event, log: str | None, head: Any) -> None:
    """Remember the furthest point of `log` that someone else's signed event has seen."""
    if log is None or not isinstance(head, dict) or type(head.get("seq")) is not int:
        return
    known = state["witness"].get(log)
    if known is None or head["seq"] > known["seq"]:
        state["witness"][log] = {"seq": head["seq"], "hash": head.get("hash"), "by": event.actor}


# --- one function per owner event type --------------------------------------------------------


def _vault_create(state: State, event: Event) -> None:
    name, card, wrap = _need_fields(event, "name", "owner_card", "vault_key_wrap")
    state["vault"] = event.fields["vault"]
    state["name"] = name
    state["owner"] = event.actor
    state["owner_card"] = card
    state["vault_key_wrap"] = wrap
    state["created"] = event.at


def _member_add(state: State, event: Event) -> None:
    member_id, name, card = _need_fields(event, "member", "name", "card")
    member_id = _member_id(event, member_id)
    if not _is_name(name) or not isinstance(card, dict):
        raise _fail(event, _("malformed {what}").format(what="member.add"))
    try:
        # Pure computation (no I/O): the id must be the card's own fingerprint, so a
        # member's log is always verified with the key that names it.
        card_id = Card.from_envelope(card).id
    except IntegrityError:
        raise _fail(event, _("member card does not verify")) from None
    if card_id != member_id:
        raise _fail(event, _("member id is not the card's fingerprint"))
    existing = state["members"].get(member_id)
    if member_id == state["owner"] or (existing and not existing["removed"]):
        raise _fail(event, _("member already present"))
    if any(m["name"] == name and not m["removed"] for m in state["members"].values()):
        raise _fail(event, _("member name already in use"))
    state["members"][member_id] = {
        "name": name,
        "card": card,
        "added": event.at,
        "removed": False,
        "removed_at": None,
    }


def _member_remove(state: State, event: Event) -> None:
    (member_id,) = _need_fields(event, "member")
    member = _active_member(state, event, _member_id(event, member_id))
    if any(member_id in item["grants"] for item in state["items"].values()):
        raise _fail(event, _("member still holds grants"))
    member["removed"] = True
    member["removed_at"] = event.at


def _item_put(state: State, event: Event) -> None:
    item_id, version, _ct, commit, _owner_wrap, wraps = _need_fields(
        event, "item", "version", "ct", "key_commit", "owner_wrap", "wraps"
    )
    scoped = event.fields.get("scoped", [])
    if not isinstance(item_id, str) or not isinstance(wraps, dict) or type(version) is not int:
        raise _fail(event, _("malformed {what}").format(what="item.put"))
    if not isinstance(commit, str) or not all(isinstance(w, str) for w in wraps.values()):
        raise _fail(event, _("malformed {what}").format(what="item.put"))
    if not isinstance(scoped, list) or set(scoped) & set(wraps):
        raise _fail(event, _("malformed {what}").format(what="item.put"))
    _member_id(event, item_id)  # item ids have the same 32-hex shape
    item = state["items"].get(item_id)
    expected = 1 if item is None else item["version"] + 1
    if version != expected or (item is not None and item["deleted"]):
        raise _fail(
            event,
            _("version {version} is not the next version {expected}").format(
                version=version, expected=expected
            ),
        )
    for member_id in [*wraps, *scoped]:
        _active_member(state, event, member_id)
    old_grants = item["grants"] if item is not None else {}
    grants: dict[str, Grant] = {}
    for member_id in wraps:
        old = old_grants.get(member_id)
        grants[member_id] = {
            "version": version,
            "wrap_ref": event.ref,
            "expires": old["expires"] if old else None,
            "granted": old["granted"] if old else event.at,
            "grant_seq": old["grant_seq"] if old else event.seq,
        }
    for member_id in scoped:
        old = old_grants.get(member_id)
        if old is None or "scope" not in old:
            raise _fail(event, _("a scoped grantee of item.put holds no scoped grant"))
        kept: Grant = {**old, "version": version}
        kept.pop("view", None)  # sealed again for this version by the `view` event next
        grants[member_id] = kept
    new: Item = {
        "created": item["created"] if item is not None else event.at,
        "grants": grants,
        "exposed": item["exposed"] if item is not None else {},
        "deleted": False,
        "version": version,
        "key_commit": commit,
        # The ciphertext and owner wrap stay in the mirrored log line (put_ref): the state,
        # and so every command's start-up, does not grow with the size of the secrets.
        "put_ref": event.ref,
        "updated": event.at,
        "put_seq": event.seq,
    }
    for key in ("rotated", "seed_exposed", "held_full"):
        if item is not None and key in item:
            new[key] = item[key]
    _rotate(new, event)
    for member_id in wraps:
        new.setdefault("held_full", {}).setdefault(member_id, event.at)
    state["items"][item_id] = new


def _rotate(item: Item, event: Event) -> None:
    """`rotated` records a new secret: true (or a list holding "password") clears the
    exposed marks; a list holding "totp" (or true) clears the 2FA-seed marks."""
    rotated = event.fields.get("rotated")
    if not rotated:
        return
    if not (
        rotated is True or (isinstance(rotated, list) and all(isinstance(r, str) for r in rotated))
    ):
        raise _fail(event, _("malformed {what}").format(what="rotated"))
    if rotated is True or "password" in rotated:
        item["exposed"] = {}
        item["rotated"] = event.at
    if rotated is True or "totp" in rotated:
        item["seed_exposed"] = {}


def _expose(item: Item, member_id: str, grant: Grant | None, at: str) -> None:
    """The member could read this item (and its 2FA seed, if they held it whole or their
    scope named it): it stays exposed to them until rotated."""
    scope = grant.get("scope") if grant else None
    scope_fields = scope["fields"] if scope else []
    # a view of only the username, URL, notes, title or tags exposes no secret to rotate
    harmless = {"title", "username", "url", "notes", "tags"}
    if scope is None or set(scope_fields) - harmless:
        item["exposed"][member_id] = at
    if member_id in item.get("held_full", {}) or "totp" in scope_fields:
        item.setdefault("seed_exposed", {})[member_id] = at


def _item_delete(state: State, event: Event) -> None:
    (item_id,) = _need_fields(event, "item")
    item = _item(state, event, item_id)
    for member_id, grant in item["grants"].items():  # they could read it: still exposed
        _expose(item, member_id, grant, event.at)
    item["deleted"] = True
    item["updated"] = event.at
    item["grants"] = {}


def _scope(event: Event, value: Any) -> Scope:
    """A grant's scope, checked: field names as receipts name them, optional code windows."""
    if not isinstance(value, dict) or set(value) - {"fields", "otp"}:
        raise _fail(event, _("malformed {what}").format(what="scope"))
    fields = value.get("fields")
    # the fields a receipt could name (none at all is fine for code windows alone)
    if not isinstance(fields, list) or (fields and receipt_problem(fields, None) is not None):
        raise _fail(event, _("malformed scope fields"))
    if not fields and value.get("otp") is None:
        raise _fail(event, _("a scope shares nothing"))
    scope: Scope = {"fields": list(fields)}
    otp = value.get("otp")
    if otp is not None:
        if "totp" in fields or not isinstance(otp, dict) or set(otp) != {"hours", "zone", "days"}:
            raise _fail(event, _("malformed 2FA code windows"))
        try:
            Hours.from_json(otp["hours"])
        except Malformed:
            raise _fail(event, _("malformed 2FA code hours")) from None
        zone, days = otp["zone"], otp["days"]
        if not isinstance(zone, str) or not 0 < len(zone) <= 64:
            raise _fail(event, _("malformed 2FA code zone"))
        if type(days) is not int or not 1 <= days <= MAX_DAYS:
            raise _fail(event, _("malformed 2FA code days"))
        scope["otp"] = {"hours": otp["hours"], "zone": zone, "days": days}
    return scope


def _grant(state: State, event: Event) -> None:
    item_id, version, member_id = _need_fields(event, "item", "version", "member")
    member_id = _member_id(event, member_id)
    item = _item(state, event, item_id)
    _active_member(state, event, member_id)
    if version != item["version"]:
        raise _fail(event, _("grant is not for the current version"))
    expires, wrap = event.fields.get("expires"), event.fields.get("wrap")
    raw_scope = event.fields.get("scope")
    if not (expires is None or is_stamp(expires)) or (raw_scope is None) != isinstance(wrap, str):
        # a full grant has a wrap, a scoped one none
        raise _fail(event, _("malformed {what}").format(what="grant"))
    grant: Grant = {
        "version": version,
        "wrap_ref": event.ref if isinstance(wrap, str) else None,
        "expires": expires,
        "granted": event.at,
        "grant_seq": event.seq,
    }
    old = item["grants"].get(member_id)
    if raw_scope is not None:
        grant["scope"] = _scope(event, raw_scope)
    # every check (the request's too) before the item changes: a refused event leaves
    # nothing of itself behind (the state cache saves what a rebuild would have)
    request = event.fields.get("request")
    if request is not None:
        _answer(state, event, member_id, request, "approved", item_id)
        grant["request"] = request
    if raw_scope is not None:
        if old is not None and "scope" not in old:  # she held it whole: it stays exposed
            _expose(item, member_id, old, event.at)
    else:
        item.setdefault("held_full", {}).setdefault(member_id, event.at)
    item["grants"][member_id] = grant


def _answer(
    state: State, event: Event, member_id: str, request: Any, status: str, item: str | None
) -> None:
    if not isinstance(request, str) or not _REQUEST_ID.fullmatch(request):
        raise _fail(event, _("malformed request id"))
    answers = state["answers"].setdefault(member_id, {})
    if request in answers:
        if answers[request]["status"] == "approved":
            raise _fail(event, _("request {request} was already approved").format(request=request))
        raise _fail(event, _("request {request} was already denied").format(request=request))
    answer: Answer = {"status": status, "seq": event.seq, "at": event.at, "ref": event.ref}
    if item is not None:
        answer["item"] = item
    answers[request] = answer


def _revoke(state: State, event: Event) -> None:
    item_id, member_id, reason = _need_fields(event, "item", "member", "reason")
    member_id = _member_id(event, member_id)
    if not isinstance(reason, str):
        raise _fail(event, _("malformed {what}").format(what="revoke"))
    item = _item(state, event, item_id)
    if member_id not in item["grants"]:
        raise _fail(event, _("nothing to revoke"))
    grant = item["grants"].pop(member_id)
    _expose(item, member_id, grant, event.at)
    revocation: Revocation = {
        "item": item_id,
        "member": member_id,
        "reason": reason,
        "at": event.at,
        "seq": event.seq,
    }
    if "codes_until" in grant:
        revocation["codes_until"] = grant["codes_until"]
    if "scope" in grant:
        revocation["scope"] = grant["scope"]
    if grant["version"] == item["version"]:
        # What the member could already open: kept so their CLI can say "revoked".
        revocation["old"] = {
            "version": item["version"],
            "wrap_ref": grant["wrap_ref"],
            "put_ref": item["put_ref"],
            "key_commit": item["key_commit"],
        }
        if "view" in grant:
            revocation["old_view"] = grant["view"]
    state["revocations"].append(revocation)


def _scoped_grant(state: State, event: Event, needs_otp: bool) -> tuple[str, Grant]:
    item_id, member_id = _need_fields(event, "item", "member")
    member_id = _member_id(event, member_id)
    item = _item(state, event, item_id)
    grant = item["grants"].get(member_id)
    if grant is None or "scope" not in grant or (needs_otp and "otp" not in grant["scope"]):
        raise _fail(event, _("the member holds no such scoped grant"))
    for key in ("ct", "key_commit"):
        if not isinstance(event.fields.get(key), str):
            raise _fail(event, _("malformed {what}").format(what=event.type))
    wraps = event.fields.get("wraps")
    if not isinstance(wraps, dict) or set(wraps) != {member_id}:
        raise _fail(event, _("{type} must be sealed to its member only").format(type=event.type))
    return item_id, grant


def _view(state: State, event: Event) -> None:
    item_id, grant = _scoped_grant(state, event, needs_otp=False)
    if event.fields.get("version") != state["items"][item_id]["version"]:
        raise _fail(event, _("view is not for the current version"))
    grant["view"] = {"ref": event.ref, "key_commit": event.fields["key_commit"]}


def _codes(state: State, event: Event) -> None:
    _item_id, grant = _scoped_grant(state, event, needs_otp=True)
    codes_id, until = event.fields.get("id"), event.fields.get("until")
    replace = event.fields.get("replace", False)
    if not isinstance(codes_id, str) or not _REQUEST_ID.fullmatch(codes_id):
        raise _fail(event, _("malformed codes id"))
    if not isinstance(until, str) or not is_stamp(until) or type(replace) is not bool:
        raise _fail(event, _("malformed {what}").format(what="codes"))
    ref: CodesRef = {"ref": event.ref, "id": codes_id, "until": until}
    if replace or "codes" not in grant:
        grant["codes"] = [ref]
    else:
        grant["codes"].append(ref)
    # The horizon is [this delivery, until): the next top-up is due once half of it is gone
    # (counted from the first delivery, a daily owner would top up every day).
    grant["codes_from"] = event.at
    grant["codes_until"] = until


def _policy(state: State, event: Event) -> None:
    require, hours, zone = _need_fields(event, "require_reason", "hours", "zone")
    if type(require) is not bool or (hours is None) != (zone is None):
        raise _fail(event, _("malformed {what}").format(what="policy"))
    if hours is not None:
        try:
            Hours.from_json(hours)
        except Malformed:
            raise _fail(event, _("malformed policy hours")) from None
        if not isinstance(zone, str) or not 0 < len(zone) <= 64:
            raise _fail(event, _("malformed policy zone"))
    policy: Policy = {
        "require_reason": require,
        "hours": hours,
        "zone": zone,
        "seq": event.seq,
        "at": event.at,
    }
    state["policy"] = policy
    state["policies"].append(policy)


def _import_note(state: State, event: Event) -> None:
    """A record that items came from another tool (the items are their own item.puts)."""
    fmt, *counts = _need_fields(event, "format", "added", "updated", "skipped", "refused")
    if not isinstance(fmt, str) or not 0 < len(fmt) <= 32:
        raise _fail(event, _("malformed {what}").format(what="import"))
    if not all(type(n) is int and n >= 0 for n in counts):
        raise _fail(event, _("malformed {what}").format(what="import"))


def _export_note(state: State, event: Event) -> None:
    """A record that the vault's items left in another tool's format."""
    fmt, items = _need_fields(event, "format", "items")
    if fmt not in ("kdbx", "csv") or type(items) is not int or items < 0:
        raise _fail(event, _("malformed {what}").format(what="export"))


def _request_deny(state: State, event: Event) -> None:
    member_id, request = _need_fields(event, "member", "request")
    member_id = _member_id(event, member_id)
    if member_id not in state["members"]:
        raise _fail(event, _("unknown member"))
    _answer(state, event, member_id, request, "denied", None)


def _rollback_accept(state: State, event: Event) -> None:
    state["rollbacks"].append(
        {"at": event.at, "seq": event.seq, "detail": event.fields.get("detail")}
    )


_OWNER_RULES: dict[str, Callable[[State, Event], None]] = {
    "vault.create": _vault_create,
    "member.add": _member_add,
    "member.remove": _member_remove,
    "item.put": _item_put,
    "item.delete": _item_delete,
    "grant": _grant,
    "revoke": _revoke,
    "rollback.accept": _rollback_accept,
    "view": _view,
    "codes": _codes,
    "policy": _policy,
    "request.deny": _request_deny,
    "import": _import_note,
    "export": _export_note,
}
assert set(_OWNER_RULES) == OWNER_TYPES


# The owner's events that change an item: only the one their `item` field names. Every
# other owner event leaves the items as they are (the state cache journals by this).
ITEM_EVENTS = frozenset({"item.put", "item.delete", "grant", "revoke", "view", "codes"})


def items_touched(event: Event) -> tuple[str, ...] | None:
    """The items applying this owner event may change; None: it is not known which."""
    if event.type not in ITEM_EVENTS:
        return ()
    item = event.fields.get("item")
    return (item,) if isinstance(item, str) else None


def apply_owner(state: State, event: Event) -> None:
    """Apply one verified owner event in place; IntegrityError if it breaks the rules."""
    seen = event.fields.get("seen")
    if isinstance(seen, dict):
        for log, head in seen.items():
            _witness(state, event, log, head)
    rule = _OWNER_RULES.get(event.type)
    if rule is None:
        raise _fail(event, _("unknown event type"))
    if (event.type == "vault.create") != (event.seq == 0):
        raise _fail(event, _("vault.create must be the first event, and only the first"))
    if not is_stamp(event.at):
        raise _fail(event, i18n._(BAD_TIME))
    rule(state, event)


# --- members' events --------------------------------------------------------------------------


def apply_member(state: State, event: Event) -> None:
    """Keep a member's receipt; set aside (and never apply) anything else they wrote."""
    head = event.fields.get("owner_head")
    if known_owner_head(state, head):
        _witness(state, event, state["owner"], head)
    if member_event_problem(event.fields) is None:
        # Per member and item: every field ever retrieved, first and latest time (for the
        # offboarding checklist); the full trail is read from the mirrored logs by `audit`.
        state["receipt_count"] += 1
        if event.type == "retrieve":
            _remember_retrieval(state, event)
        else:
            requests = state["requests"].setdefault(event.actor, {})
            duration = event.fields.get("for")
            record: RequestRecord = {
                "at": event.at,
                "seq": event.seq,
                "ref": event.ref,
                "duration": duration,
            }
            requests.setdefault(event.fields["id"], record)
    else:
        state["rejected"].append(
            {"log": event.actor, "seq": event.seq, "type": event.type, "at": event.at}
        )


def _remember_retrieval(state: State, event: Event) -> None:
    f = event.fields
    per_item = state["retrievals"].setdefault(event.actor, {})
    seen = per_item.get(f["item"])
    if seen is None:
        per_item[f["item"]] = {
            "first": event.at,
            "last": event.at,
            "fields": sorted(set(f["fields"])),
            "version": f["version"],
            "seq": event.seq,
            "count": 1,
        }
        return
    seen["fields"] = sorted(set(seen["fields"]) | set(f["fields"]))
    seen["first"] = min(seen["first"], event.at)
    seen["last"] = max(seen["last"], event.at)
    seen["version"], seen["seq"] = f["version"], event.seq
    seen["count"] += 1


def known_owner_head(state: State, head: Any) -> bool:
    """True when a receipt's `owner_head` names an owner event this state has accepted
    (a witness of anything else would make the owner doubt her own log: it is ignored)."""
    owner = state["owner"]
    accepted = state["heads"].get(owner) if owner else None
    if accepted is None or not isinstance(head, dict) or type(head.get("seq")) is not int:
        return False
    seq: int = head["seq"]
    if seq == accepted["seq"]:
        return bool(head.get("hash") == accepted["hash"])
    return 0 <= seq < accepted["seq"]


# Why a member's event is set aside (shown in the audit, reported by `audit verify`).
NOT_A_MEMBER_TYPE = N_("a member wrote a '{type}' event (only the owner can change the vault)")
BAD_SHAPE = N_("it does not have the shape takusu writes")


def member_event_problem(f: dict[str, Any], *, translated: bool = True) -> str | None:
    """Why a member's signed event is not one takusu reads (None when it is). The one check
    every reader of members' events (the state, the audit) applies before using one. In
    the reader's language, or (`translated=False`) in English for JSON and CSV."""
    if f.get("type") not in MEMBER_TYPES:
        why = NOT_A_MEMBER_TYPE
    elif not is_stamp(f.get("at")):
        why = BAD_TIME
    elif not valid_receipt(f):
        why = BAD_SHAPE
    else:
        return None
    return (i18n._(why) if translated else why).format(type=str(f.get("type"))[:40])


def valid_receipt(f: dict[str, Any]) -> bool:
    """A member's event must have the shape takusu writes; anything else is set aside."""
    head = f.get("owner_head")
    if not (
        isinstance(head, dict)
        and type(head.get("seq")) is int
        and isinstance(head.get("hash"), str)
    ):
        return False
    if f["type"] == "request":
        return _valid_request(f)
    if not isinstance(f.get("item"), str) or len(f["item"]) > 64:
        return False
    fields = f.get("fields")
    return (
        type(f.get("version")) is int
        and isinstance(fields, list)
        and receipt_problem(fields, f.get("reason")) is None
    )


def _valid_request(f: dict[str, Any]) -> bool:
    """An access request: an id, its text sealed (to the owner and the member), and how
    long the access is wanted for (seconds, or none)."""
    sealed = f.get("sealed")
    duration = f.get("for")
    return (
        isinstance(f.get("id"), str)
        and _REQUEST_ID.fullmatch(f["id"]) is not None
        and isinstance(sealed, dict)
        and isinstance(sealed.get("ct"), str)
        and isinstance(sealed.get("key_commit"), str)
        and isinstance(sealed.get("wraps"), dict)
        and (duration is None or (type(duration) is int and 60 <= duration <= 366 * 86400))
    )


def fold(events_by_log: dict[str, list[Event]], owner: str) -> State:
    """Fold complete logs from scratch (the incremental path calls apply_* directly)."""
    state = empty()
    for event in events_by_log.get(owner, []):
        apply_owner(state, event)
    for log, events in sorted(events_by_log.items()):
        if log != owner:
            for event in events:
                apply_member(state, event)
    return state


def active_items(state: State) -> dict[str, Item]:
    return {k: v for k, v in state["items"].items() if not v["deleted"]}
