"""The owner's items and what anyone can read: add, edit, rm, list, show, get, otp."""

from __future__ import annotations

import json
import shlex
from typing import Any

import click

from vault import i18n
from vault.errors import UsageError
from vault.i18n import N_, _

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
from .term import (
    confirm_destructive,
    emit_json,
    info,
    interactive,
    json_text,
    labelled,
    out,
    out_value,
    table_text,
)

# What `show` calls an item's fields (custom fields keep their own names).
LABELS = {
    "title": N_("title"),
    "username": N_("username"),
    "url": N_("web address"),
    "password": N_("password"),
    "totp": N_("2FA seed"),
    "notes": N_("notes"),
    "version": N_("version"),
    "updated": N_("updated"),
    "tags": N_("tags"),
}
# What vault.views puts for a value it does not show, and for a whole-item grant.
MARKERS = {"(hidden)": N_("(hidden)"), "(set)": N_("(set)"), "all of it": N_("all of it")}


def _say(msgid: str) -> str:
    """An already marked msgid (a table's), in the reader's language."""
    return i18n._(msgid)


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
    if given["generate"] is not None:
        out(_("Added {title} (password generated)").format(title=title))
    else:
        out(_("Added {title}").format(title=title))


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
        raise UsageError(_("nothing to change"))
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    sess.edit(item_id, changes, custom)
    out(_("Updated {title}").format(title=changes.get("title", sess.payload(item_id)["title"])))


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
        raise UsageError(
            _("{typed!r} is only the start of {title!r}: give the whole title, or --yes").format(
                typed=title, title=name
            )
        )
    if exact:
        question = _("Delete {title!r}?").format(title=name)
    else:
        question = _("Delete {title!r} (the title starting {typed!r})?").format(
            title=name, typed=title
        )
    confirm_destructive(question, yes)
    sess.remove(item_id)
    out(_("Deleted {title}").format(title=name))


@click.command("list")
@json_option
@click.pass_context
def list_items(ctx: click.Context, as_json: bool) -> None:
    """What I can read in this vault."""
    from vault import clock

    sess = session(ctx)
    if not sess.is_owner and not sess.in_order():
        _say_why_nothing(sess)
    # The listing is kept with what is readable (the agent lists 10,000 unchanged items
    # without building 10,000 rows again), per form, language and shown time zone.
    key = ("list", as_json, i18n.current(), clock.zone_key())
    text = sess.shown(key, lambda kept: _listing(sess, as_json, kept))
    if text:  # one write: a list of 10,000 rows is not 10,000 calls into click
        click.echo(text)


def _listing(sess: Any, as_json: bool, kept: dict[str, list[str]]) -> str:
    """The listing's text; the text form's cells are kept by item id in `kept` (see
    Session.shown), so only the rows of items that changed are built again."""
    from vault.clock import parse_time, shown_time
    from vault.views import item_rows

    if as_json:
        return json_text(item_rows(sess))
    order = sess.in_order()
    missing = [i for i in order if i not in kept]
    owner = sess.is_owner
    for r in item_rows(sess, only=missing) if missing else []:
        cells = [r["title"]]
        if owner:
            notes = []
            if r["shared_with"]:
                names = ", ".join(r["shared_with"])
                notes.append(_("shared with: {names}").format(names=names))
            if r["exposed_to"]:
                names = ", ".join(r["exposed_to"])
                notes.append(_("EXPOSED to {names}: rotate").format(names=names))
            cells += [r["username"] or "", "  ".join(notes)]
        else:
            notes = []
            grant = sess.state["items"][r["id"]]["grants"][sess.me.id]
            if grant.get("scope") is not None:  # a part of the item only
                notes.append(_("(only: {scope})").format(scope=r["scope"]))
            if r["expires"]:
                until = shown_time(parse_time(r["expires"]))
                notes.append(_("(until {time})").format(time=until))
            cells.append("  ".join(notes))
        kept[r["id"]] = cells
    return table_text([kept[i] for i in order])


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
    from vault.clock import shown_stamp as when

    if info.get("updated"):
        info["updated"] = when(info["updated"])
    rows: list[tuple[str, str]] = []
    for key in ("title", "username", "url", "password", "totp", "notes", "version", "updated"):
        if info.get(key) not in (None, ""):
            rows.append((_say(LABELS[key]), shown(info[key])))
    for key, value in info["fields"].items():
        rows.append((key, shown(value)))
    if info.get("tags"):
        rows.append((_say(LABELS["tags"]), ", ".join(info["tags"])))
    if info.get("shared_with"):
        scopes = info.get("scopes", {})
        shared = []
        for name, until in info["shared_with"].items():
            scope = shown(scopes.get(name) or "all of it")
            if until:
                shared.append(
                    _("{name} ({scope}) until {time}").format(
                        name=name, scope=scope, time=when(until)
                    )
                )
            else:
                shared.append(_("{name} ({scope})").format(name=name, scope=scope))
        rows.append((_("shared with"), ", ".join(shared)))
    rotate = f"takusu rotate {shlex.quote(info['title'])}"
    for who, since in (info.get("exposed") or {}).items():
        exposed = _("{name} could read it until {time}; change it at the site, then: {command}")
        rows.append((_("EXPOSED"), exposed.format(name=who, time=when(since), command=rotate)))
    out(*labelled(rows))


def shown(value: object) -> str:
    """A value from vault.views: its English markers ("(hidden)", "all of it") translated."""
    text = str(value)
    return _say(MARKERS[text]) if text in MARKERS else text


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
        if field == "password":
            copied(text, _("Copied the password to the clipboard."))
        else:
            message = _("Copied the field {field} to the clipboard.")
            copied(text, message.format(field=_say(LABELS[field]) if field in LABELS else field))
        return
    out_value(text)


def clip_tool() -> Any:
    """The clipboard tool that will be used; UserError naming what to install if none."""
    from vault import cliptools

    return cliptools.choose_tool()


def copied(value: str, message: str) -> None:
    """Copy `value`; `message` (translated) says what was copied, then when it is cleared."""
    from vault.clipboard import copy

    done = copy(value)
    info(message)
    if done.seconds:
        info(
            _("It is cleared in {seconds} s, unless you copy something else before.").format(
                seconds=done.seconds
            )
        )


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
        copied(code.code, _("Copied the 2FA code to the clipboard."))
    else:
        out(code.code)
    info(_("({seconds} s left)").format(seconds=code.seconds_left))


def _say_why_nothing(sess: Any) -> None:
    """A member with nothing to list: not added yet, access ended, or nothing shared."""
    from vault.clock import parse_time, shown_time

    me = sess.state["members"].get(sess.me.id)
    owner, name = sess.owner_card.name, sess.entry["name"]
    if me is None:
        info(
            _(
                "{owner} has not added you to {vault} yet: send them your card (takusu card)."
            ).format(owner=owner, vault=name)
        )
    elif me["removed"]:
        if me["removed_at"]:
            when = shown_time(parse_time(me["removed_at"]))
            info(_("Your access to {vault} ended ({time}).").format(vault=name, time=when))
        else:
            info(_("Your access to {vault} ended.").format(vault=name))
        info(_("'takusu vault forget {vault}' removes it from this machine.").format(vault=name))
    else:
        info(
            _("{owner} has not shared anything with you in {vault} yet.").format(
                owner=owner, vault=name
            )
        )


def _waiting(seconds: int) -> None:
    info(
        _("the current code has {seconds} s left; waiting for the next one").format(seconds=seconds)
    )


COMMANDS = [add, edit, rm, list_items, show, get, otp]
