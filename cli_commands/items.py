"""The owner's items and what anyone can read: add, edit, rm, list, show, get, otp."""

from __future__ import annotations

import json
import shlex
from typing import Any

import click

from vault.errors import UsageError

from .common import (
    StdinLines,
    complete_titles,
    field_options,
    json_option,
    read_fields,
    read_secrets,
    secret_options,
    session,
    session_for,
    yes_option,
)
from .term import confirm_destructive, emit_json, info, interactive, out, out_value, table


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option("--username", help="Login name (not secret).")
@click.option("--url", help="Where to log in.")
@click.option("--note", help="A note (not for secrets: use stdin options for those).")
@field_options
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@secret_options
@click.pass_context
def add(ctx: click.Context, title: str, **given: Any) -> None:
    """Add a credential. The password comes from a prompt, stdin or --generate."""
    from vault.item import empty_payload, validate

    plain = empty_payload()
    plain.update(title=title, username=given["username"], url=given["url"], notes=given["note"])
    validate(plain)  # a bad title is said before any password is asked
    changes = item_input(given, ask_password=True, title=title)
    payload = empty_payload()
    payload.update(title=title, **changes)  # type: ignore[typeddict-item]
    payload = validate(payload)  # before the passphrase is asked: nothing secret needed
    sess = session(ctx)
    sess.add(payload)
    out(f"Added {title}" + (" (password generated)" if given["generate"] is not None else ""))


def item_input(
    given: dict[str, Any], ask_password: bool, title: str | None = None
) -> dict[str, Any]:
    """The item fields `add` and `edit` were given: secrets from stdin, the generator or
    hidden prompts, custom fields, and the plain options that were set."""
    lines = StdinLines()
    changes: dict[str, Any] = read_secrets(
        given["password_stdin"],
        given["generate"],
        given["totp_prompt"],
        given["totp_stdin"],
        ask_password=ask_password,
        lines=lines,
        for_title=title,
    )
    fields = read_fields(given["fields"], given["field_prompt"], given["field_stdin"], lines)
    if fields:
        changes["fields"] = fields
    for key, option in (("title", "new_title"), ("username", "username"), ("url", "url")):
        if given.get(option) is not None:
            changes[key] = given[option]
    if given.get("note") is not None:
        changes["notes"] = given["note"]
    if given["tags"]:
        changes["tags"] = sorted(set(given["tags"]))
    return changes


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option("--title", "new_title", help="Rename the item.")
@click.option("--username")
@click.option("--url")
@click.option("--note")
@field_options
@click.option("--tag", "tags", multiple=True)
@click.option("--new-password", is_flag=True, help="Ask for a new password at a hidden prompt.")
@secret_options
@click.pass_context
def edit(ctx: click.Context, title: str, **given: Any) -> None:
    """Change an item; every current grantee gets the new version."""
    changes = item_input(given, ask_password=given["new_password"], title=title)
    custom = changes.pop("fields", {})
    if not changes and not custom:
        raise UsageError("nothing to change")
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    sess.edit(item_id, changes, custom)
    out(f"Updated {changes.get('title', sess.payload(item_id)['title'])}")


@click.command()
@click.argument("title", shell_complete=complete_titles)
@yes_option
@click.pass_context
def rm(ctx: click.Context, title: str, yes: bool) -> None:
    """Delete an item (its history stays in the signed log). Asks first on a terminal."""
    import unicodedata

    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    name = sess.payload(item_id)["title"]
    exact = unicodedata.normalize("NFC", title).casefold() == name.casefold()
    if not exact and not yes and not interactive():
        raise UsageError(f"{title!r} is only the start of {name!r}: give the whole title, or --yes")
    question = f"Delete {name!r}?" if exact else f"Delete {name!r} (the title starting {title!r})?"
    confirm_destructive(question, yes)
    sess.remove(item_id)
    out(f"Deleted {name}")


