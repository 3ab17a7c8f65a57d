"""takusu's command line: click commands that parse, call the `vault` library, and print.

stdout carries only what was asked for; messages go to stderr as `takusu: error: …`,
`takusu: hint: …`, `takusu: warning: …`. Errors from the library carry their own text
and exit code (0 ok, 1 user error, 2 usage, 3 integrity failure); `main` maps them.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from vault.errors import EXIT_USAGE, PassphraseUnavailable, TakusuError, UsageError

_PASSPHRASE: str | None = None  # TAKUSU_PASSPHRASE, read once in main() and removed from env


# --- terminal helpers -----------------------------------------------------------------------


def say(message: str) -> None:
    click.echo(f"takusu: {message}", err=True)


def warn(message: str) -> None:
    click.echo(f"takusu: warning: {message}", err=True)


def out(text: str = "") -> None:
    click.echo(text)


def info(message: str) -> None:
    """A line for the person at the terminal that is not the command's output (stderr)."""
    click.echo(message, err=True)


def interactive() -> bool:
    return sys.stdin.isatty()


def passphrase(confirm: bool) -> str:
    """TAKUSU_PASSPHRASE if it was set, else a hidden prompt; never an echoing fallback."""
    if _PASSPHRASE is not None:
        return _PASSPHRASE
    if not interactive():
        raise PassphraseUnavailable(
            "a passphrase is needed but there is no terminal to ask it on",
            hint="run in a terminal, or set TAKUSU_PASSPHRASE for automation",
        )
    value: str = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return value


def confirm_code(who: str, code: str) -> bool:
    click.echo(f"{who}'s safety code: {code}", err=True)
    click.echo("Compare it by phone or video with the code they read you.", err=True)
    return bool(click.confirm("Does it match exactly?", default=False, err=True))


def confirm_fn() -> Any:
    return confirm_code if interactive() else None


def app(ctx: click.Context) -> Any:
    from vault.machine import Machine

    if "app" not in ctx.obj:
        ctx.obj["app"] = Machine(passphrase=passphrase)
    return ctx.obj["app"]


def session(ctx: click.Context) -> Any:
    """The selected vault, opened; the owner's routine work done; warnings printed."""
    from vault.sharing import upkeep

    sess = app(ctx).session(ctx.obj.get("vault"))
    done = upkeep(sess)
    for message in sess.warnings:
        warn(message)
    for _item_id, member_id in done.expired:
        name = sess.state["members"][member_id]["name"]
        warn(f"{name}'s access to an item expired; it was revoked and the item re-keyed")
    return sess


class StdinLines:
    """Secrets piped on stdin: the password line first, then the TOTP line."""

    def __init__(self) -> None:
        self._lines: list[str] | None = None

    def next(self, what: str) -> str:
        if self._lines is None:
            self._lines = sys.stdin.read(1 << 16).splitlines()
        if not self._lines:
            raise UsageError(f"expected the {what} on stdin, found nothing")
        return self._lines.pop(0)


def read_secrets(
    password_stdin: bool,
    generate: int | None,
    totp_prompt: bool,
    totp_stdin: bool,
    ask_password: bool,
) -> dict[str, Any]:
    """Collect password/TOTP from stdin, generator or hidden prompts (never argv)."""
    from vault.item import generate_password
    from vault.totp import normalize

    if password_stdin and generate is not None:
        raise UsageError("use either --password-stdin or --generate, not both")
    if totp_prompt and totp_stdin:
        raise UsageError("use either --totp or --totp-stdin, not both")
    values: dict[str, Any] = {}
    lines = StdinLines()
    if password_stdin:
        values["password"] = lines.next("password")
    elif generate is not None:
        values["password"] = generate_password(generate)
    elif ask_password and interactive():
        values["password"] = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True
        )
    if totp_stdin:
        values["totp"] = normalize(lines.next("TOTP seed or otpauth:// URI"))
    elif totp_prompt:
        if not interactive():
            raise UsageError("--totp asks at a prompt and there is no terminal; use --totp-stdin")
        values["totp"] = normalize(
            click.prompt("TOTP seed or otpauth:// URI", hide_input=True, err=True)
        )
    return values


def parse_fields(pairs: tuple[str, ...]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--field takes NAME=VALUE, got {pair!r}")
        fields[name] = value
    return fields


def emit_json(obj: Any) -> None:
    out(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True))


