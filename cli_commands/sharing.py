"""Sharing one item, taking it back, and what to change after: share, revoke, offboard, rotate."""

from __future__ import annotations

import shlex
from typing import Any

import click

from vault import i18n
from vault.errors import UsageError
from vault.i18n import N_, _, ngettext

from .common import (
    complete_members,
    complete_titles,
    generate_option,
    json_option,
    read_secrets,
    session,
    yes_option,
)
from .term import confirm_destructive, emit_json, hint, out, say


def share_options(fn: Any) -> Any:
    """The options of a grant: expiry, a field scope, 2FA code windows (share, approve)."""
    for option in reversed(
        [
            click.option(
                "--expires", metavar="WHEN", help="7d, 12h, 2w, 3mo, or a date like 2026-12-31."
            ),
            click.option(
                "--fields",
                metavar="F,F",
                help="Share only these fields (e.g. password,username); default: all.",
            ),
            click.option(
                "--otp-hours",
                metavar="HOURS",
                help='2FA codes for these hours instead of the seed ("Mon-Fri 09:00-18:00").',
            ),
            click.option(
                "--otp-days",
                type=click.IntRange(1, 31),
                default=7,
                show_default=True,
                help="How many days of codes to deliver ahead.",
            ),
            click.option("--tz", metavar="ZONE", help="The zone of the hours (default: yours)."),
        ]
    ):
        fn = option(fn)
    return fn


def grant_options(
    expires: str | None, fields: str | None, otp_hours: str | None, otp_days: int, tz: str | None
) -> tuple[str | None, list[str] | None, dict[str, Any] | None]:
    """(expiry, fields, code windows) from the share options, checked before anything is
    unlocked."""
    from vault.clock import parse_expiry, system_clock
    from vault.codewindow import local_zone_name, parse_hours, parse_zone

    when = parse_expiry(expires, system_clock()) if expires else None
    chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields is not None else None
    if chosen is not None and not chosen:
        raise UsageError(_("--fields names at least one field"))
    otp = None
    if otp_hours is not None:
        if chosen is not None and "totp" in chosen:
            raise UsageError(
                _("share either the 2FA seed (--fields totp) or 2FA codes (--otp-hours)")
            )
        zone = tz or local_zone_name()
        parse_zone(zone)
        otp = {"hours": parse_hours(otp_hours).to_json(), "zone": zone, "days": otp_days}
    elif tz is not None:
        raise UsageError(_("--tz goes with --otp-hours"))
    return when, chosen, otp


# What a share covers, with and without an expiry: {member}, {title}, {fields}, {until}.
SHARED = {
    ("all", False): N_("Shared {title} with {member} (all of it)"),
    ("all", True): N_("Shared {title} with {member} (all of it) until {until}"),
    ("fields", False): N_("Shared {title} with {member} ({fields})"),
    ("fields", True): N_("Shared {title} with {member} ({fields}) until {until}"),
    ("title", False): N_("Shared {title} with {member} (only the title)"),
    ("title", True): N_("Shared {title} with {member} (only the title) until {until}"),
}
# The share a new one replaced: {fields}, {until}.
REPLACED = {
    ("all", False): N_("this replaces the earlier share (all of it, no expiry)"),
    ("all", True): N_("this replaces the earlier share (all of it, until {until})"),
    ("fields", False): N_("this replaces the earlier share ({fields}, no expiry)"),
    ("fields", True): N_("this replaces the earlier share ({fields}, until {until})"),
    ("title", False): N_("this replaces the earlier share (only the title, no expiry)"),
    ("title", True): N_("this replaces the earlier share (only the title, until {until})"),
}


def _say(msgid: str) -> str:
    """A sentence of a table above, in the reader's language."""
    return i18n._(msgid)


def _scope_kind(scope: dict[str, Any] | None) -> tuple[str, str]:
    """("all" | "fields" | "title", the fields as a list for people)."""
    if scope is None:
        return "all", ""
    fields = ", ".join(scope["fields"])
    return ("fields", fields) if fields else ("title", "")


