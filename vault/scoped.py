"""Records sealed to one person for delegation: views, 2FA code windows, access requests.

A *view* is what a scoped grantee can read of one item version: the title and only the
fields shared with her, sealed under its own key (she never receives the item's data
key). *Codes* are the TOTP codes of the working-hours steps ahead, packed (codebook.py)
and sealed to her: the seed never leaves the client. A *request* is a member's own words
for what she needs, sealed to the owner and to herself. All three use
`envelope.seal_for`, with AAD and HPKE info binding the parts in docs/format.md.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from . import labels
from .clock import stamp
from .codebook import CodeBook, pack, unpack
from .codewindow import Hours, book_for, parse_zone
from .encoding import b64d, b64e
from .envelope import open_sealed, seal_for, sealed_parts
from .errors import Malformed
from .i18n import _
from .identity import Card, Identity
from .item import ITEM_FIELDS, STANDARD_FIELDS, Payload, empty_payload

OTP_FIELD = "otp"  # what a receipt names for one 2FA code (the seed is "totp")


# --- views -------------------------------------------------------------------------------------


def view_of(payload: Payload, fields: list[str]) -> Payload:
    """The item as a scoped grantee sees it: the title and only `fields` (standard or
    custom field names; "tags" for the tags)."""
    view = empty_payload()
    view["title"] = payload["title"]
    for name in fields:
        if name in STANDARD_FIELDS and name != "title":
            view[name] = payload.get(name)  # type: ignore[literal-required]
        elif name in (payload.get("fields") or {}):
            view["fields"][name] = payload["fields"][name]
    if "tags" in fields:
        view["tags"] = list(payload.get("tags") or [])
    return view


def _view_parts(label: bytes, vault_id: str, item_id: str, version: int, member: str) -> bytes:
    return sealed_parts(label, vault_id, item_id, version, member)


def seal_view(
    vault_id: str, item_id: str, version: int, card: Card, payload: Payload, fields: list[str]
) -> dict[str, Any]:
    """The `view` event body for one scoped grantee of one item version."""
    aad = _view_parts(labels.VIEW_AAD, vault_id, item_id, version, card.id)
    info = _view_parts(labels.VIEW_WRAP_INFO, vault_id, item_id, version, card.id)
    view = {k: view_of(payload, fields).get(k) for k in ITEM_FIELDS}
    return {
        "item": item_id,
        "version": version,
        "member": card.id,
        **seal_for(view, aad, [(card, info)]),
    }


def open_view(vault_id: str, item_id: str, version: int, me: Identity, body: Any) -> Payload:
    """My view of an item version from its `view` event body."""
    aad = _view_parts(labels.VIEW_AAD, vault_id, item_id, version, me.id)
    info = _view_parts(labels.VIEW_WRAP_INFO, vault_id, item_id, version, me.id)
    view = open_sealed(body, aad, info, me, _("shared view"))
    if not isinstance(view, dict) or set(view) != set(ITEM_FIELDS):
        raise Malformed(_("a shared view has the wrong fields"))
    opened: Payload = view  # type: ignore[assignment]  # shape checked just above
    return opened


# --- 2FA code windows --------------------------------------------------------------------------


def code_bodies(
    vault_id: str,
    item_id: str,
    card: Card,
    uri: str,
    otp: dict[str, Any],
    span: tuple[datetime, datetime],
    replace: bool,
) -> list[dict[str, Any]]:
    """The `codes` event bodies delivering the codes of every window step in `span`
    (split so that no event holds more than MAX_CODES_PER_EVENT codes)."""
    hours, zone = Hours.from_json(otp["hours"]), parse_zone(otp["zone"])
    book = book_for(uri, hours, zone, span[0], span[1])
    steps, codes = book.steps(), book.codes()
    bodies: list[dict[str, Any]] = []
    for start in range(0, max(len(steps), 1), labels.MAX_CODES_PER_EVENT):
        end = start + labels.MAX_CODES_PER_EVENT
        part = CodeBook.from_steps(book.period, book.digits, steps[start:end], codes[start:end])
        bodies.append(_seal_codes(vault_id, item_id, card, part, span[1], replace and not bodies))
    return bodies


def _codes_parts(label: bytes, vault_id: str, item_id: str, member: str, codes_id: str) -> bytes:
    return sealed_parts(label, vault_id, item_id, member, codes_id)


def _seal_codes(
    vault_id: str, item_id: str, card: Card, book: CodeBook, until: datetime, replace: bool
) -> dict[str, Any]:
    codes_id = secrets.token_hex(8)
    aad = _codes_parts(labels.CODES_AAD, vault_id, item_id, card.id, codes_id)
    info = _codes_parts(labels.CODES_WRAP_INFO, vault_id, item_id, card.id, codes_id)
    return {
        "item": item_id,
        "member": card.id,
        "id": codes_id,
        "until": stamp(until),
        "replace": replace,
        **seal_for({"v": 1, "pack": b64e(pack(book))}, aad, [(card, info)]),
    }


def open_codes(vault_id: str, item_id: str, me: Identity, body: Any) -> CodeBook:
    """The codes one `codes` event body delivered to me."""
    codes_id = str(body.get("id")) if isinstance(body, dict) else ""
    aad = _codes_parts(labels.CODES_AAD, vault_id, item_id, me.id, codes_id)
    info = _codes_parts(labels.CODES_WRAP_INFO, vault_id, item_id, me.id, codes_id)
    what = _("2FA codes")
    opened = open_sealed(body, aad, info, me, what)
    if (
        not isinstance(opened, dict)
        or set(opened) != {"v", "pack"}
        or not labels.is_current(opened["v"])
    ):
        raise Malformed(_("2FA codes have the wrong shape"))
    return unpack(b64d(opened["pack"], what))


# --- access requests ---------------------------------------------------------------------------


def _request_parts(label: bytes, vault_id: str, member: str, request_id: str, *more: str) -> bytes:
    return sealed_parts(label, vault_id, member, request_id, *more)


def seal_request(
    vault_id: str, member: Card, owner: Card, text: str, reason: str | None
) -> tuple[str, dict[str, Any]]:
    """A new request id and its text and reason sealed to the owner and to the member."""
    request_id = secrets.token_hex(8)
    aad = _request_parts(labels.REQUEST_AAD, vault_id, member.id, request_id)
    info = _request_parts(labels.REQUEST_WRAP_INFO, vault_id, member.id, request_id)
    sealed = seal_for({"text": text, "reason": reason}, aad, [(owner, info), (member, info)])
    return request_id, sealed


def seal_answer(
    vault_id: str, member: Card, owner: Card, request_id: str, reason: str
) -> dict[str, Any]:
    """The owner's reason for an answer, sealed to the member and to the owner."""
    aad = _request_parts(labels.REQUEST_AAD, vault_id, member.id, request_id, "answer")
    info = _request_parts(labels.REQUEST_WRAP_INFO, vault_id, member.id, request_id, "answer")
    return seal_for({"reason": reason}, aad, [(member, info), (owner, info)])


