"""The item model: the fields an item has, the empty item, field access, summaries and
password generation. Pure data rules; how an item version is sealed is in envelope.py.
"""

from __future__ import annotations

import math
import secrets
import string
import unicodedata
from typing import Any, TypedDict

from . import i18n, labels
from .encoding import dumps
from .errors import BadInput, NotFound
from .i18n import N_, _
from .text import checked, unsafe

# The payload of one item version, sealed as one AEAD message (docs/format.md).
ITEM_FIELDS = ("title", "username", "password", "url", "notes", "totp", "fields", "tags")
STANDARD_FIELDS = ("title", "username", "password", "url", "notes", "totp")
# Changing one of these records a new secret (clears an exposed mark on edit).
SECRET_FIELDS = ("password", "totp")
# What the encrypted title index keeps per item, so `list` and `find` need no decryption.
SUMMARY_FIELDS = ("title", "username", "url", "tags")


class Payload(TypedDict):
    """The decrypted fields of one item version."""

    title: str
    username: str | None
    password: str | None
    url: str | None
    notes: str | None
    totp: str | None
    fields: dict[str, str]
    tags: list[str]


def empty_payload() -> Payload:
    return {
        "title": "",
        "username": None,
        "password": None,
        "url": None,
        "notes": None,
        "totp": None,
        "fields": {},
        "tags": [],
    }


def validate(payload: Payload) -> Payload:
    """The payload with its text checked (NFC; no control characters where a line is
    expected) and within every limit readers enforce; BadInput naming what is wrong."""
    out: Payload = dict(payload)  # type: ignore[assignment]
    out["title"] = checked(payload.get("title") or "", _("the title"), max_len=labels.MAX_TITLE)
    for key, what in (("username", _("the username")), ("url", _("the web address"))):
        value = payload.get(key)
        line = checked(str(value), what, max_len=labels.MAX_TEXT) if value else None
        out[key] = line  # type: ignore[literal-required]
    if payload.get("notes"):
        out["notes"] = checked(
            str(payload["notes"]), _("the note"), max_len=labels.MAX_ITEM, newlines=True
        )
    fields = payload.get("fields") or {}
    if len(fields) > labels.MAX_FIELDS:
        raise BadInput(
            _("an item has at most {limit} custom fields").format(limit=labels.MAX_FIELDS)
        )
    out["fields"] = {
        check_field_name(name): checked(
            value,
            _("the field {name!r}").format(name=name),
            max_len=labels.MAX_ITEM,
            newlines=True,
        )
        for name, value in fields.items()
    }
    tags = payload.get("tags") or []
    if len(tags) > labels.MAX_TAGS:
        raise BadInput(_("an item has at most {limit} tags").format(limit=labels.MAX_TAGS))
    out["tags"] = sorted({checked(t, _("a tag"), max_len=labels.MAX_FIELD_NAME) for t in tags})
    size = len(dumps({k: out.get(k) for k in ITEM_FIELDS}))
    if size > labels.MAX_ITEM:
        raise BadInput(
            _(
                "this item is too large: {size} bytes, and an item holds at most "
                "{limit} (notes and custom fields included)"
            ).format(size=f"{size:,}", limit=f"{labels.MAX_ITEM:,}"),
            hint=_("keep long documents elsewhere; takusu is for logins and their secrets"),
        )
    return out


def check_field_name(name: str) -> str:
    """A field name as receipts can name it: NFC, no control characters, 1-64 characters,
    and not one of the standard fields."""
    name = checked(name, _("a field name"), max_len=labels.MAX_FIELD_NAME)
    if name in STANDARD_FIELDS:
        raise BadInput(
            _("{name!r} is a standard field; choose another name for a custom field").format(
                name=name
            )
        )
    return name


