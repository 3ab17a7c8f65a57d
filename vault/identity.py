"""A person: an Ed25519 signing key, an HPKE key, and the signed public card.

The card is what a person sends to the other side; its fingerprint names them (the
member id is its first 128 bits) and its safety code is what two people read aloud.
"""

from __future__ import annotations

import base64
import binascii
import functools
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any

from . import crypto, labels
from .clock import now_utc
from .encoding import b64d, b64e, dumps, loads
from .errors import BadCard, Malformed, NoCard, UnknownVersion
from .i18n import _
from .memo import remember

SAFETY_GROUPS = 6


def _safety_code(fingerprint: bytes) -> str:
    groups = [
        int.from_bytes(fingerprint[i * 5 : i * 5 + 5], "big") % 100000 for i in range(SAFETY_GROUPS)
    ]
    return " ".join(f"{g:05d}" for g in groups)


def _unquote(line: str) -> str:
    """Strip mail/chat quoting ('> ', '> > ', '>>') from a line."""
    line = line.strip()
    while line.startswith(">"):
        line = line[1:].lstrip()
    return line


_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def valid_name(name: object) -> bool:
    """1 to 100 characters, none of them control, format, surrogate or line-separator code
    points (an ideographic space, common in Japanese names, is fine)."""
    import unicodedata

    return (
        isinstance(name, str)
        and bool(name.strip())
        and len(name) <= 100
        and not any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in name)
    )


