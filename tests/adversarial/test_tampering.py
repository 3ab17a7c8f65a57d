"""Adversarial catalogue, class 1: tampering and forgery.

Each test names the ONE failure it expects (age testkit style). Someone who can write
to the shared folder edits, drops, reorders, replays or forges bytes; takusu must
answer with a typed integrity error naming the log and the sequence number, keep
serving the state it verified before, and never decrypt to garbage.

Two paths are covered where they differ:
- a machine that already accepted the events (incremental load against its mirror:
  Problem kinds 'rewritten', 'rollback', 'tampered' for new lines);
- a fresh machine or `takusu audit verify` (every log re-verified from seq 0;
  exit 3 with '(log <id12>, seq N)').
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import PASSPHRASE, ok, run
from tests.logs import (
    append_raw,
    edit_vault_json,
    grant_wrap,
    next_event,
    payload,
    puts,
    read_lines,
    sign_as,
    vault_json,
    with_payload,
    write_lines,
)
from tests.outcomes import assert_exit3_at, assert_problem, fresh_load, full_verify, retrievals
from vault import crypto, envelope, fsutil, labels
from vault.encoding import b64d, b64e, dumps
from vault.errors import (
    BadSignature,
    BrokenChain,
    DecryptionFailed,
    IntegrityError,
    Malformed,
    UnknownVersion,
)
from vault.events import encode_line
from vault.identity import Identity
from vault.item import empty_payload
from vault.machine import Machine
from vault.store import Store

# --- a small vault (classical suite: short lines, so every offset can be tried) -------------


class NoSyncDisk(fsutil.Disk):
    """Throw-away machines in the exhaustive loops do not need durable mirrors."""

    def fsync(self, fd: int) -> None:
        return None


NOSYNC = NoSyncDisk()
GITHUB, BANK = "1" * 32, "2" * 32


@dataclass
class Small:
    folder: Path
    root: Path
    vault_id: str
    owner: Identity
    member: Identity
    vault_key: bytes
    owner_store: Store
    behind: Store  # accepted seq 0..1 of the owner log
    caught_up: Store  # accepted seq 0..2: line 2 is its last accepted line

    @property
    def log(self) -> Path:
        return self.folder / "logs" / f"{self.owner.id}.jsonl"

    def fresh(self) -> Store:
        home = self.root / "fresh"
        if home.exists():
            shutil.rmtree(home)
        return Store(self.folder, home, self.vault_id, self.owner.card, NOSYNC)

    def item(self, item_id: str) -> dict:
        """The signed item.put fields of the item's latest version (ct, wraps, commitment)."""
        return puts(self.log, item_id)[-1]


def small_vault(root: Path) -> Small:
    """Owner log: 0 vault.create, 1 member.add, 2 item.put GitHub (wrap for aiko),
    3 item.put Bank. The member log: 0 retrieve."""
    owner = Identity.generate("Owner", labels.SUITE_CLASSIC)
    member = Identity.generate("Aiko", labels.SUITE_CLASSIC)
    vault_id, vault_key = os.urandom(16).hex(), crypto.random_key()
    folder = root / "small"
    genesis = {
        "name": "small",
        "owner_card": owner.card.envelope,
        "vault_key_wrap": envelope.wrap_vault_key(vault_id, owner.card, vault_key),
    }
    store = Store.create(folder, root / "owner", owner, "small", genesis, vault_id)
    store.append(
        owner, "member.add", {"member": member.id, "name": "aiko", "card": member.card.envelope}
    )

    def put(item_id: str, title: str, password: str, grantees: list) -> None:
        fields = {**empty_payload(), "title": title, "password": password}
        body, _ = envelope.seal_item(vault_id, item_id, 1, fields, vault_key, grantees)
        store.append(owner, "item.put", body)

    behind = Store(folder, root / "behind", vault_id, owner.card)
    behind.load()
    put(GITHUB, "GitHub", "hunter2-canary", [member.card])
    caught_up = Store(folder, root / "caught-up", vault_id, owner.card)
    caught_up.load()
    put(BANK, "Bank", "bank-canary", [])
    mstore = Store(folder, root / "member", vault_id, owner.card)
    mstore.append(member, "retrieve", {"item": GITHUB, "version": 1, "fields": ["password"]})
    return Small(folder, root, vault_id, owner, member, vault_key, store, behind, caught_up)


def line_span(path: Path, seq: int) -> tuple[int, int]:
    """Byte range [start, end) of line `seq` in the file, its newline included."""
    lines = path.read_bytes().split(b"\n")
    start = sum(len(line) + 1 for line in lines[:seq])
    return start, start + len(lines[seq]) + 1


def flipped(data: bytes, offset: int, bit: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out)


def flips(length: int, every_bit: bool):
    """(offset, bit) pairs: every bit of every byte, or one bit per byte (rotating)."""
    for offset in range(length):
        for bit in range(8) if every_bit else (offset % 8,):
            yield offset, bit


@pytest.fixture
def small(tmp_path) -> Small:
    return small_vault(tmp_path)


# --- 1. a flipped bit at every byte offset of an event line ---------------------------------