@click.command("list")
@json_option
@click.pass_context
def list_items(ctx: click.Context, as_json: bool) -> None:
    """What I can read in this vault."""
    from vault.clock import parse_time, shown_time
    from vault.views import item_rows

    sess = session(ctx)
    rows = item_rows(sess)
    if as_json:
        emit_json(rows)
        return
    if not sess.is_owner and not rows:
        _say_why_nothing(sess)
    lines = []
    for r in rows:
        notes = []
        if sess.is_owner:
            if r["shared_with"]:
                notes.append(f"shared with: {', '.join(r['shared_with'])}")
            if r["exposed_to"]:
                notes.append(f"EXPOSED to {', '.join(r['exposed_to'])}: rotate")
            lines.append([r["title"], r["username"] or "", "  ".join(notes)])
        else:
            if r["scope"] != "all of it":
                notes.append(f"(only: {r['scope']})")
            if r["expires"]:
                notes.append(f"(until {shown_time(parse_time(r['expires']))})")
            lines.append([r["title"], "  ".join(notes)])
    table(lines)


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option("--reveal", is_flag=True, help="Show the password and TOTP seed too.")
@json_option
@click.option("--reason", help="Why (recorded with the retrieval, for the owner to see).")
@click.pass_context
def show(ctx: click.Context, title: str, reveal: bool, as_json: bool, reason: str | None) -> None:
    """An item's details; secrets only with --reveal."""
    from vault.views import item_details

    sess = session(ctx)
    item_id = sess.find(title)
    info = item_details(sess, item_id, reveal, reason)
    if as_json:
        emit_json(info)
        return
    if info.get("updated"):
        from vault.clock import parse_time, shown_time

        info["updated"] = shown_time(parse_time(info["updated"]))
    for key in ("title", "username", "url", "password", "totp", "notes", "version", "updated"):
        if info.get(key) not in (None, ""):
            out(f"{key + ':':<10} {info[key]}")
    for key, value in info["fields"].items():
        out(f"{key + ':':<10} {value}")
    if info.get("tags"):
        out(f"{'tags:':<10} {', '.join(info['tags'])}")
    if info.get("shared_with"):
        scopes = info.get("scopes", {})
        out(
            "shared:    "
            + ", ".join(
                f"{n} ({scopes.get(n, 'all of it')})" + (f" until {e}" if e else "")
                for n, e in info["shared_with"].items()
            )
        )
    for who, since in (info.get("exposed") or {}).items():
        out(
            f"EXPOSED:   {who} could read it until {since}; "
            f"rotate it: takusu rotate {shlex.quote(info['title'])}"
        )


clip_option = click.option(
    "--clip", is_flag=True, help="Copy it to the clipboard (cleared after 45 s) instead."
)


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.argument("field", default="password")
@click.option("--reason", help="Why (recorded with the retrieval, for the owner to see).")
@clip_option
@click.pass_context
def get(ctx: click.Context, title: str, field: str, reason: str | None, clip: bool) -> None:
    """Print one field (password by default) to stdout, or copy it (--clip)."""
    tool = clip_tool() if clip else None  # before a receipt is written for nothing
    sess, item_id = session_for(ctx, title)
    value = sess.reveal(item_id, [field], reason)[field]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if tool is not None:
        copied(text, f"the {field}")
        return
    out_value(text)


def clip_tool() -> Any:
    """The clipboard tool that will be used; UserError naming what to install if none."""
    from vault import cliptools

    return cliptools.choose_tool()


def copied(value: str, what: str) -> None:
    from vault.clipboard import copy

    done = copy(value)
    when = f"; cleared in {done.seconds} s unless you copy something else" if done.seconds else ""
    info(f"Copied {what} to the clipboard{when}.")


@click.command()
@click.argument("title", shell_complete=complete_titles)
@click.option("--reason", help="Why (recorded with the retrieval).")
@clip_option
@click.pass_context
def otp(ctx: click.Context, title: str, reason: str | None, clip: bool) -> None:
    """The current 2FA code (stdout, or the clipboard with --clip) and the seconds it has
    left (stderr); with fewer than 5 seconds left it waits for the next code."""
    tool = clip_tool() if clip else None
    sess, item_id = session_for(ctx, title)
    code = sess.otp(item_id, reason, wait_below=5, waiting=_waiting)
    if tool is not None:
        copied(code.code, "the 2FA code")
    else:
        out(code.code)
    info(f"({code.seconds_left}s left)")


def _say_why_nothing(sess: Any) -> None:
    """A member with nothing to list: not added yet, access ended, or nothing shared."""
    from vault.clock import parse_time, shown_time

    me = sess.state["members"].get(sess.me.id)
    owner, name = sess.owner_card.name, sess.entry["name"]
    if me is None:
        info(f"{owner} has not added you to {name} yet: send them your card (takusu card).")
    elif me["removed"]:
        when = shown_time(parse_time(me["removed_at"])) if me["removed_at"] else "earlier"
        info(f"Your access to {name} ended ({when}).")
        info(f"'takusu vault forget {name}' removes it from this machine.")
    else:
        info(f"{owner} has not shared anything with you in {name} yet.")


def _waiting(seconds: int) -> None:
    info(f"the current code has {seconds}s left; waiting for the next one")


COMMANDS = [add, edit, rm, list_items, show, get, otp]
