"""Delegation: views (some fields, never the data key), 2FA code windows (codes, never the
seed), the audit telling a seed from a code, access requests and the retrieval policy.
Two homes, the library with a fake clock where time matters, and raw crypto on the files
for what a member can decrypt."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from tests.helpers import ok
from tests.logs import payload as claimed
from tests.logs import read_lines
from tests.world import SEED, World, build
from vault import sharing
from vault.codewindow import parse_hours
from vault.encoding import b64d
from vault.errors import NoCodeNow, NotShared, PolicyRefused

NOTE = "note-canary-7731"
PIN = "pin-canary-4412"
ALL_DAY = {"hours": parse_hours("00:00-24:00").to_json(), "zone": "Asia/Tokyo", "days": 7}
OFFICE = {"hours": parse_hours("Mon-Fri 09:00-18:00").to_json(), "zone": "Asia/Tokyo", "days": 7}
MONDAY_10_TOKYO = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo


def scoped_world(tmp_path: Path) -> World:
    """GitHub (password, username, TOTP, a note and a PIN custom field) shared with aiko
    as a view of password and username only."""
    w = build(tmp_path, share=False)
    sess = w.client_session()
    github = w.items["GitHub"]
    sess.edit(github, {"notes": NOTE}, {"pin": PIN})
    card = w.machine(w.secretary).card()
    from vault.trust import trust_new_member

    trust_new_member(sess, card, "aiko", card.safety_code, None, lambda m: None)
    sharing.share(sess, github, w.member_id, None, fields=["password", "username"])
    w.machine(w.secretary).add_shared_vault(w.folder, "acme", w.code(w.client), None)
    return w


# --- views -------------------------------------------------------------------------------------


def test_a_view_gives_exactly_its_fields_and_names_the_rest_as_not_shared(tmp_path):
    w = scoped_world(tmp_path)
    assert ok(w.s("get", "GitHub")).out.strip() == w.password
    assert ok(w.s("get", "GitHub", "username")).out.strip() == "acme-admin"
    for field in ("notes", "pin", "totp"):
        refused = w.s("get", "GitHub", field)
        assert refused.code == 1 and "not shared with you" in refused.err, refused
        assert "shared: password, username" in refused.err
    assert "only: password, username" in ok(w.s("list")).out
    shown = ok(w.s("show", "GitHub", "--reveal")).out
    assert w.password in shown and NOTE not in shown and PIN not in shown and SEED not in shown
    assert "GitHub (password, username)" in ok(w.c("member", "list")).out


def test_every_edit_and_rotation_reseals_the_view(tmp_path):
    w = scoped_world(tmp_path)
    ok(w.c("rotate", "GitHub", "--password-stdin", input="rotated-canary-1\n"))
    assert ok(w.s("get", "GitHub")).out.strip() == "rotated-canary-1"
    ok(w.c("edit", "GitHub", "--username", "new-admin"))
    assert ok(w.s("get", "GitHub", "username")).out.strip() == "new-admin"


def _my_keys(home: Path) -> tuple[bytes, bytes]:
    from tests.world import machine

    me = machine(home).identity()
    return me.kem.x25519_raw, me.kem.mlkem_seed


def _hpke_open(keys: tuple[bytes, bytes], sealed: bytes, info: bytes) -> bytes | None:
    x_raw, seed = keys
    x = x25519.X25519PrivateKey.from_private_bytes(x_raw)
    private: Any = x
    kem = hpke.KEM.X25519
    if seed:
        private = hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(seed), x)
        kem = hpke.KEM.MLKEM768_X25519
    suite = hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    try:
        return suite.decrypt(sealed, private, info=info)
    except Exception:  # noqa: BLE001 - not for this key, or not with this info
        return None


LABELS = [b"takusu/wrap/v1\n", b"takusu/view-wrap/v1\n", b"takusu/codes-wrap/v1\n"]
AAD_LABELS = [b"takusu/item/v1\n", b"takusu/view/v1\n", b"takusu/codes/v1\n"]


def everything_she_can_decrypt(w: World) -> list[bytes]:
    """Every plaintext in the folder the secretary's private keys open: each wrap in every
    event is tried under every label and binding the folder names, each key so won on
    every ciphertext with every candidate AAD. Raw primitives only, not takusu's code."""
    keys = _my_keys(w.secretary)
    events = [
        claimed(line)
        for path in sorted((w.folder / "logs").glob("*.jsonl"))
        for line in read_lines(path)
    ]
    items = {e.get("item") for e in events if isinstance(e.get("item"), str)}
    versions = {e.get("version") for e in events if type(e.get("version")) is int}
    ids = {e.get("id") for e in events if isinstance(e.get("id"), str)}
    parts: list[list[str]] = []
    for item in items:
        parts += [[w.vault_id, item, str(v), w.member_id] for v in versions]
        parts += [[w.vault_id, item, w.member_id, i] for i in ids]
    bindings = ["\n".join(p).encode() for p in parts]
    wraps = [
        b64d(wrap)
        for e in events
        for wrap in [e.get("wrap"), *(e.get("wraps") or {}).values()]
        if isinstance(wrap, str)
    ]
    found = {
        key
        for wrap in wraps
        for label in LABELS
        for binding in bindings
        if (key := _hpke_open(keys, wrap, label + binding)) is not None
    }
    plain = []
    for e in events:
        if not isinstance(e.get("ct"), str):
            continue
        sealed = b64d(e["ct"])
        for key in found:
            for label in AAD_LABELS:
                for binding in bindings:
                    try:
                        nonce, body = sealed[:12], sealed[12:]
                        plain.append(ChaCha20Poly1305(key).decrypt(nonce, body, label + binding))
                    except Exception:  # noqa: BLE001, S112 - wrong key or AAD: try the next
                        continue
    return plain


