"""Shared vectors (tests/vectors/*.json), each case checked twice.

Once through takusu (`vault.events.verify_lines`, `vault.envelope`, `vault.scoped`),
which must return or raise the typed error the case names; and once through the
independent decoder below, written from the format description with raw primitives only
(it imports nothing from `vault`: not the events, envelopes, sealed records or the code
pack), which must reach the same verdict.
Regenerate the files with `python tests/vectors/make_vectors.py`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

# Used only by the library half (library_events, library_item and the test functions);
# the independent decoder below touches nothing from `vault`.
from vault import codebook, crypto, envelope, labels, scoped, sharing, totp
from vault.encoding import b64d
from vault.errors import (
    BadInput,
    BadSignature,
    BrokenChain,
    DecryptionFailed,
    IntegrityError,
    Malformed,
    UnknownVersion,
)
from vault.events import verify_lines
from vault.identity import Card, Identity

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> list[dict]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


EVENT_CASES = load("events.json")
ENVELOPE_CASES = load("envelope.json")
SEALED_CASES = load("sealed.json")

# --- the independent decoder ---------------------------------------------------------------

EVENT_SIG = b"takusu/event/v1\n"
FINGERPRINT = b"takusu/fingerprint/v1\n"
KEY_COMMIT = b"takusu/key-commit/v1"
ITEM_AAD = b"takusu/item/v1\n"
OWNER_WRAP_AAD = b"takusu/owner-wrap/v1\n"
GRANT_WRAP_INFO = b"takusu/wrap/v1\n"
SUITE = "X25519/HKDF_SHA256/CHACHA20_POLY1305"
ITEM_FIELDS = {"title", "username", "password", "url", "notes", "totp", "fields", "tags"}
BASE_FIELDS = ("vault", "actor", "seq", "prev", "at", "type")
MAX_LINE = 1 << 20


class Refused(Exception):
    """The independent decoder's verdict: a named failure."""

    def __init__(self, verdict: str) -> None:
        super().__init__(verdict)
        self.verdict = verdict


def strict_json(data: bytes) -> object:
    """RFC 8259 JSON as takusu reads it: UTF-8, no BOM, no duplicate keys, integers only."""

    def pairs(items: list) -> dict:
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(items)

    def no_float(text: str) -> float:
        raise ValueError("float")

    def bounded(text: str) -> int:
        value = int(text)
        if abs(value) > 2**53:
            raise ValueError("big int")
        return value

    def no_constant(text: str) -> None:
        raise ValueError("constant")

    if data.startswith(b"\xef\xbb\xbf"):
        raise Refused("malformed")
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=pairs,
            parse_float=no_float,
            parse_int=bounded,
            parse_constant=no_constant,
        )
    except (ValueError, RecursionError):
        raise Refused("malformed") from None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def lenient_b64(text: object) -> bytes:
    """Any base64 a sloppy encoder might write (either alphabet, padding, stray bits)."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9+/_-]*=*", text):
        raise Refused("malformed")
    text = text.rstrip("=").replace("+", "-").replace("/", "_")
    if len(text) % 4 == 1:
        raise Refused("malformed")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def strict_b64(text: object) -> bytes:
    """Canonical unpadded base64url, or the reason it is not."""
    data = lenient_b64(text)
    if b64url(data) != text:
        raise Refused("non_canonical")
    return data


# Ed25519 point arithmetic (RFC 8032), just enough to find small-order keys.
P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 5.1.3 decoding; None for a non-canonical or invalid encoding."""
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y


def point_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def check_signing_key(raw: bytes) -> None:
    """Refuse keys a forged signature could verify under: non-canonical or order <= 8."""
    point = decode_point(raw) if len(raw) == 32 else None
    if point is None:
        raise Refused("weak_key")
    for _ in range(3):
        point = point_add(point, point)
    if point == (0, 1):
        raise Refused("weak_key")


