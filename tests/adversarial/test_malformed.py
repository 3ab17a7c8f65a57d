"""Malformed input: every hostile byte gives a typed takusu error, never a crash or a hang.

A catalogue in the style of age's testkit: each test names the one outcome it expects.
The fuzz cases mutate real artefacts (cards, event lines, logs in a folder, key files,
config.json, vault.json, the state cache, otpauth URIs) with hypothesis and accept only
two outcomes: the value is refused with a `TakusuError`, or it is accepted and is exactly
what was signed. Any other exception fails the case; a hypothesis deadline bounds the time
of each example, and the size limits of vault/labels.py bound the memory.

Figures: every fuzz example is counted in MUTATIONS; run with `-s` to see the total.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vault.events
import vault.identity
from tests.helpers import InMemoryKeyring
from tests.world import Item, World, build
from vault import labels, sharing, totp
from vault.crypto import sha256_hex
from vault.encoding import b64d, b64e, dumps, loads
from vault.errors import BadCard, IntegrityError, Malformed, TakusuError
from vault.events import encode_line, split_line, verify_line
from vault.identity import Card, Identity
from vault.keystore import KeyringKek, KeyStore, PassphraseKek
from vault.machine import Machine
from vault.session import Session
from vault.store import Loaded, Store, VaultFolder

SEED = "JBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/GitHub:acme?secret={SEED}&issuer=GitHub&digits=6&period=30"
PROBLEM_KINDS = {
    "rollback",
    "rewritten",
    "missing",
    "tampered",
    "torn",
    "fork",
    "git-conflict",
    "behind",
    "unknown-witness",
    "bad-copy",
    "copies",
    "unknown-log",
    "unknown-file",
    "unreadable",
    "oversize",
    "cache",
}

MUTATIONS: Counter[str] = Counter()


def fuzz(examples: int) -> settings:
    """Hypothesis settings for one fuzz case: bounded examples and a per-example deadline."""
    return settings(
        max_examples=examples,
        deadline=timedelta(seconds=2),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module", autouse=True)
def _report_mutations() -> Iterator[None]:
    yield
    print(f"\nmalformed: {sum(MUTATIONS.values())} mutations tried {dict(MUTATIONS)}")


# --- one small vault, built once ------------------------------------------------------------


@dataclass
class Lab:
    """A vault with a client (owner) and a secretary who retrieved once; copied per example."""

    root: Path
    folder: Path
    client: Path
    secretary: Path
    spare: Path  # an identity with no vault yet (for `vault open`)
    keyring: InMemoryKeyring
    vault_id: str
    item_id: str
    owner: Identity
    member: Identity
    owner_card: Card
    hashes: dict[str, set[str]]  # every signed event hash per log, for "nothing forged"

    def log(self, who: Identity) -> Path:
        return self.folder / "logs" / f"{who.id}.jsonl"

    def takusu(self, home: Path) -> Machine:
        return Machine(home, keyring_backend=self.keyring)

    def owner_entry(self, folder: Path) -> dict[str, Any]:
        """The owner's registry entry for this vault, as if it lived in `folder`."""
        return {
            "name": "acme",
            "path": str(folder),
            "role": "owner",
            "owner": self.owner_card.envelope,
            "owner_name": self.owner_card.name,
        }

    def verify_line(self, line: bytes, who: Identity, seq: int, prev: str | None = None) -> Any:
        """vault.events.verify_line for a line at `seq` of `who`'s log in this vault."""
        return verify_line(
            line,
            sign_key=who.card.sign_key,
            vault_id=self.vault_id,
            actor=who.id,
            seq=seq,
            prev=prev,
            log=who.id,
        )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    root = tmp_path_factory.mktemp("malformed")
    ring = InMemoryKeyring()
    w = build(
        root,
        items=(Item("GitHub", "hunter2", username="acme", totp=URI, shared=True),),
        keyring=ring,
    )
    item_id = w.items["GitHub"]
    w.secretary_session().reveal(item_id, ["password"], "first look")
    w.client_session()  # the client's mirror takes the receipt too
    spare = root / "spare"
    w.machine(spare).init("Spare")
    owner, member = w.identity(w.client), w.identity(w.secretary)
    hashes = {}
    for who in (owner, member):
        lines = w.log(who.id).read_bytes().splitlines()
        hashes[who.id] = {sha256_hex(split_line(x, who.id, i)[0]) for i, x in enumerate(lines)}
    return Lab(
        root,
        w.folder,
        w.client,
        w.secretary,
        spare,
        ring,
        w.vault_id,
        item_id,
        owner,
        member,
        owner.card,
        hashes,
    )


@contextmanager
def scratch(lab: Lab, *homes: Path) -> Iterator[tuple[Path, list[Path]]]:
    """A private copy of the folder (and of `homes`) that one example may damage."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "vault"
        shutil.copytree(lab.folder, folder)
        copies = []
        for home in homes:
            copies.append(Path(tmp) / home.name)
            shutil.copytree(home, copies[-1], ignore=shutil.ignore_patterns("locks"))
        yield folder, copies


def load(lab: Lab, folder: Path, home: Path) -> Loaded:
    return Store(folder, home, lab.vault_id, lab.owner_card).load()


def typed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn's value, or the TakusuError it raised. Any other exception fails the case."""
    try:
        return fn(*args, **kwargs)
    except TakusuError as exc:
        return exc


def write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def check_loaded(lab: Lab, result: Any) -> None:
    """A load either failed typed, or kept only signed events and named known problems."""
    if isinstance(result, TakusuError):
        return
    assert isinstance(result, Loaded)
    for problem in result.problems:
        assert problem.kind in PROBLEM_KINDS, problem
    for log, head in result.state["heads"].items():
        assert head["hash"] in lab.hashes.get(log, set()), f"accepted an unsigned event in {log}"


# --- mutation strategies --------------------------------------------------------------------

SPECIAL = (
    b'"',
    b"\\",
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b" ",
    b"=",
    b"-",
    b"_",
    b"+",
    b"/",
    b"NaN",
    b"Infinity",
    b"1e999",
    b"-0",
    b"1.5",
    b"9" * 40,
    b"null",
    b"true",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\\u0000",
    b"\\ud800",
    b"[" * 3000,
    b"%",
    b"%00",
    b"&",
    b"?",
    b"#",
    b"> ",
    b"-----END TAKUSU CARD-----",
    b"\t",
)
OPS = ("flip", "set", "delete", "insert", "special", "duplicate", "truncate")


