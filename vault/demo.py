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
from dataclasses import dataclass
from pathlib import Path

from . import sharing
from .audit import describe, timeline, verify
from .clock import parse_expiry
from .errors import AccessRevoked, TakusuError
from .identity import Card
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


@dataclass
class _Cast:
    """The people and places of the story."""

    client: Machine
    secretary: Machine
    folder: Path
    say: Callable[[str], None]
    password: str = ""
    item_id: str = ""


def _story(root: Path, say: Callable[[str], None]) -> None:
    phrase = secrets.token_urlsafe(12)
    cast = _Cast(
        Machine(root / "client-home", passphrase=lambda _c: phrase, keyring_backend=None),
        Machine(root / "secretary-home", passphrase=lambda _c: phrase, keyring_backend=None),
        root / "shared-folder" / "acme",
        say,
    )
    for scene in (_people, _vault, _cards, _retrieval, _audit, _revocation):
        scene(cast)


def _people(cast: _Cast) -> None:
    _step(cast.say, "1. Two people, two machines")
    me, _ = cast.client.init("Acme client")
    aiko, _ = cast.secretary.init("Aiko (secretary)")
    cast.say(f"The client created an identity; safety code {me.card.safety_code}.")
    cast.say(f"The secretary created hers;       safety code {aiko.card.safety_code}.")


def _vault(cast: _Cast) -> None:
    _step(cast.say, "2. The client creates a vault and adds a credential with 2FA")
    cast.client.create_vault(cast.folder, "acme")
    cast.password = "demo-" + secrets.token_urlsafe(10)
    item = empty_payload()
    item["title"] = "GitHub"
    item["username"] = "acme-admin"
    item["url"] = "https://github.com/login"
    item["password"] = cast.password
    item["totp"] = f"otpauth://totp/GitHub:acme?secret={DEMO_SEED}"
    cast.item_id = cast.client.session("acme").add(item)
    logs = sorted(p.name for p in (cast.folder / "logs").iterdir())
    cast.say(
        "Added 'GitHub'. On disk in the shared folder there is no title, user name or password:"
    )
    cast.say(f"  {logs} hold only signed, encrypted events.")


def _cards(cast: _Cast) -> None:
    _step(cast.say, "3. Cards are exchanged; safety codes compared by phone")
    card = Card.from_armor(cast.secretary.card().armor())
    cast.say(f"The secretary sent her card by chat; it shows safety code {card.safety_code}.")
    cast.say("They read the codes to each other by phone: they match, so the client adds her.")
    sess = cast.client.session("acme")
    sharing.add_member(sess, card, "aiko")
    expires = parse_expiry("30d", cast.client.clock())
    sharing.share(sess, cast.item_id, sharing.member_by_name(sess, "aiko"), expires)
    cast.say(
        "Shared only 'GitHub' with aiko, for 30 days. Nothing else in the vault is visible to her."
    )


def _retrieval(cast: _Cast) -> None:
    _step(cast.say, "4. The secretary opens the folder and retrieves what she needs")
    owner_code = cast.client.card().safety_code
    cast.secretary.add_shared_vault(cast.folder, "acme", owner_code, None)
    sec = cast.secretary.session("acme")
    cast.say(f"She sees: {sorted(sec.titles().values())}")
    got = sec.reveal(sec.find("GitHub"), ["password"], "monthly invoices")["password"]
    cast.say(
        "She ran 'takusu get GitHub --reason \"monthly invoices\"' and got the password"
        + (" (it matches)." if got == cast.password else " (MISMATCH!)")
    )
    code = sec.otp(sec.find("GitHub"), "login 2FA")
    cast.say(f"And the current 2FA code: {code.code} ({code.seconds_left}s left).")
    cast.say("Before showing anything, her takusu wrote a signed receipt to her own log.")


def _audit(cast: _Cast) -> None:
    _step(cast.say, "5. The client reads the audit trail")
    sess = cast.client.session("acme")
    for row in timeline(sess):
        cast.say("  " + describe(row))
    report = verify(sess.store, sess.loaded)
    cast.say(
        f"'takusu audit verify': {len(report.logs)} logs, {report.receipts} receipts, "
        f"{'all signatures and links verify' if report.ok else 'PROBLEMS FOUND'}."
    )
    if not report.ok:
        raise TakusuError("the demo's audit did not verify")


def _revocation(cast: _Cast) -> None:
    _step(cast.say, "6. The contract ends: the client revokes")
    sess = cast.client.session("acme")
    sharing.revoke(sess, cast.item_id, sharing.member_by_name(sess, "aiko"), "revoked by owner")
    cast.say("Revoked: the item was re-keyed with a fresh data key that aiko does not have.")
    try:
        cast.secretary.session("acme").find("GitHub")
        raise TakusuError("the secretary could still find the item after revocation")
    except AccessRevoked as exc:
        cast.say(f"Her takusu now says: {exc.message}")
    for row in sharing.rotation_checklist(sess):
        seen = "she retrieved it" if row["retrieved"] else "never retrieved"
        cast.say(
            f"What she saw cannot be unseen: rotate '{row['title']}' at {row['url']} ({seen})."
        )
    sharing.rotate(sess, cast.item_id, {"password": "demo-" + secrets.token_urlsafe(10)})
    cast.say("The client changed the password at the site and recorded it: 'takusu rotate GitHub'.")
    cast.say("The exposed mark is cleared.")