def decode_event_line(line: bytes, key: bytes, expected: dict) -> bytes:
    """Verify one line; return its payload bytes or raise Refused."""
    if len(line) > MAX_LINE:
        raise Refused("malformed")
    envelope = strict_json(line)
    if not isinstance(envelope, dict) or set(envelope) != {"v", "p", "s"}:
        raise Refused("malformed")
    if envelope["v"] != 1:
        raise Refused("unknown_version")
    payload, sig = lenient_b64(envelope["p"]), lenient_b64(envelope["s"])
    if line != b'{"v":1,"p":"%s","s":"%s"}' % (b64url(payload).encode(), b64url(sig).encode()):
        raise Refused("non_canonical")
    check_signing_key(key)
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, EVENT_SIG + payload)
    except InvalidSignature:
        raise Refused("bad_signature") from None
    fields = strict_json(payload)
    if not isinstance(fields, dict) or not all(k in fields for k in BASE_FIELDS):
        raise Refused("malformed")
    if any(fields[k] != expected[k] for k in ("vault", "actor", "seq", "prev")):
        raise Refused("broken_chain")
    if not isinstance(fields["type"], str) or not isinstance(fields["at"], str):
        raise Refused("malformed")
    return payload


def decode_event_log(inp: dict) -> tuple[str, int | None, list[str]]:
    """(verdict, seq of the failing line or None, hashes of the accepted lines)."""
    key = strict_b64(inp["sign_key"])
    prev, hashes = inp["prev"], []
    for offset, text in enumerate(inp["lines"]):
        seq = inp["start_seq"] + offset
        expected = {"vault": inp["vault"], "actor": inp["actor"], "seq": seq, "prev": prev}
        try:
            payload = decode_event_line(text.encode("utf-8"), key, expected)
        except Refused as refused:
            return refused.verdict, seq, hashes
        prev = hashlib.sha256(payload).hexdigest()
        hashes.append(prev)
    return "ok", None, hashes


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def hpke_open(recipient: bytes, sealed: bytes, info: bytes) -> bytes:
    """RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305."""
    kem_id, suite_id = b"KEM\x00\x20", b"HPKE\x00\x20\x00\x01\x00\x03"

    def lx(sid: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return _extract(salt, b"HPKE-v1" + sid + label + ikm)

    def le(sid: bytes, prk: bytes, label: bytes, ctx: bytes, n: int) -> bytes:
        return _expand(prk, n.to_bytes(2, "big") + b"HPKE-v1" + sid + label + ctx, n)

    if len(sealed) < 32 + 16:
        raise Refused("decryption_failed")
    enc, ct = sealed[:32], sealed[32:]
    private = X25519PrivateKey.from_private_bytes(recipient)
    mine = private.public_key().public_bytes_raw()
    dh = private.exchange(X25519PublicKey.from_public_bytes(enc))
    shared = le(kem_id, lx(kem_id, b"", b"eae_prk", dh), b"shared_secret", enc + mine, 32)
    context = (
        b"\x00" + lx(suite_id, b"", b"psk_id_hash", b"") + lx(suite_id, b"", b"info_hash", info)
    )
    secret = lx(suite_id, shared, b"secret", b"")
    key = le(suite_id, secret, b"key", context, 32)
    nonce = le(suite_id, secret, b"base_nonce", context, 12)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ct, b"")
    except InvalidTag:
        raise Refused("decryption_failed") from None


def aead_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(key) != 32 or len(sealed) < 12 + 16:
        raise Refused("decryption_failed")
    try:
        return ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag:
        raise Refused("decryption_failed") from None


def member_id(sign_seed: bytes, x25519_private: bytes) -> str:
    sign = Ed25519PrivateKey.from_private_bytes(sign_seed).public_key().public_bytes_raw()
    kem = X25519PrivateKey.from_private_bytes(x25519_private).public_key().public_bytes_raw()
    return hashlib.sha256(FINGERPRINT + SUITE.encode() + b"\n" + sign + kem).hexdigest()[:32]