def open_answer(vault_id: str, member_id: str, request_id: str, me: Identity, sealed: Any) -> str:
    aad = _request_parts(labels.REQUEST_AAD, vault_id, member_id, request_id, "answer")
    info = _request_parts(labels.REQUEST_WRAP_INFO, vault_id, member_id, request_id, "answer")
    opened = open_sealed(sealed, aad, info, me, _("answer"))
    if (
        not isinstance(opened, dict)
        or set(opened) != {"reason"}
        or not isinstance(opened["reason"], str)
    ):
        raise Malformed(_("an answer has the wrong shape"))
    return str(opened["reason"])


def open_request(
    vault_id: str, member_id: str, request_id: str, me: Identity, sealed: Any
) -> tuple[str, str | None]:
    """(text, reason) of a request, for its owner or its member."""
    aad = _request_parts(labels.REQUEST_AAD, vault_id, member_id, request_id)
    info = _request_parts(labels.REQUEST_WRAP_INFO, vault_id, member_id, request_id)
    opened = open_sealed(sealed, aad, info, me, _("request"))
    if (
        not isinstance(opened, dict)
        or set(opened) != {"text", "reason"}
        or not isinstance(opened["text"], str)
        or not isinstance(opened["reason"], str | None)
    ):
        raise Malformed(_("a request has the wrong shape"))
    return opened["text"], opened["reason"]
