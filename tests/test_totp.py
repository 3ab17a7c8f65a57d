"""TOTP seeds and codes: what normalize() accepts and refuses, and codes against RFC 6238."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from vault.errors import BadInput
from vault.totp import current, normalize

SEED_80 = "JBSWY3DPEHPK3PXP"  # the classic 80-bit example seed many sites still issue
SEED_160 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's SHA1 secret b"12345678901234567890"
SEED_256 = base64.b32encode(b"12345678901234567890123456789012").decode().rstrip("=")
SEED_512 = base64.b32encode(b"1234567890" * 6 + b"1234").decode().rstrip("=")


def test_rfc6238_seed_is_what_the_rfc_says():
    assert base64.b32decode(SEED_160) == b"12345678901234567890"


# --- accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        SEED_80,
        SEED_80.lower(),
        "jbsw y3dp ehpk 3pxp",
        "JBSW-Y3DP-EHPK-3PXP",
        f"  {SEED_80}\n",
        SEED_160,
        SEED_160 + "====",
    ],
)
def test_bare_seeds_become_otpauth_uris(value):
    uri = normalize(value, label="Mail")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("otpauth", "totp", "/Mail")
    secret = parse_qs(parsed.query)["secret"][0]
    expected = value.replace(" ", "").replace("-", "").strip().upper().rstrip("=")
    assert secret == expected
    assert current(uri, at=59).code == pyotp.TOTP(expected).at(59)


def test_label_is_quoted_in_the_uri():
    uri = normalize(SEED_80, label="Bank / Joint account?")
    assert urlparse(uri).path == "/Bank%20%2F%20Joint%20account%3F"
    assert parse_qs(urlparse(uri).query) == {"secret": [SEED_80]}


@pytest.mark.parametrize(
    "uri",
    [
        f"otpauth://totp/Example:alice@example.com?secret={SEED_80}&issuer=Example",
        f"otpauth://totp/x?secret={SEED_80.lower()}&algorithm=sha256&digits=8&period=60",
        f"OTPAUTH://TOTP/x?secret={SEED_160}",
        f"otpauth://totp/x?secret={SEED_160}&digits=7&algorithm=SHA512&period=10",
    ],
)
def test_totp_uris_are_accepted_unchanged(uri):
    assert normalize(uri) == uri
    current(uri, at=1_000_000)  # and a code can be made from it


# --- codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "algorithm", "t", "expected"),
    [
        # RFC 6238 appendix B
        (SEED_160, "SHA1", 59, "94287082"),
        (SEED_160, "SHA1", 1111111109, "07081804"),
        (SEED_160, "SHA1", 1111111111, "14050471"),
        (SEED_160, "SHA1", 20000000000, "65353130"),
        (SEED_256, "SHA256", 59, "46119246"),
        (SEED_256, "SHA256", 1111111109, "68084774"),
        (SEED_512, "SHA512", 59, "90693936"),
        (SEED_512, "SHA512", 1111111109, "25091201"),
    ],
)
def test_rfc6238_vectors(seed, algorithm, t, expected):
    uri = normalize(f"otpauth://totp/rfc?secret={seed}&digits=8&algorithm={algorithm}")
    code = current(uri, at=t)
    assert code.code == expected
    assert code.period == 30
    assert code.seconds_left == 30 - t % 30


@pytest.mark.parametrize("t", [0, 29, 30, 59, 1111111109, 1234567890, 2000000000])
def test_codes_match_pyotp_for_an_80_bit_seed(t):
    uri = normalize(SEED_80)
    assert current(uri, at=t).code == pyotp.TOTP(SEED_80).at(t)
    assert len(current(uri, at=t).code) == 6


def test_period_and_seconds_left():
    uri = normalize(f"otpauth://totp/x?secret={SEED_80}&period=60")
    code = current(uri, at=125)
    assert (code.period, code.seconds_left) == (60, 55)
    assert code.code == pyotp.TOTP(SEED_80, interval=60).at(125)


def test_code_repr_hides_the_code():
    code = current(normalize(SEED_80), at=59)
    assert code.code not in repr(code)


# --- refused, never echoing the seed --------------------------------------------------------

SECRET_LOOKING = "MFRGGZDFMZTWQ2LK"  # appears in every refused value below where it can


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"otpauth://hotp/x?secret={SECRET_LOOKING}&counter=1", "HOTP"),
        (f"otpauth://steam/x?secret={SECRET_LOOKING}", "only otpauth://totp"),
        ("", "empty"),
        ("otpauth://totp/x?issuer=Nobody", "empty"),
        (f"{SECRET_LOOKING}1", "not valid"),  # 1 is not a base32 letter
        (f"{SECRET_LOOKING}A", "not valid"),  # 17 characters: an impossible length
        (f"{SECRET_LOOKING[:8]}!", "not valid"),
        (f"{SECRET_LOOKING}\u00e9", "not valid"),
        ("JBSWY3DP", "too short"),  # 40 bits
        ("JBSWY3DPEHPK3PX", "too short"),  # 72 bits
        (f"otpauth://totp/x?secret={SECRET_LOOKING[:8]}", "too short"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&digits=5", "digits"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&digits=9", "digits"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&digits=six", "digits"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&period=0", "period"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&period=5", "period"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&period=301", "period"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&period=30s", "period"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&algorithm=MD5", "algorithm"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&algorithm=SHA3-256", "algorithm"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&secret={SEED_80}", "repeats"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&digits=6&digits=8", "repeats"),
        (f"otpauth://totp/x?secret={SECRET_LOOKING}&" + "a" * 2100, "too long"),
    ],
)
def test_refused_values_never_echo_the_seed(value, reason):
    with pytest.raises(BadInput) as exc:
        normalize(value)
    text = f"{exc.value.message} {exc.value.hint or ''} {exc.value!r} {exc.value.args!r}"
    assert reason in text
    for secret in (SECRET_LOOKING, SECRET_LOOKING[:8], SEED_80, "JBSWY3DP"):
        assert secret not in text
        assert secret.lower() not in text.lower()


def test_current_refuses_a_hotp_uri_too():
    with pytest.raises(BadInput, match="HOTP"):
        current(f"otpauth://hotp/x?secret={SEED_80}&counter=0", at=59)


def test_a_repeated_key_that_is_the_seed_is_not_echoed():
    # regression: the repeated key was quoted in the error, so a mis-pasted '?SEED&SEED'
    # printed the seed to stderr
    with pytest.raises(BadInput) as exc:
        normalize(f"otpauth://totp/x?{SECRET_LOOKING}&{SECRET_LOOKING}")
    assert SECRET_LOOKING not in str(exc.value)