def decode_item(inp: dict) -> dict:
    """Open an item version as a reader would; return the payload or raise Refused."""
    bound = "\n".join([inp["vault"], inp["item"], str(inp["version"])]).encode()
    how = inp["open_with"]
    if "data_key" in how:
        data_key = strict_b64(how["data_key"])
    elif "owner_wrap" in how:
        wrap = strict_b64(how["owner_wrap"])
        data_key = aead_open(strict_b64(how["vault_key"]), wrap, OWNER_WRAP_AAD + bound)
    else:
        who = how["grantee"]
        me = member_id(strict_b64(who["sign_seed"]), strict_b64(who["x25519"]))
        info = GRANT_WRAP_INFO + bound + b"\n" + me.encode()
        data_key = hpke_open(strict_b64(who["x25519"]), strict_b64(how["wrap"]), info)
    commitment = hmac.new(data_key, KEY_COMMIT, hashlib.sha256).digest()
    if not hmac.compare_digest(commitment, strict_b64(inp["key_commit"])):
        raise Refused("key_commit_mismatch")
    if inp["aead"] != "CHACHA20_POLY1305":
        raise Refused("unknown_aead")
    plain = aead_open(data_key, strict_b64(inp["ct"]), ITEM_AAD + bound)
    try:
        payload = strict_json(plain)
    except Refused:
        raise Refused("bad_payload") from None
    if not isinstance(payload, dict) or set(payload) != ITEM_FIELDS:
        raise Refused("bad_payload")
    return payload


# Records sealed to people (views, 2FA codes, requests and answers) and the code pack.
VIEW_AAD = b"takusu/view/v1\n"
VIEW_WRAP_INFO = b"takusu/view-wrap/v1\n"
CODES_AAD = b"takusu/codes/v1\n"
CODES_WRAP_INFO = b"takusu/codes-wrap/v1\n"
REQUEST_AAD = b"takusu/request/v1\n"
REQUEST_WRAP_INFO = b"takusu/request-wrap/v1\n"
PACK_WIDTH = {6: 20, 7: 24, 8: 27}
MAX_PACK_CODES = 31 * 86400 // 10 + 16
MAX_PACK_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
MAX_VARINT = 6  # bytes


def bound(label: bytes, *parts: object) -> bytes:
    return label + "\n".join(str(p) for p in parts).encode()


def open_record(sealed: object, aad: bytes, info: bytes, who: dict) -> object:
    """The JSON value sealed to `who`, or the first check it fails, in the order of §6.7."""
    if not isinstance(sealed, dict) or not isinstance(sealed.get("wraps"), dict):
        raise Refused("malformed_record")
    x25519 = strict_b64(who["x25519"])
    wrap = sealed["wraps"].get(member_id(strict_b64(who["sign_seed"]), x25519))
    if not isinstance(wrap, str):
        raise Refused("not_sealed_to_me")
    key = hpke_open(x25519, strict_b64(wrap), info)
    if len(key) != 32:
        raise Refused("bad_key_length")
    commitment = hmac.new(key, KEY_COMMIT, hashlib.sha256).digest()
    if not hmac.compare_digest(commitment, strict_b64(sealed.get("key_commit"))):
        raise Refused("key_commit_mismatch")
    plain = aead_open(key, strict_b64(sealed.get("ct")), aad)
    try:
        return strict_json(plain)
    except Refused:
        raise Refused("bad_shape") from None


class PackReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise Refused("malformed_pack")
        self.at += 1
        return self.data[self.at - 1]

    def varint(self) -> int:
        """Unsigned LEB128 of at most MAX_VARINT bytes, minimal (no final 0x00 after others)."""
        value = 0
        for index in range(MAX_VARINT):
            byte = self.byte()
            value += (byte & 0x7F) << (7 * index)
            if byte < 0x80:
                if byte == 0 and index > 0:
                    raise Refused("malformed_pack")
                return value
        raise Refused("malformed_pack")


