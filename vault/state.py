"""The fold of verified events into the vault's current state. Pure: no I/O, no crypto.

State is a plain JSON-able dict so the store can cache it beside the mirror and apply
only new events next time. Only the owner's events change state; anything else
a member's log carries besides receipts is kept aside as `rejected` for `audit verify`.
"""

from __future__ import annotations

from typing import Any

from .errors import IntegrityError
from .events import MEMBER_TYPES, OWNER_TYPES, Event
from .identity import Card

State = dict[str, Any]


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


def check_shape(st: Any) -> State:
    """Malformed unless `st` has the shape this module builds (the cached copy is derived
    data: a damaged one is rebuilt from the verified mirror, never trusted)."""
    from .errors import Malformed

    def need(ok: bool) -> None:
        if not ok:
            raise Malformed("the state cache has an unexpected shape")

    need(isinstance(st, dict) and not set(empty()) - set(st))
    for key in ("members", "items", "heads", "witness", "retrievals"):
        need(isinstance(st[key], dict))
    for key in ("revocations", "rejected", "rollbacks"):
        need(isinstance(st[key], list))
    for head in st["heads"].values():
        need(
            isinstance(head, dict)
            and all(type(head.get(k)) is int for k in ("seq", "size", "last"))
        )
        need(isinstance(head.get("hash"), str) and 0 <= head["last"] <= head["size"] < 2**40)
    for member in st["members"].values():
        need(
            isinstance(member, dict)
            and isinstance(member.get("name"), str)
            and isinstance(member.get("card"), dict)
            and type(member.get("removed")) is bool
        )
    for item in st["items"].values():
        need(
            isinstance(item, dict)
            and type(item.get("version")) is int
            and isinstance(item.get("grants"), dict)
            and isinstance(item.get("exposed"), dict)
            and type(item.get("deleted")) is bool
            and isinstance(item.get("key_commit"), str)
        )
        ref = item.get("put_ref")
        need(
            ref is None
            or (
                isinstance(ref, list)
                and len(ref) == 2
                and all(type(x) is int and 0 <= x < 2**40 for x in ref)
            )
        )
        for grant in item["grants"].values():
            need(
                isinstance(grant, dict)
                and type(grant.get("version")) is int
                and isinstance(grant.get("wrap"), str)
                and isinstance(grant.get("expires"), str | None)
            )
    for per_item in st["retrievals"].values():
        need(isinstance(per_item, dict))
        for last in per_item.values():
            need(
                isinstance(last, dict)
                and isinstance(last.get("at"), str)
                and isinstance(last.get("fields"), list)
            )
    for seen in st["witness"].values():
        need(isinstance(seen, dict) and type(seen.get("seq")) is int)
    for rev in st["revocations"]:
        need(
            isinstance(rev, dict)
            and all(isinstance(rev.get(k), str) for k in ("item", "member", "at", "reason"))
        )
    return st


def _fail(event: Event, why: str) -> IntegrityError:
    return IntegrityError(
        f"owner event {event.type!r} is invalid: {why}", log=event.actor, seq=event.seq
    )


def _need(event: Event, *names: str) -> list[Any]:
    missing = [n for n in names if n not in event.fields]
    if missing:
        raise _fail(event, f"missing {', '.join(missing)}")
    return [event.fields[n] for n in names]


def _item(state: State, event: Event, item_id: Any) -> dict[str, Any]:
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


def _active_member(state: State, event: Event, member_id: Any) -> dict[str, Any]:
    member = state["members"].get(member_id) if isinstance(member_id, str) else None
    if member is None or member["removed"]:
        raise _fail(event, "unknown or removed member")
    return member


def _witness(state: State, event: Event, log: str, head: Any) -> None:
    """Remember the furthest point of `log` that someone else's signed event has seen."""
    if not isinstance(head, dict) or type(head.get("seq")) is not int:
        return
    known = state.setdefault("witness", {}).get(log)
    if known is None or head["seq"] > known["seq"]:
        state["witness"][log] = {"seq": head["seq"], "hash": head.get("hash"), "by": event.actor}