@st.composite
def mutated(draw: st.DrawFn, original: bytes, max_ops: int = 4) -> bytes:
    """`original` after 1..max_ops byte-level edits: flips, deletions, insertions, tokens."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(OPS))
        pos = draw(st.integers(0, len(data)))
        if op in ("flip", "set") and data:
            pos = min(pos, len(data) - 1)
            if op == "flip":
                data[pos] ^= 1 << draw(st.integers(0, 7))
            else:
                data[pos] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "special":
            data[pos : pos + draw(st.integers(0, 4))] = draw(st.sampled_from(SPECIAL))
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


RAW_TOKENS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "1.0",
    "-0",
    "9" * 30,
    "9007199254740993",
    '"\\ud800"',
    "[" * 2000 + "]" * 2000,
    '{"a":1,"a":2}',
    '"' + "x" * 3000 + '"',
    "null",
    "true",
    "false",
    "[]",
    "{}",
    '""',
    "-1",
    "0",
    "1",
    "2",
    '"../../etc"',
    '"\\u0000"',
    '{"seq":"0"}',
    "[null]",
)
_MARK = "@@hostile{}@@"


def hostile() -> st.SearchStrategy[str]:
    """Raw JSON text for one hostile value: NaN, huge or float numbers, deep nesting, junk."""
    return st.one_of(
        st.sampled_from(RAW_TOKENS),
        st.integers(-(2**70), 2**70).map(str),
        st.text(max_size=12).map(json.dumps),
        st.binary(max_size=24).map(lambda b: json.dumps(b64e(b))),
        st.lists(st.integers(-3, 3), max_size=3).map(json.dumps),
    )


def _slots(obj: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree."""
    out: list[tuple[Any, Any]] = []
    items: Any = []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    for key, value in items:
        out.append((obj, key))
        out.extend(_slots(value))
    return out


@st.composite
def json_mutated(draw: st.DrawFn, obj: Any, max_ops: int = 3, min_ops: int = 1) -> bytes:
    """JSON text of `obj` after edits of its tree: values replaced by hostile raw JSON, keys
    dropped or added, sometimes in a non-canonical layout."""
    obj = copy.deepcopy(obj)
    raw: dict[str, str] = {}
    for n in range(draw(st.integers(min_ops, max_ops))):
        mark = _MARK.format(n)
        raw[mark] = draw(hostile())
        slots = _slots(obj)
        op = draw(st.sampled_from(("replace", "delete", "add", "root")))
        if op == "root" or not slots:
            obj = mark
            continue
        container, key = draw(st.sampled_from(slots))
        if op == "replace":
            container[key] = mark
        elif op == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[
                draw(
                    st.sampled_from(
                        [
                            "v",
                            "x",
                            "seq",
                            "type",
                            "sign",
                            "kdf",
                            "vaults",
                            "state",
                            "heads",
                            "owner_card",
                            "name",
                        ]
                    )
                )
            ] = mark
        else:
            container.append(mark)
    spaced = draw(st.booleans())
    text = json.dumps(obj, separators=(", ", ": ") if spaced else (",", ":"), sort_keys=not spaced)
    for mark, value in raw.items():
        text = text.replace(json.dumps(mark), value)
    return text.encode("utf-8", "surrogatepass")


# --- the fuzz targets -----------------------------------------------------------------------
#
# Each target is a strategy (built from the lab) and a check that accepts only the two good
# outcomes. The normal suite runs each with a few hundred examples; the slow one ten times more.


@dataclass
class Target:
    strategy: Callable[[Lab], st.SearchStrategy[Any]]
    check: Callable[[Lab, Any], None]
    examples: int
    # An input that once broke this target (a fixed bug), run first as a regression case.
    known: Callable[[Lab], Any] | None = None


TARGETS: dict[str, Target] = {}


def target(
    name: str,
    strategy: Callable[[Lab], st.SearchStrategy[Any]],
    examples: int,
    known: Callable[[Lab], Any] | None = None,
) -> Callable[[Callable], Callable]:
    def register(check: Callable[[Lab, Any], None]) -> Callable[[Lab, Any], None]:
        def counted(lab: Lab, data: Any) -> None:
            MUTATIONS[name] += 1
            check(lab, data)

        TARGETS[name] = Target(strategy, counted, examples, known)
        return check

    return register


def run_target(lab: Lab, name: str, scale: int = 1) -> None:
    t = TARGETS[name]
    if t.known is not None:
        t.check(lab, t.known(lab))
    fuzz(t.examples * scale)(given(t.strategy(lab))(lambda data: t.check(lab, data)))()


# --- cards ----------------------------------------------------------------------------------


def card_payload(lab: Lab) -> dict[str, Any]:
    return json.loads(b64d(lab.owner_card.envelope["p"]))


@target("card armor", lambda lab: mutated(lab.owner_card.armor().encode()), 300)
def check_card_armor(lab: Lab, data: bytes) -> None:
    card = typed(Card.from_armor, data.decode("utf-8", "replace"))
    if isinstance(card, Card):
        assert card.envelope == lab.owner_card.envelope, "a changed card was accepted"


def _card_envelope_strategy(lab: Lab) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(dumps(lab.owner_card.envelope)), json_mutated(lab.owner_card.envelope))


@target("card envelope", _card_envelope_strategy, 300)
def check_card_envelope(lab: Lab, data: bytes) -> None:
    try:
        envelope = loads(data, "card")
    except Malformed:
        return
    card = typed(Card.from_envelope, envelope)
    if isinstance(card, Card):
        assert card.envelope == lab.owner_card.envelope, "a changed card was accepted"


@target("card payload, re-signed", lambda lab: json_mutated(card_payload(lab)), 200)
def check_card_resigned(lab: Lab, payload: bytes) -> None:
    """The card's own key signs a hostile payload: the field checks alone must refuse it."""
    sig = lab.owner.signing.sign(labels.CARD_SIG, payload)
    card = typed(Card.from_envelope, {"v": 1, "p": b64e(payload), "s": b64e(sig)})
    if isinstance(card, Card):
        assert isinstance(card.name, str) and card.suite in labels.SUITES


def test_fuzzed_card_armor_gives_only_typed_errors(lab: Lab) -> None:
    """Card text with mutated bytes: BadCard (or the very same card), nothing else."""
    run_target(lab, "card armor")