def receipt_problem(fields: list[str], reason: str | None) -> str | None:
    """Why a retrieval of `fields` with `reason` could not be recorded (the limits the
    owner's takusu applies to receipts), or None. The member's takusu asks this before
    decrypting anything, and the owner's uses the same rule to accept a receipt."""
    if not 0 < len(fields) <= labels.MAX_RECEIPT_FIELDS:
        return _("a retrieval names 1 to {limit} fields").format(limit=labels.MAX_RECEIPT_FIELDS)
    for name in fields:
        if not isinstance(name, str) or not 0 < len(name) <= labels.MAX_FIELD_NAME:
            return _("a field name is 1 to {limit} characters").format(limit=labels.MAX_FIELD_NAME)
        if any(unsafe(ch) for ch in name):
            return _("a field name holds a control character")
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > labels.MAX_REASON:
            return _("a reason is at most {limit} characters").format(limit=labels.MAX_REASON)
        if any(unsafe(ch) for ch in reason):
            return _("a reason holds a control character")
    return None


FIELD_WORDS = {
    "title": N_("title"),
    "username": N_("username"),
    "password": N_("password"),
    "totp": N_("2FA seed"),
    "otp": N_("2FA code"),
    "url": N_("web address"),
    "notes": N_("note"),
    "tags": N_("tags"),
}


def field_words(name: str) -> str:
    """A field's name as people read it, in their language (the seed is "totp" only in the
    format); a custom field's name as it is."""
    words = FIELD_WORDS.get(name)
    return name if words is None else i18n._(words)


def field_value(payload: Any, field: str) -> Any:
    """One field of an item; custom fields by name. NotFound if the item lacks it."""
    if field in STANDARD_FIELDS:
        value = payload.get(field)
    else:
        value = (payload.get("fields") or {}).get(field)
    if value in (None, ""):
        raise NotFound(_("this item has no {field}").format(field=field_words(field)))
    return value


def summary(payload: Any) -> dict[str, Any]:
    """The non-secret fields the title index keeps."""
    return {k: payload.get(k) for k in SUMMARY_FIELDS}


GEN_SYMBOLS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
GEN_ALPHABET = string.ascii_letters + string.digits + GEN_SYMBOLS
GEN_DEFAULT = 24


GEN_MIN_BITS = 64  # what a generated password must carry, whatever its characters


def generate_password(
    length: int = GEN_DEFAULT, *, symbols: bool = True, chars: str | None = None
) -> str:
    """A random password from `secrets`. By default letters, digits and symbols, at least
    one of each; `symbols=False` for the many sites that refuse symbols (letters and
    digits, at least one of each); `chars` for a site's own set (any of them). Whatever the
    set, the password carries at least GEN_MIN_BITS bits."""
    if not 8 <= length <= 256:
        raise BadInput(_("a generated password is 8 to 256 characters long"))
    if chars is not None:
        alphabet = "".join(sorted(set(unicodedata.normalize("NFC", chars))))
        bad = [c for c in alphabet if not c.isprintable() or c.isspace()]
        if bad:
            raise BadInput(
                _("--chars holds a space or control character ({char!r})").format(char=bad[0])
            )
        if len(alphabet) < 2:
            raise BadInput(_("--chars needs at least two different characters"))
    else:
        alphabet = GEN_ALPHABET if symbols else string.ascii_letters + string.digits
    bits = length * math.log2(len(alphabet))
    if bits < GEN_MIN_BITS:
        need = math.ceil(GEN_MIN_BITS / math.log2(len(alphabet)))
        raise BadInput(
            _(
                "{length} characters from a set of {size} is too easy to guess; use at least {need}"
            ).format(length=length, size=len(alphabet), need=need)
        )
    while True:
        pw = "".join(secrets.choice(alphabet) for _n in range(length))
        if chars is not None or _has_every_kind(pw, symbols):
            return pw


def _has_every_kind(pw: str, symbols: bool) -> bool:
    kinds = [str.islower, str.isupper, str.isdigit]
    return all(any(k(c) for c in pw) for k in kinds) and (
        not symbols or any(not c.isalnum() for c in pw)
    )