def test_with_only_her_keys_nothing_in_the_folder_opens_to_a_field_outside_her_view(tmp_path):
    w = scoped_world(tmp_path)
    sess = w.client_session()
    github = w.items["GitHub"]
    sess.edit(github, {"notes": NOTE + "-2"}, {"pin": PIN + "-2"})
    sharing.rotate(sess, github, {"password": "rotated-canary-2"})
    sharing.revoke(sess, github, w.member_id, "revoked by owner")
    sharing.share(w.client_session(), github, w.member_id, None, fields=["password", "username"])
    opened = everything_she_can_decrypt(w)
    assert opened, "the sweep opened nothing: it would not see a leak either"
    text = b"\n".join(opened)
    assert b"rotated-canary-2" in text  # what she was given, she can open
    for secret in (NOTE, PIN, SEED, "bank-secret-canary"):
        assert secret.encode() not in text, secret


def test_a_full_grant_turned_into_a_view_marks_the_item_exposed(tmp_path):
    w = build(tmp_path)
    sess = w.client_session()
    sharing.share(sess, w.items["GitHub"], w.member_id, None, fields=["username"])
    (github_row,) = [r for r in json.loads(ok(w.c("list", "--json")).out) if r["title"] == "GitHub"]
    assert github_row["exposed_to"] == ["aiko"]  # she held all of it, the seed included
    rows = json.loads(ok(w.c("offboard", "aiko", "--json")).out)
    (github,) = [r for r in rows if r["title"] == "GitHub"]
    assert github["seed_seen"] is True and github["password_exposed"] is True


# --- 2FA code windows --------------------------------------------------------------------------


def code_world(tmp_path: Path, otp: dict[str, Any], now: datetime) -> World:
    w = build(tmp_path, share=False)
    sess = w.session_at(w.client, now)
    card = w.machine(w.secretary).card()
    from vault.trust import trust_new_member

    trust_new_member(sess, card, "aiko", card.safety_code, None, lambda m: None)
    sharing.share(sess, w.items["GitHub"], w.member_id, None, fields=["password"], otp=otp)
    w.machine(w.secretary).add_shared_vault(w.folder, "acme", w.code(w.client), None)
    return w


