"""The whole handoff story in a temporary folder, narrated step by step.

Two identities (a client and a secretary) with their own TAKUSU_HOME, one shared
folder, real keys, real files, real fsync; passphrase mode so it needs no keyring and
no prompts. Everything lives under one temporary directory that is removed at the end.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import sharing
from .audit import describe, timeline, verify
from .clock import parse_expiry, system_clock
from .errors import AccessRevoked, TakusuError
from .item import empty_payload
from .machine import Machine

DEMO_SEED = "JBSWY3DPEHPK3PXP"  # the well-known demo seed: no real account uses it


def run(say: Callable[[str], None]) -> None:
    """Run the story; raises TakusuError if any step does not behave."""
    root = Path(tempfile.mkdtemp(prefix="takusu-demo-"))
    try:
        _story(root, say)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    say(f"Done. The temporary folder {root} has been removed.")


def _step(say: Callable[[str], None], title: str) -> None:
    say("")
    say(f"== {title}")


def _story(root: Path, say: Callable[[str], None]) -> None:
    phrase = secrets.token_urlsafe(12)
    client = Machine(root / "client-home", passphrase=lambda _c: phrase, keyring_backend=None)
    secretary = Machine(root / "secretary-home", passphrase=lambda _c: phrase, keyring_backend=None)
    folder = root / "shared-folder" / "acme"

    _step(say, "1. Two people, two machines")
    me, _ = client.init("Acme client")
    aiko, _ = secretary.init("Aiko (secretary)")
    say(f"The client created an identity; safety code {me.card.safety_code}.")
    say(f"The secretary created hers;       safety code {aiko.card.safety_code}.")

    _step(say, "2. The client creates a vault and adds a credential with 2FA")
    client.create_vault(folder, "acme")
    password = "demo-" + secrets.token_urlsafe(10)
    sess = client.session("acme")
    item = empty_payload()
    item["title"] = "GitHub"
    item["username"] = "acme-admin"
    item["url"] = "https://github.com/login"
    item["password"] = password
    item["totp"] = f"otpauth://totp/GitHub:acme?secret={DEMO_SEED}"
    item_id = sess.add(item)
    say("Added 'GitHub'. On disk in the shared folder there is no title, user name or password:")
    say(
        f"  {sorted(p.name for p in (folder / 'logs').iterdir())} "
        "hold only signed, encrypted events."
    )

    _step(say, "3. Cards are exchanged; safety codes compared by phone")
    card_text = aiko.card.armor()
    from .identity import Card

    card = Card.from_armor(card_text)
    say(f"The secretary sent her card by chat; it shows safety code {card.safety_code}.")
    say("They read the codes to each other by phone: they match, so the client adds her.")
    sharing.add_member(sess, card, "aiko")
    aiko_id = sharing.member_by_name(sess, "aiko")
    sharing.share(sess, item_id, aiko_id, parse_expiry("30d", system_clock()))
    say("Shared only 'GitHub' with aiko, for 30 days. Nothing else in the vault is visible to her.")

    _step(say, "4. The secretary opens the folder and retrieves what she needs")
    secretary.add_shared_vault(folder, "acme", me.card.safety_code, None)
    sec = secretary.session("acme")
    say(f"She sees: {sorted(sec.titles().values())}")
    got = sec.reveal(sec.find("GitHub"), ["password"], "monthly invoices")["password"]
    say(
        "She ran 'takusu get GitHub --reason \"monthly invoices\"' and got the password"
        + (" (it matches)." if got == password else " (MISMATCH!)")
    )
    code = sec.otp(sec.find("GitHub"), "login 2FA")
    say(f"And the current 2FA code: {code.code} ({code.seconds_left}s left).")
    say("Before showing anything, her takusu wrote a signed receipt to her own log.")

    _step(say, "5. The client reads the audit trail")
    sess = client.session("acme")
    for row in timeline(sess):
        say("  " + describe(row))
    report = verify(sess.store, sess.loaded)
    say(
        f"'takusu audit verify': {len(report.logs)} logs, {report.receipts} receipts, "
        f"{'all signatures and links verify' if report.ok else 'PROBLEMS FOUND'}."
    )
    if not report.ok:
        raise TakusuError("the demo's audit did not verify")

    _step(say, "6. The contract ends: the client revokes")
    sharing.revoke(sess, item_id, sharing.member_by_name(sess, "aiko"), "revoked by owner")
    say("Revoked: the item was re-keyed with a fresh data key that aiko does not have.")
    try:
        sec = secretary.session("acme")
        sec.find("GitHub")
        raise TakusuError("the secretary could still find the item after revocation")
    except AccessRevoked as exc:
        say(f"Her takusu now says: {exc.message}")
    for row in sharing.rotation_checklist(sess):
        seen = "she retrieved it" if row["retrieved"] else "never retrieved"
        say(f"What she saw cannot be unseen: rotate '{row['title']}' at {row['url']} ({seen}).")
    sharing.rotate(sess, item_id, {"password": "demo-" + secrets.token_urlsafe(10)})
    say("The client changed the password at the site and recorded it: 'takusu rotate GitHub'.")
    say("The exposed mark is cleared.")
