"""The people a vault's items can be shared with: `member add`, `member list`, `member remove`."""

from __future__ import annotations

from typing import Any

import click

from vault.i18n import _

from .common import ReadableFile, complete_members, json_option, session, yes_option
from .items import shown
from .sharing import print_checklist
from .term import confirm_destructive, confirm_fn, emit_json, info, interactive, out, table


@click.group()
def member() -> None:
    """Add, list and remove the people a vault's items can be shared with."""


@member.command("add")
@click.argument("cardfile", type=ReadableFile("rb"))
@click.option("--name", required=True, help="Short name to use for them (e.g. aiko).")
@click.option("--safety-code", metavar="CODE", help="The code they read you; must match.")
@click.pass_context
def member_add(ctx: click.Context, cardfile: Any, name: str, safety_code: str | None) -> None:
    """Add the person whose card is in CARDFILE ('-' for stdin) after comparing codes."""
    from vault.identity import Card
    from vault.sharing import check_member_name
    from vault.trust import trust_new_member

    check_member_name(name)  # before the card is read and the passphrase asked
    if getattr(cardfile, "name", "") in ("-", "<stdin>") and interactive():
        info(_("Paste the card, then press Ctrl-D on a new line:"))
    new = Card.from_armor(cardfile.read(64 << 10).decode("utf-8", errors="replace"))
    trust_new_member(session(ctx), new, name, safety_code, confirm_fn(), info)
    out(
        _("Added {name} ({id}); safety code {code}").format(
            name=name, id=new.id[:8], code=new.safety_code
        )
    )


@member.command("list")
@json_option
@click.pass_context
def member_list(ctx: click.Context, as_json: bool) -> None:
    """Members with id prefix, safety code and what each can read."""
    from vault.views import member_rows

    rows = member_rows(session(ctx))
    if as_json:
        emit_json(rows)
        return
    lines = []
    for r in rows:
        reads = ", ".join(
            _("{name} ({scope})").format(name=title, scope=shown(scope))
            for title, scope in r["scopes"].items()
        )
        can_read = _("can read: {items}").format(items=reads) if reads else _("can read nothing")
        lines.append([r["name"], r["id"][:8], r["safety_code"], can_read])
    table(lines)


@member.command("remove")
@click.argument("name", shell_complete=complete_members)
@click.option("--revoke-all", is_flag=True, help="Revoke everything they can read first.")
@yes_option
@click.pass_context
def member_remove(ctx: click.Context, name: str, revoke_all: bool, yes: bool) -> None:
    """Remove a member (refused while they still have grants, unless --revoke-all). Asks
    first on a terminal."""
    from vault.sharing import member_by_name, remove_member

    sess = session(ctx)
    sess.require_owner()
    member_by_name(sess, name)
    if revoke_all:
        question = _("Take back everything from {name} and remove them?").format(name=name)
    else:
        question = _("Remove {name} from this vault?").format(name=name)
    confirm_destructive(question, yes)
    rows = remove_member(sess, name, revoke_all)
    out(_("Removed {name}").format(name=name))
    print_checklist(rows)


COMMANDS = [member]