def apply_owner(state: State, event: Event) -> None:
    """Apply one verified owner event in place; IntegrityError if it breaks the rules."""
    f, at, t = event.fields, event.at, event.type
    seen = f.get("seen")
    if isinstance(seen, dict):
        for log, head in seen.items():
            _witness(state, event, log, head)
    if t not in OWNER_TYPES:
        raise _fail(event, "unknown event type")
    if (t == "vault.create") != (event.seq == 0):
        raise _fail(event, "vault.create must be the first event, and only the first")
    if t == "vault.create":
        name, card, wrap = _need(event, "name", "owner_card", "vault_key_wrap")
        state.update(
            vault=f["vault"],
            name=name,
            owner=event.actor,
            owner_card=card,
            vault_key_wrap=wrap,
            created=at,
        )
    elif t == "member.add":
        member_id, name, card = _need(event, "member", "name", "card")
        member_id = _member_id(event, member_id)
        if not isinstance(name, str) or not isinstance(card, dict):
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
            "added": at,
            "removed": False,
            "removed_at": None,
        }
    elif t == "member.remove":
        (member_id,) = _need(event, "member")
        member = _active_member(state, event, _member_id(event, member_id))
        if any(member_id in item["grants"] for item in state["items"].values()):
            raise _fail(event, "member still holds grants")
        member.update(removed=True, removed_at=at)
    elif t == "item.put":
        _apply_put(state, event)
    elif t == "item.delete":
        (item_id,) = _need(event, "item")
        item = _item(state, event, item_id)
        for member_id in item["grants"]:  # they could read it: the secret is still exposed
            item["exposed"][member_id] = at
        item.update(deleted=True, updated=at, grants={})
    elif t == "grant":
        item_id, version, member_id, wrap = _need(event, "item", "version", "member", "wrap")
        member_id = _member_id(event, member_id)
        item = _item(state, event, item_id)
        _active_member(state, event, member_id)
        if version != item["version"]:
            raise _fail(event, "grant is not for the current version")
        item["grants"][member_id] = {
            "version": version,
            "wrap": wrap,
            "expires": f.get("expires"),
            "granted": at,
            "grant_seq": event.seq,
        }
    elif t == "revoke":
        item_id, member_id, reason = _need(event, "item", "member", "reason")
        member_id = _member_id(event, member_id)
        item = _item(state, event, item_id)
        if member_id not in item["grants"]:
            raise _fail(event, "nothing to revoke")
        grant = item["grants"].pop(member_id)
        item["exposed"][member_id] = at
        revocation = {
            "item": item_id,
            "member": member_id,
            "reason": reason,
            "at": at,
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
    elif t == "rollback.accept":
        state["rollbacks"].append({"at": at, "seq": event.seq, "detail": f.get("detail")})


def _apply_put(state: State, event: Event) -> None:
    item_id, version, _ct, commit, _owner_wrap, wraps = _need(
        event, "item", "version", "ct", "key_commit", "owner_wrap", "wraps"
    )
    if not isinstance(item_id, str) or not isinstance(wraps, dict) or type(version) is not int:
        raise _fail(event, "malformed item.put")
    _member_id(event, item_id)  # item ids have the same 32-hex shape
    item = state["items"].get(item_id)
    expected = 1 if item is None else item["version"] + 1
    if version != expected or (item is not None and item["deleted"]):
        raise _fail(event, f"version {version} is not the next version {expected}")
    if item is None:
        item = state["items"][item_id] = {
            "created": event.at,
            "grants": {},
            "exposed": {},
            "deleted": False,
        }
    for member_id in wraps:
        _active_member(state, event, member_id)
    grants = {}
    for member_id, wrap in wraps.items():
        old = item["grants"].get(member_id, {})
        grants[member_id] = {
            "version": version,
            "wrap": wrap,
            "expires": old.get("expires"),
            "granted": old.get("granted", event.at),
            "grant_seq": old.get("grant_seq", event.seq),
        }
    if event.fields.get("rotated"):
        item["exposed"] = {}
        item["rotated"] = event.at
    # The ciphertext and owner wrap stay in the mirrored log line (put_ref): the state, and
    # so every command's start-up, does not grow with the size of the secrets.
    item.update(
        version=version,
        key_commit=commit,
        put_ref=event.ref,
        grants=grants,
        updated=event.at,
        put_seq=event.seq,
    )


def apply_member(state: State, event: Event) -> None:
    """Keep a member's receipt; set aside (and never apply) anything else they wrote."""
    _witness(state, event, state["owner"], event.fields.get("owner_head"))
    if event.type in MEMBER_TYPES and valid_receipt(event.fields):
        # Only the latest retrieval per member and item is kept here (for offboarding's
        # checklist); the full trail is read from the mirrored logs by `audit`.
        state["receipt_count"] = state.get("receipt_count", 0) + 1
        if event.type == "retrieve":
            f = event.fields
            last = state.setdefault("retrievals", {}).setdefault(event.actor, {})
            last[f["item"]] = {
                "at": f["at"],
                "fields": f["fields"],
                "version": f["version"],
                "seq": event.seq,
            }
    else:
        state["rejected"].append(
            {"log": event.actor, "seq": event.seq, "type": event.type, "at": event.at}
        )


def valid_receipt(f: dict[str, Any]) -> bool:
    """A member's receipt must have the shape takusu writes; anything else is set aside."""
    if f["type"] == "request":
        return isinstance(f.get("item"), str) and len(f["item"]) <= 64
    fields = f.get("fields")
    reason = f.get("reason")
    head = f.get("owner_head")
    return (
        isinstance(head, dict)
        and type(head.get("seq")) is int
        and isinstance(head.get("hash"), str)
        and isinstance(f.get("item"), str)
        and len(f["item"]) <= 64
        and type(f.get("version")) is int
        and isinstance(fields, list)
        and 0 < len(fields) <= 16
        and all(isinstance(x, str) and 0 < len(x) <= 64 for x in fields)
        and (reason is None or (isinstance(reason, str) and len(reason) <= 500))
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


def active_items(state: State) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in state["items"].items() if not v["deleted"]}
