"""TOTP seeds and codes (RFC 6238) through pyotp.

A seed is accepted as an `otpauth://totp/...` URI or a bare base32 secret and is always
stored as an otpauth URI inside the encrypted item payload. Sites choose the seed, and
many still issue 80-bit ones (pyotp's own default floor is 112 bits), so takusu accepts
80 bits and up: refusing would only push the seed back into a chat message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlparse

from .errors import BadInput
from .i18n import _
from .text import unsafe

MAX_URI = 2048
MIN_BITS = 80
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


@dataclass(frozen=True)
class Code:
    code: str
    seconds_left: int
    period: int

    def __repr__(self) -> str:
        return "<Code <redacted>>"


def _check_secret(secret: str) -> str:
    cleaned = secret.replace(" ", "").replace("-", "").upper().rstrip("=")
    if not cleaned:
        raise BadInput(_("the TOTP seed is empty"))
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise BadInput(
            _(
                "the TOTP seed is not valid: a seed has only the letters A-Z and the digits 2-7; "
                "check that it was copied whole"
            )
        ) from None
    if len(raw) * 8 < MIN_BITS:
        raise BadInput(
            _("the TOTP seed is too short (at least {count} characters)").format(
                count=MIN_BITS // 5
            )
        )
    return cleaned


def _parse(uri: str) -> dict[str, Any]:
    """The parts of an otpauth://totp URI; BadInput (never echoing it) when anything is off."""
    try:
        parsed = urlparse(uri)
    except ValueError:
        raise BadInput(_("the otpauth:// URI is not a valid URI")) from None
    if parsed.scheme.lower() != "otpauth" or parsed.netloc.lower() != "totp":
        raise BadInput(_("only otpauth://totp/ URIs are supported (not HOTP or others)"))
    params: dict[str, str] = {}
    for key, value in parse_qsl(parsed.query, keep_blank_values=True):
        if key in params:
            raise BadInput(_("the otpauth:// URI repeats a parameter"))
        params[key] = value
    try:
        digits = int(params.get("digits") or 6)
        period = int(params.get("period") or 30)
    except ValueError:
        raise BadInput(_("the otpauth:// URI has non-numeric digits or period")) from None
    algorithm = (params.get("algorithm") or "SHA1").upper()
    if algorithm not in _DIGESTS:
        raise BadInput(_("the otpauth:// URI names an unsupported algorithm"))
    if digits not in (6, 7, 8) or not 10 <= period <= 300:
        raise BadInput(_("the otpauth:// URI has unsupported digits or period"))
    return {
        "secret": _check_secret(params.get("secret", "")),
        "digits": digits,
        "period": period,
        "digest": _DIGESTS[algorithm],
        "label": unquote(parsed.path[1:]),
    }


def normalize(value: str, label: str = "takusu") -> str:
    """Validate a seed or otpauth URI; return an otpauth URI. BadInput never echoes the value."""
    value = value.strip()
    if len(value) > MAX_URI:
        raise BadInput(_("the TOTP value is too long"))
    if any(unsafe(ch) for ch in value):  # it is shown (escaped) and exported; refuse it here
        raise BadInput(_("the TOTP value holds a control character"))
    if not value.lower().startswith("otpauth:"):
        secret = _check_secret(value)
        return f"otpauth://totp/{quote(label or 'takusu', safe='')}?secret={secret}"
    _parse(value)
    return value


def _generator(parts: dict[str, Any]) -> Any:
    """A pyotp TOTP for parsed URI parts, accepting the 80-bit seeds sites still issue."""
    import pyotp

    class SiteTOTP(pyotp.TOTP):  # type: ignore[misc,name-defined]
        min_secret_length_bits = MIN_BITS

    return SiteTOTP(
        parts["secret"], digits=parts["digits"], digest=parts["digest"], interval=parts["period"]
    )


def current(uri: str, at: float | None = None) -> Code:
    """The code valid now (or at `at`) and how many seconds it has left."""
    parts = _parse(uri)
    otp = _generator(parts)
    now = time.time() if at is None else at
    left = parts["period"] - int(now) % parts["period"]
    return Code(otp.at(int(now)), left, parts["period"])


def parameters(uri: str) -> tuple[int, int, str]:
    """The URI's (period in seconds, digits, algorithm name); BadInput as `normalize`."""
    parts = _parse(uri)
    algorithm = next(name for name, fn in _DIGESTS.items() if fn is parts["digest"])
    return parts["period"], parts["digits"], algorithm


def codes_for_steps(uri: str, steps: Sequence[int]) -> list[str]:
    """The code of each TOTP time step (unix time // period) in `steps`, in the same order.

    pyotp computes every code (about 19 µs each: a week of office hours at 30 s is about
    0.1 s), so the codes are exactly the ones `current` would show at those times.
    """
    otp = _generator(_parse(uri))
    if any(step < 0 for step in steps):
        raise ValueError("TOTP steps are never negative")
    # generate_otp(step) is what at(step * period) computes, without re-deriving the step
    return [str(otp.generate_otp(step)) for step in steps]