def test_the_member_gets_the_current_code_inside_the_window_and_never_the_seed(tmp_path):
    w = code_world(tmp_path, OFFICE, MONDAY_10_TOKYO)
    sess = w.session_at(w.secretary, MONDAY_10_TOKYO + timedelta(hours=2))
    code = sess.otp(sess.find("GitHub"), "login")
    expected = pyotp.TOTP(SEED).at(MONDAY_10_TOKYO + timedelta(hours=2))
    assert code.code == expected and 0 < code.seconds_left <= 30
    with pytest.raises(NotShared, match="not shared"):
        sess.reveal(sess.find("GitHub"), ["totp"], None)
    assert SEED.encode() not in b"\n".join(everything_she_can_decrypt(w))


def test_outside_the_window_the_member_is_told_when_it_opens_and_when_codes_run_out(tmp_path):
    w = code_world(tmp_path, OFFICE, MONDAY_10_TOKYO)
    evening = MONDAY_10_TOKYO + timedelta(hours=10)  # 20:00 in Tokyo
    sess = w.session_at(w.secretary, evening)
    with pytest.raises(NoCodeNow, match="next window opens") as refused:
        sess.otp(sess.find("GitHub"), None)
    assert "run until" in refused.value.message
    from vault.clock import shown_time

    tuesday_9 = shown_time(MONDAY_10_TOKYO + timedelta(hours=23))  # 09:00, not the margin
    assert f"opens at {tuesday_9};" in refused.value.message, refused.value.message
    later = w.session_at(w.secretary, MONDAY_10_TOKYO + timedelta(days=8))
    with pytest.raises(NoCodeNow, match="no 2FA codes are left"):
        later.otp(later.find("GitHub"), None)


def test_codes_are_topped_up_once_half_the_horizon_is_gone_with_only_new_steps(tmp_path):
    w = code_world(tmp_path, ALL_DAY, MONDAY_10_TOKYO)
    count = lambda: sum(claimed(line)["type"] == "codes" for line in read_lines(w.owner_log))  # noqa: E731
    first = count()
    early = w.session_at(w.client, MONDAY_10_TOKYO + timedelta(days=2))
    assert sharing.upkeep(early).topped_up == [] and count() == first
    late = w.session_at(w.client, MONDAY_10_TOKYO + timedelta(days=4))
    assert sharing.upkeep(late).topped_up == [(w.items["GitHub"], w.member_id)]
    assert count() == first + 1
    day_ten = MONDAY_10_TOKYO + timedelta(days=10)  # past the first horizon
    sess = w.session_at(w.secretary, day_ten)
    assert sess.otp(sess.find("GitHub"), None).code == pyotp.TOTP(SEED).at(day_ten)


def test_a_week_of_office_codes_is_one_small_event(tmp_path):
    w = code_world(tmp_path, OFFICE, MONDAY_10_TOKYO)
    lines = [line for line in read_lines(w.owner_log) if claimed(line)["type"] == "codes"]
    assert len(lines) == 1 and len(lines[0]) < 40_000


def test_revoking_a_code_window_says_until_when_her_codes_stay_valid(world):
    sess = world.client_session()
    sharing.share(
        sess, world.items["GitHub"], world.member_id, None, fields=["password"], otp=ALL_DAY
    )
    revoked = ok(world.c("revoke", "GitHub", "--from", "aiko"))
    assert "stay valid until" in revoked.err and "resetting 2FA at the site" in revoked.err


def test_the_seed_and_code_windows_together_are_a_usage_error(world):
    refused = world.c(
        "share", "GitHub", "--with", "aiko", "--fields", "totp", "--otp-hours", "09:00-18:00"
    )
    assert refused.code == 2 and "either" in refused.err


# --- the audit tells a seed from a code --------------------------------------------------------