def test_fuzzed_card_envelope_gives_only_typed_errors(lab: Lab) -> None:
    """The card's JSON envelope, bytes or tree mutated (NaN, huge ints, nesting): typed only."""
    run_target(lab, "card envelope")


def test_fuzzed_card_payload_signed_by_its_own_key_gives_only_typed_errors(lab: Lab) -> None:
    """A card payload with hostile fields, validly signed: the field checks refuse it, typed."""
    run_target(lab, "card payload, re-signed")


# --- event lines ----------------------------------------------------------------------------


def _owner_lines(lab: Lab) -> list[bytes]:
    return lab.log(lab.owner).read_bytes().splitlines()


@st.composite
def event_line_mutations(draw: st.DrawFn, lab: Lab) -> tuple[bytes, int]:
    lines = _owner_lines(lab)
    seq = draw(st.integers(0, len(lines) - 1))
    if draw(st.booleans()):
        return draw(mutated(lines[seq])), seq
    return draw(json_mutated(json.loads(lines[seq]))), seq


@target("event line", event_line_mutations, 500)
def check_event_line(lab: Lab, case: tuple[bytes, int]) -> None:
    line, seq = case
    lines = _owner_lines(lab)
    prev = sha256_hex(split_line(lines[seq - 1], "o", seq - 1)[0]) if seq else None
    event = typed(lab.verify_line, line, lab.owner, seq, prev)
    if isinstance(event, TakusuError):
        assert isinstance(event, IntegrityError), event
        assert (event.log, event.seq) == (lab.owner.id, seq), "the error does not name the place"
    else:
        assert event.line == lines[seq] + b"\n", "a changed event line verified"


def test_fuzzed_event_line_through_verify_line_gives_only_integrity_errors(lab: Lab) -> None:
    """An event line, bytes or {"v","p","s"} tree mutated: IntegrityError with its log and seq,
    or the unchanged line."""
    run_target(lab, "event line")


@st.composite
def log_file_mutations(draw: st.DrawFn, lab: Lab) -> tuple[str, str, bytes]:
    who = draw(st.sampled_from(("owner", "member")))
    machine = draw(st.sampled_from(("new", "client", "secretary")))
    original = lab.log(lab.owner if who == "owner" else lab.member).read_bytes()
    return who, machine, draw(mutated(original, max_ops=3))


@target("log file in a folder", log_file_mutations, 150)
def check_log_file(lab: Lab, case: tuple[str, str, bytes]) -> None:
    """A damaged log in a real folder, loaded by a new machine or by one that knew it."""
    who, machine, data = case
    homes = () if machine == "new" else (lab.client if machine == "client" else lab.secretary,)
    with scratch(lab, *homes) as (folder, copies):
        home = copies[0] if copies else folder.parent / "new-home"
        identity = lab.owner if who == "owner" else lab.member
        (folder / "logs" / f"{identity.id}.jsonl").write_bytes(data)
        check_loaded(lab, typed(load, lab, folder, home))


def test_fuzzed_log_file_through_store_load_gives_only_typed_outcomes(lab: Lab) -> None:
    """A log file with mutated bytes in a real folder, loaded by a new machine and by both that
    knew it: problems or typed errors, and no event that was not signed."""
    run_target(lab, "log file in a folder")


# Events that are validly signed but carry hostile fields: what a hostile secretary (or a
# stolen owner key) can write. Only the fold's own checks stand between them and a crash.


