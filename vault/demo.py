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
from .audit import table, timeline, verify
from .clock import parse_expiry, parse_time, shown_time
from .codewindow import parse_hours
from .errors import AccessRevoked, NoCodeNow, NotShared, TakusuError
from .i18n import _
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
    say("")
    say(
        _("That is the whole story. The temporary folder {path} has been removed.").format(
            path=root
        )
    )


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
    say(
        _(
            "A short story in a temporary folder: a client hands one login to a secretary, "
            "and takes it back. Nothing on this computer is touched."
        )
    )
    for scene in (_people, _vault, _cards, _retrieval, _audit, _revocation, _delegation):
        scene(cast)


def _people(cast: _Cast) -> None:
    _step(cast.say, _("1. Two people, two computers"))
    me, _kit = cast.client.init(_("Acme client"))
    aiko, _kit = cast.secretary.init(_("Aiko (secretary)"))
    cast.say(
        _("The client sets up takusu. Safety code of the client: {code}").format(
            code=me.card.safety_code
        )
    )
    cast.say(
        _("The secretary sets up takusu too. Safety code of the secretary: {code}").format(
            code=aiko.card.safety_code
        )
    )


def _vault(cast: _Cast) -> None:
    _step(cast.say, _("2. The client makes a vault and puts a login with 2FA in it"))
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
        _(
            "The client adds 'GitHub'. The shared folder holds no title, user name or "
            "password anyone could read:"
        )
    )
    cast.say(_("  {files} holds only signed, locked records.").format(files=_(", ").join(logs)))


def _cards(cast: _Cast) -> None:
    _step(cast.say, _("3. They swap cards and compare safety codes by phone"))
    card = Card.from_armor(cast.secretary.card().armor())
    cast.say(
        _("The secretary sends her card by chat. It shows the safety code {code}.").format(
            code=card.safety_code
        )
    )
    cast.say(
        _(
            "They read the codes to each other on the phone. They match, so the client "
            "adds her as a member."
        )
    )
    sess = cast.client.session("acme")
    sharing.add_member(sess, card, "aiko")
    expires = parse_expiry("30d", cast.client.clock())
    sharing.share(sess, cast.item_id, sharing.member_by_name(sess, "aiko"), expires)
    cast.say(
        _(
            "The client shares only 'GitHub' with aiko, for 30 days. Nothing else in the "
            "vault is visible to aiko."
        )
    )


def _retrieval(cast: _Cast) -> None:
    _step(cast.say, _("4. The secretary opens the folder and takes out what she needs"))
    owner_code = cast.client.card().safety_code
    cast.secretary.add_shared_vault(cast.folder, "acme", owner_code, None)
    sec = cast.secretary.session("acme")
    shown = _(", ").join(_("'{title}'").format(title=t) for t in sorted(sec.titles().values()))
    cast.say(_("All she can see: {titles}").format(titles=shown))
    reason = _("monthly invoices")
    got = sec.reveal(sec.find("GitHub"), ["password"], reason)["password"]
    if got != cast.password:
        raise TakusuError(_("the demo's password did not come back the same"))
    command = f'takusu get GitHub --reason "{reason}"'
    cast.say(_("She runs '{command}' and gets the password (it matches).").format(command=command))
    code = sec.otp(sec.find("GitHub"), _("login 2FA"))
    cast.say(
        _("And the 2FA code for right now: {code} ({seconds} seconds left).").format(
            code=code.code, seconds=code.seconds_left
        )
    )
    cast.say(
        _(
            "Before showing her anything, her takusu signed a record of this retrieval "
            "and added it to her own log."
        )
    )


def _audit(cast: _Cast) -> None:
    _step(cast.say, _("5. The client reads the audit trail"))
    sess = cast.client.session("acme")
    for line in table(timeline(sess)):
        cast.say("  " + line if line else "")
    report = verify(sess.store, sess.loaded)
    if not report.ok:
        raise TakusuError(_("the demo's audit did not verify"))
    cast.say(
        _(
            "'takusu audit verify' checked {logs} logs and {records} retrieval records: "
            "every signature and link is in order."
        ).format(logs=len(report.logs), records=report.receipts)
    )