def report_share(sess: Any, item_id: str, name: str, done: Any) -> None:
    """What a share did, in plain words: scope, expiry, code windows, what it replaced."""
    from vault.clock import parse_time, shown_time

    title = sess.payload(item_id)["title"]
    kind, fields = _scope_kind(done.scope)
    until = shown_time(parse_time(done.expires)) if done.expires else ""
    out(
        _say(SHARED[kind, bool(done.expires)]).format(
            title=title, member=name, fields=fields, until=until
        )
    )
    otp = done.scope.get("otp") if done.scope else None
    if otp is not None:
        from vault.codewindow import Hours

        hours = Hours.from_json(otp["hours"]).describe()
        days = otp["days"]
        line = ngettext(
            "2FA codes for {hours} ({zone}), {n} day ahead; no seed",
            "2FA codes for {hours} ({zone}), {n} days ahead; no seed",
            days,
        ).format(hours=hours, zone=otp["zone"], n=days)
        out(f"  {line}")
        if done.codes_until:
            hint(
                _(
                    "the member's codes run until {until}; takusu tops them up whenever you run "
                    "it, and if you do not, the member's 2FA access ends then"
                ).format(until=shown_time(parse_time(done.codes_until)))
            )
    before = done.before
    if before is not None:
        kind, fields = _scope_kind(before["scope"] if "scope" in before else None)
        expires = before["expires"]
        until = shown_time(parse_time(expires)) if expires else ""
        say(_say(REPLACED[kind, bool(expires)]).format(fields=fields, until=until))


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option(
    "--with",
    "with_",
    required=True,
    metavar="NAME",
    help="The member to share with.",
    shell_complete=complete_members,
)
@share_options
@click.pass_context
def share(
    ctx: click.Context,
    title: str,
    with_: str,
    expires: str | None,
    fields: str | None,
    otp_hours: str | None,
    otp_days: int,
    tz: str | None,
) -> None:
    """Share one item with a member: all of it, or only some fields, or 2FA codes for
    working hours instead of the 2FA seed."""
    from vault.sharing import member_by_name
    from vault.sharing import share as do_share

    when, chosen, otp = grant_options(expires, fields, otp_hours, otp_days, tz)
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    member_id = member_by_name(sess, with_)
    done = do_share(sess, item_id, member_id, when, fields=chosen, otp=otp)  # type: ignore[arg-type]
    report_share(sess, item_id, with_, done)


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option(
    "--from",
    "from_",
    required=True,
    metavar="NAME",
    help="The member to revoke.",
    shell_complete=complete_members,
)
@click.pass_context
def revoke(ctx: click.Context, title: str, from_: str) -> None:
    """Take one item back from a member (new key; marks it exposed)."""
    from vault.sharing import member_by_name
    from vault.sharing import revoke as do_revoke

    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    name = sess.payload(item_id)["title"]
    done = do_revoke(sess, item_id, member_by_name(sess, from_), "revoked by owner")
    out(
        _("Revoked the access of {member} to {title}; it is locked again with a new key.").format(
            member=from_, title=name
        )
    )
    hint(
        _(
            "{member} may already know this secret: change it at the site, then "
            "record it with: {command}"
        ).format(member=from_, command=f"takusu rotate {shlex.quote(name)}")
    )
    if "codes_until" in done:
        say_codes_still_valid(from_, done["codes_until"])


def say_codes_still_valid(name: str, until: str) -> None:
    from vault.clock import parse_time, shown_time

    hint(
        _(
            "the 2FA codes already delivered to {member} stay valid until {until}; "
            "resetting 2FA at the site ends them sooner"
        ).format(member=name, until=shown_time(parse_time(until)))
    )


@click.command()
@click.argument("name", shell_complete=complete_members)
@json_option
@yes_option
@click.pass_context
def offboard(ctx: click.Context, name: str, as_json: bool, yes: bool) -> None:
    """Revoke everything from a member, remove them, and print what to rotate. Asks first
    on a terminal."""
    from vault.sharing import member_by_name
    from vault.sharing import offboard as do_offboard

    sess = session(ctx)
    sess.require_owner()
    member_by_name(sess, name)  # a name that is not a member is said before asking
    question = _("Take back everything from {name} and remove them?").format(name=name)
    confirm_destructive(question, yes)
    rows = do_offboard(sess, name)
    if as_json:
        emit_json(rows)
        return
    out(_("Offboarded {member}: all access revoked, member removed.").format(member=name))
    print_checklist(rows)