def test_the_audit_and_the_checklist_tell_the_seed_from_one_code(world):
    ok(world.s("otp", "GitHub"))
    ok(world.s("get", "GitHub", "totp"))
    audit = ok(world.c("audit")).out
    assert "[one 2FA code]" in audit and "[the 2FA seed]" in audit
    rotated = ok(world.c("revoke", "GitHub", "--from", "aiko"))
    assert rotated.code == 0
    done = ok(world.c("rotate", "GitHub", "--password-stdin", input="brand-new-canary\n"))
    assert "saw the 2FA seed" in done.err and "--totp" in done.err
    same = world.c("rotate", "GitHub", "--password-stdin", input="brand-new-canary\n")
    assert same.code == 0 and "already recorded" in same.out


def test_rotating_to_the_same_password_does_not_clear_the_mark(world):
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    same = world.c("rotate", "GitHub", "--password-stdin", input=world.password + "\n")
    assert same.code == 1 and "same as the old one" in same.err
    assert "EXPOSED" in ok(world.c("show", "GitHub")).out


# --- access requests ---------------------------------------------------------------------------


def test_a_request_is_sealed_answered_once_and_shown_to_both(world):
    asked = ok(
        world.s("request", "the bank login for invoices", "--reason", "month end", "--for", "2d")
    )
    request_id = asked.out.strip()
    folder = b"".join(p.read_bytes() for p in (world.folder / "logs").glob("*.jsonl"))
    assert b"month end" not in folder and b"invoices" not in folder
    (pending,) = json.loads(ok(world.c("requests", "--json")).out)
    assert {k: pending[k] for k in ("id", "member", "text", "reason", "status")} == {
        "id": request_id,
        "member": "aiko",
        "text": "the bank login for invoices",
        "reason": "month end",
        "status": "pending",
    }
    assert world.s("approve", request_id, "--item", "Bank").code == 1  # not the owner
    ok(world.c("approve", request_id, "--item", "Bank"))
    assert ok(world.s("get", "Bank")).out.strip() == "bank-secret-canary"
    again = world.c("approve", request_id, "--item", "Bank")
    assert again.code == 1 and "already approved" in again.err
    assert world.c("deny", request_id).code == 1
    assert world.c("approve", "0123456789abcdef", "--item", "Bank").code == 1
    assert f"approving request {request_id}" in ok(world.c("audit")).out
    (mine,) = json.loads(ok(world.s("requests", "--json")).out)
    assert mine["status"] == "approved"
    grant = [r for r in json.loads(ok(world.c("audit", "--json")).out) if r["type"] == "grant"]
    assert grant[-1]["expires"]  # --for 2d became the share's expiry


def test_the_fold_refuses_a_second_answer_to_one_request(world):
    """A modified owner client cannot answer a request twice: the fold refuses it."""
    from vault.errors import IntegrityError

    request_id = ok(world.s("request", "anything")).out.strip()
    ok(world.c("deny", request_id))
    sess = world.client_session()
    with pytest.raises(IntegrityError, match="already denied"):
        sess.append("request.deny", {"member": world.member_id, "request": request_id})


def test_a_denial_and_its_reason_reach_only_the_member(world):
    request_id = ok(world.s("request", "payroll")).out.strip()
    ok(world.c("deny", request_id, "--reason", "ask the accountant"))
    mine = ok(world.s("requests")).out
    assert "[denied]" in mine and "ask the accountant" in mine
    folder = b"".join(p.read_bytes() for p in (world.folder / "logs").glob("*.jsonl"))
    assert b"accountant" not in folder
    again = world.c("approve", request_id, "--item", "Bank")
    assert again.code == 1 and "already denied" in again.err


# --- the retrieval policy ----------------------------------------------------------------------


