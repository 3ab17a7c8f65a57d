"""vault.events (signed, hash-chained lines) and vault.encoding (the strict decoders they use)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault import labels
from vault.encoding import b64d, b64e, dumps, loads
from vault.errors import (
    BadSignature,
    BrokenChain,
    IntegrityError,
    Malformed,
    UnknownVersion,
)
from vault.events import encode_line, make_event, split_line, verify_line, verify_lines
from vault.identity import Identity

VAULT = "5a1e" * 8
LOG = "writer.jsonl"
AT = "2025-01-02T03:04:05Z"
IDENTITY_POINT = (1).to_bytes(32, "little")
FORGED_SIG = IDENTITY_POINT + bytes(32)


@cache
def person(name: str) -> Identity:
    return Identity.generate(name, labels.SUITE_CLASSIC)


@cache
def chain(n: int = 5) -> tuple:
    """n events by 'Writer', each linked to the one before."""
    me, out, prev = person("Writer"), [], None
    for seq in range(n):
        body = {"item": f"item-{seq}", "fields": ["password"], "reason": "für Kundin 田中"}
        event = make_event(me, VAULT, seq, prev, AT, "retrieve", body)
        out.append(event)
        prev = event.hash
    return tuple(out)


def raw_lines(n: int = 5) -> list[bytes]:
    return [e.line.rstrip(b"\n") for e in chain(n)]


def check(line: bytes, *, seq: int = 0, prev: str | None = None, **overrides):
    me = person("Writer")
    args = {"sign_key": me.card.sign_key, "vault_id": VAULT, "actor": me.id, "log": LOG}
    args.update(overrides)
    return verify_line(line, seq=seq, prev=prev, **args)


def check_all(lines: list[bytes], **overrides):
    me = person("Writer")
    args = {"sign_key": me.card.sign_key, "vault_id": VAULT, "actor": me.id, "log": LOG}
    args.update(overrides)
    return verify_lines(lines, **args)


def signed_line(payload: bytes, who: Identity | None = None, label: bytes = labels.EVENT_SIG):
    who = who or person("Writer")
    return encode_line(payload, who.signing.sign(label, payload)).rstrip(b"\n")


def base_payload(**changes) -> dict:
    me = person("Writer")
    fields = {"vault": VAULT, "actor": me.id, "seq": 0, "prev": None, "at": AT, "type": "request"}
    return {**fields, **changes}


# --- make_event + verify_line --------------------------------------------------------------


def test_make_event_then_verify_line_round_trip():
    event = chain()[0]
    assert event.line.endswith(b"\n") and event.line.count(b"\n") == 1
    again = check(event.line[:-1])
    assert again == event
    assert again.fields == event.fields
    assert again.seq == 0 and again.type == "retrieve" and again.at == AT
    assert again.actor == person("Writer").id
    assert again.fields["reason"] == "für Kundin 田中"
    assert again.hash == hashlib.sha256(again.payload_bytes).hexdigest()


def test_line_format_is_the_documented_one():
    event = chain()[0]
    envelope = json.loads(event.line)
    assert list(envelope) == ["v", "p", "s"]
    assert envelope["v"] == 1
    assert b64d(envelope["p"]) == event.payload_bytes == dumps(event.fields)
    assert len(b64d(envelope["s"])) == 64
    assert event.line == b'{"v":1,"p":"%s","s":"%s"}\n' % (
        envelope["p"].encode(),
        envelope["s"].encode(),
    )


def test_make_event_refuses_a_body_that_overrides_base_fields():
    for key in ("seq", "prev", "actor", "vault", "at", "type"):
        with pytest.raises(ValueError, match=key):
            make_event(person("Writer"), VAULT, 0, None, AT, "request", {key: 1})


def test_second_event_links_to_the_first():
    first, second = chain()[:2]
    assert first.fields["prev"] is None
    assert second.fields["prev"] == first.hash
    assert check(second.line[:-1], seq=1, prev=first.hash) == second


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_is_a_typed_integrity_error(data):
    line = raw_lines()[1]
    index = data.draw(st.integers(0, len(line) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="mask")
    damaged = line[:index] + bytes([line[index] ^ mask]) + line[index + 1 :]
    with pytest.raises(IntegrityError) as info:
        check(damaged, seq=1, prev=chain()[0].hash)
    assert type(info.value) in (BadSignature, Malformed, UnknownVersion)
    assert info.value.seq == 1 and info.value.log == LOG


def test_every_single_bit_flip_is_refused():
    line, prev = raw_lines()[1], chain()[0].hash
    for index in range(len(line)):
        for bit in range(8):
            damaged = line[:index] + bytes([line[index] ^ (1 << bit)]) + line[index + 1 :]
            with pytest.raises(IntegrityError):
                check(damaged, seq=1, prev=prev)


def test_truncated_or_extended_lines_are_refused():
    line = raw_lines()[0]
    for cut in (1, 2, 10, len(line) // 2, len(line) - 1):
        with pytest.raises(IntegrityError):
            check(line[:cut])
    for extra in (b"\n", b" ", b"\r", b"x", b"{}"):
        with pytest.raises(Malformed):
            check(line + extra)


def test_wrong_seq_is_broken_chain():
    with pytest.raises(BrokenChain, match="sequence number 0, expected 3") as info:
        check(raw_lines()[0], seq=3)
    assert info.value.seq == 3


def test_wrong_prev_is_broken_chain():
    with pytest.raises(BrokenChain, match="does not link") as info:
        check(raw_lines()[1], seq=1, prev="0" * 64)
    assert info.value.seq == 1
    with pytest.raises(BrokenChain):
        check(raw_lines()[0], seq=0, prev=chain()[0].hash)  # genesis must have prev null


def test_wrong_vault_is_broken_chain():
    with pytest.raises(BrokenChain, match="another vault"):
        check(raw_lines()[0], vault_id="0" * 32)


def test_wrong_actor_is_broken_chain():
    with pytest.raises(BrokenChain, match="cross-log replay"):
        check(raw_lines()[0], actor=person("Other").id)


def test_line_from_another_writer_does_not_verify_under_this_key():
    theirs = make_event(person("Other"), VAULT, 0, None, AT, "request", {}).line[:-1]
    with pytest.raises(BadSignature, match="signature"):
        check(theirs)


def test_signature_over_another_label_is_refused():
    with pytest.raises(BadSignature):
        check(signed_line(dumps(base_payload()), label=labels.CARD_SIG))
    check(signed_line(dumps(base_payload())))  # the same payload with the right label is fine


def test_small_order_key_forgery_is_refused():
    """Under the identity key this forged line passes cryptography's own check."""
    line = encode_line(dumps(base_payload()), FORGED_SIG).rstrip(b"\n")
    with pytest.raises(BadSignature) as info:
        check(line, sign_key=IDENTITY_POINT)
    assert isinstance(info.value.__context__, IntegrityError)


