"""Members, grants, revocation with re-keying, expiry, offboarding and rotation tracking.

Revoking never pretends to erase knowledge: it stops future decryption (a new version
under a fresh data key, wrapped only for those who remain) and marks the item
*exposed* until the owner records a new secret.
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import envelope, fsutil, labels, state
from .clock import is_expired, parse_time
from .codewindow import needs_top_up, top_up_from
from .encoding import dumps
from .errors import (
    AlreadyExists,
    BadInput,
    NotFound,
    PinMismatch,
    TakusuError,
    UsageError,
    UserError,
)
from .i18n import _, ngettext
from .identity import Card
from .item import STANDARD_FIELDS, Payload, field_words
from .memo import remember
from .session import Session
from .state import Grant, Head, Item, OtpScope, Revocation, Scope

_NAME = re.compile(r"[\w.@+-]{1,40}")
# --- members --------------------------------------------------------------------------------


def same_name(a: str, b: str) -> bool:
    """Member names compare like titles: in composed Unicode form, ignoring case."""
    return _fold(a) == _fold(b)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def member_by_name(session: Session, name: str, *, include_removed: bool = False) -> str:
    members = session.state["members"]
    for exact in (True, False):  # an exact match first: two old names may differ by case
        for member_id, member in members.items():
            hit = member["name"] == name if exact else same_name(member["name"], name)
            if hit and (include_removed or not member["removed"]):
                return member_id
    hits = [
        m
        for m, v in members.items()
        if m.startswith(name.lower()) and len(name) >= 6 and not v["removed"]
    ]
    if len(hits) == 1:
        return hits[0]
    raise NotFound(
        _("no member named {name!r}").format(name=name),
        hint=_("'takusu member list' shows them"),
    )


def check_member_name(name: str) -> str:
    """A new member's name (NFC), or BadInput naming the first character that may not be
    in one (a newline, a space, a control character) and its position. Needs no secret."""
    name = unicodedata.normalize("NFC", name)
    if _NAME.fullmatch(name):
        return name
    rule = _("a member name is 1 to 40 letters, digits or . _ @ + -")
    bad = next(((n, c) for n, c in enumerate(name, 1) if not _NAME.fullmatch(c)), None)
    if bad is None:
        raise BadInput(rule)
    raise BadInput(
        _("{rule} ({char} at position {position} is not one)").format(
            rule=rule, char=ascii(bad[1]), position=bad[0]
        )
    )


def check_new_member(session: Session, card: Card, name: str) -> None:
    """Refuse a card that collides with what this vault already pinned."""
    session.require_owner()
    name = check_member_name(name)
    if card.id == session.me.id:
        raise BadInput(_("that is your own card"))
    members = session.state["members"]
    if card.id in members and not members[card.id]["removed"]:
        raise AlreadyExists(
            _("this card is already member {name!r}").format(name=members[card.id]["name"])
        )
    for member_id, member in members.items():
        known = Card.from_envelope(member["card"])
        if same_name(member["name"], name) and member_id != card.id:
            if known.hybrid and not card.hybrid:
                raise PinMismatch(
                    _(
                        "{name!r} had a post-quantum (hybrid) key and this card has only "
                        "a classical one: refused as a downgrade"
                    ).format(name=name)
                )
            if not member["removed"]:
                raise PinMismatch(
                    _("{name!r} is already a member with different keys").format(name=name),
                    hint=_(
                        "if they really have a new machine, remove the old "
                        "member first, after checking with them in person"
                    ),
                )
        if known.name == card.name and member_id != card.id and not member["removed"]:
            if known.hybrid and not card.hybrid:
                raise PinMismatch(
                    _(
                        "this card claims to be {name!r} but drops from hybrid to "
                        "classical keys: refused as a downgrade"
                    ).format(name=card.name)
                )
            raise PinMismatch(
                _(
                    "another member ({member!r}) already uses the display name "
                    "{name!r} with different keys"
                ).format(member=member["name"], name=card.name)
            )


def add_member(session: Session, card: Card, name: str) -> str:
    """Append `member.add` for a card whose safety code the owner confirmed (see trust.py)."""
    name = unicodedata.normalize("NFC", name)
    check_new_member(session, card, name)
    session.append("member.add", {"member": card.id, "name": name, "card": card.envelope})
    return card.id


def remove_member(session: Session, name: str, revoke_all: bool = False) -> list[dict[str, Any]]:
    session.require_owner()
    member_id = member_by_name(session, name)
    held = items_granted_to(session, member_id)
    if held and not revoke_all:
        raise UserError(
            ngettext(
                "{name!r} still has access to {n} item",
                "{name!r} still has access to {n} items",
                len(held),
            ).format(name=name, n=len(held)),
            hint=_("revoke them first, or use --revoke-all (or 'takusu offboard')"),
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


@dataclass
class Shared:
    """What a share did, and what it replaced (a re-share says what changed)."""

    member: str
    scope: Scope | None  # None: the whole item
    expires: str | None
    before: Grant | None  # the grant it replaced, if any
    codes_until: str | None = None  # for code windows: when her delivered codes run out


def share(
    session: Session,
    item_id: str,
    member_id: str,
    expires: str | None,
    *,
    fields: list[str] | None = None,
    otp: OtpScope | None = None,
    request: str | None = None,
) -> Shared:
    """Grant one member the item: the whole of it (the data key, wrapped to her), or only
    `fields` and/or 2FA code windows `otp` (a view sealed for her; the data key and the
    seed never reach her). All in one write."""
    session.require_owner()
    item = session.state["items"][item_id]
    if member_id not in item["grants"] and len(item["grants"]) >= labels.MAX_GRANTEES:
        raise BadInput(
            _("an item can be shared with at most {limit} members").format(
                limit=labels.MAX_GRANTEES
            ),
            hint=_("every new version is sealed for each of them, in one record"),
        )
    card = Card.from_envelope(session.state["members"][member_id]["card"])
    before = item["grants"].get(member_id)
    body: dict[str, Any] = {"item": item_id, "version": item["version"], "member": member_id}
    scope = None if fields is None and otp is None else _scope(session, item_id, fields, otp)
    if scope is None:
        data_key = session.data_key(item_id)
        body["wrap"] = envelope.wrap_for(session.vault_id, item_id, item["version"], card, data_key)
    else:
        body["scope"] = scope
    if expires:
        body["expires"] = expires
    if request is not None:
        body["request"] = request
    with session.batch():
        session.append("grant", body)
        if scope is not None:
            session.seal_scoped(item_id, card, scope, session.payload(item_id), fresh_codes=True)
    grant = session.state["items"][item_id]["grants"][member_id]
    return Shared(member_id, scope, expires, before, grant.get("codes_until"))


def _scope(session: Session, item_id: str, fields: list[str] | None, otp: OtpScope | None) -> Scope:
    """The scope of a scoped grant, checked against the item: its own field names only,
    and never the seed together with code windows."""
    payload = session.payload(item_id)
    present = [f for f in STANDARD_FIELDS if f != "title" and payload.get(f) not in (None, "")]
    present += list(payload.get("fields") or {})
    if payload.get("tags"):
        present.append("tags")
    chosen = fields if fields is not None else [f for f in present if f != "totp"]
    unknown = [f for f in chosen if f not in present]
    if unknown:
        its = ", ".join(present)
        raise BadInput(
            _("this item has no {fields}").format(fields=", ".join(unknown)),
            hint=_("its fields: {fields}").format(fields=its) if its else _("it has no fields"),
        )
    if otp is not None and "totp" in chosen:
        raise UsageError(_("share either the 2FA seed (--fields totp) or 2FA codes (--otp-hours)"))
    if otp is not None and not payload.get("totp"):
        raise BadInput(_("this item has no 2FA seed to make codes from"))
    scope: Scope = {"fields": list(dict.fromkeys(chosen))}
    if otp is not None:
        scope["otp"] = otp
    return scope


def revoke(session: Session, item_id: str, member_id: str, reason: str) -> Revocation:
    """Append `revoke`, then re-key the item for those who remain (one write). Returns the
    revocation (with until when the member still holds delivered 2FA codes)."""
    session.require_owner()
    if member_id not in session.state["items"][item_id]["grants"]:
        raise UserError(
            _("this item is not shared with {name!r}").format(name=session.member_name(member_id))
        )
    payload = session.payload(item_id)
    with session.batch():
        session.append("revoke", {"item": item_id, "member": member_id, "reason": reason})
        session.put(item_id, payload)
    revocations: list[Revocation] = session.state["revocations"]
    for revocation in reversed(revocations):
        if revocation["member"] == member_id:
            found: Revocation = revocation
            return found
    raise AssertionError("the revoke just written is not in the state")  # pragma: no cover


@dataclass
class Upkeep:
    """What the owner's takusu did on its own when the vault was opened."""

    expired: list[tuple[str, str]] = field(default_factory=list)  # (item id, member id)
    topped_up: list[tuple[str, str]] = field(default_factory=list)  # (item id, member id)


