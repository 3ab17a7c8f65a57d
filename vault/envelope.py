"""Item envelopes and key wraps: how an item version is sealed and who can open it.

One AEAD message per item version under a fresh data key (AAD binds vault, item and
version); the data key is committed to (HMAC), wrapped under the owner's vault key,
and HPKE-wrapped to each grantee with `info` binding vault, item, version and grantee.
"""

from __future__ import annotations

from typing import Any

from . import crypto, labels
from .encoding import b64d, b64e, dumps, loads
from .errors import DecryptionFailed, IntegrityError, Malformed
from .i18n import _
from .identity import Card, Identity
from .item import ITEM_FIELDS, Payload

PAD = 128


def _join(*parts: str | int) -> bytes:
    return "\n".join(str(p) for p in parts).encode()


def item_aad(vault_id: str, item_id: str, version: int) -> bytes:
    return labels.ITEM_AAD + _join(vault_id, item_id, version)


def wrap_info(vault_id: str, item_id: str, version: int, member_id: str) -> bytes:
    return labels.GRANT_WRAP_INFO + _join(vault_id, item_id, version, member_id)


def vault_key_info(vault_id: str, owner_id: str) -> bytes:
    return labels.VAULT_KEY_INFO + _join(vault_id, owner_id)


# --- vault key ------------------------------------------------------------------------------


def wrap_vault_key(vault_id: str, owner: Card, vault_key: bytes) -> str:
    return b64e(
        crypto.hpke_seal(owner.suite, owner.kem_key, vault_key, vault_key_info(vault_id, owner.id))
    )


def open_vault_key(vault_id: str, owner: Identity, wrap: str) -> bytes:
    key = crypto.hpke_open(
        owner.kem, b64d(wrap, _("vault key wrap")), vault_key_info(vault_id, owner.id)
    )
    if len(key) != crypto.KEY_LEN:
        raise IntegrityError(_("vault key has the wrong length"))
    return key


# --- item payloads --------------------------------------------------------------------------


def encode_payload(payload: Payload) -> bytes:
    """JSON of the item, padded with spaces to a multiple of 128 bytes (hides exact lengths)."""
    data = dumps({k: payload.get(k) for k in ITEM_FIELDS})
    return data + b" " * (-len(data) % PAD)


def decode_payload(data: bytes) -> Payload:
    obj = loads(data, _("item"))
    if not isinstance(obj, dict) or set(obj) != set(ITEM_FIELDS):
        raise Malformed(_("item payload has the wrong fields"))
    payload: Payload = obj  # type: ignore[assignment]  # shape checked just above
    return payload


def wrap_for(vault_id: str, item_id: str, version: int, card: Card, data_key: bytes) -> str:
    """HPKE-wrap a data key to one grantee for exactly this item version."""
    return b64e(
        crypto.hpke_seal(
            card.suite, card.kem_key, data_key, wrap_info(vault_id, item_id, version, card.id)
        )
    )


def seal_item(
    vault_id: str,
    item_id: str,
    version: int,
    payload: Payload,
    vault_key: bytes,
    grantees: list[Card],
) -> tuple[dict[str, Any], bytes]:
    """The item.put body for a new version, and its fresh data key."""
    data_key = crypto.random_key()
    ct = crypto.aead_seal(data_key, encode_payload(payload), item_aad(vault_id, item_id, version))
    owner_wrap = crypto.aead_seal(
        vault_key, data_key, labels.OWNER_WRAP_AAD + _join(vault_id, item_id, version)
    )
    body = {
        "item": item_id,
        "version": version,
        "aead": labels.ITEM_AEAD,
        "ct": b64e(ct),
        "key_commit": b64e(crypto.key_commit(data_key)),
        "owner_wrap": b64e(owner_wrap),
        "wraps": {c.id: wrap_for(vault_id, item_id, version, c, data_key) for c in grantees},
    }
    return body, data_key


def owner_data_key(vault_id: str, item_id: str, item: dict[str, Any], vault_key: bytes) -> bytes:
    version = item["version"]
    what = _("owner wrap")
    key = crypto.aead_open(
        vault_key,
        b64d(item["owner_wrap"], what),
        labels.OWNER_WRAP_AAD + _join(vault_id, item_id, version),
        what,
    )
    crypto.check_key_commit(key, b64d(item["key_commit"], _("key commitment")))
    return key


def grantee_data_key(
    vault_id: str, item_id: str, version: int, wrap: str, key_commit: str, me: Identity
) -> bytes:
    key = crypto.hpke_open(
        me.kem, b64d(wrap, _("key wrap")), wrap_info(vault_id, item_id, version, me.id)
    )
    crypto.check_key_commit(key, b64d(key_commit, _("key commitment")))
    return key


def open_item(vault_id: str, item_id: str, item: dict[str, Any], data_key: bytes) -> Payload:
    """Decrypt the current version with a data key already checked against its commitment."""
    if item.get("aead", labels.ITEM_AEAD) != labels.ITEM_AEAD:
        raise Malformed(_("item uses an unknown kind of encryption"))
    try:
        plain = crypto.aead_open(
            data_key,
            b64d(item["ct"], _("item ciphertext")),
            item_aad(vault_id, item_id, item["version"]),
            _("item"),
        )
    except DecryptionFailed as exc:
        raise DecryptionFailed(
            _("item {item} v{version}: {problem}").format(
                item=item_id[:8], version=item["version"], problem=exc.message
            )
        ) from None
    return decode_payload(plain)


# --- sealed to people: views, 2FA codes, access requests ----------------------------------


def sealed_parts(label: bytes, *parts: str | int) -> bytes:
    """The AAD or HPKE info of a record sealed to people: its label and the parts it binds."""
    return label + _join(*parts)


def seal_for(obj: Any, aad: bytes, recipients: list[tuple[Card, bytes]]) -> dict[str, Any]:
    """`obj` as JSON (padded to 128 bytes) under a fresh key (AEAD with `aad`), the key
    committed to, and HPKE-wrapped to each (card, info): {"ct", "key_commit", "wraps"}."""
    key = crypto.random_key()
    data = dumps(obj)
    padded = data + b" " * (-len(data) % PAD)
    return {
        "ct": b64e(crypto.aead_seal(key, padded, aad)),
        "key_commit": b64e(crypto.key_commit(key)),
        "wraps": {
            card.id: b64e(crypto.hpke_seal(card.suite, card.kem_key, key, info))
            for card, info in recipients
        },
    }


def open_sealed(sealed: Any, aad: bytes, info: bytes, me: Identity, what: str) -> Any:
    """The JSON value of a record sealed to me by `seal_for`; Malformed or DecryptionFailed
    when it is not one, or not for me."""
    if not isinstance(sealed, dict) or not isinstance(sealed.get("wraps"), dict):
        raise Malformed(_("the {what} is malformed").format(what=what))
    wrap = sealed["wraps"].get(me.id)
    if not isinstance(wrap, str):
        raise DecryptionFailed(_("the {what} is not sealed to you").format(what=what))
    key = crypto.hpke_open(me.kem, b64d(wrap, _("{what} wrap").format(what=what)), info)
    if len(key) != crypto.KEY_LEN:
        raise DecryptionFailed(_("the {what} key has the wrong length").format(what=what))
    commitment = b64d(sealed.get("key_commit"), _("{what} key commitment").format(what=what))
    crypto.check_key_commit(key, commitment)
    plain = crypto.aead_open(key, b64d(sealed.get("ct"), what), aad, what)
    return loads(plain, what)