def normalize_code(code: str) -> str:
    """ASCII digits only, so '12345 67890' and '1234567890' compare equal; NFKC first, so
    the full-width digits and spaces of a Japanese input method ('１２３４５　６７８９０')
    are the same code."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch in "0123456789")


_VERIFIED: dict[tuple[int, str, str], Card] = {}  # Card.from_envelope's, by the exact fields


@dataclass(frozen=True)
class Card:
    """A verified public card. Construct with Card.from_envelope or Card.from_armor."""

    name: str
    sign_key: bytes
    kem_key: bytes
    suite: str
    created: str
    envelope: dict[str, Any]

    @functools.cached_property
    def fingerprint(self) -> bytes:
        # cached: `list` on 10,000 items asks for the owner's id tens of thousands of times
        return crypto.sha256(
            labels.FINGERPRINT + self.suite.encode() + b"\n" + self.sign_key + self.kem_key
        )

    @functools.cached_property
    def id(self) -> str:
        """The member id: 32 hex digits of the fingerprint."""
        return self.fingerprint.hex()[:32]

    @property
    def safety_code(self) -> str:
        return _safety_code(self.fingerprint)

    @property
    def hybrid(self) -> bool:
        return self.suite == labels.SUITE_HYBRID

    @classmethod
    def from_envelope(cls, envelope: object) -> Card:
        """Verify a card envelope {"v","p","s"} and return the card, or raise BadCard.

        The very same bytes verify the same way: a long-lived process (the agent) keeps
        the cards it verified by their exact fields (every command reads each member's
        card from the state: an Ed25519 verification and an ML-KEM key check apiece)."""
        key = None
        if isinstance(envelope, dict) and set(envelope) == {"v", "p", "s"}:
            v, p, s = envelope["v"], envelope["p"], envelope["s"]
            if type(v) is int and type(p) is str and type(s) is str:
                key = (v, p, s)
                known = _VERIFIED.get(key)
                if known is not None:
                    return known
        card = cls._verify(envelope)
        if key is not None:
            remember(_VERIFIED, key, card, limit=64)
        return card

    @classmethod
    def _verify(cls, envelope: object) -> Card:
        if not isinstance(envelope, dict) or set(envelope) != {"v", "p", "s"}:
            raise BadCard(_("card is malformed"))
        if not labels.is_current(envelope["v"]):
            raise UnknownVersion(
                _("card has unknown version {version!r}").format(version=envelope["v"])
            )
        try:
            payload_bytes = b64d(envelope["p"], _("card payload"))
            sig = b64d(envelope["s"], _("card signature"))
            payload = loads(payload_bytes, _("card payload"))
        except Malformed as exc:
            raise BadCard(_("card is malformed: {problem}").format(problem=exc.message)) from exc
        fields = {"v", "type", "name", "sign", "kem", "suite", "created"}
        if not isinstance(payload, dict) or set(payload) != fields or payload["type"] != "card":
            raise BadCard(_("card payload has the wrong fields"))
        if not labels.is_current(payload["v"]):
            raise UnknownVersion(
                _("card payload has unknown version {version!r}").format(version=payload["v"])
            )
        name = payload["name"]
        if not valid_name(name):
            raise BadCard(_("card name must be 1 to 100 printable characters"))
        if payload["suite"] not in labels.SUITES:
            raise BadCard(_("card names an unknown suite {suite!r}").format(suite=payload["suite"]))
        try:
            sign_key = b64d(payload["sign"], _("card signing key"))
            kem_key = b64d(payload["kem"], _("card encryption key"))
        except Malformed as exc:
            raise BadCard(_("card is malformed: {problem}").format(problem=exc.message)) from exc
        crypto.check_ed25519_public(sign_key)
        crypto.check_kem_public(payload["suite"], kem_key)
        try:
            crypto.verify(sign_key, labels.CARD_SIG, payload_bytes, sig)
        except Exception as exc:
            raise BadCard(_("card signature does not verify")) from exc
        if not isinstance(payload["created"], str):
            raise BadCard(_("card creation time is malformed"))
        return cls(name, sign_key, kem_key, payload["suite"], payload["created"], dict(envelope))

    @classmethod
    def from_armor(cls, text: str) -> Card:
        """Parse the armored text `takusu card` prints (quoted or re-wrapped by mail is fine)."""
        if len(text) > labels.MAX_CARD:
            raise BadCard(_("card text is too large"))
        lines = [_unquote(line) for line in text.splitlines()]
        try:
            start = lines.index(labels.CARD_ARMOR_BEGIN)
            end = lines.index(labels.CARD_ARMOR_END, start)
        except ValueError:
            raise NoCard(
                _("no takusu card found in the text"),
                hint=_(
                    "a card is the text from '-----BEGIN TAKUSU CARD-----' to its END line: "
                    "ask the sender to run 'takusu card' and send it again"
                ),
            ) from None
        body = "".join(
            line for line in lines[start + 1 : end] if line and ":" not in line and " " not in line
        )
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadCard(
                _("card text is damaged (characters that do not belong in a card)")
            ) from exc
        try:
            envelope = loads(raw, _("card"))
        except Malformed as exc:
            raise BadCard(_("card text is damaged: {problem}").format(problem=exc.message)) from exc
        return cls.from_envelope(envelope)

    def armor(self) -> str:
        """The card as text that survives e-mail and chat: header lines plus wrapped base64."""
        body = base64.b64encode(dumps(self.envelope)).decode()
        return "\n".join(
            [
                labels.CARD_ARMOR_BEGIN,
                f"Name: {self.name}",
                f"Safety code: {self.safety_code}",
                "",
                *textwrap.wrap(body, 64),
                labels.CARD_ARMOR_END,
                "",
            ]
        )


class Identity:
    """This machine's private identity. repr never shows key material."""

    def __init__(self, signing: crypto.SigningKey, kem: crypto.KemKey, card: Card) -> None:
        self.signing = signing
        self.kem = kem
        self.card = card

    @classmethod
    def generate(cls, name: str, suite: str | None = None) -> Identity:
        name = name.strip()
        if not valid_name(name):
            raise BadCard(_("a name must be 1 to 100 printable characters"))
        if suite is None:
            suite = labels.SUITE_HYBRID if crypto.hybrid_available() else labels.SUITE_CLASSIC
        signing = crypto.SigningKey.generate()
        kem = crypto.KemKey.generate(suite)
        payload = dumps(
            {
                "v": labels.FORMAT_VERSION,
                "type": "card",
                "name": name,
                "sign": b64e(signing.public_raw()),
                "kem": b64e(kem.public_raw()),
                "suite": suite,
                "created": now_utc(),
            }
        )
        sig = signing.sign(labels.CARD_SIG, payload)
        envelope = {"v": labels.FORMAT_VERSION, "p": b64e(payload), "s": b64e(sig)}
        return cls(signing, kem, Card.from_envelope(envelope))

    @property
    def id(self) -> str:
        return self.card.id

    def private_bytes(self) -> bytes:
        """The serialized private identity. Secret: only ever fed to an AEAD."""
        return dumps(
            {
                "v": labels.FORMAT_VERSION,
                "sign": b64e(self.signing.raw()),
                "x25519": b64e(self.kem.x25519_raw),
                "mlkem_seed": b64e(self.kem.mlkem_seed),
                "suite": self.kem.suite,
                "card": self.card.envelope,
            }
        )

    @classmethod
    def from_private_bytes(cls, data: bytes) -> Identity:
        obj = loads(data, _("identity"))
        if not isinstance(obj, dict) or not labels.is_current(obj.get("v")):
            raise UnknownVersion(_("identity has an unknown version"))
        card = Card.from_envelope(obj["card"])
        signing = crypto.SigningKey(b64d(obj["sign"], _("identity signing key")))
        kem = crypto.KemKey(
            obj["suite"],
            b64d(obj["x25519"], _("identity key")),
            b64d(obj["mlkem_seed"], _("identity key")),
        )
        if signing.public_raw() != card.sign_key or kem.public_raw() != card.kem_key:
            raise BadCard(_("private keys do not match the identity's card"))
        return cls(signing, kem, card)

    def __repr__(self) -> str:
        return f"<Identity {self.card.name!r} {self.id[:8]} <redacted>>"