def _envelope(line: bytes) -> dict:
    return json.loads(line)


NON_CANONICAL = {
    "spaces": lambda e: json.dumps(e).encode(),
    "key order": lambda e: json.dumps(
        {"p": e["p"], "s": e["s"], "v": 1}, separators=(",", ":")
    ).encode(),
    "padded base64": lambda e: b'{"v":1,"p":"%s","s":"%s=="}' % (e["p"].encode(), e["s"].encode()),
    "escaped key": lambda e: (
        b'{"\\u0076":1,"p":"%s","s":"%s"}' % (e["p"].encode(), e["s"].encode())
    ),
    "leading space": lambda e: b" " + encode_line(b64d(e["p"]), b64d(e["s"])).rstrip(b"\n"),
    "trailing crlf": lambda e: encode_line(b64d(e["p"]), b64d(e["s"])).rstrip(b"\n") + b"\r\n",
}


@pytest.mark.parametrize("reencode", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_non_canonical_reencoding_is_malformed(reencode):
    line = raw_lines()[0]
    variant = reencode(_envelope(line))
    assert variant != line
    with pytest.raises(Malformed) as info:
        check(variant)
    assert info.value.seq == 0


def test_non_canonical_trailing_bits_in_the_signature_are_malformed():
    envelope = _envelope(raw_lines()[0])
    sig = envelope["s"]  # 64 bytes: the last character carries 2 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    assert last % 4 == 0
    variant = sig[:-1] + alphabet[last + 1]
    assert b64d(sig) == base64.urlsafe_b64decode(variant + "==")
    line = b'{"v":1,"p":"%s","s":"%s"}' % (envelope["p"].encode(), variant.encode())
    with pytest.raises(Malformed, match="canonical"):
        check(line)


def test_standard_base64_characters_in_the_payload_are_refused():
    pads = ("?" * n + "~" * m for n in range(4) for m in range(4))
    payload = next(p for p in (dumps(base_payload(pad=pad)) for pad in pads) if "-" in b64e(p))
    line = signed_line(payload)
    check(line)
    std = line.replace(b"-", b"+")
    with pytest.raises(Malformed):
        check(std)


@pytest.mark.parametrize("v", [b"2", b"0", b'"1"', b"null", b"-1"])
def test_unknown_version_is_refused(v):
    envelope = _envelope(raw_lines()[0])
    line = b'{"v":%s,"p":"%s","s":"%s"}' % (v, envelope["p"].encode(), envelope["s"].encode())
    with pytest.raises(UnknownVersion) as info:
        check(line)
    assert info.value.seq == 0


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json",
        b"[]",
        b'{"v":1}',
        b'{"v":1,"p":"","s":"","x":1}',
        b'{"v":1,"v":1,"p":"e30","s":"e30"}',
        b'{"v":1.0,"p":"e30","s":"e30"}',
        b"\xef\xbb\xbf{}",
        b'{"v":1,"p":"\xff","s":""}',
    ],
)
def test_malformed_envelopes_are_refused(line):
    with pytest.raises(Malformed):
        check(line)