def _flip_event_line_everywhere(
    small: Small, log: Path, seq: int, every_bit: bool, log_id: str
) -> int:
    original = log.read_bytes()
    start, end = line_span(log, seq)
    tried = 0
    try:
        for offset, bit in flips(end - start, every_bit):
            log.write_bytes(flipped(original, start + offset, bit))
            _fresh_machine_stops_at(small, log_id, seq)
            tried += 1
    finally:
        log.write_bytes(original)
    assert not small.fresh().load().fatal  # control: the untouched folder verifies
    return tried


def _fresh_machine_stops_at(small: Small, log_id: str, seq: int) -> None:
    try:
        loaded = small.fresh().load()
    except IntegrityError as exc:  # a damaged genesis: there is no vault to serve at all
        assert (exc.log, exc.seq) == (small.owner.id, 0) and (log_id, seq) == (exc.log, 0)
        return
    assert_problem(loaded.problems, "tampered", log_id, seq)
    assert loaded.state["heads"].get(log_id, {}).get("seq", -1) == seq - 1


def test_bit_flip_at_every_offset_of_an_event_line_is_tampered_at_its_seq(small):
    """Fresh machine: any flipped bit in owner event 2 (an item.put carrying a ciphertext and
    a wrap, newline included) stops the log at seq 2; nothing from it is applied."""
    tried = _flip_event_line_everywhere(small, small.log, 2, False, small.owner.id)
    assert tried > 800


def test_bit_flip_at_every_offset_of_a_new_line_is_tampered_for_a_machine_behind(small):
    """Incremental path: a machine whose head is seq 1 reads a damaged seq 2 -> 'tampered'
    at seq 2; its head and mirror stay where they were."""
    original = small.log.read_bytes()
    start, end = line_span(small.log, 2)
    mirror_before = small.behind.mirror.read(small.owner.id)
    try:
        for offset, bit in flips(end - start, False):
            small.log.write_bytes(flipped(original, start + offset, bit))
            loaded = small.behind.load()
            assert_problem(loaded.problems, "tampered", small.owner.id, 2)
            assert GITHUB not in loaded.state["items"]
    finally:
        small.log.write_bytes(original)
    assert small.behind.mirror.read(small.owner.id) == mirror_before
    assert GITHUB in small.behind.load().state["items"]  # control


def test_bit_flip_at_every_offset_of_an_accepted_line_is_rewritten(small):
    """Incremental path: a machine that accepted seq 2 as its last event sees any flip in it
    as 'rewritten' at seq 2 (and keeps serving the verified state)."""
    original = small.log.read_bytes()
    start, end = line_span(small.log, 2)
    try:
        for offset, bit in flips(end - start, False):
            small.log.write_bytes(flipped(original, start + offset, bit))
            loaded = small.caught_up.load()
            assert_problem(loaded.problems, "rewritten", small.owner.id, 2)
            assert loaded.state["items"][GITHUB]["version"] == 1
    finally:
        small.log.write_bytes(original)
    assert not small.caught_up.load().fatal


def test_bit_flip_at_every_offset_is_named_by_full_reverification(small):
    """`audit verify` path: re-verifying the folder log from seq 0 names seq 2 for any flip."""
    original = small.log.read_bytes()
    start, end = line_span(small.log, 2)
    try:
        for offset, bit in flips(end - start, False):
            small.log.write_bytes(flipped(original, start + offset, bit))
            problems = full_verify(small.caught_up, small.owner.id, small.owner.card)
            assert_problem(problems, "tampered", small.owner.id, 2)
    finally:
        small.log.write_bytes(original)
    assert full_verify(small.caught_up, small.owner.id, small.owner.card) == []


@pytest.mark.slow
def test_every_bit_of_every_line_of_both_logs_is_tampered_at_its_seq(small):
    """Slow, exhaustive: all 8 bits at every offset of every non-final line of both logs."""
    tried = 0
    for seq in range(3):  # the owner log's last line (3) would be a torn tail: tested below
        tried += _flip_event_line_everywhere(small, small.log, seq, True, small.owner.id)
    member_file = small.folder / "logs" / f"{small.member.id}.jsonl"
    mstore = Store(small.folder, small.root / "member", small.vault_id, small.owner.card)
    mstore.append(small.member, "retrieve", {"item": GITHUB, "version": 1, "fields": ["totp"]})
    tried += _flip_event_line_everywhere(small, member_file, 0, True, small.member.id)
    assert tried > 30000


def test_flipped_newline_of_the_last_line_is_torn_for_a_stranger_but_rewritten_for_a_witness(small):
    """The one flip a fresh machine cannot tell from a crash: the final newline. It is a
    non-fatal torn tail there; the owner's machine, which wrote it, reports 'rewritten'."""
    original = small.log.read_bytes()
    small.log.write_bytes(flipped(original, len(original) - 1, 0))
    fresh = small.fresh().load()
    torn = [p for p in fresh.problems if p.kind == "torn"]
    assert torn and not torn[0].fatal and torn[0].seq == 3
    assert_problem(small.owner_store.load().problems, "rewritten", small.owner.id, 3)


# --- 2. the decryption layer: every bit of a ciphertext and of a wrap -----------------------


