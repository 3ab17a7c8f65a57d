"""The item model: the fields an item has, the empty item, field access, summaries and
password generation. Pure data rules; how an item version is sealed is in envelope.py.
"""

from __future__ import annotations

import secrets
import string
from typing import Any, TypedDict

from .errors import BadInput, NotFound

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


def field_value(payload: Any, field: str) -> Any:
    """One field of an item; custom fields by name. NotFound if the item lacks it."""
    if field in STANDARD_FIELDS:
        value = payload.get(field)
    else:
        value = (payload.get("fields") or {}).get(field)
    if value in (None, ""):
        raise NotFound(f"this item has no {field}")
    return value


def summary(payload: Any) -> dict[str, Any]:
    """The non-secret fields the title index keeps."""
    return {k: payload.get(k) for k in SUMMARY_FIELDS}


GEN_SYMBOLS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
GEN_ALPHABET = string.ascii_letters + string.digits + GEN_SYMBOLS
GEN_DEFAULT = 24


def generate_password(length: int = GEN_DEFAULT) -> str:
    """A random password from `secrets`: letters, digits and symbols, at least one of each."""
    if not 8 <= length <= 256:
        raise BadInput("a generated password is 8 to 256 characters long")
    while True:
        pw = "".join(secrets.choice(GEN_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in pw)
            and any(c.isupper() for c in pw)
            and any(c.isdigit() for c in pw)
            and any(not c.isalnum() for c in pw)
        ):
            return pw