def upkeep(session: Session) -> Upkeep:
    """The owner's routine work, run by whoever opens a session for a command (the CLI, the
    agent): revoke expired grants, then top up 2FA code windows that are running low.
    Nothing for a member, or while the owner's log is damaged."""
    done = Upkeep()
    if not session.is_owner or [p for p in session.loaded.fatal if p.log == session.me.id]:
        return done
    key, now = str(session.store.mirror.local), session.clock()
    head = session.state["heads"].get(session.me.id)
    quiet = _QUIET.get(key)
    afresh = quiet is None  # this process's first look: what the last one wrote down
    if quiet is None:
        quiet = _read_quiet(session)
    if head is not None and quiet is not None and quiet.since <= now < quiet.until:
        if quiet.head == head["hash"]:
            remember(_QUIET, key, quiet)
            return done  # nothing falls due before then, and the owner's log has not moved
        carried = _carried(session, quiet, now)
        if carried is not None:
            _keep_quiet(session, key, carried, afresh)
            return done
    expired, low, next_due = _due(session, now)
    done.expired = _expire(session, expired)
    if done.expired:  # a re-key may have delivered codes already: look again
        low = _due(session, now)[1]
    done.topped_up = _top_up(session, low)
    if done.expired or done.topped_up:
        next_due = _due(session, now)[2]
    head = session.state["heads"].get(session.me.id)
    if head is not None:
        _keep_quiet(session, key, _Quiet.at(head, now, next_due), afresh)
    return done


