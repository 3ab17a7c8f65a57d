"""Members, grants, revocation with re-keying, expiry, offboarding and rotation tracking.

Revoking never pretends to erase knowledge: it stops future decryption (a new version
under a fresh data key, wrapped only for those who remain) and marks the item
*exposed* until the owner records a new secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import envelope, labels, state
from .clock import is_expired
from .errors import AlreadyExists, BadInput, NotFound, PinMismatch, UserError
from .identity import Card
from .session import Session

_NAME = re.compile(r"^[\w.@+-]{1,40}$")
# --- members --------------------------------------------------------------------------------


def member_by_name(session: Session, name: str, *, include_removed: bool = False) -> str:
    members = session.state["members"]
    for member_id, member in members.items():
        if member["name"] == name and (include_removed or not member["removed"]):
            return member_id
    hits = [
        m
        for m, v in members.items()
        if m.startswith(name.lower()) and len(name) >= 6 and not v["removed"]
    ]
    if len(hits) == 1:
        return hits[0]
    raise NotFound(f"no member named {name!r}", hint="'takusu member list' shows them")


def check_new_member(session: Session, card: Card, name: str) -> None:
    """Refuse a card that collides with what this vault already pinned."""
    session.require_owner()
    if not _NAME.match(name):
        raise BadInput("a member name is 1 to 40 letters, digits or . _ @ + -")
    if card.id == session.me.id:
        raise BadInput("that is your own card")
    members = session.state["members"]
    if card.id in members and not members[card.id]["removed"]:
        raise AlreadyExists(f"this card is already member {members[card.id]['name']!r}")
    for member_id, member in members.items():
        known = Card.from_envelope(member["card"])
        if member["name"] == name and member_id != card.id:
            if known.hybrid and not card.hybrid:
                raise PinMismatch(
                    f"{name!r} had a post-quantum (hybrid) key and this card drops to "
                    "classical X25519: refused as a downgrade"
                )
            if not member["removed"]:
                raise PinMismatch(
                    f"{name!r} is already a member with different keys",
                    hint="if they really have a new machine, remove the old "
                    "member first, after checking with them in person",
                )
        if known.name == card.name and member_id != card.id and not member["removed"]:
            if known.hybrid and not card.hybrid:
                raise PinMismatch(
                    f"this card claims to be {card.name!r} but drops from hybrid to "
                    "classical keys: refused as a downgrade"
                )
            raise PinMismatch(
                f"another member ({member['name']!r}) already uses the display name "
                f"{card.name!r} with different keys"
            )


def add_member(session: Session, card: Card, name: str) -> str:
    """Append `member.add` for a card whose safety code the owner confirmed (see trust.py)."""
    check_new_member(session, card, name)
    session.append("member.add", {"member": card.id, "name": name, "card": card.envelope})
    return card.id


def remove_member(session: Session, name: str, revoke_all: bool = False) -> list[dict[str, Any]]:
    session.require_owner()
    member_id = member_by_name(session, name)
    held = items_granted_to(session, member_id)
    if held and not revoke_all:
        raise UserError(
            f"{name!r} still has access to {len(held)} item(s)",
            hint="revoke them first, or use --revoke-all (or 'takusu offboard')",
        )
    with session.batch():
        for item_id in held:
            revoke(session, item_id, member_id, "member removed")
        session.append("member.remove", {"member": member_id})
    return rotation_checklist(session, member_id)


def items_granted_to(session: Session, member_id: str) -> list[str]:
    return sorted(
        i for i, it in state.active_items(session.state).items() if member_id in it["grants"]
    )


# --- grants ---------------------------------------------------------------------------------


def share(session: Session, item_id: str, member_id: str, expires: str | None) -> None:
    """Wrap the current data key to the member and append a signed grant."""
    session.require_owner()
    item = session.state["items"][item_id]
    if member_id not in item["grants"] and len(item["grants"]) >= labels.MAX_GRANTEES:
        raise BadInput(
            f"an item can be shared with at most {labels.MAX_GRANTEES} members",
            hint="every new version is sealed for each of them, in one record",
        )
    card = Card.from_envelope(session.state["members"][member_id]["card"])
    body: dict[str, Any] = {
        "item": item_id,
        "version": item["version"],
        "member": member_id,
        "wrap": envelope.wrap_for(
            session.vault_id, item_id, item["version"], card, session.data_key(item_id)
        ),
    }
    if expires:
        body["expires"] = expires
    session.append("grant", body)


def revoke(session: Session, item_id: str, member_id: str, reason: str) -> None:
    """Append `revoke`, then re-key the item for those who remain."""
    session.require_owner()
    if member_id not in session.state["items"][item_id]["grants"]:
        name = session.member_name(member_id)
        raise UserError(f"this item is not shared with {name!r}")
    payload = session.payload(item_id)
    with session.batch():
        session.append("revoke", {"item": item_id, "member": member_id, "reason": reason})
        session.put(item_id, payload)


@dataclass
class Upkeep:
    """What the owner's takusu did on its own when the vault was opened."""

    expired: list[tuple[str, str]] = field(default_factory=list)  # (item id, member id)