# --- the group ------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--vault",
    "vault_sel",
    metavar="NAME|PATH",
    default=None,
    help="Vault to use (default: TAKUSU_VAULT, then the default vault).",
)
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.version_option(package_name="takusu")
@click.pass_context
def cli(ctx: click.Context, vault_sel: str | None, debug: bool) -> None:
    """Entrust IDs, passwords and 2FA seeds to a remote secretary, one item at a time.

    Every retrieval is recorded in a signed audit trail; access can be revoked.
    TAKUSU_HOME sets this machine's data dir; TAKUSU_VAULT the vault to use.
    """
    ctx.ensure_object(dict)
    ctx.obj["vault"] = vault_sel
    ctx.obj["debug"] = debug


# --- identity -------------------------------------------------------------------------------


@cli.command()
@click.option("--name", help="Your name as others will see it on your card.")
@click.option(
    "--passphrase",
    "use_passphrase",
    is_flag=True,
    help="Protect the key with a passphrase even where an OS keyring exists.",
)
@click.option(
    "--restore",
    "restore",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bring an identity back from a recovery kit (asks for the recovery code).",
)
@click.pass_context
def init(ctx: click.Context, name: str | None, use_passphrase: bool, restore: Path | None) -> None:
    """Create my identity on this machine (or restore it from a recovery kit)."""
    takusu = app(ctx)
    if restore is not None:
        if not interactive():
            code = sys.stdin.readline().strip()
        else:
            code = click.prompt("Recovery code", hide_input=True, err=True)
        identity = takusu.restore(restore, code, use_passphrase)
        say(f"restored {identity.card.name} ({identity.id[:8]}) on this machine")
        return
    if not name:
        if not interactive():
            raise UsageError("--name is required when there is no terminal")
        name = click.prompt("Your name", err=True)
    identity, mode = takusu.init(name, use_passphrase)
    out(f"Created identity for {identity.card.name}")
    out(f"  id:          {identity.id}")
    out(f"  safety code: {identity.card.safety_code}")
    out(f"  key held by: {'the OS keyring' if mode == 'keyring' else 'your passphrase (Argon2id)'}")
    say(
        "hint: without a recovery kit, a lost machine means a lost vault: "
        "run 'takusu recovery-kit FILE' and keep the file and the code apart"
    )


@cli.command("recovery-kit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def recovery_kit(ctx: click.Context, file: Path) -> None:
    """Write my private keys, encrypted under a new recovery code, to FILE."""
    code = app(ctx).write_recovery_kit(file)
    click.echo(f"Recovery kit written to {file}.", err=True)
    click.echo("Write this recovery code down now; it is shown only once:", err=True)
    out(code)
    click.echo("Keep the code and the file in different places.", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def whoami(ctx: click.Context, as_json: bool) -> None:
    """My name, id and safety code on this machine."""
    takusu = app(ctx)
    card = takusu.card()
    info = {
        "name": card.name,
        "id": card.id,
        "safety_code": card.safety_code,
        "suite": card.suite,
        "key_mode": takusu.keystore.mode(),
        "recovery_kit": takusu.has_recovery_kit(),
    }
    if as_json:
        emit_json(info)
    else:
        out(
            f"{card.name}\n  id:          {card.id}\n  safety code: {card.safety_code}\n"
            f"  suite:       {card.suite}"
        )
    if not info["recovery_kit"]:
        say("hint: you have no recovery kit yet: 'takusu recovery-kit FILE'")


@cli.command()
@click.pass_context
def card(ctx: click.Context) -> None:
    """Print my public card, to send to a vault owner by mail or chat."""
    out(app(ctx).card().armor().rstrip("\n"))


# --- vaults ---------------------------------------------------------------------------------


@cli.group()
def vault() -> None:
    """Create, open, list and choose vaults."""


@vault.command("create")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="A short name for the vault (default: the folder's name).")
@click.pass_context
def vault_create(ctx: click.Context, path: Path, name: str | None) -> None:
    """I own a new vault in PATH (any folder; a synced one to share)."""
    vault_id = app(ctx).create_vault(path, name)
    out(f"Created vault {name or path.name} ({vault_id[:8]}) in {path}")


@vault.command("open")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="What to call this vault on this machine.")
@click.option("--safety-code", metavar="CODE", help="The owner's code, compared out of band.")
@click.pass_context
def vault_open(ctx: click.Context, path: Path, name: str | None, safety_code: str | None) -> None:
    """Register a vault shared with me; pins its owner after I confirm their code."""
    takusu = app(ctx)
    show = info if safety_code is None and interactive() else None
    vault_id, owner = takusu.add_shared_vault(path, name, safety_code, confirm_fn(), show)
    registered = takusu.vaults()[1][vault_id]["name"]
    out(f"Opened vault {registered} owned by {owner.name} (safety code confirmed)")