def _next_fields(lab: Lab, who: Identity, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    lines = lab.log(who).read_bytes().splitlines()
    prev = sha256_hex(split_line(lines[-1], who.id, len(lines) - 1)[0])
    return {
        "vault": lab.vault_id,
        "actor": who.id,
        "seq": len(lines),
        "prev": prev,
        "at": "2026-01-01T00:00:00Z",
        "type": type_,
        **body,
    }


def signed_line(who: Identity, payload: bytes) -> bytes:
    return encode_line(payload, who.signing.sign(labels.EVENT_SIG, payload))


def member_templates(lab: Lab) -> list[dict[str, Any]]:
    head = {"seq": 3, "hash": "0" * 64}
    return [
        _next_fields(
            lab,
            lab.member,
            "retrieve",
            {
                "item": lab.item_id,
                "version": 1,
                "fields": ["password"],
                "reason": "x",
                "owner_head": head,
            },
        ),
        _next_fields(lab, lab.member, "request", {"item": lab.item_id, "owner_head": head}),
        _next_fields(
            lab,
            lab.member,
            "grant",
            {"item": lab.item_id, "version": 1, "member": lab.member.id, "wrap": "AAAA"},
        ),
    ]


def owner_templates(lab: Lab) -> list[dict[str, Any]]:
    """A plausible next owner event of every type, to be edited into hostile ones."""
    other = Identity.generate("Other")
    item, member = lab.item_id, lab.member.id
    puts = [loads(split_line(x, "o", i)[0]) for i, x in enumerate(_owner_lines(lab))]
    put = next(p for p in reversed(puts) if p["type"] == "item.put")
    put_body = {
        k: put[k] for k in ("item", "ct", "key_commit", "owner_wrap", "wraps", "aead") if k in put
    }
    bodies = [
        ("member.add", {"member": other.id, "name": "other", "card": other.card.envelope}),
        ("member.remove", {"member": member}),
        ("item.put", {**put_body, "version": put["version"] + 1, "rotated": True}),
        ("item.delete", {"item": item}),
        (
            "grant",
            {
                "item": item,
                "version": put["version"],
                "member": member,
                "wrap": "AAAA",
                "expires": "2030-01-01T00:00:00Z",
            },
        ),
        ("revoke", {"item": item, "member": member, "reason": "revoked by owner"}),
        ("rollback.accept", {"detail": "x"}),
    ]
    seen = {member: {"seq": 0, "hash": "0" * 64}}
    return [_next_fields(lab, lab.owner, t, {**b, "seen": seen}) for t, b in bodies]


def _signed_mutations(templates: Callable[[Lab], list[dict[str, Any]]]) -> Callable:
    @st.composite
    def strategy(draw: st.DrawFn, lab: Lab) -> bytes:
        return draw(json_mutated(draw(st.sampled_from(templates(lab))), min_ops=0))

    return strategy


def append_signed(
    lab: Lab,
    who: Identity,
    payload: bytes,
    readers: Callable[[Lab, Path, Path], None] | None = None,
) -> None:
    """Append a validly signed hostile event to `who`'s log; the client loads it."""
    with scratch(lab, lab.client) as (folder, (home,)):
        with open(folder / "logs" / f"{who.id}.jsonl", "ab") as fh:
            fh.write(signed_line(who, payload))
        loaded = typed(load, lab, folder, home)
        if readers is not None and not isinstance(loaded, TakusuError):
            readers(lab, folder, home)


def owner_readers(lab: Lab, folder: Path, home: Path) -> None:
    """What the owner's CLI does with what it loaded: audit, audit verify, the checklist."""
    from vault import audit

    store = Store(folder, home, lab.vault_id, lab.owner_card)
    sess = typed(Session, lab.owner, store, lab.owner_entry(folder))
    if isinstance(sess, TakusuError):
        return
    rows = typed(audit.timeline, sess)
    for row in rows if isinstance(rows, list) else []:
        audit.describe(row)
    typed(audit.verify, sess.store, sess.loaded)
    typed(sharing.rotation_checklist, sess)


@target("member-signed event, load", _signed_mutations(member_templates), 100)
def check_member_event(lab: Lab, payload: bytes) -> None:
    append_signed(lab, lab.member, payload)


def test_fuzzed_member_signed_events_load_with_only_typed_outcomes(lab: Lab) -> None:
    """A hostile secretary signs receipts with odd fields: the owner's load stays typed."""
    run_target(lab, "member-signed event, load")


def _hostile_receipt(lab: Lab) -> bytes:
    """A signed receipt whose owner_head is a string (known to break `takusu audit`)."""
    fields = member_templates(lab)[0]
    return dumps({**fields, "owner_head": "x"})


@target(
    "member-signed event, audit", _signed_mutations(member_templates), 60, known=_hostile_receipt
)
def check_member_event_readers(lab: Lab, payload: bytes) -> None:
    append_signed(lab, lab.member, payload, owner_readers)


def test_fuzzed_member_signed_events_give_the_owners_audit_only_typed_errors(lab: Lab) -> None:
    """A hostile secretary's odd receipts: the owner's audit, audit verify and rotation
    checklist stay typed."""
    run_target(lab, "member-signed event, audit")


def test_member_receipt_with_a_string_owner_head_leaves_the_audit_readable(lab: Lab) -> None:
    """A signed receipt whose owner_head is "x": the owner's audit timeline still renders."""
    from vault import audit

    with scratch(lab, lab.client) as (folder, (home,)):
        with open(folder / "logs" / f"{lab.member.id}.jsonl", "ab") as fh:
            fh.write(signed_line(lab.member, _hostile_receipt(lab)))
        store = Store(folder, home, lab.vault_id, lab.owner_card)
        sess = Session(lab.owner, store, lab.owner_entry(folder))
        rows = typed(audit.timeline, sess)
        assert isinstance(rows, list | TakusuError)


def _owner_list_member(lab: Lab) -> bytes:
    """A signed revoke whose member is a list (known to raise TypeError in the fold)."""
    return dumps(
        _next_fields(
            lab, lab.owner, "revoke", {"item": lab.item_id, "member": ["x"], "reason": "r"}
        )
    )


@target(
    "owner-signed event, load", _signed_mutations(owner_templates), 100, known=_owner_list_member
)
def check_owner_event(lab: Lab, payload: bytes) -> None:
    append_signed(lab, lab.owner, payload)


def test_fuzzed_owner_signed_events_load_with_only_typed_outcomes(lab: Lab) -> None:
    """Validly signed owner events with hostile fields: every load stays typed."""
    run_target(lab, "owner-signed event, load")


@pytest.mark.parametrize("type_", ["revoke", "member.add"])
def test_signed_owner_event_with_a_list_as_member_is_tampering(lab: Lab, type_: str) -> None:
    """A signed `revoke`/`member.add` whose member is a list: tampering, not TypeError."""
    other = Identity.generate("Other")
    body = (
        {"item": lab.item_id, "member": ["x"], "reason": "r"}
        if type_ == "revoke"
        else {"member": ["x"], "name": "x", "card": other.card.envelope}
    )
    with scratch(lab) as (folder, _):
        with open(folder / "logs" / f"{lab.owner.id}.jsonl", "ab") as fh:
            fh.write(signed_line(lab.owner, dumps(_next_fields(lab, lab.owner, type_, body))))
        loaded = typed(load, lab, folder, folder.parent / "new-home")
    problems = [] if isinstance(loaded, TakusuError) else loaded.problems
    assert isinstance(loaded, IntegrityError) or any(p.kind == "tampered" for p in problems)


def test_signed_member_add_with_a_path_as_member_id_is_refused(lab: Lab) -> None:
    """A signed member.add naming the member '../../outside': refused; nothing outside the
    folder is read and nothing outside the mirror is written."""
    other = Identity.generate("Other")
    with scratch(lab) as (folder, _):
        base = folder.parent
        add = _next_fields(
            lab,
            lab.owner,
            "member.add",
            {"member": "../../outside", "name": "o", "card": other.card.envelope},
        )
        with open(folder / "logs" / f"{lab.owner.id}.jsonl", "ab") as fh:
            fh.write(signed_line(lab.owner, dumps(add)))
        # What the hostile "member" puts outside the folder: a valid line for that log name.
        own = dumps(
            {
                "vault": lab.vault_id,
                "actor": "../../outside",
                "seq": 0,
                "prev": None,
                "at": "2026-01-01T00:00:00Z",
                "type": "request",
                "item": lab.item_id,
            }
        )
        (base / "outside.jsonl").write_bytes(signed_line(other, own))
        loaded = typed(load, lab, folder, base / "home" / "a" / "b")
        written = sorted(
            str(p.relative_to(base))
            for p in base.rglob("*.jsonl")
            if p.parent.name not in ("mirror", "logs")
        )
        assert written == ["outside.jsonl"], f"takusu wrote {written}"
        problems = [] if isinstance(loaded, TakusuError) else loaded.problems
        assert isinstance(loaded, IntegrityError) or any(p.kind == "tampered" for p in problems)


# --- key files ------------------------------------------------------------------------------


def passphrase_key_file(lab: Lab) -> bytes:
    """The owner's key file as a passphrase-mode file looks (salt, KDF parameters)."""
    doc = json.loads((lab.client / "identity.key").read_bytes())
    doc.update(
        mode="passphrase",
        params={
            "kdf": {"alg": "argon2id", "memory_kib": 19456, "iterations": 2, "lanes": 1},
            "salt": b64e(bytes(16)),
        },
    )
    return dumps(doc)


@st.composite
def key_file_mutations(draw: st.DrawFn, lab: Lab) -> tuple[str, bytes]:
    mode = draw(st.sampled_from(("keyring", "passphrase")))
    original = (
        (lab.client / "identity.key").read_bytes()
        if mode == "keyring"
        else passphrase_key_file(lab)
    )
    if draw(st.booleans()):
        return mode, draw(mutated(original))
    return mode, draw(json_mutated(json.loads(original)))


def _key_file_without(field: str) -> Callable[[Lab], tuple[str, bytes]]:
    def known(lab: Lab) -> tuple[str, bytes]:
        doc = json.loads((lab.client / "identity.key").read_bytes())
        del doc[field]
        return "keyring", dumps(doc)

    return known


def open_key_file(lab: Lab, mode: str, data: bytes) -> None:
    """Unlock a damaged identity.key: fails typed, or opens the very same identity."""
    with tempfile.TemporaryDirectory() as tmp:
        write_private(Path(tmp) / "identity.key", data)
        store = KeyStore(Path(tmp))
        if mode == "keyring":
            backend: Any = KeyringKek(lab.keyring)
        else:

            def stop(confirm: bool) -> str:
                # Reached only once the file's KDF parameters passed every check: the
                # derivation itself (seconds, up to the ceiling's 4 GiB) is not fuzzed.
                from vault.errors import PassphraseUnavailable

                raise PassphraseUnavailable("stop before the KDF")

            backend = PassphraseKek(stop)
        opened = typed(store.unlock, backend)
        if isinstance(opened, Identity):
            assert opened.id == lab.owner.id
        typed(store.card)
        typed(store.mode)


@target("key file", key_file_mutations, 300, known=_key_file_without("card"))
def check_key_file(lab: Lab, case: tuple[str, bytes]) -> None:
    open_key_file(lab, *case)


def test_fuzzed_key_file_gives_only_typed_errors(lab: Lab) -> None:
    """identity.key with mutated bytes or fields (keyring and passphrase mode): unlock, card
    and mode fail typed."""
    run_target(lab, "key file")


@pytest.mark.parametrize("field", ["id", "card", "sealed"])
def test_key_file_missing_a_field_is_malformed(lab: Lab, field: str) -> None:
    """identity.key without `id`, `card` or `sealed`: a typed error, not KeyError."""
    open_key_file(lab, *_key_file_without(field)(lab))


# --- configs: config.json, vault.json, the state cache -------------------------------------


def _json_file_strategy(path: Callable[[Lab], Path]) -> Callable[[Lab], st.SearchStrategy]:
    def strategy(lab: Lab) -> st.SearchStrategy[bytes]:
        original = path(lab).read_bytes()
        return st.one_of(mutated(original), json_mutated(json.loads(original)))

    return strategy


@target(
    "config.json",
    _json_file_strategy(lambda lab: lab.client / "config.json"),
    200,
    known=lambda lab: b'{"v":1,"default":null}',
)
def check_config(lab: Lab, data: bytes) -> None:
    with scratch(lab, lab.client) as (_, (home,)):
        (home / "config.json").write_bytes(data)
        takusu = lab.takusu(home)
        typed(takusu.vaults)
        typed(takusu.home.resolve, None)
        typed(takusu.home.resolve, "acme")
        typed(takusu.session)


def test_fuzzed_config_json_gives_only_typed_errors(lab: Lab) -> None:
    """config.json with mutated bytes or fields: every reader fails typed."""
    run_target(lab, "config.json")


@pytest.mark.parametrize(
    "doc",
    [
        {"v": 1, "default": None},
        {"v": 1, "default": "a", "vaults": {"a": 1}},
        {"v": 1, "default": "a", "vaults": {"a": {}}},
    ],
    ids=["no-vaults", "entry-not-an-object", "entry-without-owner"],
)
def test_config_json_of_the_wrong_shape_is_malformed(lab: Lab, doc: dict) -> None:
    """config.json that parses but has the wrong shape: a typed error, not KeyError."""
    with scratch(lab, lab.client) as (_, (home,)):
        (home / "config.json").write_bytes(dumps(doc))
        with pytest.raises(TakusuError):
            lab.takusu(home).session()


@target("vault.json", _json_file_strategy(lambda lab: lab.folder / "vault.json"), 150)
def check_vault_json(lab: Lab, data: bytes) -> None:
    with scratch(lab, lab.spare) as (folder, (home,)):
        (folder / "vault.json").write_bytes(data)
        takusu = lab.takusu(home)
        typed(VaultFolder(folder).meta)
        typed(takusu.inspect_vault, folder)
        opened = typed(takusu.add_shared_vault, folder, None, lab.owner_card.safety_code, None)
        if not isinstance(opened, TakusuError):
            assert opened[0] == lab.vault_id, "opened a vault under another id"


def test_fuzzed_vault_json_gives_only_typed_errors(lab: Lab) -> None:
    """vault.json with mutated bytes or fields: inspect and `vault open` fail typed, or open
    the very same vault."""
    run_target(lab, "vault.json")


def test_vault_json_with_a_non_string_name_is_refused_at_open(lab: Lab) -> None:
    """vault.json whose name is a list: `vault open` refuses it (nothing registered)."""
    with scratch(lab, lab.spare) as (folder, (home,)):
        meta = json.loads((folder / "vault.json").read_bytes())
        (folder / "vault.json").write_bytes(dumps({**meta, "name": ["x"]}))
        with pytest.raises(TakusuError):
            lab.takusu(home).add_shared_vault(folder, None, lab.owner_card.safety_code, None)


def _state_path(lab: Lab) -> Path:
    return lab.client / "vaults" / lab.vault_id / "state.json"


@target(
    "state cache",
    _json_file_strategy(_state_path),
    150,
    known=lambda lab: dumps({"label": labels.MIRROR_STATE}),
)
def check_state_cache(lab: Lab, data: bytes) -> None:
    with scratch(lab, lab.client) as (folder, (home,)):
        (home / "vaults" / lab.vault_id / "state.json").write_bytes(data)
        loaded = typed(load, lab, folder, home)
        # Only typed: the cache is this machine's own file, so (unlike the folder) a
        # damaged but well-formed cache is not expected to be caught as forgery.
        assert isinstance(loaded, Loaded | TakusuError)


def test_fuzzed_state_cache_gives_only_typed_errors(lab: Lab) -> None:
    """The local state cache with mutated bytes or fields: Store.load fails typed."""
    run_target(lab, "state cache")


# --- otpauth URIs ---------------------------------------------------------------------------

BRACKET_URI = "otpauth://[totp/x?secret=" + SEED


def _otpauth_strategy(lab: Lab) -> st.SearchStrategy[str]:
    return st.one_of(
        mutated(URI.encode()).map(lambda b: b.decode("utf-8", "replace")),
        mutated(SEED.encode()).map(lambda b: b.decode("utf-8", "replace")),
        st.text(max_size=80),
        st.text(max_size=40).map(lambda t: "otpauth://totp/" + t),
    )


@target("otpauth URI", _otpauth_strategy, 400, known=lambda lab: BRACKET_URI)
def check_otpauth(lab: Lab, value: str) -> None:
    """normalize() refuses with BadInput or returns a URI that current() can use."""
    from vault.errors import BadInput

    uri = typed(totp.normalize, value)
    if isinstance(uri, TakusuError):
        assert isinstance(uri, BadInput), uri
        return
    assert totp.current(uri, at=1_700_000_000).code.isdigit()


def test_fuzzed_otpauth_uri_gives_only_bad_input(lab: Lab) -> None:
    """otpauth URIs and bare seeds with mutated bytes, and any text: BadInput or a usable URI."""
    run_target(lab, "otpauth URI")


def test_otpauth_uri_with_a_bracket_is_bad_input(bare: World) -> None:
    """`otpauth://[...` on stdin: BadInput (exit 1, one line), not an internal error."""
    result = bare.c("add", "X", "--password-stdin", "--totp-stdin", input=f"pw\n{BRACKET_URI}\n")
    assert result.code == 1 and "internal error" not in result.err, result


# --- oversize input: refused by its size, before any parsing ------------------------------


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the case if the event or card JSON parser is handed anything of 16 KiB or more
    (the card limit; no real event line or card comes near it)."""

    def guarded(real: Callable[..., Any]) -> Callable[..., Any]:
        def parse(data: bytes | str, *args: Any, **kwargs: Any) -> Any:
            if len(data) >= labels.MAX_CARD:
                raise AssertionError("oversize input reached the JSON parser")
            return real(data, *args, **kwargs)

        return parse

    monkeypatch.setattr(vault.events, "loads", guarded(vault.events.loads))
    monkeypatch.setattr(vault.identity, "loads", guarded(vault.identity.loads))


def test_event_line_of_2_mib_is_refused_before_parsing(lab: Lab, no_parsing: None) -> None:
    """A 2 MiB event line: Malformed 'too long' at its log and seq, never parsed."""
    line = b'{"v":1,"p":"' + b"A" * (2 << 20) + b'","s":""}'
    with pytest.raises(Malformed, match="too long") as caught:
        lab.verify_line(line, lab.owner, 7)
    assert (caught.value.log, caught.value.seq) == (lab.owner.id, 7)


def test_log_line_of_2_mib_in_the_folder_is_tampering_at_its_seq(
    lab: Lab, no_parsing: None
) -> None:
    """A 2 MiB line appended to the secretary's log: 'tampered' at (that log, its seq), and
    the line never reaches the parser or the mirror."""
    with scratch(lab, lab.client) as (folder, (home,)):
        log = folder / "logs" / f"{lab.member.id}.jsonl"
        seq = len(log.read_bytes().splitlines())
        with open(log, "ab") as fh:
            fh.write(b'{"v":1,"p":"' + b"A" * (2 << 20) + b'","s":""}\n')
        loaded = load(lab, folder, home)
        mirrored = (home / "vaults" / lab.vault_id / "mirror" / log.name).stat().st_size
    problem = next(p for p in loaded.problems if p.fatal)
    assert (problem.kind, problem.log, problem.seq) == ("tampered", lab.member.id, seq)
    assert mirrored < labels.MAX_LINE


@pytest.mark.parametrize("who", ["owner", "member"])
def test_log_file_over_max_log_is_refused_unread(lab: Lab, who: str) -> None:
    """A log of MAX_LOG + 1 bytes (sparse): 'oversize' for that log, found by its size alone."""
    identity = lab.owner if who == "owner" else lab.member
    with scratch(lab, lab.client) as (folder, (home,)):
        log = folder / "logs" / f"{identity.id}.jsonl"
        os.truncate(log, labels.MAX_LOG + 1)
        started = time.monotonic()
        loaded = load(lab, folder, home)
        elapsed = time.monotonic() - started
    problem = next(p for p in loaded.problems if p.fatal)
    assert (problem.kind, problem.log) == ("oversize", identity.id)
    assert elapsed < 5, "the oversize log was read"


def test_card_text_of_100_kib_is_refused_before_parsing(
    lab: Lab, no_parsing: None, bare: World
) -> None:
    """A card of 100 KiB (a real card padded with header lines): BadCard 'too large', unparsed;
    `takusu member add` exits 3 with that message."""
    text = lab.owner_card.armor().replace(
        "-----BEGIN TAKUSU CARD-----\n",
        "-----BEGIN TAKUSU CARD-----\n" + ("Note: " + "n" * 94 + "\n") * 1024,
    )
    assert len(text) >= 100 << 10
    with pytest.raises(BadCard, match="too large"):
        Card.from_armor(text)
    (bare.root / "big.card").write_text(text)
    result = bare.member_add(bare.root / "big.card", "big", None)
    assert result.code == 3 and "too large" in result.err, result


def _sparse(path: Path, size: int) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.truncate(path, size)


@pytest.mark.parametrize("which", ["vault.json", "config.json", "identity.key", "state.json"])
def test_small_file_over_its_limit_is_refused_unread(lab: Lab, which: str) -> None:
    """vault.json, config.json, identity.key (MAX_SMALL_FILE) and the state cache (MAX_LOG)
    one byte over their limit: IntegrityError 'larger than takusu allows'."""
    with scratch(lab, lab.client) as (folder, (home,)):
        takusu = lab.takusu(home)
        path, limit, read = {
            "vault.json": (
                folder / "vault.json",
                labels.MAX_SMALL_FILE,
                lambda: VaultFolder(folder).meta(),
            ),
            "config.json": (home / "config.json", labels.MAX_SMALL_FILE, takusu.vaults),
            "identity.key": (home / "identity.key", labels.MAX_SMALL_FILE, takusu.card),
            "state.json": (
                home / "vaults" / lab.vault_id / "state.json",
                labels.MAX_LOG,
                lambda: load(lab, folder, home),
            ),
        }[which]
        _sparse(path, limit + 1)
        with pytest.raises(IntegrityError, match="larger than takusu allows"):
            read()


def test_otpauth_uri_over_max_uri_is_refused() -> None:
    """An otpauth URI longer than totp.MAX_URI: BadInput 'too long', the value not echoed."""
    from vault.errors import BadInput

    value = URI + "&x=" + "y" * totp.MAX_URI
    with pytest.raises(BadInput, match="too long") as caught:
        totp.normalize(value)
    assert SEED not in str(caught.value)


# --- hostile paths inside the vault folder: never followed ---------------------------------


def _outside_copy(folder: Path, log: Path, extra: bytes = b"") -> Path:
    outside = folder.parent / "outside.jsonl"
    outside.write_bytes(log.read_bytes() + extra)
    log.unlink()
    log.symlink_to(outside)
    return outside


def test_log_symlinked_to_a_file_outside_is_not_followed(lab: Lab) -> None:
    """logs/<member>.jsonl is a symlink to an outside file holding the log plus one valid new
    receipt: 'unreadable' for that log, and the new receipt is not taken."""
    with scratch(lab, lab.client) as (folder, (home,)):
        log = folder / "logs" / f"{lab.member.id}.jsonl"
        receipt = _next_fields(lab, lab.member, "request", {"item": lab.item_id})
        _outside_copy(folder, log, signed_line(lab.member, dumps(receipt)))
        loaded = load(lab, folder, home)
    problem = next(p for p in loaded.problems if p.fatal)
    assert (problem.kind, problem.log) == ("unreadable", lab.member.id)
    assert loaded.state["heads"][lab.member.id]["hash"] in lab.hashes[lab.member.id]


def test_own_log_symlinked_outside_is_never_written_through(lab: Lab) -> None:
    """The owner's own log is a symlink to an outside file: the write is refused (integrity
    error) and the outside file is unchanged."""
    with scratch(lab, lab.client) as (folder, (home,)):
        outside = _outside_copy(folder, folder / "logs" / f"{lab.owner.id}.jsonl")
        before = outside.read_bytes()
        store = Store(folder, home, lab.vault_id, lab.owner_card)
        with pytest.raises(IntegrityError):
            store.append(lab.owner, "rollback.accept", {"detail": "x"})
        assert outside.read_bytes() == before


def test_symlinked_vault_json_is_refused(lab: Lab) -> None:
    """vault.json is a symlink (to a copy of itself, outside): IntegrityError, not followed;
    `vault open` refuses it too."""
    with scratch(lab, lab.spare) as (folder, (home,)):
        outside = folder.parent / "vault.json"
        (folder / "vault.json").rename(outside)
        (folder / "vault.json").symlink_to(outside)
        with pytest.raises(IntegrityError, match="symbolic link"):
            VaultFolder(folder).meta()
        with pytest.raises(IntegrityError, match="symbolic link"):
            lab.takusu(home).add_shared_vault(folder, None, lab.owner_card.safety_code, None)


def test_symlinked_logs_folder_is_not_followed(lab: Lab) -> None:
    """logs/ itself is a symlink to an outside folder: reported, nothing read through it."""
    with scratch(lab) as (folder, _):
        outside = folder.parent / "elsewhere"
        (folder / "logs").rename(outside)
        (folder / "logs").symlink_to(outside, target_is_directory=True)
        loaded = typed(load, lab, folder, folder.parent / "new-home")
    assert isinstance(loaded, IntegrityError) or any(
        p.fatal and p.kind == "unreadable" for p in loaded.problems
    ), loaded.problems


_READ_IN_CHILD = """
import json, sys
from pathlib import Path
from vault.errors import TakusuError
from vault.identity import Card
from vault.store import Store, VaultFolder
what, folder, home, vault_id, card = sys.argv[1:6]
try:
    if what == "log":
        loaded = Store(Path(folder), Path(home), vault_id,
                       Card.from_envelope(json.loads(card))).load()
        print(json.dumps([[p.kind, p.log] for p in loaded.problems]))
    else:
        VaultFolder(Path(folder)).meta()
        print(json.dumps([["read", None]]))