def upkeep(session: Session) -> Upkeep:
    """The owner's routine work, run by whoever opens a session for a command (the CLI, the
    agent): revoke expired grants. Nothing for a member, or while the owner's log is damaged."""
    done = Upkeep()
    if not session.is_owner or [p for p in session.loaded.fatal if p.log == session.me.id]:
        return done
    done.expired = expire_due(session)
    return done


def expire_due(session: Session) -> list[tuple[str, str]]:
    """Revoke (reason 'expired') every grant past its expiry, in one write."""
    now = session.clock()
    due = [
        (item_id, member_id)
        for item_id, item in state.active_items(session.state).items()
        for member_id, grant in item["grants"].items()
        if is_expired(grant["expires"], now)
    ]
    if due:
        with session.batch():
            for item_id, member_id in due:
                revoke(session, item_id, member_id, "expired")
    return due


def rotate(session: Session, item_id: str, changes: dict[str, Any]) -> None:
    """Record a new secret: a new version that clears the exposed mark."""
    session.require_owner()
    payload = session.payload(item_id)
    session.put(item_id, {**payload, **changes}, rotated=True)  # type: ignore[typeddict-item]


# --- offboarding ----------------------------------------------------------------------------


def offboard(session: Session, name: str) -> list[dict[str, Any]]:
    """Revoke everything from a member, remove them, and return the rotation checklist."""
    return remove_member(session, name, revoke_all=True)


def last_retrievals(session: Session, member_id: str) -> dict[str, Any]:
    return dict(session.state["retrievals"].get(member_id, {}))


def rotation_checklist(session: Session, member_id: str | None = None) -> list[dict[str, Any]]:
    """Exposed items (for one member or anyone), most urgent first: retrieved, most recent."""
    rows = []
    for item_id, item in session.state["items"].items():
        exposed = item["exposed"]
        who = [m for m in exposed if member_id in (None, m)]
        if not who:
            continue
        payload = session.payload(item_id)
        for m in who:
            seen = last_retrievals(session, m).get(item_id)
            rows.append(
                {
                    "item": item_id,
                    "title": payload["title"],
                    "url": payload.get("url"),
                    "member": session.member_name(m),
                    "exposed_since": exposed[m],
                    "retrieved": seen is not None,
                    "first_retrieved": seen["first"] if seen else None,
                    "last_retrieved": seen["last"] if seen else None,
                    "fields": seen["fields"] if seen else [],
                    "deleted": item["deleted"],
                }
            )
    rows.sort(key=lambda r: (r["retrieved"], r["last_retrieved"] or ""), reverse=True)
    return rows


def rotation_asks_password(new_totp: bool, new_password_given: bool) -> bool:
    """Whether `rotate` should prompt for a new password: yes, unless only a new 2FA seed
    was asked for (a seed-only rotation keeps the password)."""
    return new_password_given or not new_totp