@vault.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def vault_list(ctx: click.Context, as_json: bool) -> None:
    """Every vault registered on this machine, with its owner."""
    default, vaults = app(ctx).vaults()
    rows = [
        {
            "id": k,
            "name": v["name"],
            "path": v["path"],
            "role": v["role"],
            "owner": v.get("owner_name"),
            "default": k == default,
        }
        for k, v in vaults.items()
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        mark = "*" if r["default"] else " "
        out(f"{mark} {r['name']:<16} {r['role']:<7} owner: {r['owner']:<20} {r['path']}")


@vault.command("use")
@click.argument("name")
@click.pass_context
def vault_use(ctx: click.Context, name: str) -> None:
    """Make NAME the default vault."""
    app(ctx).use_vault(name)
    out(f"Default vault is now {name}")


# --- members --------------------------------------------------------------------------------


@cli.group()
def member() -> None:
    """Add, list and remove the people a vault's items can be shared with."""


@member.command("add")
@click.argument("cardfile", type=click.File("rb"))
@click.option("--name", required=True, help="Short name to use for them (e.g. aiko).")
@click.option("--safety-code", metavar="CODE", help="The code they read you; must match.")
@click.pass_context
def member_add(ctx: click.Context, cardfile: Any, name: str, safety_code: str | None) -> None:
    """Add the person whose card is in CARDFILE ('-' for stdin) after comparing codes."""
    from vault.identity import Card
    from vault.trust import trust_new_member

    new = Card.from_armor(cardfile.read(64 << 10).decode("utf-8", errors="replace"))
    trust_new_member(session(ctx), new, name, safety_code, confirm_fn(), info)
    out(f"Added {name} ({new.id[:8]}); safety code {new.safety_code}")


@member.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def member_list(ctx: click.Context, as_json: bool) -> None:
    """Members with id prefix, safety code and what each can read."""
    from vault.views import member_rows

    rows = member_rows(session(ctx))
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out(
            f"{r['name']:<12} {r['id'][:8]}  {r['safety_code']}  can read: "
            f"{', '.join(r['items']) or '(nothing)'}"
        )


@member.command("remove")
@click.argument("name")
@click.option("--revoke-all", is_flag=True, help="Revoke everything they can read first.")
@click.pass_context
def member_remove(ctx: click.Context, name: str, revoke_all: bool) -> None:
    """Remove a member (refused while they still have grants, unless --revoke-all)."""
    from vault.sharing import remove_member

    rows = remove_member(session(ctx), name, revoke_all)
    out(f"Removed {name}")
    print_checklist(rows)


# --- items ----------------------------------------------------------------------------------


def generate_option(help_text: str) -> Any:
    """--generate [LEN]: a random password from `secrets`, 24 characters unless LEN."""
    return click.option(
        "--generate",
        type=click.IntRange(8, 256),
        is_flag=False,
        flag_value=24,
        default=None,
        metavar="[LEN]",
        help=help_text,
    )


_secret_options = [
    click.option("--password-stdin", is_flag=True, help="Read the password from stdin."),
    generate_option("Generate a random password (default 24)."),
    click.option(
        "--totp",
        "totp_prompt",
        is_flag=True,
        help="Ask for a TOTP seed or otpauth:// URI at a hidden prompt.",
    ),
    click.option(
        "--totp-stdin",
        is_flag=True,
        help="Read the TOTP seed/URI from stdin (the line after the password).",
    ),
]


def secret_options(fn: Any) -> Any:
    for option in reversed(_secret_options):
        fn = option(fn)
    return fn


@cli.command()
@click.argument("title")
@click.option("--username", help="Login name (not secret).")
@click.option("--url", help="Where to log in.")
@click.option("--note", help="A note (not for secrets: use stdin options for those).")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", help="A custom field.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@secret_options
@click.pass_context
def add(
    ctx: click.Context,
    title: str,
    username: str | None,
    url: str | None,
    note: str | None,
    fields: tuple[str, ...],
    tags: tuple[str, ...],
    password_stdin: bool,
    generate: int | None,
    totp_prompt: bool,
    totp_stdin: bool,
) -> None:
    """Add a credential. The password comes from a prompt, stdin or --generate."""
    from vault.item import empty_payload

    secrets_ = read_secrets(password_stdin, generate, totp_prompt, totp_stdin, ask_password=True)
    sess = session(ctx)
    payload = empty_payload()
    payload.update(
        title=title,
        username=username,
        url=url,
        notes=note,
        fields=parse_fields(fields),
        tags=sorted(set(tags)),
        **secrets_,
    )
    sess.add(payload)
    out(f"Added {title}" + (" (password generated)" if generate is not None else ""))


@cli.command()
@click.argument("title")
@click.option("--title", "new_title", help="Rename the item.")
@click.option("--username")
@click.option("--url")
@click.option("--note")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE")
@click.option("--tag", "tags", multiple=True)
@click.option("--new-password", is_flag=True, help="Ask for a new password at a hidden prompt.")
@secret_options
@click.pass_context
def edit(
    ctx: click.Context,
    title: str,
    new_title: str | None,
    username: str | None,
    url: str | None,
    note: str | None,
    fields: tuple[str, ...],
    tags: tuple[str, ...],
    new_password: bool,
    password_stdin: bool,
    generate: int | None,
    totp_prompt: bool,
    totp_stdin: bool,
) -> None:
    """Change an item; every current grantee gets the new version."""
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    changes: dict[str, Any] = read_secrets(
        password_stdin, generate, totp_prompt, totp_stdin, ask_password=new_password
    )
    for key, value in (("title", new_title), ("username", username), ("url", url), ("notes", note)):
        if value is not None:
            changes[key] = value
    if tags:
        changes["tags"] = sorted(set(tags))
    if not changes and not fields:
        raise UsageError("nothing to change")
    sess.edit(item_id, changes, parse_fields(fields))
    out(f"Updated {changes.get('title', sess.payload(item_id)['title'])}")


@cli.command()
@click.argument("title")
@click.pass_context
def rm(ctx: click.Context, title: str) -> None:
    """Delete an item (its history stays in the signed log)."""
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    name = sess.payload(item_id)["title"]
    sess.remove(item_id)
    out(f"Deleted {name}")


@cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_items(ctx: click.Context, as_json: bool) -> None:
    """What I can read in this vault."""
    from vault.views import item_rows

    sess = session(ctx)
    rows = item_rows(sess)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        extra = ""
        if sess.is_owner:
            extra = f"  {r['username'] or ''}"
            if r["shared_with"]:
                extra += f"  shared with: {', '.join(r['shared_with'])}"
            if r["exposed_to"]:
                extra += f"  EXPOSED to {', '.join(r['exposed_to'])}: rotate"
        elif r["expires"]:
            extra = f"  (until {r['expires']})"
        out(f"{r['title']}{extra}")


@cli.command()
@click.argument("title")
@click.option("--reveal", is_flag=True, help="Show the password and TOTP seed too.")
@click.option("--json", "as_json", is_flag=True)
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
    for key in ("title", "username", "url", "password", "totp", "notes", "version", "updated"):
        if info.get(key) not in (None, ""):
            out(f"{key + ':':<10} {info[key]}")
    for key, value in info["fields"].items():
        out(f"{key + ':':<10} {value}")
    if info.get("tags"):
        out(f"{'tags:':<10} {', '.join(info['tags'])}")
    if info.get("shared_with"):
        out(
            "shared:    "
            + ", ".join(
                f"{n}" + (f" (until {e})" if e else "") for n, e in info["shared_with"].items()
            )
        )
    for who, since in (info.get("exposed") or {}).items():
        out(
            f"EXPOSED:   {who} could read it until {since}; "
            f"rotate it: takusu rotate {shlex.quote(info['title'])}"
        )


@cli.command()
@click.argument("title")
@click.argument("field", default="password")
@click.option("--reason", help="Why (recorded with the retrieval, for the owner to see).")
@click.pass_context
def get(ctx: click.Context, title: str, field: str, reason: str | None) -> None:
    """Print one field (password by default) to stdout."""
    sess = session(ctx)
    item_id = sess.find(title)
    value = sess.reveal(item_id, [field], reason)[field]
    out(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


@cli.command()
@click.argument("title")
@click.option("--reason", help="Why (recorded with the retrieval).")
@click.pass_context
def otp(ctx: click.Context, title: str, reason: str | None) -> None:
    """The current TOTP code and the seconds it has left."""
    sess = session(ctx)
    code = sess.otp(sess.find(title), reason)
    out(f"{code.code} ({code.seconds_left}s left)")


# --- sharing --------------------------------------------------------------------------------


@cli.command()
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


@cli.command()
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


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
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


@cli.command()
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


# --- audit ----------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--item", metavar="TITLE")
@click.option("--member", "member_", metavar="NAME")
@click.option("--since", metavar="DATE", help="YYYY-MM-DD or an RFC 3339 time.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@click.pass_context
def audit(
    ctx: click.Context,
    item: str | None,
    member_: str | None,
    since: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The timeline of who did what, merged from every log; 'audit verify' checks it."""
    if ctx.invoked_subcommand is not None:
        return
    from vault.audit import csv_text, describe, timeline
    from vault.clock import parse_since
    from vault.sharing import member_by_name

    sess = session(ctx)
    item_id = sess.find(item) if item else None
    member_id = member_by_name(sess, member_, include_removed=True) if member_ else None
    rows = timeline(sess, item_id, member_id, parse_since(since) if since else None)
    if as_json:
        emit_json(rows)
    elif as_csv:
        out(csv_text(rows).rstrip("\n"))
    else:
        for r in rows:
            out(describe(r))


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Verify every signature, chain link, witness and receipt; exit 3 on tampering."""
    from vault.audit import verify
    from vault.errors import IntegrityError

    sess = session(ctx)
    report = verify(sess.store, sess.loaded)
    for problem in report.problems:
        (warn if not problem.fatal else say)(
            ("" if not problem.fatal else "problem: ") + str(problem)
        )
    events = sum(report.logs.values())
    if not report.ok:
        first = next(p for p in report.problems if p.fatal)
        raise IntegrityError(f"audit verify failed: {first}")
    out(f"OK: {len(report.logs)} logs, {events} events, {report.receipts} receipts verified")


@cli.command()
@click.option("--repair", is_flag=True, help="Restore damaged or missing logs from the mirror.")
@click.option(
    "--accept-rollback",
    is_flag=True,
    help="Owner: republish the newest verified state and log the rollback.",
)
@click.pass_context
def doctor(ctx: click.Context, repair: bool, accept_rollback: bool) -> None:
    """Health of my identity and of the vault folder; exit 3 if something was tampered with."""
    from vault import doctor as doc
    from vault.errors import IntegrityError

    takusu = app(ctx)
    if repair or accept_rollback:
        sess = takusu.session(ctx.obj.get("vault"))
        done = doc.accept_rollback(sess) if accept_rollback else doc.repair(sess)
        for log in done.fixed:
            say(f"restored log {log[:12]} in the folder from this machine's verified mirror")
        for log in done.forks_kept:
            warn(
                f"log {log[:12]} in the folder is a different valid branch by its own writer "
                "(a fork); it was not overwritten: see docs/security.md, 'Forks'"
            )
        if accept_rollback:
            say("recorded the rollback in the vault's signed log")
    health = doc.check(takusu, ctx.obj.get("vault"))
    for line in health.lines:
        out(line)
    for problem in health.problems:
        (say if problem.fatal else warn)(("problem: " if problem.fatal else "") + str(problem))
    for hint in health.hints:
        say(f"hint: {hint}")
    if not health.ok:
        raise IntegrityError(
            "the vault folder has problems (see above)",
            hint="'takusu doctor --repair' restores logs from this machine's mirror",
        )


@cli.command()
@click.pass_context
def sync(ctx: click.Context) -> None:
    """In a vault folder kept in git: commit my log, pull --rebase, verify, push."""
    from vault.gitsync import sync as do_sync

    result = do_sync(session(ctx))
    done = [
        w
        for w, flag in (
            ("committed", result.committed),
            ("pulled", result.pulled),
            ("pushed", result.pushed),
        )
        if flag
    ]
    out("sync: " + (", ".join(done) if done else "nothing to do"))
    for note in result.notes:
        warn(note)


@cli.command()
def demo() -> None:
    """Run the whole story (client and secretary) in a temporary folder, narrated."""
    from vault.demo import run

    run(out)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: hygiene first, then run, mapping errors to exit codes."""
    global _PASSPHRASE
    os.umask(0o077)
    _PASSPHRASE = os.environ.pop("TAKUSU_PASSPHRASE", None)
    _no_core_dumps()
    try:
        _run(argv, "--debug" in (argv if argv is not None else sys.argv[1:]))
    finally:
        _PASSPHRASE = None  # in-process callers (tests, scripts) keep no copy around


def _run(argv: list[str] | None, debug: bool) -> None:
    try:
        cli.main(args=argv, prog_name="takusu", standalone_mode=False)
    except TakusuError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        say(f"error: {exc.message}")
        if exc.hint:
            say(f"hint: {exc.hint}")
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        say("error: aborted; nothing was changed")
        sys.exit(1)
    except click.UsageError as exc:
        say(f"error: {exc.format_message()}")
        command = exc.ctx.command_path if exc.ctx else "takusu"
        say(f"hint: see '{command} --help'")
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        say(f"error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("error: interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug: no traceback (it could hold data) unless --debug
        if debug:
            raise
        say(f"error: internal error ({type(exc).__name__}); run with --debug for details")
        sys.exit(1)
    sys.exit(0)


def _no_core_dumps() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on every platform
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