def test_oversize_line_is_malformed_even_when_validly_signed():
    me = person("Writer")
    big = make_event(me, VAULT, 0, None, AT, "request", {"pad": "x" * labels.MAX_LINE})
    assert len(big.line) > labels.MAX_LINE
    with pytest.raises(Malformed, match="too long") as info:
        check(big.line[:-1])
    assert info.value.seq == 0
    with pytest.raises(Malformed, match="too long"):
        check(b"x" * (labels.MAX_LINE + 1))


@pytest.mark.parametrize(
    "payload",
    [
        b"[1]",
        b"null",
        dumps({k: v for k, v in base_payload().items() if k != "at"}),
        dumps(base_payload(type=5)),
        dumps(base_payload(at=None)),
        dumps(base_payload()).replace(b'"seq":0', b'"seq":0,"seq":0'),
        dumps(base_payload()).replace(b'"seq":0', b'"seq":0.0'),
        b"\xef\xbb\xbf" + dumps(base_payload()),
        b"not json",
    ],
)
def test_signed_but_malformed_payloads_are_refused(payload):
    with pytest.raises(Malformed):
        check(signed_line(payload))


def test_a_boolean_seq_is_refused():
    first = chain()[0]
    payload = dumps(base_payload(seq=True, prev=first.hash))
    assert b'"seq":true' in payload
    with pytest.raises(IntegrityError):
        check(signed_line(payload), seq=1, prev=first.hash)


def test_member_written_text_reaches_the_terminal_without_control_characters():
    """A retrieve event is written and signed by the member; the owner's audit prints it."""
    from vault.audit import describe

    row = {
        "at": "2025-01-01T00:00:00Z\x1b[2J",
        "actor": "Sec",
        "action": "retrieved",
        "type": "retrieve",
        "title": "Bank",
        "fields": ["password"],
        "reason": "routine\x1b]0;takusu: all clear\x07\x1b[1A\x1b[2K",
    }
    text = describe(row)
    assert "routine" in text
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def test_member_written_fields_of_the_wrong_type_do_not_crash_the_audit():
    from vault.audit import describe

    row = {"at": AT, "actor": "Sec", "action": "retrieved", "type": "retrieve", "fields": [1]}
    assert "Sec" in describe(row)


# --- verify_lines over a chain -------------------------------------------------------------


def test_verify_lines_accepts_the_chain():
    events = check_all(raw_lines())
    assert [e.seq for e in events] == [0, 1, 2, 3, 4]
    assert events == list(chain())
    for before, after in zip(events, events[1:], strict=False):
        assert after.fields["prev"] == before.hash


def test_verify_lines_continues_from_a_known_head():
    events = chain()
    tail = check_all(raw_lines()[2:], start_seq=2, prev=events[1].hash)
    assert [e.seq for e in tail] == [2, 3, 4]
    with pytest.raises(BrokenChain) as info:
        check_all(raw_lines()[2:], start_seq=2, prev=events[0].hash)
    assert info.value.seq == 2
    assert check_all([]) == []