except TakusuError as exc:
    print(json.dumps([[type(exc).__name__, getattr(exc, "log", None)]]))
"""


@pytest.mark.parametrize("where", ["log", "vault.json"])
def test_fifo_in_place_of_a_file_does_not_hang(lab: Lab, where: str) -> None:
    """A FIFO where the secretary's log (or vault.json) should be: a prompt typed outcome
    ('unreadable' for the log, an integrity error for vault.json), not a hang."""
    with scratch(lab, lab.client) as (folder, (home,)):
        path = (
            folder / "logs" / f"{lab.member.id}.jsonl" if where == "log" else folder / "vault.json"
        )
        path.unlink()
        os.mkfifo(path, 0o600)
        repo = Path(vault.__file__).resolve().parent.parent
        try:
            child = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _READ_IN_CHILD,
                    where,
                    str(folder),
                    str(home),
                    lab.vault_id,
                    json.dumps(lab.owner_card.envelope),
                ],
                capture_output=True,
                text=True,
                timeout=3,
                cwd=repo,
                env={**os.environ, "PYTHONPATH": str(repo)},
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"takusu hung on a FIFO in place of the {where}")
    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout)
    if where == "log":
        assert ["unreadable", lab.member.id] in outcome, outcome
    else:
        assert outcome[0][0] == "IntegrityError", outcome


def test_directory_in_place_of_a_log_is_reported(lab: Lab) -> None:
    """A directory where the secretary's log should be: 'unreadable' for that log."""
    with scratch(lab, lab.client) as (folder, (home,)):
        log = folder / "logs" / f"{lab.member.id}.jsonl"
        log.unlink()
        log.mkdir()
        loaded = typed(load, lab, folder, home)
    assert not isinstance(loaded, TakusuError), loaded
    problem = next(p for p in loaded.problems if p.fatal)
    assert (problem.kind, problem.log) == ("unreadable", lab.member.id)