# quiet.json, beside the state cache: the last quiet spell a command found, so that a
# command started afresh (no agent) need not walk every item either. Like the state
# cache it is this machine's own derived data, protected by its file mode: anything
# unexpected in it means "walk them all", as without it.
QUIET_LABEL = "takusu/quiet/v1"


def _read_quiet(session: Session) -> _Quiet | None:
    try:
        doc = json.loads(fsutil.read_bytes(_quiet_path(session), 4096).decode("utf-8"))
        quiet = _Quiet(
            doc["head"],
            doc["seq"],
            doc["size"],
            datetime.fromisoformat(doc["since"]),
            _LATEST if doc["until"] is None else datetime.fromisoformat(doc["until"]),
        )
    except (OSError, TakusuError, ValueError, TypeError, KeyError):
        return None
    if (
        doc.get("label") != QUIET_LABEL
        or type(quiet.head) is not str
        or type(quiet.seq) is not int
        or type(quiet.size) is not int
        or quiet.since.tzinfo is None
        or quiet.until.tzinfo is None
    ):
        return None
    return quiet


def _keep_quiet(session: Session, key: str, quiet: _Quiet, write: bool) -> None:
    """Remember `quiet` in this process; `write`: write it down for the next one too (a
    long-lived process, the agent, writes only its first, not one after every `add`)."""
    remember(_QUIET, key, quiet)
    if not write:
        return
    doc = {
        "label": QUIET_LABEL,
        "head": quiet.head,
        "seq": quiet.seq,
        "size": quiet.size,
        "since": quiet.since.isoformat(),
        "until": None if quiet.until == _LATEST else quiet.until.isoformat(),
    }
    with contextlib.suppress(OSError, TakusuError):  # a cache: the next command walks
        fsutil.atomic_write(_quiet_path(session), dumps(doc))


