"""Who I am on this machine: `init` (or restore), `recovery-kit`, `whoami`, `card`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vault.errors import UsageError
from vault.i18n import _

from .common import app, json_option
from .term import ask, emit_json, hidden, hint, info, interactive, labelled, out, say


def _key_held_by(mode: str) -> str:
    """Where the key of this machine's identity is kept, in plain words."""
    return _("the keyring of this computer") if mode == "keyring" else _("your passphrase")


@click.command()
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
            code = hidden(_("The recovery code you wrote down (typing is not shown)"))
        identity = takusu.restore(restore, code, use_passphrase)
        say(
            _("restored {name} ({id}) on this machine").format(
                name=identity.card.name, id=identity.id[:8]
            )
        )
        return
    if not name:
        if not interactive():
            raise UsageError(_("--name is required when there is no terminal"))
        name = ask(_("Your name, as others will see it"))
    identity, mode = takusu.init(name, use_passphrase)
    out(_("Created identity for {name}").format(name=identity.card.name))
    rows = [
        (_("id"), identity.id),
        (_("safety code"), identity.card.safety_code),
        (_("key held by"), _key_held_by(mode)),
    ]
    out(*labelled(rows, indent="  "))
    hint(
        _(
            "without a recovery kit, a lost machine means a lost vault: "
            "run 'takusu recovery-kit FILE' and keep the file and the code apart"
        )
    )


@click.command("recovery-kit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def recovery_kit(ctx: click.Context, file: Path) -> None:
    """Write my private keys, encrypted under a new recovery code, to FILE."""
    code = app(ctx).write_recovery_kit(file)
    info(_("Recovery kit written to {file}.").format(file=file))
    info(_("Write this recovery code down now; it is shown only once:"))
    out(code)
    info(_("Keep the code and the file in different places."))


@click.command()
@json_option
@click.pass_context
def whoami(ctx: click.Context, as_json: bool) -> None:
    """My name, id and safety code on this machine."""
    takusu = app(ctx)
    card = takusu.card()
    me = {
        "name": card.name,
        "id": card.id,
        "safety_code": card.safety_code,
        "suite": card.suite,
        "key_mode": takusu.keystore.mode(),
        "recovery_kit": takusu.has_recovery_kit(),
    }
    if as_json:
        emit_json(me)
    else:
        rows = [
            (_("id"), card.id),
            (_("safety code"), card.safety_code),
            (_("key held by"), _key_held_by(me["key_mode"])),
        ]
        if ctx.obj.get("debug"):  # cipher names are for engineers: doctor, --debug, the docs
            rows.append((_("suite"), card.suite))
        out(card.name, *labelled(rows, indent="  "))
    if not me["recovery_kit"]:
        hint(_("you have no recovery kit yet: 'takusu recovery-kit FILE'"))


@click.command()
@click.pass_context
def card(ctx: click.Context) -> None:
    """Print my public card, to send to a vault owner by mail or chat."""
    out(*app(ctx).card().armor().splitlines())


COMMANDS = [init, recovery_kit, whoami, card]
