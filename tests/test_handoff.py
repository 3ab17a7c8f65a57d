"""The handoff story and its refusals, as two people on two machines (two TAKUSU_HOMEs)."""

from __future__ import annotations

import json

import pyotp
import pytest

from tests.helpers import ok, run
from tests.world import SEED
from vault.identity import Identity


def test_secretary_lists_gets_and_otp_with_receipts(world):
    listing = ok(world.s("list")).out
    assert "GitHub" in listing and "Bank" not in listing
    assert ok(world.s("get", "GitHub", "--reason", "monthly invoices")).out == world.password + "\n"
    assert ok(world.s("get", "github", "username")).out == "acme-admin\n"
    code = ok(world.s("otp", "GitHub")).out.split()[0]
    assert pyotp.TOTP(SEED).verify(code, valid_window=1)
    rows = json.loads(ok(world.c("audit", "--json")).out)
    retrievals = [r for r in rows if r["type"] == "retrieve"]
    assert [r["fields"] for r in retrievals] == [["password"], ["username"], ["otp"]]  # a code
    assert retrievals[0]["reason"] == "monthly invoices"
    assert all(r["actor"] == "aiko" and r["title"] == "GitHub" for r in retrievals)
    assert "OK:" in ok(world.c("audit", "verify")).out


def test_audit_filters_and_csv(world):
    ok(world.s("get", "GitHub", "--reason", "invoices"))
    by_item = json.loads(ok(world.c("audit", "--item", "Bank", "--json")).out)
    assert by_item and all(r["title"] == "Bank" for r in by_item)
    by_member = json.loads(ok(world.c("audit", "--member", "aiko", "--json")).out)
    assert {r["type"] for r in by_member} >= {"member.add", "grant", "retrieve"}
    assert json.loads(ok(world.c("audit", "--since", "2999-01-01", "--json")).out) == []
    csv_out = ok(world.c("audit", "--csv")).out.splitlines()
    assert csv_out[0].startswith("at,actor,action") and any("invoices" in line for line in csv_out)


def test_secretary_never_sees_unshared_titles(world):
    out = ok(world.s("list", "--json")).out
    assert "Bank" not in out and "bank" not in out
    missing = world.s("get", "Bank")
    assert missing.code == 1 and "Bank" in missing.err and "bank-secret" not in missing.err
    assert "not shared with you" in missing.err or "no item titled" in missing.err
    # Knowing the item's id (it is visible in the folder) gives "not shared", never its title.
    owner = world.machine(world.client).session("acme")
    bank_id = owner.find("Bank")
    by_id = world.s("get", bank_id)
    assert by_id.code == 1 and "not shared with you" in by_id.err


def test_secretary_cannot_change_the_vault(world):
    for args in (
        ("add", "X", "--password-stdin"),
        ("share", "GitHub", "--with", "aiko"),
        ("rm", "GitHub"),
        ("rotate", "GitHub", "--generate"),
    ):
        r = world.s(*args, input="pw\n")
        assert r.code == 1 and "only the vault's owner" in r.err, (args, r)


def test_receipt_fails_closed(world):
    """If the secretary's receipt cannot be written, nothing is revealed."""
    sec_id = world.machine(world.secretary).card().id
    log = world.folder / "logs" / f"{sec_id}.jsonl"
    assert not log.exists()
    log.mkdir()  # the append of the receipt will fail (a folder where the log should be)
    r = world.s("get", "GitHub")
    assert r.code in (1, 3) and r.out == "" and world.password not in r.err
    assert "refusing to write" in r.err or "cannot write" in r.err
    r = world.s("otp", "GitHub")
    assert r.code in (1, 3) and r.out == ""


def test_receipt_fsync_failure_reveals_nothing(world):
    from vault import fsutil

    class FailingFsync(fsutil.Disk):
        def fsync(self, fd: int) -> None:
            raise OSError(5, "Input/output error")

    sess = world.machine(world.secretary, FailingFsync()).session("acme")
    item = sess.find("GitHub")
    from vault.errors import StorageError

    with pytest.raises(StorageError):
        sess.reveal(item, ["password"], None)


def test_edit_rewraps_for_grantees(world):
    ok(world.c("edit", "GitHub", "--password-stdin", input="second-password\n"))
    assert ok(world.s("get", "GitHub")).out == "second-password\n"
    ok(world.c("edit", "GitHub", "--title", "GitHub Org"))
    assert "GitHub Org" in ok(world.s("list")).out


def test_revoke_reports_and_blocks(world):
    ok(world.s("get", "GitHub"))
    r = ok(world.c("revoke", "GitHub", "--from", "aiko"))
    assert "rotate" in r.err
    denied = world.s("get", "GitHub")
    assert denied.code == 1 and "revoked" in denied.err and "Acme client" in denied.err
    assert denied.out == ""
    assert "GitHub" not in ok(world.s("list")).out
    shown = ok(world.c("show", "GitHub")).out
    assert "EXPOSED" in shown and "aiko" in shown
    assert "EXPOSED to aiko" in ok(world.c("list")).out