def _broken_at(lines: list[bytes]) -> BrokenChain:
    with pytest.raises(BrokenChain) as info:
        check_all(lines)
    return info.value


@pytest.mark.parametrize(
    "order, seq",
    [
        ([0, 1, 3, 4], 2),  # middle line deleted
        ([0, 2, 3, 4], 1),
        ([0, 1, 3, 2, 4], 2),  # two lines swapped
        ([0, 1, 2, 2, 3, 4], 3),  # a line duplicated
        ([0, 0, 1], 1),
        ([1, 2, 3], 0),  # head deleted
        ([0, 1, 2, 3, 4, 4], 5),  # last line replayed
    ],
)
def test_a_tampered_chain_names_the_sequence_number(order, seq):
    lines = raw_lines()
    error = _broken_at([lines[i] for i in order])
    assert error.seq == seq
    assert f"seq {seq})" in str(error)
    assert f"log {LOG}" in str(error)


def test_a_fork_is_broken_chain_at_the_first_event_after_it():
    me, events = person("Writer"), chain()
    fork = make_event(me, VAULT, 2, events[1].hash, AT, "request", {"note": "fork"})
    lines = raw_lines()
    check_all([lines[0], lines[1], fork.line[:-1]])  # the fork alone is a valid history
    error = _broken_at([lines[0], lines[1], fork.line[:-1], lines[3]])
    assert error.seq == 3


def test_flipped_byte_in_a_middle_line_names_that_line():
    lines = raw_lines()
    lines[3] = lines[3][:40] + bytes([lines[3][40] ^ 1]) + lines[3][41:]
    with pytest.raises(IntegrityError) as info:
        check_all(lines)
    assert info.value.seq == 3 and "seq 3" in str(info.value)


def test_split_line():
    line = raw_lines()[0]
    payload, sig = split_line(line, LOG, 0)
    assert payload == chain()[0].payload_bytes and len(sig) == 64


# --- vault.encoding: strict base64url and JSON ---------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_b64_round_trip(data):
    text = b64e(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64d(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "AA==",  # padding
        "AAA=",
        "AB",  # non-canonical trailing bits (b"\x00" is "AA")
        "AAB",  # non-canonical trailing bits (b"\x00\x00" is "AAA")
        "A",  # impossible length
        "AAAAA",
        "A+",  # standard alphabet
        "A/",
        "A A",
        "AA\n",
        "\nAA",
        "AA\x00",
        "ÀA",
        "٣٣",  # non-ASCII digits
        b"AA",
        None,
        12,
    ],
)
def test_b64d_refuses_non_canonical_or_illegal_text(text):
    with pytest.raises(Malformed):
        b64d(text)


def test_b64d_accepts_the_url_alphabet():
    assert b64d("-_-_") == b"\xfb\xff\xbf"
    assert b64d("") == b""


def test_loads_accepts_strict_json():
    assert loads(b'{"a":[1,-2,"x",true,null],"b":{"c":9007199254740992}}') == {
        "a": [1, -2, "x", True, None],
        "b": {"c": 2**53},
    }
    assert loads(" {} ") == {}
    assert loads("-9007199254740992") == -(2**53)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b'[{"x":1,"x":1}]',
        b'{"a":1,"\\u0061":2}',  # duplicate after unescaping
        b"NaN",
        b"[Infinity]",
        b'{"a":-Infinity}',
        b"1.0",
        b"1e3",
        b"[0.5]",
        b"-0.0",
        b"9007199254740993",
        b"-9007199254740993",
        b"100000000000000000000",
        b"1" * 5000,
        b"\xef\xbb\xbf{}",
        b'"\xff"',
        b'"\xc0\xaf"',  # overlong UTF-8
        b'"\xed\xa0\x80"',  # UTF-8-encoded surrogate
        b"{",
        b"",
        b"[" * 100000 + b"]" * 100000,
        b"{} {}",
    ],
)
def test_loads_refuses(data):
    with pytest.raises(Malformed):
        loads(data)


def test_loads_refuses_a_bom_in_text_form_too():
    with pytest.raises(Malformed):
        loads("\ufeff{}")


@pytest.mark.parametrize("data", [b'"\\ud800"', b'{"reason":"x\\udc80"}'])
def test_loads_refuses_lone_surrogate_escapes(data):
    with pytest.raises(Malformed):
        loads(data)


def test_dumps_is_compact_sorted_utf8():
    assert dumps({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()