# A line of the offboarding checklist, by whether it is deleted here.
SEEN = {
    False: N_("- {title}  {url}  [retrieved {fields}, first {first}, latest {latest}]"),
    True: N_(
        "- {title}  {url}  [retrieved {fields}, first {first}, latest {latest}]"
        "  (deleted here; still change it at the site)"
    ),
}
NOT_SEEN = {
    False: N_("- {title}  {url}  [never retrieved, as far as the member's takusu reported]"),
    True: N_(
        "- {title}  {url}  [never retrieved, as far as the member's takusu reported]"
        "  (deleted here; still change it at the site)"
    ),
}


def _field_word(field: str) -> str:
    """A field as the checklist names it: "the 2FA seed" for totp; other names as they are."""
    from vault.audit import FIELD_WORDS

    return i18n._(FIELD_WORDS[field]) if field in FIELD_WORDS else field


def print_checklist(rows: list[dict[str, Any]]) -> None:
    from vault.clock import parse_time, shown_time

    if not rows:
        return
    out(_("Change these (most urgent first):"))
    for r in rows:
        words = ", ".join(_field_word(f) for f in r["fields"] if f != "title")
        url = r["url"] or ""
        if r["retrieved"]:
            line = _say(SEEN[bool(r.get("deleted"))]).format(
                title=r["title"],
                url=url,
                fields=words,
                first=shown_time(parse_time(r["first_retrieved"])),
                latest=shown_time(parse_time(r["last_retrieved"])),
            )
        else:
            line = _say(NOT_SEEN[bool(r.get("deleted"))]).format(title=r["title"], url=url)
        out(f"  {line}")
        if r.get("seed_seen") and "totp" in r["fields"]:
            seed = _("2FA seed seen: they can make codes at will until you reset 2FA at the site")
            out(f"      {seed}")
        elif r.get("seed_seen"):  # shared whole: the seed was readable, never reported read
            seed = _(
                "2FA seed readable: they could make codes at will until you reset 2FA at the site"
            )
            out(f"      {seed}")
        if r.get("codes_until"):
            until = shown_time(parse_time(r["codes_until"]))
            codes = _("2FA codes they were given stay valid until {until}").format(until=until)
            out(f"      {codes}")


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@generate_option("Generate the new password.")
@click.option("--totp", "totp_prompt", is_flag=True, help="Also a new TOTP seed (prompt).")
@click.option("--totp-stdin", is_flag=True, help="Also a new TOTP seed (stdin).")
@click.pass_context
def rotate(
    ctx: click.Context,
    title: str,
    password_stdin: bool,
    generate: int | None,
    totp_prompt: bool,
    totp_stdin: bool,
) -> None:
    """Record a new secret for an item; clears its exposed mark."""
    from vault.sharing import rotate as do_rotate
    from vault.sharing import rotation_asks_password

    asks = rotation_asks_password(totp_prompt or totp_stdin, password_stdin or generate is not None)
    changes = read_secrets(
        password_stdin, generate, totp_prompt, totp_stdin, ask_password=asks, for_title=title
    )
    if not changes:
        raise UsageError(
            _("give the new secret: --generate, --password-stdin, --totp or a terminal")
        )
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    done = do_rotate(sess, item_id, changes)
    title = sess.payload(item_id)["title"]
    if not done.fields:
        out(_("{title}: this secret is already recorded; nothing changed").format(title=title))
        return
    out(
        _("Rotated {title} ({fields}); its mark as seen is cleared").format(
            title=title, fields=", ".join(done.fields)
        )
    )
    if done.seed_still_seen_by:
        hint(
            _(
                "{members} saw the 2FA seed, which was not rotated: reset 2FA at the site, "
                "then: {command}"
            ).format(
                members=", ".join(done.seed_still_seen_by),
                command=f"takusu rotate {shlex.quote(title)} --totp",
            )
        )


COMMANDS = [share, revoke, offboard, rotate]