# --- encodings: UTF-8, BOM, CRLF, NaN, huge integers, nesting ------------------------------

HOSTILE_PAYLOADS = {
    "invalid-utf8": b'"\xff\xfe"',
    "lone-surrogate": b'"\\ud800"',
    "nan": b"NaN",
    "infinity": b"-Infinity",
    "float": b"1.5",
    "huge-int": b"9007199254740993",
    "huger-int": b"1" + b"0" * 5000,
    "deep-nesting": b"[" * 50000 + b"]" * 50000,
    "duplicate-key": b'1,"reason":2',
}


@pytest.mark.parametrize("value", list(HOSTILE_PAYLOADS.values()), ids=list(HOSTILE_PAYLOADS))
def test_signed_payload_with_hostile_json_is_malformed(lab: Lab, value: bytes) -> None:
    """A validly signed payload holding invalid UTF-8, a lone surrogate, NaN, a float, an
    integer over 2^53, 5000 digits or 50,000 nested lists: Malformed at its log and seq."""
    fields = _next_fields(
        lab, lab.member, "retrieve", {"item": lab.item_id, "version": 1, "fields": ["password"]}
    )
    payload = dumps({**fields, "reason": "@@"}).replace(b'"@@"', value)
    lines = lab.log(lab.member).read_bytes().splitlines()
    with pytest.raises(Malformed) as caught:
        lab.verify_line(
            signed_line(lab.member, payload).rstrip(b"\n"), lab.member, len(lines), fields["prev"]
        )
    assert (caught.value.log, caught.value.seq) == (lab.member.id, len(lines))


