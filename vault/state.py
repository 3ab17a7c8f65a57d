"""The fold of verified events into the vault's current state. Pure: no I/O, no crypto.

State is a plain JSON-able dict (typed below) so the store can cache it beside the mirror
and apply only new events next time. Only the owner's events change state; anything else
a member's log carries besides receipts is kept aside as `rejected` for `audit verify`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

from .clock import is_stamp
from .errors import IntegrityError, Malformed
from .events import MEMBER_TYPES, OWNER_TYPES, Event
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


class Grant(TypedDict):
    """One member's access to an item: the wrap of the current version's data key."""

    version: int
    wrap: str
    expires: str | None
    granted: str
    grant_seq: int


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


class OldVersion(TypedDict):
    """What a revoked member could open before the re-key (so their CLI can say why)."""

    version: int
    wrap: str
    put_ref: list[int] | None
    key_commit: str


class Revocation(TypedDict):
    item: str
    member: str
    reason: str
    at: str
    seq: int
    old: NotRequired[OldVersion]


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
    }


# --- the cached copy --------------------------------------------------------------------------


def _need(ok: bool) -> None:
    if not ok:
        raise Malformed("the state cache has an unexpected shape")


def _is_ref(ref: Any) -> bool:
    return ref is None or (
        isinstance(ref, list)
        and len(ref) == 2
        and all(type(x) is int and 0 <= x < 2**40 for x in ref)
    )


def _check_item(item: Any) -> None:
    _need(
        isinstance(item, dict)
        and type(item.get("version")) is int
        and isinstance(item.get("grants"), dict)
        and isinstance(item.get("exposed"), dict)
        and type(item.get("deleted")) is bool
        and isinstance(item.get("key_commit"), str)
        and _is_ref(item.get("put_ref"))
    )
    for grant in item["grants"].values():
        _need(
            isinstance(grant, dict)
            and type(grant.get("version")) is int
            and isinstance(grant.get("wrap"), str)
            and isinstance(grant.get("expires"), str | None)
        )


def check_shape(st: Any) -> State:
    """Malformed unless `st` has the shape this module builds (the cached copy is derived
    data: a damaged one is rebuilt from the verified mirror, never trusted)."""
    _need(isinstance(st, dict) and not set(empty()) - set(st))
    for key in ("members", "items", "heads", "witness", "retrievals"):
        _need(isinstance(st[key], dict))
    for key in ("revocations", "rejected", "rollbacks"):
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
    for item in st["items"].values():
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
        _need(isinstance(seen, dict) and type(seen.get("seq")) is int)
    for rev in st["revocations"]:
        _need(
            isinstance(rev, dict)
            and all(isinstance(rev.get(k), str) for k in ("item", "member", "at", "reason"))
        )
    checked: State = st
    return checked


# --- rules shared by the owner's events -------------------------------------------------------


def _fail(event: Event, why: str) -> IntegrityError:
    return IntegrityError(
        f"owner event {event.type!r} is invalid: {why}", log=event.actor, seq=event.seq
    )


def _need_fields(event: Event, *names: str) -> list[Any]:
    missing = [n for n in names if n not in event.fields]
    if missing:
        raise _fail(event, f"missing {', '.join(missing)}")
    return [event.fields[n] for n in names]


def _item(state: State, event: Event, item_id: Any) -> Item:
    item = state["items"].get(item_id) if isinstance(item_id, str) else None
    if item is None or item["deleted"]:
        raise _fail(event, "unknown or deleted item")
    return item


def _member_id(event: Event, value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) != 32
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise _fail(event, "member id is not 32 hex digits")
    return value


def _is_name(value: Any) -> bool:
    """A member's name as the owner's takusu writes it: 1-40 characters, none unsafe."""
    return isinstance(value, str) and 0 < len(value) <= 40 and not any(unsafe(c) for c in value)


def _active_member(state: State, event: Event, member_id: Any) -> Member:
    member = state["members"].get(member_id) if isinstance(member_id, str) else None
    if member is None or member["removed"]:
        raise _fail(event, "unknown or removed member")
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
        raise _fail(event, "malformed member.add")
    try:
        # Pure computation (no I/O): the id must be the card's own fingerprint, so a
        # member's log is always verified with the key that names it.
        card_id = Card.from_envelope(card).id
    except IntegrityError:
        raise _fail(event, "member card does not verify") from None
    if card_id != member_id:
        raise _fail(event, "member id is not the card's fingerprint")
    existing = state["members"].get(member_id)
    if member_id == state["owner"] or (existing and not existing["removed"]):
        raise _fail(event, "member already present")
    if any(m["name"] == name and not m["removed"] for m in state["members"].values()):
        raise _fail(event, "member name already in use")
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
        raise _fail(event, "member still holds grants")
    member["removed"] = True
    member["removed_at"] = event.at


def _item_put(state: State, event: Event) -> None:
    item_id, version, _ct, commit, _owner_wrap, wraps = _need_fields(
        event, "item", "version", "ct", "key_commit", "owner_wrap", "wraps"
    )
    if not isinstance(item_id, str) or not isinstance(wraps, dict) or type(version) is not int:
        raise _fail(event, "malformed item.put")
    if not isinstance(commit, str) or not all(isinstance(w, str) for w in wraps.values()):
        raise _fail(event, "malformed item.put")
    _member_id(event, item_id)  # item ids have the same 32-hex shape
    item = state["items"].get(item_id)
    expected = 1 if item is None else item["version"] + 1
    if version != expected or (item is not None and item["deleted"]):
        raise _fail(event, f"version {version} is not the next version {expected}")
    for member_id in wraps:
        _active_member(state, event, member_id)
    old_grants = item["grants"] if item is not None else {}
    grants: dict[str, Grant] = {}
    for member_id, wrap in wraps.items():
        old = old_grants.get(member_id)
        grants[member_id] = {
            "version": version,
            "wrap": wrap,
            "expires": old["expires"] if old else None,
            "granted": old["granted"] if old else event.at,
            "grant_seq": old["grant_seq"] if old else event.seq,
        }
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
    if item is not None and "rotated" in item:
        new["rotated"] = item["rotated"]
    if event.fields.get("rotated"):
        new["exposed"] = {}
        new["rotated"] = event.at
    state["items"][item_id] = new


def _item_delete(state: State, event: Event) -> None:
    (item_id,) = _need_fields(event, "item")
    item = _item(state, event, item_id)
    for member_id in item["grants"]:  # they could read it: the secret is still exposed
        item["exposed"][member_id] = event.at
    item["deleted"] = True
    item["updated"] = event.at
    item["grants"] = {}


def _grant(state: State, event: Event) -> None:
    item_id, version, member_id, wrap = _need_fields(event, "item", "version", "member", "wrap")
    member_id = _member_id(event, member_id)
    item = _item(state, event, item_id)
    _active_member(state, event, member_id)
    if version != item["version"]:
        raise _fail(event, "grant is not for the current version")
    expires = event.fields.get("expires")
    if not isinstance(wrap, str) or not (expires is None or is_stamp(expires)):
        raise _fail(event, "malformed grant")
    item["grants"][member_id] = {
        "version": version,
        "wrap": wrap,
        "expires": event.fields.get("expires"),
        "granted": event.at,
        "grant_seq": event.seq,
    }


def _revoke(state: State, event: Event) -> None:
    item_id, member_id, reason = _need_fields(event, "item", "member", "reason")
    member_id = _member_id(event, member_id)
    if not isinstance(reason, str):
        raise _fail(event, "malformed revoke")
    item = _item(state, event, item_id)
    if member_id not in item["grants"]:
        raise _fail(event, "nothing to revoke")
    grant = item["grants"].pop(member_id)
    item["exposed"][member_id] = event.at
    revocation: Revocation = {
        "item": item_id,
        "member": member_id,
        "reason": reason,
        "at": event.at,
        "seq": event.seq,
    }
    if grant["version"] == item["version"]:
        # What the member could already open: kept so their CLI can say "revoked".
        revocation["old"] = {
            "version": item["version"],
            "wrap": grant["wrap"],
            "put_ref": item["put_ref"],
            "key_commit": item["key_commit"],
        }
    state["revocations"].append(revocation)


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
}
assert set(_OWNER_RULES) == OWNER_TYPES


def apply_owner(state: State, event: Event) -> None:
    """Apply one verified owner event in place; IntegrityError if it breaks the rules."""
    seen = event.fields.get("seen")
    if isinstance(seen, dict):
        for log, head in seen.items():
            _witness(state, event, log, head)
    rule = _OWNER_RULES.get(event.type)
    if rule is None:
        raise _fail(event, "unknown event type")
    if (event.type == "vault.create") != (event.seq == 0):
        raise _fail(event, "vault.create must be the first event, and only the first")
    if not is_stamp(event.at):
        raise _fail(event, "its time is not an RFC 3339 UTC time")
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


def member_event_problem(f: dict[str, Any]) -> str | None:
    """Why a member's signed event is not one takusu reads (None when it is). The one check
    every reader of members' events (the state, the audit) applies before using one."""
    if f.get("type") not in MEMBER_TYPES:
        return f"a member wrote a {str(f.get('type'))[:40]!r} event (only the owner changes state)"
    if not is_stamp(f.get("at")):
        return "its time is not an RFC 3339 UTC time"
    if not valid_receipt(f):
        return "it does not have the shape takusu writes"
    return None


def valid_receipt(f: dict[str, Any]) -> bool:
    """A member's event must have the shape takusu writes; anything else is set aside."""
    head = f.get("owner_head")
    if not (
        isinstance(head, dict)
        and type(head.get("seq")) is int
        and isinstance(head.get("hash"), str)
        and isinstance(f.get("item"), str)
        and len(f["item"]) <= 64
    ):
        return False
    if f["type"] == "request":
        return True
    fields = f.get("fields")
    return (
        type(f.get("version")) is int
        and isinstance(fields, list)
        and receipt_problem(fields, f.get("reason")) is None
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