def test_bit_flip_at_every_bit_of_an_item_ciphertext_is_decryption_failed(small):
    """A ciphertext changed anywhere never decrypts (to garbage or otherwise)."""
    item = small.item(GITHUB)
    key = envelope.owner_data_key(small.vault_id, GITHUB, item, small.vault_key)
    assert envelope.open_item(small.vault_id, GITHUB, item, key)["title"] == "GitHub"
    ct = b64d(item["ct"])
    for offset, bit in flips(len(ct), True):
        bad = {**item, "ct": b64e(flipped(ct, offset, bit))}
        with pytest.raises(DecryptionFailed):
            envelope.open_item(small.vault_id, GITHUB, bad, key)


def test_bit_flip_at_every_bit_of_a_grantee_wrap_is_decryption_failed(small):
    """Classical X25519 wrap: every bit of enc||ct||tag is covered by the HPKE AEAD."""
    item = small.item(GITHUB)
    wrap = b64d(item["wraps"][small.member.id])
    envelope.grantee_data_key(
        small.vault_id, GITHUB, 1, b64e(wrap), item["key_commit"], small.member
    )  # control
    for offset, bit in flips(len(wrap), True):
        with pytest.raises(DecryptionFailed):
            envelope.grantee_data_key(
                small.vault_id,
                GITHUB,
                1,
                b64e(flipped(wrap, offset, bit)),
                item["key_commit"],
                small.member,
            )


def test_bit_flip_at_every_offset_of_a_hybrid_wrap_is_decryption_failed(world):
    """MLKEM768-X25519 wrap (the default suite): ML-KEM's implicit rejection gives a wrong
    shared secret, so the AEAD refuses; never a wrong data key."""
    sec = world.secretary_session()
    github = sec.find("GitHub")
    item = puts(world.owner_log, github)[-1]
    wrap = b64d(grant_wrap(world.owner_log, github, sec.me.id))
    assert len(wrap) > 1100
    for offset, bit in flips(len(wrap), False):
        with pytest.raises(DecryptionFailed):
            envelope.grantee_data_key(
                sec.vault_id,
                github,
                item["version"],
                b64e(flipped(wrap, offset, bit)),
                item["key_commit"],
                sec.me,
            )


def test_bit_flip_at_every_bit_of_the_owner_wrap_and_vault_key_wrap_is_decryption_failed(small):
    item = small.item(GITHUB)
    owner_wrap = b64d(item["owner_wrap"])
    for offset, bit in flips(len(owner_wrap), True):
        bad = {**item, "owner_wrap": b64e(flipped(owner_wrap, offset, bit))}
        with pytest.raises(DecryptionFailed):
            envelope.owner_data_key(small.vault_id, GITHUB, bad, small.vault_key)
    vk_wrap = b64d(small.owner_store.load().state["vault_key_wrap"])
    assert envelope.open_vault_key(small.vault_id, small.owner, b64e(vk_wrap)) == small.vault_key
    for offset, bit in flips(len(vk_wrap), True):
        with pytest.raises(DecryptionFailed):
            envelope.open_vault_key(
                small.vault_id, small.owner, b64e(flipped(vk_wrap, offset, bit))
            )


def test_bit_flip_at_every_bit_of_the_key_commitment_is_integrity_error(small):
    """A reader refuses a data key that does not match the signed commitment."""
    item = small.item(GITHUB)
    commit = b64d(item["key_commit"])
    for offset, bit in flips(len(commit), True):
        bad = b64e(flipped(commit, offset, bit))
        with pytest.raises(IntegrityError, match="key commitment"):
            envelope.owner_data_key(
                small.vault_id, GITHUB, {**item, "key_commit": bad}, small.vault_key
            )
        with pytest.raises(IntegrityError, match="key commitment"):
            envelope.grantee_data_key(
                small.vault_id, GITHUB, 1, item["wraps"][small.member.id], bad, small.member
            )


