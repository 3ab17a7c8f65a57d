"""Write tests/vectors/events.json, tests/vectors/envelope.json and tests/vectors/sealed.json.

    python tests/vectors/make_vectors.py

The vectors are built from the format description with raw primitives (hashlib, hmac,
json, base64 and `cryptography`'s Ed25519, X25519 and ChaCha20-Poly1305), not with
`vault.*`, so they check the library against an independent encoder. Every key, nonce
and HPKE ephemeral key comes from a fixed seed: running this again gives the same bytes
(test_vectors.py checks that the committed files are exactly what this script writes).

Each file is a list of cases {"name", "comment", "input", "expect", ...}. `expect` is
"ok" or the named failure a reader must report; test_vectors.py maps each name to the
typed error takusu raises. A sealed.json case also names the `record` it opens ("view",
"codes", "request" or "answer"); an ok case holds what it opens to under that key (for
codes: period, digits, runs, steps, codes, the pack itself and the seed they came from,
computed here with RFC 6238 over raw HMAC).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

HERE = Path(__file__).resolve().parent

EVENT_SIG = b"takusu/event/v1\n"
CARD_SIG = b"takusu/card/v1\n"
FINGERPRINT = b"takusu/fingerprint/v1\n"
KEY_COMMIT = b"takusu/key-commit/v1"
ITEM_AAD = b"takusu/item/v1\n"
OWNER_WRAP_AAD = b"takusu/owner-wrap/v1\n"
GRANT_WRAP_INFO = b"takusu/wrap/v1\n"
SUITE = "X25519/HKDF_SHA256/CHACHA20_POLY1305"
ITEM_FIELDS = ("title", "username", "password", "url", "notes", "totp", "fields", "tags")

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
IDENTITY_POINT = (1).to_bytes(32, "little")
FORGED_SIG = IDENTITY_POINT + bytes(32)  # R = identity, S = 0
ORDER_8_KEY = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")

VAULT = "7a6b" * 8
OTHER_VAULT = "0f1e" * 8
ITEM = "17e3" * 8
OTHER_ITEM = "2d4c" * 8
AT = "2025-03-01T12:00:00Z"


# --- small helpers -------------------------------------------------------------------------


def seed(name: str) -> bytes:
    return hashlib.sha256(b"takusu test vector/" + name.encode()).digest()


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def flip(data: bytes, index: int, mask: int = 1) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def raw_private(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


class Person:
    """A fixed identity: Ed25519 and X25519 keys from seeds, its member id and its card."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sign = Ed25519PrivateKey.from_private_bytes(seed(name + "/sign"))
        self.kem = X25519PrivateKey.from_private_bytes(seed(name + "/x25519"))
        self.sign_pub = self.sign.public_key().public_bytes_raw()
        self.kem_pub = self.kem.public_key().public_bytes_raw()
        digest = hashlib.sha256(FINGERPRINT + SUITE.encode() + b"\n" + self.sign_pub + self.kem_pub)
        self.id = digest.hexdigest()[:32]

    def card(self) -> dict:
        payload = canonical(
            {
                "v": 1,
                "type": "card",
                "name": self.name,
                "sign": b64e(self.sign_pub),
                "kem": b64e(self.kem_pub),
                "suite": SUITE,
                "created": "2025-01-01T00:00:00Z",
            }
        )
        return {"v": 1, "p": b64e(payload), "s": b64e(self.sign.sign(CARD_SIG + payload))}

    def private(self) -> dict:
        return {
            "card": self.card(),
            "sign_seed": b64e(raw_private(self.sign)),
            "x25519": b64e(raw_private(self.kem)),
        }


WRITER, OTHER, SECRETARY = Person("Writer"), Person("Other"), Person("Secretary")


# --- events --------------------------------------------------------------------------------


def line(payload: bytes, sig: bytes, v: str = "1") -> str:
    return f'{{"v":{v},"p":"{b64e(payload)}","s":"{b64e(sig)}"}}'


def event_payload(seq: int, prev: str | None, type_: str, body: dict, **base) -> bytes:
    fields = {"vault": VAULT, "actor": WRITER.id, "seq": seq, "prev": prev, "at": AT}
    return canonical({**fields, **base, "type": type_, **body})


def signed(payload: bytes, who: Person = WRITER, label: bytes = EVENT_SIG) -> str:
    return line(payload, who.sign.sign(label + payload))


def sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def forged_small_order_payload(key: bytes) -> bytes:
    """A payload whose challenge is 0 mod 8, so R=identity, S=0 verifies under `key`."""
    for n in range(1000):
        payload = event_payload(0, None, "request", {"nonce": n})
        h = int.from_bytes(
            hashlib.sha512(IDENTITY_POINT + key + EVENT_SIG + payload).digest(), "little"
        )
        if h % L % 8 == 0:
            return payload
    raise AssertionError("no payload found")