def test_the_members_takusu_keeps_the_policy_and_audit_verify_reports_a_breach(world):
    ok(
        world.c(
            "vault",
            "policy",
            "--require-reason",
            "on",
            "--hours",
            "Mon-Fri 09:00-18:00",
            "--tz",
            "Asia/Tokyo",
        )
    )
    sess = world.session_at(world.secretary, MONDAY_10_TOKYO)
    with pytest.raises(PolicyRefused, match="reason"):
        sess.reveal(sess.find("GitHub"), ["password"], None)
    sunday = world.session_at(world.secretary, MONDAY_10_TOKYO - timedelta(days=1))
    with pytest.raises(PolicyRefused, match="open again"):
        sunday.reveal(sunday.find("GitHub"), ["password"], "weekend work")
    assert sess.reveal(sess.find("GitHub"), ["password"], "invoices")["password"] == world.password
    assert "breach" not in ok(world.c("audit", "verify")).err
    # a modified client writes a receipt without a reason: it is reported, with its place
    modified = world.secretary_session()
    head = modified.state["heads"][world.owner_id]
    body = {"item": world.items["GitHub"], "version": 1, "fields": ["password"]}
    modified.append("retrieve", {**body, "owner_head": {"seq": head["seq"], "hash": head["hash"]}})
    verified = world.c("audit", "verify")
    assert "broke the owner's policy" in verified.err and world.member_id[:12] in verified.err


def test_an_owner_who_runs_takusu_daily_tops_up_once_per_half_horizon_not_every_day(tmp_path):
    """The horizon starts at the latest delivery: counted from the first one, a daily owner
    would send a top-up every day after the first half-week (found by bench/codes.py)."""
    w = code_world(tmp_path, OFFICE, MONDAY_10_TOKYO)
    count = lambda: sum(claimed(line)["type"] == "codes" for line in read_lines(w.owner_log))  # noqa: E731
    for day in range(1, 29):
        sharing.upkeep(w.session_at(w.client, MONDAY_10_TOKYO + timedelta(days=day)))
        if day % 7 == 0:  # a Monday 10:00 in Tokyo: she has today's code
            member = w.session_at(w.secretary, MONDAY_10_TOKYO + timedelta(days=day))
            code = member.otp(member.find("GitHub"), "login").code
            assert code == pyotp.TOTP(SEED).at(MONDAY_10_TOKYO + timedelta(days=day))
    assert 1 + 28 // 4 - 1 <= count() <= 1 + 28 // 3  # every 3.5 days, not 24 top-ups


def test_the_largest_code_delivery_is_split_into_lines_every_reader_accepts(tmp_path):
    """31 days of whole days at 10 s steps and 8 digits (the most codes the inputs allow):
    no line over the limit every reader enforces, and the member reads the last day."""
    from vault import labels
    from vault.trust import trust_new_member

    w = build(tmp_path, share=False)
    sess = w.session_at(w.client, MONDAY_10_TOKYO)
    uri = f"otpauth://totp/x?secret={SEED}&period=10&digits=8&algorithm=SHA512"
    sess.edit(w.items["GitHub"], {"totp": uri})
    card = w.machine(w.secretary).card()
    trust_new_member(sess, card, "aiko", card.safety_code, None, lambda m: None)
    whole = {**ALL_DAY, "days": 31}
    sharing.share(sess, w.items["GitHub"], w.member_id, None, fields=["password"], otp=whole)
    lines = [line for line in read_lines(w.owner_log) if claimed(line)["type"] == "codes"]
    assert len(lines) == -(-(31 * 8640) // labels.MAX_CODES_PER_EVENT)  # split, none lost
    assert max(len(line) for line in lines) <= labels.MAX_LINE
    w.machine(w.secretary).add_shared_vault(w.folder, "acme", w.code(w.client), None)
    last_day = MONDAY_10_TOKYO + timedelta(days=30, hours=12)
    member = w.session_at(w.secretary, last_day)
    expected = pyotp.TOTP(SEED, digits=8, interval=10, digest="sha512").at(last_day)
    assert member.otp(member.find("GitHub"), "login").code == expected
