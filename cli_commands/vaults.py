"""Vaults on this machine: `vault create`, `vault open`, `vault list`, `vault use`."""

from __future__ import annotations

from pathlib import Path

import click

from vault.i18n import _

from .common import app, complete_vaults, json_option, session
from .term import confirm_fn, emit_json, info, interactive, out, table


def _role(role: str) -> str:
    """A vault's role on this machine, in the reader's language."""
    return _("owner") if role == "owner" else _("member")


@click.group()
def vault() -> None:
    """Create, open, list and choose vaults."""


@vault.command("create")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="A short name for the vault (default: the folder's name).")
@click.pass_context
def vault_create(ctx: click.Context, path: Path, name: str | None) -> None:
    """I own a new vault in PATH (any folder; a synced one to share)."""
    takusu = app(ctx)
    vault_id = takusu.create_vault(path, name)
    entry = takusu.vaults()[1][vault_id]  # the folder as registered: links resolved once
    out(
        _("Created vault {name} ({id}) in {path}").format(
            name=entry["name"], id=vault_id[:8], path=entry["path"]
        )
    )


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
    out(
        _("Opened vault {name} owned by {owner} (safety code confirmed)").format(
            name=registered, owner=owner.name
        )
    )


@vault.command("list")
@json_option
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
        for k, v in sorted(vaults.items(), key=lambda kv: (str(kv[1]["name"]).casefold(), kv[0]))
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        [
            [
                "*" if r["default"] else " ",
                r["name"],
                _role(r["role"]),
                _("owner: {name}").format(name=r["owner"]),
                r["path"],
            ]
            for r in rows
        ],
        gap=" ",
    )


@vault.command("use")
@click.argument("name", shell_complete=complete_vaults)
@click.pass_context
def vault_use(ctx: click.Context, name: str) -> None:
    """Make NAME the default vault."""
    app(ctx).use_vault(name)
    out(_("Default vault is now {name}").format(name=name))


@vault.command("forget")
@click.argument("name", shell_complete=complete_vaults)
@click.option("--yes", is_flag=True, help="Also forget a vault you own.")
@click.pass_context
def vault_forget(ctx: click.Context, name: str, yes: bool) -> None:
    """Drop a vault from this machine (after a contract ends): its entry and its copy
    here. The shared folder is not touched."""
    entry = app(ctx).forget_vault(name, force=yes)
    out(
        _("Forgot {name} on this machine (the shared folder is untouched).").format(
            name=entry["name"]
        )
    )


@vault.command("policy")
@click.option(
    "--require-reason",
    type=click.Choice(["on", "off"]),
    help="Whether every retrieval must give a reason.",
)
@click.option(
    "--hours", metavar="HOURS", help='When retrievals may happen ("Mon-Fri 09:00-18:00"; "off").'
)
@click.option("--tz", metavar="ZONE", help="The zone of the hours (default: yours).")
@click.pass_context
def vault_policy(
    ctx: click.Context, require_reason: str | None, hours: str | None, tz: str | None
) -> None:
    """Show or set what every retrieval must respect (a reason, working hours).

    Members' own takusu enforces it; a modified client could ignore it, so 'takusu audit
    verify' reports every retrieval that broke the policy in force when it was made."""
    from vault.codewindow import parse_hours
    from vault.delegation import describe_policy, set_policy

    if hours is not None and hours.strip().lower() not in ("off", "any", ""):
        parse_hours(hours)  # before anything is unlocked
    sess = session(ctx)
    if require_reason is None and hours is None:
        out(describe_policy(sess.state["policy"]))
        return
    reason = None if require_reason is None else require_reason == "on"
    policy = set_policy(sess, reason, hours, tz)
    out(_("Policy set: {policy}").format(policy=describe_policy(policy)))
    info(
        _(
            "The takusu of each member keeps it; 'takusu audit verify' reports any "
            "retrieval that did not."
        )
    )


COMMANDS = [vault]