def decode_pack(data: bytes) -> dict:
    """Pack format v1 (§6.10): header, runs, then the codes as one big-endian bit string."""
    reader = PackReader(data)
    version, digits = reader.byte(), reader.byte()
    period = reader.byte() << 8 | reader.byte()
    if version != 1 or digits not in PACK_WIDTH or not 10 <= period <= 300:
        raise Refused("malformed_pack")
    runs: list[list[int]] = []
    end = total = 0
    for index in range(reader.varint()):
        gap, count = reader.varint(), reader.varint()
        if count == 0 or (index > 0 and gap == 0):
            raise Refused("malformed_pack")
        start = end + gap
        end, total = start + count, total + count
        if total > MAX_PACK_CODES or end * period > MAX_PACK_SECONDS:
            raise Refused("malformed_pack")
        runs.append([start, count])
    width, rest = PACK_WIDTH[digits], data[reader.at :]
    if len(rest) != -(-total * width // 8):
        raise Refused("malformed_pack")
    stream, spare = int.from_bytes(rest, "big"), len(rest) * 8 - total * width
    if stream & ((1 << spare) - 1):
        raise Refused("malformed_pack")
    values = [
        (stream >> (spare + (total - 1 - i) * width)) & ((1 << width) - 1) for i in range(total)
    ]
    if any(v >= 10**digits for v in values):
        raise Refused("malformed_pack")
    return {
        "period": period,
        "digits": digits,
        "runs": runs,
        "steps": [s for start, count in runs for s in range(start, start + count)],
        "codes": [f"{v:0{digits}d}" for v in values],
    }


def decode_sealed(record: str, inp: dict) -> object:
    """Open one sealed case as its reader would; return what it holds or raise Refused."""
    who = inp["opener"]
    me = member_id(strict_b64(who["sign_seed"]), strict_b64(who["x25519"]))
    if record == "view":
        where = (inp["vault"], inp["item"], inp["version"], me)
        view = open_record(inp["body"], bound(VIEW_AAD, *where), bound(VIEW_WRAP_INFO, *where), who)
        if not isinstance(view, dict) or set(view) != ITEM_FIELDS:
            raise Refused("bad_shape")
        return view
    if record == "codes":
        body = inp["body"]
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise Refused("malformed_record")
        where = (inp["vault"], inp["item"], me, body["id"])
        opened = open_record(body, bound(CODES_AAD, *where), bound(CODES_WRAP_INFO, *where), who)
        if not isinstance(opened, dict) or set(opened) != {"v", "pack"}:
            raise Refused("bad_shape")
        if type(opened["v"]) is not int or opened["v"] != 1:
            raise Refused("bad_shape")
        try:
            pack = strict_b64(opened["pack"])
        except Refused:
            raise Refused("bad_shape") from None
        return {**decode_pack(pack), "pack": opened["pack"]}
    where = (
        inp["vault"],
        inp["member"],
        inp["request"],
        *(["answer"] if record == "answer" else []),
    )
    opened = open_record(
        inp["sealed"], bound(REQUEST_AAD, *where), bound(REQUEST_WRAP_INFO, *where), who
    )
    if record == "request":
        if not isinstance(opened, dict) or set(opened) != {"text", "reason"}:
            raise Refused("bad_shape")
        if not isinstance(opened["text"], str) or not isinstance(opened["reason"], str | None):
            raise Refused("bad_shape")
        return opened
    if not isinstance(opened, dict) or set(opened) != {"reason"}:
        raise Refused("bad_shape")
    if not isinstance(opened["reason"], str):
        raise Refused("bad_shape")
    return opened


# --- named failures: the independent verdict and the typed error takusu raises -------------

EVENT_FAILURES = {
    "bad_signature": ("bad_signature", BadSignature),
    "weak_key": ("weak_key", BadSignature),
    "broken_chain": ("broken_chain", BrokenChain),
    "non_canonical": ("non_canonical", Malformed),
    "unknown_version": ("unknown_version", UnknownVersion),
    "malformed": ("malformed", Malformed),
}
ENVELOPE_FAILURES = {
    "wrong_aad": ("decryption_failed", DecryptionFailed),
    "wrong_info": ("decryption_failed", DecryptionFailed),
    "wrong_recipient": ("decryption_failed", DecryptionFailed),
    "bad_ciphertext": ("decryption_failed", DecryptionFailed),
    "key_commit_mismatch": ("key_commit_mismatch", IntegrityError),
    "unknown_aead": ("unknown_aead", Malformed),
    "bad_payload": ("bad_payload", Malformed),
    "non_canonical": ("non_canonical", Malformed),
}
SEALED_FAILURES = {
    "wrong_binding": ("decryption_failed", DecryptionFailed),
    "wrong_recipient": ("decryption_failed", DecryptionFailed),
    "bad_ciphertext": ("decryption_failed", DecryptionFailed),
    "not_sealed_to_me": ("not_sealed_to_me", DecryptionFailed),
    "bad_key_length": ("bad_key_length", DecryptionFailed),
    "key_commit_mismatch": ("key_commit_mismatch", IntegrityError),
    "malformed_record": ("malformed_record", Malformed),
    "non_canonical": ("non_canonical", Malformed),
    "bad_shape": ("bad_shape", Malformed),
    "malformed_pack": ("malformed_pack", Malformed),
}
RECORDS = {"view", "codes", "request", "answer"}

# Where takusu disagrees with docs/format.md (§6.9, §6.11) and with its other decoders: the
# independent decoder refuses these cases, takusu's own does not (yet).
KNOWN_DISAGREEMENTS: dict[str, str] = {}  # case name -> why takusu disagrees (none now)


def ids(cases: list[dict]) -> list[str]:
    return [case["name"] for case in cases]


# --- the files themselves ------------------------------------------------------------------


def _make_vectors():
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_vectors_are_what_make_vectors_writes():
    for name, text in _make_vectors().build().items():
        assert (VECTORS / name).read_text(encoding="utf-8") == text, f"regenerate {name}"


@pytest.mark.parametrize(
    "cases, failures",
    [
        (EVENT_CASES, EVENT_FAILURES),
        (ENVELOPE_CASES, ENVELOPE_FAILURES),
        (SEALED_CASES, SEALED_FAILURES),
    ],
    ids=["events", "envelope", "sealed"],
)
def test_vector_files_are_well_formed_and_cover_every_failure(cases, failures):
    names = ids(cases)
    assert len(names) == len(set(names))
    expects = {case["expect"] for case in cases}
    assert "ok" in expects
    assert expects - {"ok"} == set(failures)
    for case in cases:
        assert case["comment"] and set(case) >= {"name", "input", "expect"}
        assert case["expect"] == "ok" or case["name"].startswith(case["expect"])


def test_sealed_vectors_cover_every_record_and_name_what_they_open():
    assert set(KNOWN_DISAGREEMENTS) <= set(ids(SEALED_CASES))
    ok_records = {case["record"] for case in SEALED_CASES if case["expect"] == "ok"}
    assert ok_records == RECORDS == {case["record"] for case in SEALED_CASES}
    for case in SEALED_CASES:
        assert set(case["input"]) >= {"vault", "opener"}
        assert (case["expect"] == "ok") == (case["record"] in case)
    for record in RECORDS:  # every record has a case presented with other bound parts
        assert any(c["record"] == record and c["expect"] == "wrong_binding" for c in SEALED_CASES)
    requests = [c["input"]["opener"]["card"]["p"] for c in SEALED_CASES if c["record"] == "request"]
    assert len(set(requests)) == 3  # opened by the member, the owner and a third member


# --- events --------------------------------------------------------------------------------


def library_events(inp: dict) -> list:
    return verify_lines(
        [line.encode("utf-8") for line in inp["lines"]],
        sign_key=b64d(inp["sign_key"]),
        vault_id=inp["vault"],
        actor=inp["actor"],
        log="vector.jsonl",
        start_seq=inp["start_seq"],
        prev=inp["prev"],
    )


@pytest.mark.parametrize("case", EVENT_CASES, ids=ids(EVENT_CASES))
def test_event_vector_through_takusu(case):
    if case["expect"] == "ok":
        events = library_events(case["input"])
        assert [e.hash for e in events] == case["hashes"]
        return
    _, error = EVENT_FAILURES[case["expect"]]
    with pytest.raises(IntegrityError) as info:
        library_events(case["input"])
    assert type(info.value) is error
    assert info.value.seq == case["seq"]
    assert f"seq {case['seq']})" in str(info.value)


@pytest.mark.parametrize("case", EVENT_CASES, ids=ids(EVENT_CASES))
def test_event_vector_through_the_independent_decoder(case):
    verdict, seq, hashes = decode_event_log(case["input"])
    if case["expect"] == "ok":
        assert (verdict, hashes) == ("ok", case["hashes"])
    else:
        assert (verdict, seq) == (EVENT_FAILURES[case["expect"]][0], case["seq"])


WEAK = [c for c in EVENT_CASES if c["expect"] == "weak_key"]


@pytest.mark.parametrize("case", WEAK, ids=ids(WEAK))
def test_weak_key_vectors_fool_raw_ed25519(case):
    """Why weak_key exists: without the key check, these forged lines would verify."""
    inp = case["input"]
    signed_env = json.loads(inp["lines"][0])
    key = Ed25519PublicKey.from_public_bytes(strict_b64(inp["sign_key"]))
    key.verify(strict_b64(signed_env["s"]), EVENT_SIG + strict_b64(signed_env["p"]))


# --- item envelopes ------------------------------------------------------------------------


def identity_of(who: dict) -> Identity:
    """A takusu Identity from a vector's private keys (classic suite) and card."""
    me = Identity(
        crypto.SigningKey(b64d(who["sign_seed"])),
        crypto.KemKey(labels.SUITE_CLASSIC, b64d(who["x25519"])),
        Card.from_envelope(who["card"]),
    )
    assert me.signing.public_raw() == me.card.sign_key
    assert me.kem.public_raw() == me.card.kem_key
    return me


def library_item(inp: dict) -> dict:
    vault_id, item_id, version = inp["vault"], inp["item"], inp["version"]
    item = {"version": version, "aead": inp["aead"], "ct": inp["ct"]}
    how = inp["open_with"]
    if "data_key" in how:
        data_key = b64d(how["data_key"])
        crypto.check_key_commit(data_key, b64d(inp["key_commit"]))
    elif "owner_wrap" in how:
        item.update(owner_wrap=how["owner_wrap"], key_commit=inp["key_commit"])
        data_key = envelope.owner_data_key(vault_id, item_id, item, b64d(how["vault_key"]))
    else:
        me = identity_of(how["grantee"])
        data_key = envelope.grantee_data_key(
            vault_id, item_id, version, how["wrap"], inp["key_commit"], me
        )
    return envelope.open_item(vault_id, item_id, item, data_key)


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=ids(ENVELOPE_CASES))
def test_envelope_vector_through_takusu(case):
    if case["expect"] == "ok":
        assert library_item(case["input"]) == case["payload"]
        return
    _, error = ENVELOPE_FAILURES[case["expect"]]
    with pytest.raises(IntegrityError) as info:
        library_item(case["input"])
    assert type(info.value) is error


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=ids(ENVELOPE_CASES))
def test_envelope_vector_through_the_independent_decoder(case):
    if case["expect"] == "ok":
        assert decode_item(case["input"]) == case["payload"]
        return
    with pytest.raises(Refused) as info:
        decode_item(case["input"])
    assert info.value.verdict == ENVELOPE_FAILURES[case["expect"]][0]