def test_revoked_member_cannot_decrypt_new_version_with_raw_crypto(world):
    """Code that ignores the CLI, holding the secretary's private key, gets nothing new."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hpke

    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    me: Identity = world.machine(world.secretary).identity()
    owner_id = world.machine(world.client).card().id
    lines = (world.folder / "logs" / f"{owner_id}.jsonl").read_bytes().splitlines()
    import base64

    def payload(line):
        p = json.loads(line)["p"]
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

    events = [payload(line) for line in lines]
    item_id = next(e["item"] for e in events if e["type"] == "grant")
    puts = [e for e in events if e["type"] == "item.put" and e["item"] == item_id]
    latest = puts[-1]
    assert me.id not in latest["wraps"]
    old_wraps = [e["wrap"] for e in events if e["type"] == "grant" and e["item"] == item_id]
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    new_info = (
        b"takusu/wrap/v1\n"
        + "\n".join([events[0]["vault"], item_id, str(latest["version"]), me.id]).encode()
    )
    for wrap in old_wraps:
        raw = base64.urlsafe_b64decode(wrap + "=" * (-len(wrap) % 4))
        with pytest.raises((InvalidTag, ValueError)):
            suite.decrypt(raw, me.kem._private, info=new_info)


def test_rotate_clears_exposed_and_shares_new_value(world):
    ken = _other_secretary(world)
    ok(world.member_add("-", "ken", ken["code"], input=ken["card"]))
    ok(world.c("share", "GitHub", "--with", "ken"))
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    ok(world.c("rotate", "GitHub", "--password-stdin", input="rotated-pw\n"))
    assert "EXPOSED" not in ok(world.c("show", "GitHub")).out
    ken = world.root / "ken"
    world.open_as(ken, name=None)
    assert ok(run(ken, "get", "GitHub")).out == "rotated-pw\n"
    ok(world.c("rotate", "GitHub", "--totp-stdin", input="GEZDGNBVGY3TQOJQGEZDGNBVGY\n"))
    assert "GEZDGNBVGY3TQOJQGEZDGNBVGY" in ok(world.c("get", "GitHub", "totp")).out


_OTHER: dict = {}


def _other_secretary(world):
    if world.root not in _OTHER:
        ken = world.root / "ken"
        ok(run(ken, "init", "--name", "Ken"))
        _OTHER[world.root] = {"card": ok(run(ken, "card")).out, "code": world.code(ken)}
    return _OTHER[world.root]


def test_offboard_prints_rotation_checklist(world):
    ok(world.c("share", "Bank", "--with", "aiko"))
    ok(world.s("get", "GitHub", "--reason", "invoices"))
    rows = json.loads(ok(world.c("offboard", "aiko", "--json")).out)
    assert [r["title"] for r in rows] == ["GitHub", "Bank"]  # retrieved first
    assert rows[0]["retrieved"] and rows[0]["url"] == "https://github.com/login"
    assert not rows[1]["retrieved"]
    assert "aiko" not in ok(world.c("member", "list")).out
    assert world.s("get", "GitHub").code == 1


def test_member_remove_refuses_while_grants_remain(world):
    r = world.c("member", "remove", "aiko")
    assert r.code == 1 and "--revoke-all" in r.err
    ok(world.c("member", "remove", "aiko", "--revoke-all"))
    assert "aiko" not in ok(world.c("member", "list")).out


def test_member_list_shows_code_and_access(world):
    out = ok(world.c("member", "list")).out
    assert "aiko" in out and world.code(world.secretary) in out and "GitHub" in out


def test_expired_grant_refused_then_rekeyed_by_owner(world):
    owner = world.machine(world.client).session("acme")
    item = owner.find("Bank")
    member = next(iter(owner.state["members"]))
    from vault import envelope
    from vault.identity import Card

    card = Card.from_envelope(owner.state["members"][member]["card"])
    version = owner.state["items"][item]["version"]
    wrap = envelope.wrap_for(owner.vault_id, item, version, card, owner.data_key(item))
    owner.append(
        "grant",
        {
            "item": item,
            "version": version,
            "member": member,
            "wrap": wrap,
            "expires": "2001-01-01T00:00:00Z",
        },
    )
    r = world.s("get", "Bank")
    assert r.code == 1 and "expired" in r.err and "2001-01-01" in r.err and r.out == ""
    ok(world.c("list"))  # the owner's next command revokes and re-keys
    rows = json.loads(ok(world.c("audit", "--json", "--item", "Bank")).out)
    assert any(r["type"] == "revoke" and r.get("reason") == "expired" for r in rows)
    assert world.s("get", "Bank").code == 1


def test_share_expiry_forms(world):
    ok(world.c("share", "Bank", "--with", "aiko", "--expires", "2999-12-31"))
    assert "2999-12-31" in ok(world.s("list")).out or "3000-01-01" in ok(world.s("list")).out
    assert world.c("share", "Bank", "--with", "aiko", "--expires", "yesterday").code == 1


def test_many_clients_one_secretary(world):
    world.second_client()
    vaults = ok(world.s("vault", "list")).out
    assert "Acme client" in vaults and "Beta client" in vaults
    assert ok(world.s("--vault", "beta", "get", "Shop")).out == "shop-pw\n"
    assert ok(world.s("get", "GitHub")).out == world.password + "\n"  # default stays acme
    assert ok(world.s("get", "Shop", env={"TAKUSU_VAULT": "beta"})).out == "shop-pw\n"