def test_ciphertext_edited_inside_the_signed_event_is_bad_signature(small):
    """Changing a ciphertext in the folder (still valid base64) breaks the event signature."""
    lines = read_lines(small.log)
    fields = payload(lines[2])
    ct = b64d(fields["ct"])
    fields["ct"] = b64e(flipped(ct, len(ct) // 2, 3))
    lines[2] = with_payload(lines[2], fields)
    write_lines(small.log, lines)
    problem = assert_problem(small.fresh().load().problems, "tampered", small.owner.id, 2)
    assert "signature" in problem.message


def test_ciphertext_damaged_before_signing_is_an_error_never_garbage(world):
    """Owner-signed item.put whose ciphertext is damaged (a bug, or bit rot before signing):
    the secretary's get exits 3, prints nothing and writes no receipt; the owner gets 3 too."""
    owner = world.client_session()
    github = owner.find("GitHub")
    item = owner.state["items"][github]
    body, _ = envelope.seal_item(
        owner.vault_id,
        github,
        item["version"] + 1,
        dict(owner.payload(github)),
        owner.vault_key(),
        [card for card, _ in owner.grantees(github)],
    )
    ct = b64d(body["ct"])
    body["ct"] = b64e(flipped(ct, len(ct) - 1, 0))
    owner.append("item.put", body)
    r = world.s("get", "GitHub")
    assert r.code == 3 and r.out == "" and world.password not in r.err
    assert "does not decrypt" in r.err
    assert not world.member_log.exists()
    assert world.c("show", "GitHub", "--reveal").code == 3


# --- 3. field swap, item swap/rename, reordering ------------------------------------------


def test_field_swap_between_two_events_is_bad_signature_at_the_first(world, tmp_path):
    """Swap the ciphertexts of GitHub (seq 1) and Bank (seq 2) inside their signed payloads."""
    log = world.owner_log
    lines = read_lines(log)
    a, b = payload(lines[1]), payload(lines[2])
    assert a["type"] == b["type"] == "item.put"
    a["ct"], b["ct"] = b["ct"], a["ct"]
    lines[1], lines[2] = with_payload(lines[1], a), with_payload(lines[2], b)
    write_lines(log, lines)
    owner = world.identity(world.client)
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    assert_problem(fresh.problems, "tampered", owner.id, 1)
    assert_exit3_at(world.c("audit", "verify"), owner.id, 1)


def test_signature_swap_between_two_lines_is_bad_signature(world, tmp_path):
    log = world.owner_log
    lines = read_lines(log)
    e1, e2 = json.loads(lines[1]), json.loads(lines[2])
    lines[1] = encode_line(b64d(e1["p"]), b64d(e2["s"])).rstrip(b"\n")
    lines[2] = encode_line(b64d(e2["p"]), b64d(e1["s"])).rstrip(b"\n")
    write_lines(log, lines)
    owner = world.identity(world.client)
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    problem = assert_problem(fresh.problems, "tampered", owner.id, 1)
    assert "signature" in problem.message


def test_item_rename_by_editing_the_item_id_is_bad_signature(world, tmp_path):
    """Point GitHub's item.put at another item id (a 'rename' in the folder)."""
    log = world.owner_log
    lines = read_lines(log)
    fields = payload(lines[1])
    fields["item"] = "f" * 32
    lines[1] = with_payload(lines[1], fields)
    write_lines(log, lines)
    owner = world.identity(world.client)
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    assert_problem(fresh.problems, "tampered", owner.id, 1)


def test_item_swap_signed_by_the_owner_does_not_decrypt_under_the_other_item(world):
    """Even an owner-signed item.put that moves GitHub's sealed content onto Bank's id (a
    swap by a buggy client) is refused: AAD and wrap info bind the item id."""
    owner = world.client_session()
    github, bank = owner.find("GitHub"), owner.find("Bank")
    src = puts(world.owner_log, github)[-1]
    version = owner.state["items"][bank]["version"] + 1
    body = {
        "item": bank,
        "version": version,
        "aead": labels.ITEM_AEAD,
        "ct": src["ct"],
        "key_commit": src["key_commit"],
        "owner_wrap": src["owner_wrap"],
        "wraps": {
            m: grant_wrap(world.owner_log, github, m)
            for m in owner.state["items"][github]["grants"]
        },
    }
    owner.append("item.put", body)
    owner = world.client_session()
    with pytest.raises(DecryptionFailed):
        owner.payload(bank)
    sec = world.secretary_session()
    assert bank in sec.readable()
    with pytest.raises(DecryptionFailed):
        sec.payload(bank)
    r = world.s("get", bank)
    assert r.code == 3 and r.out == "" and world.password not in r.out + r.err


def test_two_items_events_swapped_in_the_log_is_broken_chain(world, tmp_path):
    """GitHub's and Bank's item.put lines (seq 1, 2) exchanged: the chain breaks at seq 1."""
    log = world.owner_log
    lines = read_lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(log, lines)
    owner = world.identity(world.client)
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    problem = assert_problem(fresh.problems, "tampered", owner.id, 1)
    assert "sequence" in problem.message
    assert fresh.state["items"] == {}


def test_reordered_events_are_tampered_for_a_machine_that_has_not_seen_them(world):
    """The secretary's machine has seen seq 0..4; the owner writes 5 and 6; someone swaps
    them in the folder before the secretary syncs: 'tampered' at seq 5, nothing applied."""
    sec = world.secretary_session()
    heads_before = sec.state["heads"][sec.store.owner]["seq"]
    ok(world.c("add", "One", "--password-stdin", input="one\n"))
    ok(world.c("add", "Two", "--password-stdin", input="two\n"))
    log = world.owner_log
    lines = read_lines(log)
    lines[-1], lines[-2] = lines[-2], lines[-1]
    write_lines(log, lines)
    loaded = world.secretary_session().loaded
    assert_problem(loaded.problems, "tampered", world.owner_id, heads_before + 1)
    assert loaded.state["heads"][world.owner_id]["seq"] == heads_before


# --- 4. old versions, edits, deletions, duplicates ------------------------------------------


def test_old_version_line_replayed_as_current_is_broken_chain(world):
    """GitHub's v1 item.put line appended again after v2: seq/prev do not match -> 'tampered'
    at the new seq on both machines; v2 stays current."""
    log = world.owner_log
    v1 = read_lines(log)[1]
    ok(world.c("edit", "GitHub", "--username", "acme-root"))
    append_raw(log, v1)
    owner_id = world.owner_id
    replay_seq = len(read_lines(log)) - 1
    for home in (world.client, world.secretary):
        sess = world.session(home)
        assert_problem(sess.loaded.problems, "tampered", owner_id, replay_seq)
        assert sess.state["items"][sess.find("GitHub")]["version"] == 2
    assert_exit3_at(world.c("audit", "verify"), owner_id, replay_seq)


def test_old_version_resigned_as_a_new_event_is_refused_by_the_state(world):
    """Even correctly chained and signed by the owner's key, an item.put that brings back
    version 1 after version 2 is refused ('not the next version') at its seq."""
    owner = world.client_session()
    github = owner.find("GitHub")
    ok(world.c("edit", "GitHub", "--username", "acme-root"))
    log = world.owner_log
    old = payload(read_lines(log)[1])
    body = {
        k: v
        for k, v in old.items()
        if k not in ("vault", "actor", "seq", "prev", "at", "type", "seen")
    }
    line = next_event(world.identity(world.client), log, owner.vault_id, "item.put", body)
    append_raw(log, line)
    seq = payload(line)["seq"]
    sec = world.secretary_session()
    problem = assert_problem(sec.loaded.problems, "tampered", owner.store.owner, seq)
    assert "not the next version" in problem.message
    assert sec.state["items"][github]["version"] == 2


def test_edited_past_event_is_tampered_for_a_fresh_machine_and_audit_verify(world, tmp_path):
    """Rename member 'aiko' in the member.add event (seq 3): a fresh machine stops at seq 3;
    the owner's `audit verify` exits 3 naming seq 3."""
    log = world.owner_log
    lines = read_lines(log)
    fields = payload(lines[3])
    assert fields["type"] == "member.add"
    fields["name"] = "mallory"
    lines[3] = with_payload(lines[3], fields)
    write_lines(log, lines)
    owner = world.identity(world.client)
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    assert_problem(fresh.problems, "tampered", owner.id, 3)
    assert fresh.state["members"] == {}
    assert_exit3_at(world.c("audit", "verify"), owner.id, 3)
    assert_exit3_at(world.s("audit", "verify"), owner.id, 3)


def _same_length_edit_of_a_past_event(world) -> str:
    log = world.owner_log
    lines = read_lines(log)
    fields = payload(lines[3])
    fields["name"] = "mako"  # same length as 'aiko': no byte offset moves
    edited = with_payload(lines[3], fields)
    assert len(edited) == len(lines[3])
    lines[3] = edited
    write_lines(log, lines)
    return world.owner_id


def test_same_length_edit_of_a_past_event_is_caught_by_audit_verify(world):
    """An edit that moves no byte is invisible to the incremental check (it only compares
    the last accepted line), but `audit verify` re-verifies everything: exit 3 at seq 3."""
    owner_id = _same_length_edit_of_a_past_event(world)
    assert_exit3_at(world.c("audit", "verify"), owner_id, 3)


def test_same_length_edit_of_a_past_event_is_reported_by_doctor(world):
    """`takusu doctor` (the health check users are told to run) should re-verify the folder
    like `audit verify` does and exit 3 naming seq 3."""
    owner_id = _same_length_edit_of_a_past_event(world)
    assert_exit3_at(world.c("doctor"), owner_id, 3)


def test_deleted_middle_event_is_rollback_for_a_witness_and_tampered_for_a_stranger(
    world, tmp_path
):
    """Drop the member.add (seq 3) from the owner log: the owner's machine sees the log
    shrink ('rollback') and refuses to write; a fresh machine stops at seq 3 (chain)."""
    log = world.owner_log
    lines = read_lines(log)
    del lines[3]
    write_lines(log, lines)
    owner = world.identity(world.client)
    assert_problem(world.client_session().loaded.problems, "rollback", owner.id, 4)
    r = world.c("add", "New", "--password-stdin", input="x\n")
    assert r.code == 3 and "refusing to write" in r.err
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    problem = assert_problem(fresh.problems, "tampered", owner.id, 3)
    assert "sequence" in problem.message
    assert_exit3_at(world.c("audit", "verify"), owner.id, 3)


def test_duplicate_event_line_is_tampered_and_never_applied_twice(world):
    """The secretary's receipt (seq 0) duplicated in place: seq 1 is 'tampered' (its seq
    says 0) and the owner still counts one retrieval."""
    ok(world.s("get", "GitHub"))
    log = world.member_log
    (line,) = read_lines(log)
    append_raw(log, line)
    sec_id = world.member_id
    owner = world.client_session()
    assert_problem(owner.loaded.problems, "tampered", sec_id, 1)
    assert len(retrievals(world.client)) == 1
    assert_exit3_at(world.c("audit", "verify"), sec_id, 1)


def test_duplicate_events_from_a_conflict_copy_are_applied_once(world):
    """A sync service leaves an identical '(conflicted copy)' of the secretary's log: the
    union by event hash applies each receipt once, and nothing fatal is reported."""
    ok(world.s("get", "GitHub"))
    ok(world.s("get", "GitHub", "username"))
    log = world.member_log
    shutil.copy(log, log.with_name(f"{log.stem} (conflicted copy 2025-01-01).jsonl"))
    owner = world.client_session()
    assert not owner.loaded.fatal
    assert [r["fields"] for r in retrievals(world.client)] == [["password"], ["username"]]
    assert "OK:" in ok(world.c("audit", "verify")).out


def test_replayed_grant_line_is_tampered_and_applied_once(world):
    """The owner's grant line (seq 4) appended again: refused at seq 5 (its seq says 4);
    the audit shows one 'shared'."""
    log = world.owner_log
    grant = read_lines(log)[4]
    assert payload(grant)["type"] == "grant"
    append_raw(log, grant)
    sess = world.secretary_session()
    assert_problem(sess.loaded.problems, "tampered", world.owner_id, 5)
    rows = [r for r in json.loads(ok(world.c("audit", "--json")).out) if r["type"] == "grant"]
    assert len(rows) == 1


# --- 5. forged and replayed events ----------------------------------------------------------


def test_event_signed_by_an_unknown_key_is_bad_signature(world):
    """Mallory writes a well-chained 'grant Bank to aiko' as the owner, signed by her key."""
    mallory = Identity.generate("Mallory")
    owner = world.client_session()
    bank = owner.find("Bank")
    log = world.owner_log
    lines = read_lines(log)
    from vault.clock import now_utc
    from vault.crypto import sha256_hex

    fields = {
        "vault": owner.vault_id,
        "actor": owner.me.id,
        "seq": len(lines),
        "prev": sha256_hex(b64d(json.loads(lines[-1])["p"])),
        "at": now_utc(),
        "type": "grant",
        "item": bank,
        "version": 1,
        "member": world.member_id,
        "wrap": "AAAA",
    }
    append_raw(log, sign_as(mallory, fields))
    for home in (world.client, world.secretary):
        sess = world.session(home)
        problem = assert_problem(sess.loaded.problems, "tampered", owner.me.id, len(lines))
        assert "signature" in problem.message
        assert world.member_id not in sess.state["items"][bank]["grants"]
    assert world.c("add", "X", "--password-stdin", input="x\n").code == 3


def test_log_of_an_unknown_writer_is_ignored_not_applied(world):
    """A validly signed log from someone who is not a member: 'unknown-log', non-fatal,
    none of its events reach the state."""
    mallory = Identity.generate("Mallory")
    owner = world.client_session()
    log = world.folder / "logs" / f"{mallory.id}.jsonl"
    line = next_event(
        mallory,
        log,
        owner.vault_id,
        "retrieve",
        {"item": owner.find("GitHub"), "version": 1, "fields": ["password"]},
    )
    append_raw(log, line)
    loaded = world.client_session().loaded
    unknown = [p for p in loaded.problems if p.kind == "unknown-log"]
    assert unknown and not unknown[0].fatal and unknown[0].log == mallory.id
    assert mallory.id not in loaded.state["heads"] and retrievals(world.client) == []


def test_cross_log_replay_of_an_owner_event_into_a_member_log_is_bad_signature(world):
    """The owner's valid grant line copied into the secretary's log (as its seq 0)."""
    log = world.member_log
    append_raw(log, read_lines(world.owner_log)[4])
    sec_id = world.member_id
    problem = assert_problem(world.client_session().loaded.problems, "tampered", sec_id, 0)
    assert "signature" in problem.message
    assert_exit3_at(world.c("audit", "verify"), sec_id, 0)


def test_cross_vault_replay_of_a_members_valid_receipt_is_broken_chain(world, tmp_path):
    """The secretary serves two vaults with one identity. A receipt signed for vault 'beta'
    copied into this vault's log at the right seq verifies, but names another vault."""
    beta = tmp_path / "shared" / "beta"
    ok(world.c("vault", "create", str(beta), "--name", "beta"))
    ok(world.c("--vault", "beta", "add", "Mail", "--password-stdin", input="mail\n"))
    world.add_member("aiko", vault="beta")
    ok(world.c("--vault", "beta", "share", "Mail", "--with", "aiko"))
    world.open_as(world.secretary, beta, name="beta")
    ok(world.s("--vault", "beta", "get", "Mail"))
    sec_id = world.member_id
    (receipt,) = read_lines(beta / "logs" / f"{sec_id}.jsonl")
    append_raw(world.member_log, receipt)
    problem = assert_problem(world.client_session().loaded.problems, "tampered", sec_id, 0)
    assert "another vault" in problem.message
    assert retrievals(world.client) == []


NON_CANONICAL = {
    "spaces": lambda env: json.dumps(env).encode(),
    "key order": lambda env: json.dumps(
        {"s": env["s"], "p": env["p"], "v": 1}, separators=(",", ":")
    ).encode(),
    "duplicate key": lambda env: (
        b'{"v":1,"p":"%s","p":"%s","s":"%s"}'
        % (env["p"].encode(), env["p"].encode(), env["s"].encode())
    ),
    "padded base64": lambda env: (
        b'{"v":1,"p":"%s","s":"%s=="}' % (env["p"].encode(), env["s"].encode())
    ),
    # Real standard base64 (+ / and = padding): a 64-byte signature always gains "==", so the
    # line differs even when neither value happens to hold a - or _ character.
    "standard base64": lambda env: (
        b'{"v":1,"p":"%s","s":"%s"}'
        % (
            base64.b64encode(b64d(env["p"])),
            base64.b64encode(b64d(env["s"])),
        )
    ),
    "escaped character": lambda env: (
        b'{"v":1,"p":"%s","s":"%s"}'
        % (
            env["p"].encode(),
            env["s"].replace(env["s"][0], f"\\u{ord(env['s'][0]):04x}", 1).encode(),
        )
    ),
    "trailing space": lambda env: dumps_line(env) + b" ",
    "crlf": lambda env: dumps_line(env) + b"\r",
}


def dumps_line(env: dict) -> bytes:
    return encode_line(b64d(env["p"]), b64d(env["s"])).rstrip(b"\n")


def _unapplied_delete(world) -> tuple[bytes, str, str]:
    """A valid, owner-signed, correctly chained 'item.delete Bank', not yet written."""
    owner = world.client_session()
    bank = owner.find("Bank")
    line = next_event(
        world.identity(world.client), world.owner_log, owner.vault_id, "item.delete", {"item": bank}
    )
    return line, bank, owner.me.id


@pytest.mark.parametrize("reencode", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_non_canonical_reencoding_of_a_valid_event_is_malformed(world, reencode):
    """The same signed bytes, re-encoded: refused at its seq and not applied."""
    line, bank, owner_id = _unapplied_delete(world)
    bad = reencode(json.loads(line))
    assert bad != line
    append_raw(world.owner_log, bad)
    sec = world.secretary_session()
    seq = payload(line)["seq"]
    assert_problem(sec.loaded.problems, "tampered", owner_id, seq)
    assert sec.state["items"][bank]["deleted"] is False


def test_canonical_encoding_of_the_same_event_is_accepted(world):
    """Control for the re-encoding cases: the canonical line is applied."""
    line, bank, _ = _unapplied_delete(world)
    append_raw(world.owner_log, line)
    sec = world.secretary_session()
    assert not sec.loaded.fatal and sec.state["items"][bank]["deleted"] is True


def test_signed_payload_with_duplicate_keys_is_malformed(world):
    """The owner's key signed a payload with two 'item' keys (JSON parsers disagree on
    which wins): refused after the signature check, at its seq."""
    line, bank, owner_id = _unapplied_delete(world)
    raw = b64d(json.loads(line)["p"])
    assert raw.endswith(b"}")
    dup = raw[:-1] + b',"item":"' + world.client_session().find("GitHub").encode() + b'"}'
    owner = world.identity(world.client)
    append_raw(
        world.owner_log, encode_line(dup, owner.signing.sign(labels.EVENT_SIG, dup)).rstrip(b"\n")
    )
    problem = assert_problem(
        world.secretary_session().loaded.problems, "tampered", owner_id, payload(line)["seq"]
    )
    assert "duplicate" in problem.message


STRIPPED = {
    "no s": lambda env: b'{"v":1,"p":"%s"}' % env["p"].encode(),
    "empty s": lambda env: b'{"v":1,"p":"%s","s":""}' % env["p"].encode(),
    "zero s": lambda env: dumps_line({**env, "s": b64e(bytes(64))}),
    "short s": lambda env: dumps_line({**env, "s": b64e(b64d(env["s"])[:32])}),
    "null s": lambda env: b'{"v":1,"p":"%s","s":null}' % env["p"].encode(),
}


@pytest.mark.parametrize("strip", STRIPPED.values(), ids=STRIPPED.keys())
def test_stripped_signature_is_refused(world, strip):
    line, bank, owner_id = _unapplied_delete(world)
    append_raw(world.owner_log, strip(json.loads(line)))
    sec = world.secretary_session()
    assert_problem(sec.loaded.problems, "tampered", owner_id, payload(line)["seq"])
    assert sec.state["items"][bank]["deleted"] is False


# --- 6. format and version downgrade --------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_event_line_with_another_format_version_is_unknown_version(world, version):
    line, bank, owner_id = _unapplied_delete(world)
    env = json.loads(line)
    bad = json.dumps({"v": version, "p": env["p"], "s": env["s"]}, separators=(",", ":")).encode()
    append_raw(world.owner_log, bad)
    problem = assert_problem(
        world.secretary_session().loaded.problems, "tampered", owner_id, payload(line)["seq"]
    )
    assert "version" in problem.message
    with pytest.raises(UnknownVersion):
        from vault.events import split_line

        split_line(bad, owner_id, 0)


@pytest.mark.parametrize("version", [0, 2])
def test_vault_json_format_version_changed_is_exit_3_everywhere(world, version):
    edit_vault_json(world.folder, v=version)
    for who in (world.c, world.s):
        r = who("list")
        assert r.code == 3 and "unknown format version" in r.err and r.out == ""
    r = world.s("get", "GitHub")
    assert r.code == 3 and r.out == ""


def test_card_payload_version_downgrade_in_vault_json_is_refused(world):
    """vault.json's owner card envelope relabelled v:0 (its payload's own version is under
    the owner's signature): UnknownVersion, exit 3."""
    edit_vault_json(world.folder, owner_card={**vault_json(world.folder)["owner_card"], "v": 0})
    r = world.s("list")
    assert r.code == 3 and "version" in r.err


# --- 7. KDF floor -------------------------------------------------------------------------


LOWERED = {
    "memory": {"memory_kib": 8},
    "iterations": {"iterations": 1},
    "lanes": {"lanes": 0},
    "algorithm": {"alg": "argon2i"},
    "type": {"memory_kib": "65536"},
}


@pytest.mark.parametrize("change", LOWERED.values(), ids=LOWERED.keys())
def test_kdf_parameters_lowered_in_the_key_file_are_refused_before_deriving(
    tmp_path, no_keyring, change
):
    """An attacker who can write TAKUSU_HOME lowers Argon2id's cost to brute-force the next
    passphrase typed: refused (exit 3) before the passphrase is even asked for."""
    home = tmp_path / "home"
    ok(run(home, "init", "--name", "Alice", "--passphrase"))
    key_file = home / "identity.key"
    doc = json.loads(key_file.read_bytes())
    assert doc["mode"] == "passphrase"
    doc["params"]["kdf"].update(change)
    key_file.write_bytes(dumps(doc))
    asked: list[bool] = []

    def spy(confirm: bool) -> str:
        asked.append(confirm)
        return PASSPHRASE

    with pytest.raises(IntegrityError, match="KDF"):
        Machine(home, passphrase=spy, keyring_backend=None).identity()
    assert asked == []
    r = run(home, "vault", "create", str(tmp_path / "v"))
    assert r.code == 3 and "KDF" in r.err


# --- 8. data-key inconsistency (the commitment is the only guard) ---------------------------


def _put_with_mismatched_commitment(world) -> tuple[str, str]:
    """An owner-signed item.put that is consistent under a data key K2 (ciphertext, owner
    wrap and grantee wrap all open), but whose key_commit is for another key K1."""
    owner = world.client_session()
    github = owner.find("GitHub")
    version = owner.state["items"][github]["version"] + 1
    decoy = {**dict(owner.payload(github)), "password": "decoy-password"}
    body, _k2 = envelope.seal_item(
        owner.vault_id,
        github,
        version,
        decoy,
        owner.vault_key(),
        [card for card, _ in owner.grantees(github)],
    )
    body["key_commit"] = b64e(crypto.key_commit(crypto.random_key()))  # K1's commitment
    owner.append("item.put", body)
    return github, "decoy-password"


def test_data_key_not_matching_the_key_commitment_is_refused_for_the_grantee(world):
    """Only the commitment check stands between the secretary and a different plaintext."""
    _github, decoy = _put_with_mismatched_commitment(world)
    r = world.s("get", "GitHub")
    assert r.code == 3 and "key commitment" in r.err
    assert r.out == "" and decoy not in r.err
    assert not world.member_log.exists()  # no receipt: nothing was revealed


def test_data_key_not_matching_the_key_commitment_is_refused_for_the_owner(world):
    github, decoy = _put_with_mismatched_commitment(world)
    owner = world.client_session()
    with pytest.raises(IntegrityError, match="key commitment"):
        owner.payload(github)
    r = world.c("get", "GitHub")
    assert r.code == 3 and decoy not in r.out


# --- 9. exit code and place through the real CLI (fresh machine) -----------------------------


def test_fresh_machine_opening_a_tampered_vault_is_warned_and_audit_verify_exits_3(world):
    """A new secretary machine opens a vault whose grant (seq 4) was edited: it accepts
    nothing from seq 4 on, warns with the place, and `audit verify` exits 3 there."""
    log = world.owner_log
    lines = read_lines(log)
    fields = payload(lines[4])
    fields["expires"] = "2999-01-01T00:00:00Z"
    lines[4] = with_payload(lines[4], fields)
    write_lines(log, lines)
    home = world.root / "new-laptop"
    ok(run(home, "init", "--name", "Aiko 2"))
    world.open_as(home)
    owner_id = world.owner_id
    r = run(home, "list")
    assert "log " + owner_id[:12] + ", seq 4" in r.err
    assert_exit3_at(run(home, "audit", "verify"), owner_id, 4)


def test_broken_chain_error_types_are_typed(world):
    """The library raises the specific error class for each forgery (not a bare bool)."""
    from vault.events import verify_line

    owner = world.identity(world.client)
    vault_id = world.vault_id
    lines = read_lines(world.owner_log)
    kw = {"sign_key": owner.card.sign_key, "vault_id": vault_id, "actor": owner.id, "log": owner.id}
    with pytest.raises(BrokenChain):
        verify_line(lines[1], seq=2, prev=None, **kw)
    with pytest.raises(BadSignature):
        verify_line(
            lines[1],
            seq=1,
            prev=None,
            **{**kw, "sign_key": world.identity(world.secretary).card.sign_key},
        )
    with pytest.raises(Malformed):
        verify_line(lines[1] + b" ", seq=1, prev=None, **kw)