def test_grantee_ids_in_the_vectors_match_takusu_fingerprints():
    people = [case["input"]["open_with"].get("grantee") for case in ENVELOPE_CASES]
    people += [case["input"]["opener"] for case in SEALED_CASES]
    for who in people:
        if who:
            card = Card.from_envelope(who["card"])
            assert card.id == member_id(strict_b64(who["sign_seed"]), strict_b64(who["x25519"]))


# --- records sealed to people: views, 2FA codes, requests and answers -----------------------


def library_sealed(record: str, inp: dict) -> object:
    """Open one sealed case with takusu's own readers (vault.scoped)."""
    me = identity_of(inp["opener"])
    if record == "view":
        return scoped.open_view(inp["vault"], inp["item"], inp["version"], me, inp["body"])
    if record == "codes":
        book = scoped.open_codes(inp["vault"], inp["item"], me, inp["body"])
        return {
            "period": book.period,
            "digits": book.digits,
            "runs": [list(run) for run in book.runs()],
            "steps": book.steps(),
            "codes": book.codes(),
            "pack": b64url(codebook.pack(book)),
        }
    where = (inp["vault"], inp["member"], inp["request"], me, inp["sealed"])
    if record == "request":
        text, reason = scoped.open_request(*where)
        return {"text": text, "reason": reason}
    return {"reason": scoped.open_answer(*where)}