@pytest.mark.parametrize(
    "prefix", [b"\xef\xbb\xbf", b"\xff", b" "], ids=["bom", "bad-utf8", "space"]
)
def test_event_line_with_a_prefix_is_malformed(lab: Lab, prefix: bytes) -> None:
    """A real event line behind a BOM, an invalid UTF-8 byte or a space: Malformed, placed."""
    line = _owner_lines(lab)[0]
    with pytest.raises(Malformed) as caught:
        lab.verify_line(prefix + line, lab.owner, 0)
    assert (caught.value.log, caught.value.seq) == (lab.owner.id, 0)


def test_log_with_crlf_line_endings_is_tampering_at_seq_0(lab: Lab) -> None:
    """The secretary's log rewritten with CRLF endings (a git autocrlf checkout): 'tampered' at
    (that log, seq 0) on a new machine; no event of it is taken."""
    with scratch(lab) as (folder, _):
        log = folder / "logs" / f"{lab.member.id}.jsonl"
        log.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))
        loaded = load(lab, folder, folder.parent / "new-home")
    problem = next(p for p in loaded.problems if p.fatal)
    assert (problem.kind, problem.log, problem.seq) == ("tampered", lab.member.id, 0)
    assert lab.member.id not in loaded.state["heads"]


def test_card_with_crlf_and_mail_quoting_is_the_same_card(lab: Lab) -> None:
    """A card that crossed mail (CRLF endings, '> ' quoting): accepted as the very same card."""
    text = "".join("> " + line + "\r\n" for line in lab.owner_card.armor().splitlines())
    assert Card.from_armor(text).envelope == lab.owner_card.envelope