def _quiet_path(session: Session) -> Path:
    return session.store.mirror.local / "quiet.json"


@dataclass(frozen=True)
class _Quiet:
    """Nothing falls due from `since` until `until` at this owner head (hash, seq, size)."""

    head: str
    seq: int
    size: int
    since: datetime
    until: datetime

    @classmethod
    def at(cls, head: Head, since: datetime, until: datetime) -> _Quiet:
        return cls(head["hash"], head["seq"], head["size"], since, until)


def _carried(session: Session, quiet: _Quiet, now: datetime) -> _Quiet | None:
    """`quiet` carried to the owner's head now, when the events since changed only a few
    items (an `add`, an edit, a share) and none of those falls due now: the first moment
    one of them will is the new end, if sooner. The other items' grants are as they were.
    (An end that comes too soon because a moved item's grant went away only means one
    walk of every item then.) None: walk every item."""
    moved = session.items_moved((quiet.seq, quiet.size, quiet.head))
    if moved is None:
        return None
    expired, low, due = _due(session, now, sorted(moved))
    head = session.state["heads"][session.me.id]
    if expired or low:
        return None
    return _Quiet.at(head, quiet.since, min(quiet.until, due))


# By this machine's mirror of a vault: when upkeep last found nothing to do, and until
# when. Grants and code windows come from the owner's log alone, so a long-lived process
# (the agent) need not walk every item on every command, nor after each `add`.
_QUIET: dict[str, _Quiet] = {}
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _due(
    session: Session, now: datetime, only: list[str] | None = None
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], datetime]:
    """In one walk of the shared items (or of the items `only` names): the grants past
    their expiry, the code-window grants with less than half of their horizon left (not
    expired), and the first moment after `now` at which either list would gain one
    (`_LATEST` when none will)."""
    expired: list[tuple[str, str]] = []
    low: list[tuple[str, str]] = []
    due = _LATEST
    items = session.state["items"]
    walked = items.items() if only is None else [(i, items[i]) for i in only if i in items]
    for item_id, item in walked:
        if item["deleted"] or not item["grants"]:
            continue
        for member_id, grant in item["grants"].items():
            if is_expired(grant["expires"], now):
                expired.append((item_id, member_id))
                continue
            if grant["expires"]:
                due = min(due, parse_time(grant["expires"]))  # when is_expired turns true
            if "otp" not in grant.get("scope", {}):
                continue
            until, start = grant.get("codes_until"), grant.get("codes_from")
            if until is None or start is None:
                low.append((item_id, member_id))
                due = _EARLIEST
                continue
            end, begin = parse_time(until), parse_time(start)
            if needs_top_up(end, begin, now):
                low.append((item_id, member_id))
                due = _EARLIEST
            else:
                due = min(due, top_up_from(end, begin))
    return expired, low, due