def expected_result(case: dict) -> object:
    result = case[case["record"]]
    if case["record"] == "codes":
        return {k: v for k, v in result.items() if k != "totp"}
    return result


def _sealed_params() -> list:
    params = []
    for case in SEALED_CASES:
        why = KNOWN_DISAGREEMENTS.get(case["name"])
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        params.append(pytest.param(case, marks=marks, id=case["name"]))
    return params


@pytest.mark.parametrize("case", _sealed_params())
def test_sealed_vector_through_takusu(case):
    if case["expect"] == "ok":
        assert library_sealed(case["record"], case["input"]) == expected_result(case)
        return
    _, error = SEALED_FAILURES[case["expect"]]
    with pytest.raises(IntegrityError) as info:
        library_sealed(case["record"], case["input"])
    assert type(info.value) is error


@pytest.mark.parametrize("case", SEALED_CASES, ids=ids(SEALED_CASES))
def test_sealed_vector_through_the_independent_decoder(case):
    if case["expect"] == "ok":
        assert decode_sealed(case["record"], case["input"]) == expected_result(case)
        return
    with pytest.raises(Refused) as info:
        decode_sealed(case["record"], case["input"])
    assert info.value.verdict == SEALED_FAILURES[case["expect"]][0]


OK_CODES = [c for c in SEALED_CASES if c["record"] == "codes" and c["expect"] == "ok"]