def event_cases() -> list[dict]:
    p0 = event_payload(0, None, "vault.create", {"name": "Family"})
    p1 = event_payload(1, sha(p0), "member.add", {"member": OTHER.id})
    retrieve = {"item": ITEM, "version": 1, "fields": ["password"], "reason": "für Kundin 田中"}
    p2 = event_payload(2, sha(p1), "retrieve", retrieve)
    p3 = event_payload(3, sha(p2), "request", {"item": ITEM})
    fork2 = event_payload(2, sha(p1), "request", {"item": OTHER_ITEM})
    l0, l1, l2, l3 = (signed(p) for p in (p0, p1, p2, p3))
    env0 = json.loads(l0)
    p_text, s_text = env0["p"], env0["s"]
    sig0 = WRITER.sign.sign(EVENT_SIG + p0)
    std_alphabet = next(
        ln for ln in (l0, l1, l2, l3) if "-" in ln or "_" in ln
    )  # a line whose base64 has URL-only characters
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bits = s_text[:-1] + last[last.index(s_text[-1]) + 1]
    order8 = forged_small_order_payload(ORDER_8_KEY)

    def case(name, comment, lines, expect, *, seq=None, key=WRITER.sign_pub, start=0, prev=None):
        out = {
            "name": name,
            "comment": comment,
            "input": {
                "sign_key": b64e(key),
                "vault": VAULT,
                "actor": WRITER.id,
                "start_seq": start,
                "prev": prev,
                "lines": lines,
            },
            "expect": expect,
        }
        if expect == "ok":
            out["hashes"] = [sha(b64d(json.loads(x)["p"])) for x in lines]
        else:
            out["seq"] = seq
        return out

    return [
        case("ok_genesis", "one valid first event", [l0], "ok"),
        case("ok_chain", "four linked events", [l0, l1, l2, l3], "ok"),
        case(
            "ok_continuation",
            "the tail of a log after a known head (seq 1)",
            [l2, l3],
            "ok",
            start=2,
            prev=sha(p1),
        ),
        case(
            "bad_signature_flipped_sig",
            "one bit of the signature changed",
            [line(p0, flip(sig0, 0))],
            "bad_signature",
            seq=0,
        ),
        case(
            "bad_signature_changed_payload",
            "the payload was edited ('Family' -> 'Familx'), signature kept",
            [line(p0.replace(b"Family", b"Familx"), sig0)],
            "bad_signature",
            seq=0,
        ),
        case(
            "bad_signature_other_writer",
            "the same payload signed by another person's key",
            [signed(p0, OTHER)],
            "bad_signature",
            seq=0,
        ),
        case(
            "bad_signature_wrong_label",
            "signed under the card label instead of the event label",
            [signed(p0, label=CARD_SIG)],
            "bad_signature",
            seq=0,
        ),
        case(
            "bad_signature_in_the_middle",
            "the third line's signature is damaged",
            [l0, l1, line(p2, flip(WRITER.sign.sign(EVENT_SIG + p2), 40)), l3],
            "bad_signature",
            seq=2,
        ),
        case(
            "weak_key_identity",
            "key = identity point, R = identity, S = 0: raw Ed25519 accepts it",
            [line(p0, FORGED_SIG)],
            "weak_key",
            seq=0,
            key=IDENTITY_POINT,
        ),
        case(
            "weak_key_non_canonical_identity",
            "key = p+1 (the identity, non-canonically encoded): raw Ed25519 accepts it",
            [line(p0, FORGED_SIG)],
            "weak_key",
            seq=0,
            key=(P + 1).to_bytes(32, "little"),
        ),
        case(
            "weak_key_order_8",
            "key of order 8; the payload's challenge is 0 mod 8 so raw Ed25519 accepts it",
            [line(order8, FORGED_SIG)],
            "weak_key",
            seq=0,
            key=ORDER_8_KEY,
        ),
        case("broken_chain_deleted", "seq 1 deleted", [l0, l2, l3], "broken_chain", seq=1),
        case("broken_chain_reordered", "seq 1 and 2 swapped", [l0, l2, l1], "broken_chain", seq=1),
        case("broken_chain_duplicated", "seq 1 twice", [l0, l1, l1, l2], "broken_chain", seq=2),
        case(
            "broken_chain_fork",
            "a second valid seq 2 replaced the first; seq 3 links to the original",
            [l0, l1, signed(fork2), l3],
            "broken_chain",
            seq=3,
        ),
        case(
            "broken_chain_wrong_prev",
            "seq 1 links to a hash that is not seq 0's",
            [l0, signed(event_payload(1, sha(b"something else"), "request", {}))],
            "broken_chain",
            seq=1,
        ),
        case(
            "broken_chain_genesis_with_prev",
            "seq 0 must have prev null",
            [signed(event_payload(0, sha(p0), "request", {}))],
            "broken_chain",
            seq=0,
        ),
        case(
            "broken_chain_other_vault",
            "a valid event of another vault",
            [signed(event_payload(0, None, "request", {}, vault=OTHER_VAULT))],
            "broken_chain",
            seq=0,
        ),
        case(
            "broken_chain_other_actor",
            "signed by the writer but naming another actor (cross-log replay)",
            [signed(event_payload(0, None, "request", {}, actor=OTHER.id))],
            "broken_chain",
            seq=0,
        ),
        case(
            "broken_chain_wrong_start",
            "the log's first line has seq 1",
            [l1],
            "broken_chain",
            seq=0,
        ),
        case(
            "non_canonical_spaces",
            "the envelope re-encoded with spaces",
            [json.dumps(env0)],
            "non_canonical",
            seq=0,
        ),
        case(
            "non_canonical_key_order",
            "the envelope keys in another order",
            [f'{{"p":"{p_text}","s":"{s_text}","v":1}}'],
            "non_canonical",
            seq=0,
        ),
        case(
            "non_canonical_padding",
            "the signature with base64 '=' padding",
            [f'{{"v":1,"p":"{p_text}","s":"{s_text}=="}}'],
            "non_canonical",
            seq=0,
        ),
        case(
            "non_canonical_trailing_bits",
            "the signature's last base64 character has unused bits set",
            [f'{{"v":1,"p":"{p_text}","s":"{bits}"}}'],
            "non_canonical",
            seq=0,
        ),
        case(
            "non_canonical_standard_alphabet",
            "'+' and '/' instead of '-' and '_'",
            [std_alphabet.replace("-", "+").replace("_", "/")],
            "non_canonical",
            seq=[l0, l1, l2, l3].index(std_alphabet),
        ),
        case(
            "non_canonical_escape",
            "a JSON escape (\\u0076) for the key 'v'",
            [f'{{"\\u0076":1,"p":"{p_text}","s":"{s_text}"}}'],
            "non_canonical",
            seq=0,
        ),
        case(
            "non_canonical_trailing_space",
            "a space after the object",
            [l0 + " "],
            "non_canonical",
            seq=0,
        ),
        case("unknown_version_2", "v = 2", [line(p0, sig0, "2")], "unknown_version", seq=0),
        case("unknown_version_text", 'v = "1"', [line(p0, sig0, '"1"')], "unknown_version", seq=0),
        case("malformed_not_json", "half a line", [l0[:40]], "malformed", seq=0),
        case(
            "malformed_extra_field",
            "an extra envelope field",
            [l0[:-1] + ',"x":0}'],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_duplicate_key",
            "the key 'v' twice",
            [f'{{"v":1,"v":1,"p":"{p_text}","s":"{s_text}"}}'],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_not_base64",
            "'p' is not base64",
            [f'{{"v":1,"p":"*{p_text[1:]}","s":"{s_text}"}}'],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_payload_not_object",
            "a validly signed payload that is a JSON array",
            [signed(b"[0]")],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_payload_missing_field",
            "a validly signed payload without 'at'",
            [signed(p0.replace(b'"at":"%s",' % AT.encode(), b""))],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_payload_duplicate_key",
            "a validly signed payload with 'seq' twice",
            [signed(p0.replace(b'"seq":0', b'"seq":0,"seq":0'))],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_payload_float",
            "a validly signed payload with seq 0.0",
            [signed(p0.replace(b'"seq":0', b'"seq":0.0'))],
            "malformed",
            seq=0,
        ),
        case(
            "malformed_payload_type",
            "a validly signed payload whose type is a number",
            [signed(event_payload(0, None, "x", {}).replace(b'"type":"x"', b'"type":7'))],
            "malformed",
            seq=0,
        ),
    ]