def _top_up(session: Session, due: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Deliver the next 2FA codes to each code-window grantee in `due` (only new steps), in
    one write."""
    done = []
    if due:
        with session.batch():
            for item_id, member_id in due:
                card = Card.from_envelope(session.state["members"][member_id]["card"])
                if session.deliver_codes(item_id, card, replace=False):
                    done.append((item_id, member_id))
    return done


def _expire(session: Session, due: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Revoke (reason 'expired') every grant in `due`, in one write."""
    if due:
        with session.batch():
            for item_id, member_id in due:
                revoke(session, item_id, member_id, "expired")
    return due


@dataclass
class Rotated:
    """What a rotation recorded, and the 2FA seed someone saw that it did not change."""

    fields: list[str]
    seed_still_seen_by: list[str]  # member names


def rotate(session: Session, item_id: str, changes: dict[str, Any]) -> Rotated:
    """Record a new secret: a new version that clears the exposed mark of what changed.
    Refused for a secret "rotated" to the value it already had."""
    session.require_owner()
    payload = session.payload(item_id)
    item = session.state["items"][item_id]
    marks = {"password": item["exposed"], "totp": item.get("seed_exposed", {})}
    same = [k for k in ("password", "totp") if k in changes and changes[k] == payload.get(k)]
    if any(marks[k] for k in same):
        raise BadInput(
            _("the new {field} is the same as the old one, so it stays marked as seen").format(
                field=field_words(same[0])
            ),
            hint=_("change it at the site first, then record the new one"),
        )
    if same and len(same) == len([k for k in ("password", "totp") if k in changes]):
        return Rotated([], [])  # already recorded (a retry): nothing to do
    rotated: list[str] = [k for k in ("password", "totp") if k in changes and k not in same]
    session.put(item_id, {**payload, **changes}, rotated=rotated)  # type: ignore[typeddict-item]
    item = session.state["items"][item_id]
    still = []
    if "totp" not in rotated and payload.get("totp"):
        still = [session.member_name(m) for m in item.get("seed_exposed", {})]
    return Rotated(rotated, still)


# --- offboarding ----------------------------------------------------------------------------


def offboard(session: Session, name: str) -> list[dict[str, Any]]:
    """Revoke everything from a member, remove them, and return the rotation checklist."""
    return remove_member(session, name, revoke_all=True)


def last_retrievals(session: Session, member_id: str) -> dict[str, Any]:
    return dict(session.state["retrievals"].get(member_id, {}))


def rotation_checklist(session: Session, member_id: str | None = None) -> list[dict[str, Any]]:
    """Exposed items (for one member or anyone), most urgent first: retrieved, most recent.
    Each row says which fields she retrieved (first and latest time), whether she saw the
    2FA seed, and until when she still holds delivered 2FA codes."""
    rows = []
    for item_id, item in session.state["items"].items():
        marks = {**item.get("seed_exposed", {}), **item["exposed"]}
        who = [m for m in marks if member_id in (None, m)]
        if not who:
            continue
        payload = session.payload(item_id)
        for m in who:
            rows.append(_checklist_row(session, item_id, item, payload, m, marks[m]))
    rows.sort(key=lambda r: (r["retrieved"], r["last_retrieved"] or ""), reverse=True)
    return rows


def _checklist_row(
    session: Session, item_id: str, item: Item, payload: Payload, member: str, since: str
) -> dict[str, Any]:
    seen = last_retrievals(session, member).get(item_id)
    fields = seen["fields"] if seen else []
    seed_seen = bool(payload.get("totp")) and (
        member in item.get("seed_exposed", {}) or "totp" in fields
    )
    codes = [
        r["codes_until"]
        for r in session.state["revocations"]
        if r["item"] == item_id and r["member"] == member and "codes_until" in r
    ]
    return {
        "item": item_id,
        "title": payload["title"],
        "url": payload.get("url"),
        "member": session.member_name(member),
        "exposed_since": since,
        "retrieved": seen is not None,
        "first_retrieved": seen["first"] if seen else None,
        "last_retrieved": seen["last"] if seen else None,
        "fields": fields,
        "seed_seen": seed_seen,
        "password_exposed": member in item["exposed"],
        "codes_until": max(codes) if codes else None,
        "deleted": item["deleted"],
    }


def rotation_asks_password(new_totp: bool, new_password_given: bool) -> bool:
    """Whether `rotate` should prompt for a new password: yes, unless only a new 2FA seed
    was asked for (a seed-only rotation keeps the password)."""
    return new_password_given or not new_totp
