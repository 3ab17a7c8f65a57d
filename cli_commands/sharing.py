"""Sharing one item, taking it back, and what to change after: share, revoke, offboard, rotate."""

from __future__ import annotations

import shlex
from typing import Any

import click

from vault.errors import UsageError

from .common import (
    complete_members,
    complete_titles,
    generate_option,
    json_option,
    read_secrets,
    session,
    yes_option,
)
from .term import confirm_destructive, emit_json, out, say


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
        raise UsageError("--fields names at least one field")
    otp = None
    if otp_hours is not None:
        if chosen is not None and "totp" in chosen:
            raise UsageError("share either the 2FA seed (--fields totp) or 2FA codes (--otp-hours)")
        zone = tz or local_zone_name()
        parse_zone(zone)
        otp = {"hours": parse_hours(otp_hours).to_json(), "zone": zone, "days": otp_days}
    elif tz is not None:
        raise UsageError("--tz goes with --otp-hours")
    return when, chosen, otp


def report_share(sess: Any, item_id: str, name: str, done: Any) -> None:
    """What a share did, in plain words: scope, expiry, code windows, what it replaced."""
    from vault.clock import parse_time, shown_time

    title = sess.payload(item_id)["title"]
    what = "all of it" if done.scope is None else ", ".join(done.scope["fields"]) or "the title"
    until = f" until {shown_time(parse_time(done.expires))}" if done.expires else ""
    out(f"Shared {title} with {name} ({what}){until}")
    otp = done.scope.get("otp") if done.scope else None
    if otp is not None:
        from vault.codewindow import Hours

        hours = Hours.from_json(otp["hours"]).describe()
        out(f"  2FA codes for {hours} ({otp['zone']}), {otp['days']} days ahead; no seed")
        if done.codes_until:
            say(
                f"hint: her codes run until {shown_time(parse_time(done.codes_until))}; takusu "
                "tops them up whenever you run it, and if you do not, her 2FA access ends then"
            )
    before = done.before
    if before is not None:
        was = "all of it" if "scope" not in before else ", ".join(before["scope"]["fields"])
        say(f"this replaces the earlier share ({was}, expiry {before['expires'] or 'none'})")


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
    """Take one item back from a member (re-keys it; marks it exposed)."""
    from vault.sharing import member_by_name
    from vault.sharing import revoke as do_revoke

    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    name = sess.payload(item_id)["title"]
    done = do_revoke(sess, item_id, member_by_name(sess, from_), "revoked by owner")
    out(f"Revoked {from_}'s access to {name}; it was re-keyed.")
    say(
        f"hint: {from_} may already know this secret: change it at the site, then "
        f"record it with: takusu rotate {shlex.quote(name)}"
    )
    if "codes_until" in done:
        say_codes_still_valid(from_, done["codes_until"])


def say_codes_still_valid(name: str, until: str) -> None:
    from vault.clock import parse_time, shown_time

    say(
        f"hint: the 2FA codes already delivered to {name} stay valid until "
        f"{shown_time(parse_time(until))}; resetting 2FA at the site ends them sooner"
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
    confirm_destructive(f"Take back everything from {name} and remove them?", yes)
    rows = do_offboard(sess, name)
    if as_json:
        emit_json(rows)
        return
    out(f"Offboarded {name}: all access revoked, member removed.")
    print_checklist(rows)


def print_checklist(rows: list[dict[str, Any]]) -> None:
    from vault.audit import FIELD_WORDS
    from vault.clock import parse_time, shown_time

    if not rows:
        return
    out("Change these (most urgent first):")
    for r in rows:
        words = ", ".join(FIELD_WORDS.get(f, f) for f in r["fields"] if f != "title")
        seen = (
            f"retrieved {words}, first {shown_time(parse_time(r['first_retrieved']))}, "
            f"latest {shown_time(parse_time(r['last_retrieved']))}"
            if r["retrieved"]
            else "never retrieved, as far as her takusu reported"
        )
        gone = "  (deleted here; still change it at the site)" if r.get("deleted") else ""
        out(f"  - {r['title']}  {r['url'] or ''}  [{seen}]{gone}")
        if r.get("seed_seen"):
            out("      2FA seed seen: she can make codes at will until you reset 2FA at the site")
        if r.get("codes_until"):
            until = shown_time(parse_time(r["codes_until"]))
            out(f"      2FA codes she was given stay valid until {until}")


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
        raise UsageError("give the new secret: --generate, --password-stdin, --totp or a terminal")
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    done = do_rotate(sess, item_id, changes)
    title = sess.payload(item_id)["title"]
    if not done.fields:
        out(f"{title}: this secret is already recorded; nothing changed")
        return
    out(f"Rotated {title} ({', '.join(done.fields)}); its mark as seen is cleared")
    if done.seed_still_seen_by:
        say(
            f"hint: {', '.join(done.seed_still_seen_by)} saw the 2FA seed, which was not "
            f"rotated: reset 2FA at the site, then: takusu rotate {shlex.quote(title)} --totp"
        )


COMMANDS = [share, revoke, offboard, rotate]