# --- item envelopes ------------------------------------------------------------------------


def join(*parts: object) -> bytes:
    return "\n".join(str(p) for p in parts).encode()


def encode_item(payload: dict) -> bytes:
    data = canonical({k: payload.get(k) for k in ITEM_FIELDS})
    return data + b" " * (-len(data) % 128)


def seal(key: bytes, nonce_name: str, plaintext: bytes, aad: bytes) -> bytes:
    nonce = seed(nonce_name)[:12]
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def key_commit(data_key: bytes) -> bytes:
    return hmac.new(data_key, KEY_COMMIT, hashlib.sha256).digest()


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


KEM_SUITE_ID = b"KEM\x00\x20"  # DHKEM(X25519, HKDF-SHA256)
HPKE_SUITE_ID = b"HPKE\x00\x20\x00\x01\x00\x03"  # + HKDF-SHA256 + ChaCha20-Poly1305


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    return _expand(prk, n.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info, n)


def hpke_context(dh: bytes, enc: bytes, recipient_pub: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 base mode: the AEAD key and nonce for sequence number 0."""
    eae_prk = _labeled_extract(KEM_SUITE_ID, b"", b"eae_prk", dh)
    shared = _labeled_expand(KEM_SUITE_ID, eae_prk, b"shared_secret", enc + recipient_pub, 32)
    psk_id_hash = _labeled_extract(HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(HPKE_SUITE_ID, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(HPKE_SUITE_ID, shared, b"secret", b"")
    key = _labeled_expand(HPKE_SUITE_ID, secret, b"key", context, 32)
    nonce = _labeled_expand(HPKE_SUITE_ID, secret, b"base_nonce", context, 12)
    return key, nonce


def hpke_seal(recipient_pub: bytes, plaintext: bytes, info: bytes, ephemeral: str) -> bytes:
    """HPKE base-mode single-shot seal (enc || ciphertext) with a fixed ephemeral key."""
    eph = X25519PrivateKey.from_private_bytes(seed(ephemeral))
    enc = eph.public_key().public_bytes_raw()
    dh = eph.exchange(X25519PublicKey.from_public_bytes(recipient_pub))
    key, nonce = hpke_context(dh, enc, recipient_pub, info)
    return enc + ChaCha20Poly1305(key).encrypt(nonce, plaintext, b"")


PAYLOAD = {
    "title": "Bank of Example",
    "username": "alice@example.com",
    "password": "correct horse — ünïcødé",
    "url": "https://bank.example/login",
    "notes": "PIN is in the other vault",
    "totp": "otpauth://totp/Bank:alice?secret=JBSWY3DPEHPK3PXP&issuer=Bank",
    "fields": {"customer no.": "0042-1337"},
    "tags": ["money", "family"],
}


def grant_info(item: str, version: int, member: str) -> bytes:
    return GRANT_WRAP_INFO + join(VAULT, item, version, member)


def envelope_cases() -> list[dict]:
    data_key, other_key, vault_key = seed("data key"), seed("other data key"), seed("vault key")
    plain = encode_item(PAYLOAD)
    ct = seal(data_key, "item nonce", plain, ITEM_AAD + join(VAULT, ITEM, 1))
    commit = b64e(key_commit(data_key))
    owner_wrap = seal(vault_key, "owner nonce", data_key, OWNER_WRAP_AAD + join(VAULT, ITEM, 1))
    sec_wrap = hpke_seal(SECRETARY.kem_pub, data_key, grant_info(ITEM, 1, SECRETARY.id), "eph 1")
    full = {k: PAYLOAD.get(k) for k in ITEM_FIELDS}

    exact_payload = {"title": "x"}
    while len(canonical({k: exact_payload.get(k) for k in ITEM_FIELDS})) < 128:
        exact_payload["title"] += "x"
    exact = encode_item(exact_payload)
    assert len(exact) == 128 and not exact.endswith(b" ")

    def case(name, comment, expect, *, how, ct=ct, commit=commit, **fields):
        inp = {"vault": VAULT, "item": ITEM, "version": 1, "aead": "CHACHA20_POLY1305"}
        inp.update(fields)
        inp.update({"ct": b64e(ct) if isinstance(ct, bytes) else ct, "key_commit": commit})
        inp["open_with"] = how
        out = {"name": name, "comment": comment, "input": inp, "expect": expect}
        if expect == "ok":
            out["payload"] = full
        return out

    direct = {"data_key": b64e(data_key)}
    owner = {"vault_key": b64e(vault_key), "owner_wrap": b64e(owner_wrap)}

    def grantee(wrap: bytes, who: Person = SECRETARY) -> dict:
        return {"grantee": who.private(), "wrap": b64e(wrap)}

    def payload_ct(data: bytes) -> bytes:
        return seal(data_key, "item nonce", data, ITEM_AAD + join(VAULT, ITEM, 1))

    ok_exact = case(
        "ok_exact_block",
        "a payload of exactly 128 bytes (no padding)",
        "ok",
        how=direct,
        ct=payload_ct(exact),
    )
    ok_exact["payload"] = {k: exact_payload.get(k) for k in ITEM_FIELDS}
    std = b64e(ct)
    assert "-" in std or "_" in std

    return [
        case("ok_data_key", "opened with the item's data key", "ok", how=direct),
        case("ok_owner_wrap", "the owner: data key wrapped under the vault key", "ok", how=owner),
        case(
            "ok_grantee_wrap",
            "a grantee: data key HPKE-wrapped to them",
            "ok",
            how=grantee(sec_wrap),
        ),
        ok_exact,
        case(
            "wrong_aad_item", "presented as another item", "wrong_aad", how=direct, item=OTHER_ITEM
        ),
        case("wrong_aad_version", "presented as version 2", "wrong_aad", how=direct, version=2),
        case(
            "wrong_aad_vault",
            "presented in another vault",
            "wrong_aad",
            how=direct,
            vault=OTHER_VAULT,
        ),
        case(
            "bad_ciphertext_body",
            "one bit of the ciphertext changed",
            "bad_ciphertext",
            how=direct,
            ct=flip(ct, 40),
        ),
        case(
            "bad_ciphertext_tag",
            "one bit of the tag changed",
            "bad_ciphertext",
            how=direct,
            ct=flip(ct, len(ct) - 1, 0x80),
        ),
        case(
            "bad_ciphertext_nonce",
            "one bit of the nonce changed",
            "bad_ciphertext",
            how=direct,
            ct=flip(ct, 0),
        ),
        case(
            "bad_ciphertext_short",
            "shorter than nonce and tag",
            "bad_ciphertext",
            how=direct,
            ct=ct[:20],
        ),
        case(
            "key_commit_mismatch",
            "the data key is not the committed one",
            "key_commit_mismatch",
            how=direct,
            commit=b64e(key_commit(other_key)),
        ),
        case(
            "key_commit_mismatch_owner",
            "the owner wrap holds another key than the committed one",
            "key_commit_mismatch",
            how={
                "vault_key": b64e(vault_key),
                "owner_wrap": b64e(
                    seal(vault_key, "owner nonce", other_key, OWNER_WRAP_AAD + join(VAULT, ITEM, 1))
                ),
            },
        ),
        case(
            "key_commit_mismatch_grantee",
            "the grantee wrap holds another key than the committed one",
            "key_commit_mismatch",
            how=grantee(
                hpke_seal(SECRETARY.kem_pub, other_key, grant_info(ITEM, 1, SECRETARY.id), "eph 2")
            ),
        ),
        case(
            "wrong_aad_owner_wrap",
            "the owner wrap was made for another item",
            "wrong_aad",
            how={
                "vault_key": b64e(vault_key),
                "owner_wrap": b64e(
                    seal(
                        vault_key,
                        "owner nonce",
                        data_key,
                        OWNER_WRAP_AAD + join(VAULT, OTHER_ITEM, 1),
                    )
                ),
            },
        ),
        case(
            "wrong_info_item",
            "the grantee wrap was made for another item",
            "wrong_info",
            how=grantee(
                hpke_seal(
                    SECRETARY.kem_pub, data_key, grant_info(OTHER_ITEM, 1, SECRETARY.id), "eph 3"
                )
            ),
        ),
        case(
            "wrong_info_version",
            "the grantee wrap was made for version 2",
            "wrong_info",
            how=grantee(
                hpke_seal(SECRETARY.kem_pub, data_key, grant_info(ITEM, 2, SECRETARY.id), "eph 4")
            ),
        ),
        case(
            "wrong_info_member",
            "sealed to the grantee's key but made out to another member id",
            "wrong_info",
            how=grantee(
                hpke_seal(SECRETARY.kem_pub, data_key, grant_info(ITEM, 1, OTHER.id), "eph 5")
            ),
        ),
        case(
            "wrong_recipient",
            "the wrap was sealed to another person's key",
            "wrong_recipient",
            how=grantee(
                hpke_seal(OTHER.kem_pub, data_key, grant_info(ITEM, 1, SECRETARY.id), "eph 6")
            ),
        ),
        case(
            "unknown_aead",
            "an AEAD takusu does not know",
            "unknown_aead",
            how=direct,
            aead="AES_256_GCM",
        ),
        case(
            "bad_payload_fields",
            "decrypts, but the payload lacks 'tags'",
            "bad_payload",
            how=direct,
            ct=payload_ct(canonical({k: None for k in ITEM_FIELDS if k != "tags"}).ljust(128)),
        ),
        case(
            "bad_payload_duplicate_key",
            "decrypts, but the payload has 'password' twice",
            "bad_payload",
            how=direct,
            ct=payload_ct(plain.replace(b'"password":', b'"password":null,"password":', 1)),
        ),
        case(
            "bad_payload_not_json",
            "decrypts, but the payload is not JSON",
            "bad_payload",
            how=direct,
            ct=payload_ct(b"title=Bank".ljust(128)),
        ),
        case(
            "non_canonical_ct",
            "the ciphertext in the standard base64 alphabet",
            "non_canonical",
            how=direct,
            ct=std.replace("-", "+").replace("_", "/"),
        ),
        case(
            "non_canonical_key_commit",
            "the key commitment with base64 '=' padding",
            "non_canonical",
            how=direct,
            commit=commit + "=",
        ),
    ]


# --- sealed to people: views, 2FA codes, access requests -----------------------------------

VIEW_AAD = b"takusu/view/v1\n"
VIEW_WRAP_INFO = b"takusu/view-wrap/v1\n"
CODES_AAD = b"takusu/codes/v1\n"
CODES_WRAP_INFO = b"takusu/codes-wrap/v1\n"
REQUEST_AAD = b"takusu/request/v1\n"
REQUEST_WRAP_INFO = b"takusu/request-wrap/v1\n"

OWNER = WRITER  # the vault's owner in the request and answer cases
CODES_ID, OTHER_CODES_ID = "c0de5eed00000001", "c0de5eed00000002"
REQUEST_ID, OTHER_REQUEST_ID = "5eeda5c000000001", "5eeda5c000000002"

PACK_WIDTH = {6: 20, 7: 24, 8: 27}  # bits per code
MAX_PACK_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
SEED = "JBSWY3DPEHPK3PXP"  # PAYLOAD's 2FA seed
SEED_8 = "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TFOQ"
URI_8 = f"otpauth://totp/Site:alice?secret={SEED_8}&digits=8&period=60&algorithm=SHA256"


def pad(data: bytes) -> bytes:
    return data + b" " * (-len(data) % 128)


def stamp(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def totp_code(secret: str, step: int, digits: int, digest=hashlib.sha1) -> str:
    """RFC 6238 (RFC 4226 dynamic truncation) for one time step."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, step.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def varint(value: int) -> bytes:
    """Unsigned LEB128, minimal length."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pack_header(digits: int, period: int, version: int = 1) -> bytes:
    return bytes([version, digits]) + period.to_bytes(2, "big")


def pack_runs(runs: list[tuple[int, int]]) -> bytes:
    """The run count, then (start or gap, count) per run, from absolute (start, count)."""
    out, end = varint(len(runs)), 0
    for start, count in runs:
        out += varint(start - end) + varint(count)
        end = start + count
    return out


def pack_bits(values: list[int], width: int) -> bytes:
    """Fixed-width fields, big-endian, MSB first, zero bits up to the next byte."""
    bits = "".join(format(v, f"0{width}b") for v in values)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def code_pack(digits: int, period: int, runs: list[tuple[int, int]], codes: list[str]) -> bytes:
    return (
        pack_header(digits, period)
        + pack_runs(runs)
        + pack_bits([int(c) for c in codes], PACK_WIDTH[digits])
    )


def run_steps(runs: list[tuple[int, int]]) -> list[int]:
    return [step for start, count in runs for step in range(start, start + count)]


def seal_record(
    plain: bytes,
    aad: bytes,
    recipients: list[tuple[str, bytes, bytes]],
    tag: str,
    *,
    key: bytes | None = None,
    wrapped: bytes | None = None,
    commit_to: bytes | None = None,
) -> dict:
    """{"ct", "key_commit", "wraps"}: `plain` under a key, the key committed to and
    HPKE-wrapped to each (filed-under member id, public key, info). The overrides make
    the failures: another key in the wraps, another key committed to."""
    key = seed(f"{tag} key") if key is None else key
    wraps = {
        filed: b64e(hpke_seal(pub, key if wrapped is None else wrapped, info, f"{tag} eph {n}"))
        for n, (filed, pub, info) in enumerate(recipients)
    }
    return {
        "ct": b64e(seal(key, f"{tag} nonce", plain, aad)),
        "key_commit": b64e(key_commit(key if commit_to is None else commit_to)),
        "wraps": wraps,
    }


VIEW_FIELDS = ["username", "url", "customer no."]  # what the scoped grantee may read
VIEW = {
    "title": PAYLOAD["title"],
    "username": PAYLOAD["username"],
    "password": None,
    "url": PAYLOAD["url"],
    "notes": None,
    "totp": None,
    "fields": {"customer no.": PAYLOAD["fields"]["customer no."]},
    "tags": [],
}


def view_parts(label: bytes, member: str, *, vault=VAULT, item=ITEM, version=1) -> bytes:
    return label + join(vault, item, version, member)


def codes_parts(label: bytes, member: str, codes_id: str, *, item=ITEM) -> bytes:
    return label + join(VAULT, item, member, codes_id)


def request_parts(label: bytes, member: str, request_id: str, *more: str) -> bytes:
    return label + join(VAULT, member, request_id, *more)


def view_cases() -> list[dict]:
    me = SECRETARY
    aad, info = view_parts(VIEW_AAD, me.id), view_parts(VIEW_WRAP_INFO, me.id)
    plain = pad(canonical(VIEW))

    def body(tag: str, *, plain=plain, aad=aad, recipients=None, **over) -> dict:
        recipients = recipients or [(me.id, me.kem_pub, info)]
        sealed = seal_record(plain, aad, recipients, f"view {tag}", **over)
        return {"item": ITEM, "version": 1, "member": me.id, **sealed}

    good = body("ok")

    def case(name, comment, expect, sealed_body=good, *, opener=me, **presented):
        inp = {"vault": VAULT, "item": ITEM, "version": 1, **presented}
        inp.update(opener=opener.private(), body=sealed_body)
        out = {"name": name, "comment": comment, "record": "view", "input": inp, "expect": expect}
        if expect == "ok":
            out["view"] = VIEW
        return out

    ct = b64d(good["ct"])
    return [
        case("ok_view", "the scoped grantee opens her view of version 1", "ok"),
        case(
            "wrong_binding_view_member",
            "sealed to her key and filed under her id, but made out to another member "
            "(AAD and info name Other)",
            "wrong_binding",
            body(
                "member",
                aad=view_parts(VIEW_AAD, OTHER.id),
                recipients=[(me.id, me.kem_pub, view_parts(VIEW_WRAP_INFO, OTHER.id))],
            ),
        ),
        case(
            "wrong_binding_view_aad_member",
            "the wrap is hers, but the ciphertext's AAD names another member",
            "wrong_binding",
            body("aad member", aad=view_parts(VIEW_AAD, OTHER.id)),
        ),
        case(
            "wrong_binding_view_version",
            "the view of version 1 presented as version 2's",
            "wrong_binding",
            {**good, "version": 2},
            version=2,
        ),
        case(
            "wrong_binding_view_item",
            "presented as another item's view",
            "wrong_binding",
            {**good, "item": OTHER_ITEM},
            item=OTHER_ITEM,
        ),
        case(
            "wrong_binding_view_vault",
            "presented in another vault",
            "wrong_binding",
            vault=OTHER_VAULT,
        ),
        case(
            "wrong_binding_view_label",
            "sealed with the item labels (takusu/item/v1, takusu/wrap/v1) instead of the "
            "view labels",
            "wrong_binding",
            body(
                "label",
                aad=ITEM_AAD + join(VAULT, ITEM, 1),
                recipients=[(me.id, me.kem_pub, grant_info(ITEM, 1, me.id))],
            ),
        ),
        case(
            "key_commit_mismatch_view",
            "the wrap holds another key than the committed one (the ciphertext opens "
            "under it: only the commitment check refuses it)",
            "key_commit_mismatch",
            body("commit", key=seed("other view key"), commit_to=seed("view commit key")),
        ),
        case(
            "not_sealed_to_me_view",
            "the only wrap is filed under another member's id (a view for someone else)",
            "not_sealed_to_me",
            body("someone else", recipients=[(OTHER.id, OTHER.kem_pub, info)]),
        ),
        case(
            "wrong_recipient_view",
            "filed under her id but sealed to another person's key",
            "wrong_recipient",
            body("recipient", recipients=[(me.id, OTHER.kem_pub, info)]),
        ),
        case(
            "bad_ciphertext_view",
            "one bit of the ciphertext changed",
            "bad_ciphertext",
            {**good, "ct": b64e(flip(ct, 40))},
        ),
        case(
            "bad_key_length_view",
            "the wrap holds a 16-byte key (committed to as it is)",
            "bad_key_length",
            body("short key", wrapped=seed("short")[:16], commit_to=seed("short")[:16]),
        ),
        case(
            "bad_shape_view_fields",
            "decrypts, but the view lacks 'tags'",
            "bad_shape",
            body("fields", plain=pad(canonical({k: v for k, v in VIEW.items() if k != "tags"}))),
        ),
        case(
            "bad_shape_view_not_json",
            "decrypts, but the plaintext is not JSON",
            "bad_shape",
            body("not json", plain=pad(b"title=Bank")),
        ),
        case(
            "malformed_record_view_wraps",
            "'wraps' is a list, not an object",
            "malformed_record",
            {**good, "wraps": list(good["wraps"].values())},
        ),
        case(
            "non_canonical_view_key_commit",
            "the key commitment with base64 '=' padding",
            "non_canonical",
            {**good, "key_commit": good["key_commit"] + "="},
        ),
    ]


def codes_cases() -> list[dict]:
    me = SECRETARY
    monday = calendar.timegm((2025, 3, 3, 0, 0, 0)) // 30  # 09:00 in Tokyo
    runs = [(monday - 1, 3), (monday + 2880 - 1, 2)]  # the first minute of two mornings
    codes = [totp_code(SEED, step, 6) for step in run_steps(runs)]
    start_8 = calendar.timegm((2025, 3, 3, 0, 0, 0)) // 60
    runs_8 = [(start_8, 3)]
    codes_8 = [totp_code(SEED_8, step, 8, hashlib.sha256) for step in run_steps(runs_8)]
    last = MAX_PACK_SECONDS // 30 - 1  # the last 30 s step that ends by 9999-12-31T23:59:59Z
    assert (last + 1) * 30 <= MAX_PACK_SECONDS < (last + 2) * 30

    def body(tag: str, pack: bytes | None, *, until: int, codes_id=CODES_ID, plain=None) -> dict:
        aad = codes_parts(CODES_AAD, me.id, codes_id)
        info = codes_parts(CODES_WRAP_INFO, me.id, codes_id)
        if plain is None:
            plain = pad(canonical({"v": 1, "pack": b64e(pack)}))
        sealed = seal_record(plain, aad, [(me.id, me.kem_pub, info)], f"codes {tag}")
        head = {"item": ITEM, "member": me.id, "id": codes_id, "until": stamp(until)}
        return {**head, "replace": True, **sealed}

    def case(name, comment, expect, sealed_body, *, item=ITEM, decoded=None):
        inp = {"vault": VAULT, "item": item, "opener": me.private(), "body": sealed_body}
        out = {"name": name, "comment": comment, "record": "codes", "input": inp, "expect": expect}
        if expect == "ok":
            out["codes"] = decoded
        return out

    def decoded(digits, period, runs, codes, totp) -> dict:
        pack = code_pack(digits, period, runs, codes)
        return {
            "period": period,
            "digits": digits,
            "runs": [list(r) for r in runs],
            "steps": run_steps(runs),
            "codes": codes,
            "pack": b64e(pack),
            "totp": totp,
        }

    uri = PAYLOAD["totp"]
    ok = decoded(6, 30, runs, codes, uri)
    ok_8 = decoded(8, 60, runs_8, codes_8, URI_8)
    ok_empty = decoded(6, 30, [], [], uri)
    ok_last = decoded(6, 30, [(last, 1)], [totp_code(SEED, last, 6)], uri)
    pack = b64d(ok["pack"])
    end = (runs[-1][0] + runs[-1][1]) * 30
    good = body("ok", pack, until=end)
    header, run_bytes = pack_header(6, 30), pack_runs(runs)
    bits = pack_bits([int(c) for c in codes], 20)
    assert pack == header + run_bytes + bits and len(bits) == 13 and run_bytes[0] == 2

    def bad(tag: str, data: bytes) -> dict:
        return body(tag, data, until=end)

    gap = runs[1][0] - sum(runs[0])
    return [
        case("ok_codes", "6 digits every 30 s: two runs (3 and 2 steps)", "ok", good, decoded=ok),
        case(
            "ok_codes_8_digits",
            "8 digits every 60 s (SHA-256 seed): one run of 3 steps, 27-bit fields",
            "ok",
            body("8 digits", b64d(ok_8["pack"]), until=(start_8 + 3) * 60),
            decoded=ok_8,
        ),
        case(
            "ok_codes_empty",
            "a delivery holding no code (no run)",
            "ok",
            body("empty", b64d(ok_empty["pack"]), until=end),
            decoded=ok_empty,
        ),
        case(
            "ok_codes_last_step",
            "one code at the last step that ends before the year 10000",
            "ok",
            body("last", b64d(ok_last["pack"]), until=(last + 1) * 30),
            decoded=ok_last,
        ),
        case(
            "wrong_binding_codes_id",
            "presented with another codes id",
            "wrong_binding",
            {**good, "id": OTHER_CODES_ID},
        ),
        case(
            "wrong_binding_codes_item",
            "presented as another item's codes",
            "wrong_binding",
            {**good, "item": OTHER_ITEM},
            item=OTHER_ITEM,
        ),
        case(
            "malformed_pack_truncated",
            "the pack's last byte cut",
            "malformed_pack",
            bad("truncated", pack[:-1]),
        ),
        case(
            "malformed_pack_too_long",
            "a zero byte after the last code",
            "malformed_pack",
            bad("too long", pack + b"\x00"),
        ),
        case(
            "malformed_pack_version",
            "pack version 2",
            "malformed_pack",
            bad("version", b"\x02" + pack[1:]),
        ),
        case(
            "malformed_pack_digits",
            "5 digits",
            "malformed_pack",
            bad("digits", pack[:1] + b"\x05" + pack[2:]),
        ),
        case(
            "malformed_pack_period",
            "a period of 301 s",
            "malformed_pack",
            bad("period", pack[:2] + (301).to_bytes(2, "big") + pack[4:]),
        ),
        case(
            "malformed_pack_non_minimal_varint",
            "the run count 2 written in two bytes (82 00)",
            "malformed_pack",
            bad("non minimal", header + b"\x82\x00" + run_bytes[1:] + bits),
        ),
        case(
            "malformed_pack_oversized_varint",
            "a run count of 2^42 in a 7-byte varint (no decoder may allocate for it)",
            "malformed_pack",
            bad("oversized", header + b"\x80" * 6 + b"\x01" + run_bytes[1:] + bits),
        ),
        case(
            "malformed_pack_touching_runs",
            "the second run starts where the first ends (gap 0): not one run of 5",
            "malformed_pack",
            bad("touching", header + pack_runs([(runs[0][0], 3), (runs[0][0] + 3, 2)]) + bits),
        ),
        case(
            "malformed_pack_empty_run",
            "a third run of 0 steps",
            "malformed_pack",
            bad("empty run", header + b"\x03" + run_bytes[1:] + varint(gap) + b"\x00" + bits),
        ),
        case(
            "malformed_pack_padding_bits",
            "a 1 in the zero bits after the last code",
            "malformed_pack",
            bad("padding", pack[:-1] + bytes([pack[-1] | 1])),
        ),
        case(
            "malformed_pack_code_too_large",
            "a 6-digit code field holding 1000000",
            "malformed_pack",
            bad("large", header + pack_runs([(monday, 1)]) + pack_bits([10**6], 20)),
        ),
        case(
            "malformed_pack_late_step",
            "a step that ends after 9999-12-31T23:59:59Z",
            "malformed_pack",
            bad("late", header + pack_runs([(last + 1, 1)]) + pack_bits([123456], 20)),
        ),
        case(
            "bad_shape_codes_version",
            'decrypts, but the sealed JSON says "v": 2',
            "bad_shape",
            body("v2", None, until=end, plain=pad(canonical({"v": 2, "pack": ok["pack"]}))),
        ),
        case(
            "bad_shape_codes_version_true",
            'decrypts, but the sealed JSON says "v": true (not the integer 1)',
            "bad_shape",
            body("vtrue", None, until=end, plain=pad(canonical({"v": True, "pack": ok["pack"]}))),
        ),
        case(
            "bad_shape_codes_pack_base64",
            "decrypts, but the pack is in the standard base64 alphabet with padding",
            "bad_shape",
            body(
                "b64",
                None,
                until=end,
                plain=pad(canonical({"v": 1, "pack": base64.b64encode(pack).decode()})),
            ),
        ),
    ]


REQUEST = {"text": "請求書をダウンロードする銀行のログイン", "reason": "month-end close"}
REQUEST_NO_REASON = {"text": "the Wi-Fi password of the office", "reason": None}
ANSWER = {"reason": "経理の田中さんに聞いてください"}


def request_cases() -> list[dict]:
    member = SECRETARY

    def sealed(plain_obj, tag: str, *more: str, request_id=REQUEST_ID) -> dict:
        aad = request_parts(REQUEST_AAD, member.id, request_id, *more)
        info = request_parts(REQUEST_WRAP_INFO, member.id, request_id, *more)
        people = [OWNER, member] if not more else [member, OWNER]
        recipients = [(p.id, p.kem_pub, info) for p in people]
        return seal_record(pad(canonical(plain_obj)), aad, recipients, tag)

    request = sealed(REQUEST, "request")
    no_reason = sealed(REQUEST_NO_REASON, "request 2", request_id=OTHER_REQUEST_ID)
    answer = sealed(ANSWER, "answer", "answer")

    def case(
        name,
        comment,
        record,
        expect,
        sealed_record,
        opener,
        *,
        member_id=member.id,
        request_id=REQUEST_ID,
        result=None,
    ):
        inp = {"vault": VAULT, "member": member_id, "request": request_id}
        inp.update(opener=opener.private(), sealed=sealed_record)
        out = {"name": name, "comment": comment, "record": record, "input": inp, "expect": expect}
        if expect == "ok":
            out[record] = result
        return out

    return [
        case(
            "ok_request_by_member",
            "the member opens her own request",
            "request",
            "ok",
            request,
            member,
            result=REQUEST,
        ),
        case(
            "ok_request_by_owner",
            "the owner opens it",
            "request",
            "ok",
            request,
            OWNER,
            result=REQUEST,
        ),
        case(
            "ok_request_without_reason",
            "a request with no reason (null), opened by the owner",
            "request",
            "ok",
            no_reason,
            OWNER,
            request_id=OTHER_REQUEST_ID,
            result=REQUEST_NO_REASON,
        ),
        case(
            "wrong_binding_request_member",
            "presented as another member's request",
            "request",
            "wrong_binding",
            request,
            OWNER,
            member_id=OTHER.id,
        ),
        case(
            "wrong_binding_request_id",
            "presented with another request id",
            "request",
            "wrong_binding",
            request,
            OWNER,
            request_id=OTHER_REQUEST_ID,
        ),
        case(
            "not_sealed_to_me_request",
            "a third member cannot open it",
            "request",
            "not_sealed_to_me",
            request,
            OTHER,
        ),
        case(
            "wrong_binding_request_as_answer",
            "the request's record presented as the owner's answer to it",
            "answer",
            "wrong_binding",
            request,
            member,
        ),
        case(
            "bad_shape_request_extra_key",
            "decrypts, but the request holds a key besides text and reason",
            "request",
            "bad_shape",
            sealed({**REQUEST, "item": ITEM}, "request extra"),
            OWNER,
        ),
        case(
            "ok_answer_by_member",
            "the member opens the owner's reason for a denial",
            "answer",
            "ok",
            answer,
            member,
            result=ANSWER,
        ),
        case(
            "ok_answer_by_owner",
            "the owner opens her own answer",
            "answer",
            "ok",
            answer,
            OWNER,
            result=ANSWER,
        ),
        case(
            "wrong_binding_answer_as_request",
            "the answer's record presented as the request",
            "request",
            "wrong_binding",
            answer,
            member,
        ),
        case(
            "bad_shape_answer_reason",
            "decrypts, but the answer's reason is null",
            "answer",
            "bad_shape",
            sealed({"reason": None}, "answer null", "answer"),
            member,
        ),
        case(
            "bad_shape_answer_extra_key",
            "decrypts, but the answer holds a key besides the reason",
            "answer",
            "bad_shape",
            sealed({**ANSWER, "text": "no"}, "answer extra", "answer"),
            member,
        ),
    ]


def sealed_cases() -> list[dict]:
    return view_cases() + codes_cases() + request_cases()


def render(cases: list[dict]) -> str:
    return json.dumps(cases, indent=1, ensure_ascii=False) + "\n"


def build() -> dict[str, str]:
    """File name -> the exact text this script writes."""
    return {
        "events.json": render(event_cases()),
        "envelope.json": render(envelope_cases()),
        "sealed.json": render(sealed_cases()),
    }


def main() -> None:
    for name, text in build().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