@pytest.mark.parametrize("case", OK_CODES, ids=ids(OK_CODES))
def test_the_codes_in_the_vectors_are_the_seeds_own(case):
    """The vectors compute TOTP with raw HMAC (RFC 6238); takusu's client agrees."""
    codes = case["codes"]
    assert totp.parameters(codes["totp"])[:2] == (codes["period"], codes["digits"])
    assert totp.codes_for_steps(codes["totp"], codes["steps"]) == codes["codes"]


def test_a_codes_pack_is_what_its_own_encoder_writes():
    """Independent encoder (the vectors) and takusu's agree byte for byte on every ok pack."""
    for case in OK_CODES:
        c = case["codes"]
        book = codebook.CodeBook.from_steps(c["period"], c["digits"], c["steps"], c["codes"])
        assert b64url(codebook.pack(book)) == c["pack"]
        assert codebook.unpack(strict_b64(c["pack"])) == book


# --- disagreements found while writing the sealed vectors (fixed in vault/) ----------------


def test_a_request_the_owner_cannot_open_does_not_hide_the_others(world):
    from tests.logs import append_raw, next_event

    sess = world.client_session()
    member = world.identity(world.secretary)
    head = sess.state["heads"][sess.owner_id]
    hostile = envelope.seal_for({"text": "x", "reason": None}, b"aad", [(member.card, b"info")])
    body = {
        "id": "0123456789abcdef",
        "sealed": hostile,
        "for": None,
        "owner_head": {"seq": head["seq"], "hash": head["hash"]},
    }
    append_raw(
        world.member_log, next_event(member, world.member_log, world.vault_id, "request", body)
    )
    genuine = world.s("request", "the bank login").out.strip()
    assert genuine
    listed = world.c("requests")
    assert listed.code == 0 and "the bank login" in listed.out, listed
    assert world.c("deny", genuine).code == 0


def test_code_windows_of_an_item_with_only_a_seed_can_be_shared(world):
    from vault.item import empty_payload

    sess = world.client_session()
    payload = empty_payload()
    payload.update(title="Seed only", totp="otpauth://totp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DP")
    item_id = sess.add(payload)
    otp = {"hours": [[[540, 1080]]] * 5 + [[], []], "zone": "Asia/Tokyo", "days": 7}
    try:
        sharing.share(sess, item_id, world.member_id, None, otp=otp)
    except BadInput:
        pass  # refusing it before anything is written would do too
