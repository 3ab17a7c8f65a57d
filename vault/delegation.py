"""Access requests and the retrieval policy: the member asks, the owner answers; the owner
sets rules her members' takusu keeps (and `audit verify` checks).

A request is a member event whose text and reason are sealed to the owner and to the
member (the folder never holds them in plaintext): she names what she needs in her own
words, since she cannot see titles that are not shared with her. The answers are owner
events (a grant that names the request, or `request.deny`), so they are authentic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import labels
from .clock import stamp
from .codewindow import Hours, local_zone_name, parse_hours, parse_zone
from .errors import BadInput, NotFound, NotOwner, TakusuError, UsageError
from .i18n import _
from .identity import Card
from .scoped import open_answer, open_request, seal_answer, seal_request
from .session import Session
from .sharing import Shared, share
from .state import Answer, OtpScope, Policy
from .text import checked


@dataclass
class Request:
    """One access request as its owner or its member sees it."""

    id: str
    member: str  # the member's name
    member_id: str
    text: str
    reason: str | None
    at: str
    duration: int | None  # seconds asked for (--for), or None
    status: str  # "pending", "approved" or "denied"
    item: str | None  # the item it was approved with (its id)
    answer: str | None = None  # the owner's reason for a denial

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "member": self.member,
            "text": self.text,
            "reason": self.reason,
            "at": self.at,
            "for_seconds": self.duration,
            "status": self.status,
            "item": self.item,
            "answer": self.answer,
        }


def request(session: Session, text: str, reason: str | None, duration: timedelta | None) -> str:
    """A member asks for access in her own words; returns the request's id."""
    if session.is_owner:
        raise UsageError(_("the vault's owner shares directly: 'takusu share TITLE --with NAME'"))
    text = checked(text, _("the request"), max_len=labels.MAX_REQUEST_TEXT)
    if reason is not None:
        reason = checked(reason, _("the reason"), max_len=labels.MAX_REQUEST_TEXT)
    seconds = None if duration is None else int(duration.total_seconds())
    if seconds is not None and not 60 <= seconds <= 366 * 86400:
        raise BadInput(_("a request asks for a minute to a year of access"))
    request_id, sealed = seal_request(
        session.vault_id, session.me.card, session.owner_card, text, reason
    )
    session.append("request", {"id": request_id, "sealed": sealed, "for": seconds})
    return request_id


def requests(session: Session) -> list[Request]:
    """The requests I can read: all of them for the owner, my own for a member; oldest first."""
    out = []
    for member_id, mine in session.state["requests"].items():
        if not session.is_owner and member_id != session.me.id:
            continue
        answers = session.state["answers"].get(member_id, {})
        for request_id, record in mine.items():
            body = session.store.event_at(member_id, record["ref"])
            try:
                text, reason = open_request(
                    session.vault_id, member_id, request_id, session.me, body.get("sealed")
                )
            except TakusuError:  # one that is not sealed to me (a hostile member) hides no other
                text = _("(this request cannot be read: it was not sealed to you)")
                reason = None
            answer = answers.get(request_id)
            said = _answer_reason(session, member_id, request_id, answer)
            out.append(
                Request(
                    request_id,
                    session.member_name(member_id),
                    member_id,
                    text,
                    reason,
                    record["at"],
                    record["duration"],
                    answer["status"] if answer else "pending",
                    answer.get("item") if answer else None,
                    said,
                )
            )
    return sorted(out, key=lambda r: r.at)


def _answer_reason(
    session: Session, member_id: str, request_id: str, answer: Answer | None
) -> str | None:
    if answer is None or answer["status"] != "denied":
        return None
    body = session.store.event_at(session.owner_id, answer["ref"])
    if "sealed" not in body:
        return None
    return open_answer(session.vault_id, member_id, request_id, session.me, body["sealed"])


def _pending(session: Session, request_id: str) -> Request:
    session.require_owner()
    found = [r for r in requests(session) if r.id == request_id.strip().lower()]
    if not found:
        raise NotFound(
            _("no request {request!r}").format(request=request_id),
            hint=_("'takusu requests' lists them"),
        )
    if found[0].status == "approved":
        raise BadInput(_("request {request} was already approved").format(request=found[0].id))
    if found[0].status != "pending":
        raise BadInput(_("request {request} was already denied").format(request=found[0].id))
    return found[0]


def approve(
    session: Session,
    request_id: str,
    item_id: str,
    expires: str | None,
    fields: list[str] | None = None,
    otp: OtpScope | None = None,
) -> Shared:
    """Share an item with the member who asked, linked to her request (her `--for` is the
    default expiry)."""
    if not session.is_owner:
        raise NotOwner(_("only the vault's owner answers requests"))
    asked = _pending(session, request_id)
    if expires is None and asked.duration is not None:
        expires = stamp(session.clock() + timedelta(seconds=asked.duration))
    return share(
        session, item_id, asked.member_id, expires, fields=fields, otp=otp, request=asked.id
    )


def deny(session: Session, request_id: str, reason: str | None) -> Request:
    """Answer a request with no: an owner event the member sees (with the owner's reason)."""
    if not session.is_owner:
        raise NotOwner(_("only the vault's owner answers requests"))
    asked = _pending(session, request_id)
    body: dict[str, Any] = {"member": asked.member_id, "request": asked.id}
    if reason is not None:
        reason = checked(reason, _("the reason"), max_len=labels.MAX_REQUEST_TEXT)
        card = Card.from_envelope(session.state["members"][asked.member_id]["card"])
        body["sealed"] = seal_answer(session.vault_id, card, session.me.card, asked.id, reason)
    session.append("request.deny", body)
    return asked


# --- the retrieval policy ----------------------------------------------------------------------


def set_policy(
    session: Session, require_reason: bool | None, hours: str | None, zone: str | None
) -> Policy:
    """Change what the owner asks of every retrieval; what is not given stays as it was."""
    session.require_owner()
    current = session.state["policy"]
    reason = (
        require_reason
        if require_reason is not None
        else bool(current and current["require_reason"])
    )
    body: dict[str, Any] = {"require_reason": reason, "hours": None, "zone": None}
    if hours is not None and hours.strip().lower() not in ("", "off", "any"):
        zone = zone or local_zone_name()
        parse_zone(zone)  # the zone the owner named, checked before anything is written
        body.update(hours=parse_hours(hours).to_json(), zone=zone)
    elif hours is None and current is not None and current["hours"] is not None:
        body.update(hours=current["hours"], zone=zone or current["zone"])
    session.append("policy", body)
    policy = session.state["policy"]
    assert policy is not None
    return policy


def describe_policy(policy: Policy | None) -> str:
    """The policy in plain words."""
    if policy is None or (not policy["require_reason"] and policy["hours"] is None):
        return _("no policy: retrievals need no reason and may happen at any time")
    if policy["hours"] is None:
        return _("every retrieval needs a reason")
    hours = Hours.from_json(policy["hours"]).describe()
    if policy["require_reason"]:
        said = _("every retrieval needs a reason; retrievals only {hours} ({zone})")
    else:
        said = _("retrievals only {hours} ({zone})")
    return said.format(hours=hours, zone=policy["zone"])
