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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import delegation, sharing
from .audit import describe, timeline, verify
from .clock import parse_expiry, parse_time, shown_time
from .codewindow import parse_hours
from .errors import AccessRevoked, NoCodeNow, NotShared, TakusuError
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
    for scene in (_people, _vault, _cards, _retrieval, _audit, _revocation, _delegation):
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


def _delegation(cast: _Cast) -> None:
    _step(cast.say, "7. Trusting less: the password only, and 2FA codes for office hours")
    monday = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # a Monday, 10:00 in Tokyo
    cast.client.clock = cast.secretary.clock = lambda: monday
    sess = cast.client.session("acme")
    bank = empty_payload()
    bank["title"] = "Bank"
    bank["username"] = "acme-corp"
    bank["password"] = "demo-" + secrets.token_urlsafe(10)
    bank["totp"] = f"otpauth://totp/Bank:acme?secret={DEMO_SEED}"
    bank_id = sess.add(bank)
    hours = {"hours": parse_hours("Mon-Fri 09:00-18:00").to_json(), "zone": "Asia/Tokyo", "days": 7}
    aiko = sharing.member_by_name(sess, "aiko")
    done = sharing.share(sess, bank_id, aiko, None, fields=["password"], otp=hours)  # type: ignore[arg-type]
    cast.say(
        "'takusu share Bank --with aiko --fields password --otp-hours \"Mon-Fri 09:00-18:00\"'"
    )
    cast.say("She gets the password, and a week of 2FA codes for office hours; never the seed.")
    sec = cast.secretary.session("acme")
    code = sec.otp(sec.find("Bank"), "bank login")
    cast.say(f"Monday 10:00 in Tokyo she logs in: 'takusu otp Bank' gives {code.code}.")
    try:
        sec.reveal(sec.find("Bank"), ["totp"], None)
        raise TakusuError("the secretary could read the 2FA seed")
    except NotShared as exc:
        cast.say(f"Asking for the seed: {exc.message}")
    _request_and_approve(cast)
    later = monday + timedelta(days=8)
    cast.client.clock = cast.secretary.clock = lambda: later
    try:
        sec = cast.secretary.session("acme")
        sec.otp(sec.find("Bank"), None)
        raise TakusuError("the codes did not stop")
    except NoCodeNow as exc:
        cast.say(f"Eight days on, the client has not run takusu: {exc.message}")
    ended = shown_time(parse_time(done.codes_until)) if done.codes_until else "at the horizon"
    cast.say(f"Her 2FA access ended by itself when her codes ran out ({ended}).")


def _request_and_approve(cast: _Cast) -> None:
    sess = cast.client.session("acme")
    shop = empty_payload()
    shop["title"] = "Amazon Seller"
    shop["password"] = "demo-" + secrets.token_urlsafe(10)
    sess.add(shop)
    sec = cast.secretary.session("acme")
    asked = delegation.request(sec, "the Amazon seller login", "monthly report", timedelta(days=2))
    cast.say(f"She cannot see other titles, so she asks in her own words: request {asked}.")
    sess = cast.client.session("acme")
    (pending,) = [r for r in delegation.requests(sess) if r.status == "pending"]
    cast.say(f"The client reads it: {pending.text!r} ({pending.reason}).")
    delegation.approve(sess, pending.id, sess.find("Amazon Seller"), None)
    sec = cast.secretary.session("acme")
    got = sec.reveal(sec.find("Amazon Seller"), ["password"], "monthly report")
    cast.say(
        "'takusu approve' shares it for the two days she asked; she can read it now"
        + (" (it matches)." if got["password"] == shop["password"] else ".")
    )