def _revocation(cast: _Cast) -> None:
    _step(cast.say, _("6. The contract ends: the client stops sharing"))
    sess = cast.client.session("acme")
    aiko = sharing.member_by_name(sess, "aiko")
    sharing.revoke(sess, cast.item_id, aiko, _("the contract ended"))
    cast.say(
        _("Sharing stopped. takusu locked 'GitHub' again with a new key, one aiko does not have.")
    )
    try:
        cast.secretary.session("acme").find("GitHub")
        raise TakusuError(_("the secretary could still find the item after it was revoked"))
    except AccessRevoked as exc:
        cast.say(_("Her takusu now tells her: {message}").format(message=exc.message))
    for row in sharing.rotation_checklist(sess):
        if row["retrieved"]:
            text = _(
                "What she saw cannot be unseen, so change the password of '{title}' at "
                "{url} (she took it out)."
            )
        else:
            text = _(
                "What she could see cannot be unseen, so change the password of '{title}' "
                "at {url} (she never took it out)."
            )
        cast.say(text.format(title=row["title"], url=row["url"] or "?"))
    sharing.rotate(sess, cast.item_id, {"password": "demo-" + secrets.token_urlsafe(10)})
    cast.say(
        _(
            "The client changes the password on the site, then records it with "
            "'takusu rotate GitHub'."
        )
    )
    cast.say(_("The exposed mark is cleared."))


def _delegation(cast: _Cast) -> None:
    _step(cast.say, _("7. Trusting less: the password only, and 2FA codes for office hours"))
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
    command = 'takusu share Bank --with aiko --fields password --otp-hours "Mon-Fri 09:00-18:00"'
    cast.say(_("The client runs '{command}'.").format(command=command))
    cast.say(
        _(
            "The secretary gets the password and a week of 2FA codes for office hours, "
            "but never the 2FA seed itself."
        )
    )
    sec = cast.secretary.session("acme")
    code = sec.otp(sec.find("Bank"), _("bank login"))
    cast.say(
        _("Monday, 10:00 in Tokyo: she logs in, and 'takusu otp Bank' gives {code}.").format(
            code=code.code
        )
    )
    try:
        sec.reveal(sec.find("Bank"), ["totp"], None)
        raise TakusuError(_("the secretary could read the 2FA seed"))
    except NotShared as exc:
        cast.say(_("If she asks for the seed: {message}").format(message=exc.message))
    _request_and_approve(cast)
    later = monday + timedelta(days=8)
    cast.client.clock = cast.secretary.clock = lambda: later
    try:
        sec = cast.secretary.session("acme")
        sec.otp(sec.find("Bank"), None)
        raise TakusuError(_("the 2FA codes did not stop"))
    except NoCodeNow as exc:
        cast.say(
            _("Eight days later, without the client doing anything: {message}").format(
                message=exc.message
            )
        )
    if done.codes_until:
        ended = shown_time(parse_time(done.codes_until))
        cast.say(
            _("Her 2FA access ended by itself when her codes ran out ({time}).").format(time=ended)
        )
    else:
        cast.say(_("Her 2FA access ended by itself when her codes ran out."))


def _request_and_approve(cast: _Cast) -> None:
    sess = cast.client.session("acme")
    shop = empty_payload()
    shop["title"] = "Amazon Seller"
    shop["password"] = "demo-" + secrets.token_urlsafe(10)
    sess.add(shop)
    sec = cast.secretary.session("acme")
    words, why = _("the Amazon seller login"), _("monthly report")
    asked = delegation.request(sec, words, why, timedelta(days=2))
    cast.say(
        _(
            "She cannot see the vault's other titles, so she asks in her own words "
            "(request {request})."
        ).format(request=asked)
    )
    sess = cast.client.session("acme")
    (pending,) = [r for r in delegation.requests(sess) if r.status == "pending"]
    cast.say(
        _("The client reads her request: '{text}' (reason: {reason}).").format(
            text=pending.text, reason=pending.reason
        )
    )
    delegation.approve(sess, pending.id, sess.find("Amazon Seller"), None)
    sec = cast.secretary.session("acme")
    got = sec.reveal(sec.find("Amazon Seller"), ["password"], why)
    if got["password"] != shop["password"]:
        raise TakusuError(_("the demo's password did not come back the same"))
    cast.say(
        _(
            "With 'takusu approve' the client shares it for the two days she asked for; "
            "she can read it now (it matches)."
        )
    )
