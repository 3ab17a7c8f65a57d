"""Sharing one item, taking it back, and what to change after: share, revoke, offboard, rotate."""

from __future__ import annotations

import shlex
from typing import Any

import click

from vault.errors import UsageError

from .common import generate_option, json_option, read_secrets, session
from .term import emit_json, out, say


@click.command()
@click.argument("title")
@click.option("--with", "with_", required=True, metavar="NAME", help="The member to share with.")
@click.option("--expires", metavar="WHEN", help="7d, 12h, 2w, or a date like 2026-12-31.")
@click.pass_context
def share(ctx: click.Context, title: str, with_: str, expires: str | None) -> None:
    """Share one item with a member."""
    from vault.clock import parse_expiry, system_clock
    from vault.sharing import member_by_name
    from vault.sharing import share as do_share

    when = parse_expiry(expires, system_clock()) if expires else None
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    do_share(sess, item_id, member_by_name(sess, with_), when)
    out(
        f"Shared {sess.payload(item_id)['title']} with {with_}" + (f" until {when}" if when else "")
    )


@click.command()
@click.argument("title")
@click.option("--from", "from_", required=True, metavar="NAME", help="The member to revoke.")
@click.pass_context
def revoke(ctx: click.Context, title: str, from_: str) -> None:
    """Take one item back from a member (re-keys it; marks it exposed)."""
    from vault.sharing import member_by_name
    from vault.sharing import revoke as do_revoke

    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    name = sess.payload(item_id)["title"]
    do_revoke(sess, item_id, member_by_name(sess, from_), "revoked by owner")
    out(f"Revoked {from_}'s access to {name}; it was re-keyed.")
    say(
        f"hint: {from_} may already know this secret: change it at the site, then "
        f"record it with: takusu rotate {shlex.quote(name)}"
    )


@click.command()
@click.argument("name")
@json_option
@click.pass_context
def offboard(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke everything from a member, remove them, and print what to rotate."""
    from vault.sharing import offboard as do_offboard

    rows = do_offboard(session(ctx), name)
    if as_json:
        emit_json(rows)
        return
    out(f"Offboarded {name}: all access revoked, member removed.")
    print_checklist(rows)


def print_checklist(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    out("Rotate these (most urgent first):")
    for r in rows:
        seen = (
            f"retrieved {', '.join(r['fields'])} at {r['last_retrieved']}"
            if r["retrieved"]
            else "never retrieved (per receipts)"
        )
        gone = "  (deleted here; still change it at the site)" if r.get("deleted") else ""
        out(f"  - {r['title']}  {r['url'] or ''}  [{seen}]{gone}")


@click.command()
@click.argument("title")
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
    changes = read_secrets(password_stdin, generate, totp_prompt, totp_stdin, ask_password=asks)
    if not changes:
        raise UsageError("give the new secret: --generate, --password-stdin, --totp or a terminal")
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    do_rotate(sess, item_id, changes)
    out(f"Rotated {sess.payload(item_id)['title']}; the exposed mark is cleared")


COMMANDS = [share, revoke, offboard, rotate]