@pytest.mark.parametrize(
    "text", ["\ufeff{armor}", "{armor}\x00", "\x00{armor}"], ids=["bom", "nul-after", "nul-before"]
)
def test_card_with_a_bom_or_nul_is_typed(lab: Lab, text: str) -> None:
    """A card behind a BOM or with a NUL byte: BadCard, or the very same card; nothing else."""
    card = typed(Card.from_armor, text.format(armor=lab.owner_card.armor()))
    assert isinstance(card, BadCard) or card.envelope == lab.owner_card.envelope


def test_card_file_that_is_not_utf8_is_a_typed_error(lab: Lab, bare: World) -> None:
    """A card file with a non-UTF-8 byte (a mangled Name: line): `member add` gives a typed
    error or adds the card, never 'internal error'."""
    card = bare.root / "latin1.card"
    card.write_bytes(lab.member.card.armor().encode().replace(b"Name: Aiko", b"Name: Ai\xefko"))
    result = bare.member_add(card, "aiko", lab.member.card.safety_code)
    assert "internal error" not in result.err and result.code in (0, 1, 3), result


DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize(
    "where",
    [
        "event line",
        "log in folder",
        "card",
        "vault.json",
        "config.json",
        "identity.key",
        "state.json",
    ],
)
def test_deeply_nested_json_is_a_typed_error_not_recursion_error(lab: Lab, where: str) -> None:
    """200,000 nested lists wherever takusu reads JSON: a typed error (RecursionError never
    escapes); for a log line 'tampered' at its place; a damaged state cache may be rebuilt."""
    with scratch(lab, lab.client) as (folder, (home,)):
        takusu = lab.takusu(home)
        if where == "event line":
            with pytest.raises(Malformed):
                lab.verify_line(DEEP[: labels.MAX_LINE - 2], lab.owner, 0)
        elif where == "log in folder":
            log = folder / "logs" / f"{lab.member.id}.jsonl"
            seq = len(log.read_bytes().splitlines())
            with open(log, "ab") as fh:
                fh.write(DEEP[:400_000] + b"\n")
            problem = next(p for p in load(lab, folder, home).problems if p.fatal)
            assert (problem.kind, problem.log, problem.seq) == ("tampered", lab.member.id, seq)
        elif where == "card":
            body = base64.b64encode(b"[" * 11_000).decode()
            with pytest.raises(BadCard):
                Card.from_armor(f"{labels.CARD_ARMOR_BEGIN}\n{body}\n{labels.CARD_ARMOR_END}\n")
        else:
            path, read = {
                "vault.json": (folder / "vault.json", lambda: VaultFolder(folder).meta()),
                "config.json": (home / "config.json", takusu.vaults),
                "identity.key": (home / "identity.key", takusu.card),
                "state.json": (
                    home / "vaults" / lab.vault_id / "state.json",
                    lambda: load(lab, folder, home),
                ),
            }[where]
            write_private(path, DEEP)
            outcome = typed(read)
            # The state cache is only a cache: rebuilding it from the mirror is fine too.
            assert isinstance(outcome, TakusuError) or (
                where == "state.json" and [p.kind for p in outcome.problems] == ["cache"]
            )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_long_fuzz_run_gives_only_typed_outcomes(lab: Lab, name: str) -> None:
    """Every fuzz target above with ten times the examples (the inputs that once broke a
    target run first, as regression cases)."""
    run_target(lab, name, scale=10)
