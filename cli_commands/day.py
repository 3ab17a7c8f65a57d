"""The working day: `unlock` once, `lock` at lunch, `status`, `run` a command with secrets
in its environment, and shell `completion`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from vault.errors import UsageError
from vault.i18n import _

from .common import app, vault_selector
from .term import info, out, warn

HANDLER = "cli_commands.agentcli:handle"


def _duration(text: str, option: str) -> Any:
    import re
    import unicodedata
    from datetime import timedelta

    from vault.clock import parse_duration

    minutes = re.fullmatch(r"(\d{1,4})\s*m", unicodedata.normalize("NFKC", text).strip())
    if minutes:  # the design's `--idle 15m`: an unlock lasts hours, so m can only be minutes
        count, unit = int(minutes[1]), "minutes"
    else:
        count, unit = parse_duration(text)
    days = {"months": 30, "years": 365}.get(unit)
    span = timedelta(days=count * days) if days else timedelta(**{unit: count})
    if span <= timedelta(0):
        raise UsageError(_("{option} must be longer than nothing").format(option=option))
    return span


@click.command()
@click.option("--idle", default="15min", show_default=True, help="Lock after this long unused.")
@click.option("--max", "max_", default="8h", show_default=True, help="Lock after this long anyway.")
@click.pass_context
def unlock(ctx: click.Context, idle: str, max_: str) -> None:
    """Type the passphrase once: an agent holds the unlocked key until it locks itself."""
    from vault.agent import launch
    from vault.clock import shown_time

    idle_for, max_for = _duration(idle, "--idle"), _duration(max_, "--max")
    machine = app(ctx)
    identity = machine.identity()
    status = launch.start(machine.home.path, identity, idle_for, max_for, handler=HANDLER)
    out(
        _("Unlocked for {name}; locks itself at {until} (after {idle} unused; by {latest})").format(
            name=status.name,
            until=shown_time(status.until),
            idle=_idle_words(status),
            latest=shown_time(status.max_deadline),
        )
    )
    info(_("Commands ask no passphrase until then; 'takusu lock' ends it sooner."))


def _idle_words(status: Any) -> str:
    minutes = round((status.idle_deadline - status.started).total_seconds() / 60)
    if minutes < 120:
        return _("{n} min").format(n=minutes)
    return _("{n} h").format(n=minutes // 60)


@click.command()
@click.pass_context
def lock(ctx: click.Context) -> None:
    """End the agent: the next command asks the passphrase again."""
    from vault.agent import client

    if client.stop(_home(ctx)):
        out(_("Locked."))
    else:
        out(_("Nothing to lock: no agent was running."))


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Whether an agent holds the unlocked key, for whom, and until when (this does not
    keep it awake)."""
    from vault.agent import client
    from vault.clock import shown_time

    running = client.running(_home(ctx))
    if running is None:
        out(_("Locked: no agent runs; commands ask for the passphrase (or use the keyring)."))
        return
    out(
        _("Unlocked for {name} ({id}) until {until}").format(
            name=running.name, id=running.id[:8], until=shown_time(running.until)
        )
    )
    latest = _("locks at the latest {latest}; agent pid {pid}").format(
        latest=shown_time(running.max_deadline), pid=running.pid
    )
    out(f"  {latest}")


def _home(ctx: click.Context) -> Path:
    from vault.home import default_home

    return default_home().absolute()


# --- run ---------------------------------------------------------------------------------


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--env",
    "specs",
    multiple=True,
    metavar="VAR=[VAULT/]TITLE[/FIELD]",
    help="Put a secret in the command's environment (repeatable).",
)
@click.option("--reason", help='Why (recorded with each retrieval; default "run: COMMAND").')
@click.option("--no-masking", is_flag=True, help="Do not mask the secrets in its output.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context,
    specs: tuple[str, ...],
    reason: str | None,
    no_masking: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with secrets in its environment (never on its command line).

    Variables already set to takusu://[VAULT/]TITLE[/FIELD] are resolved too. Each
    retrieval is recorded first; the secrets are masked in the command's output unless
    --no-masking; the command's exit code is takusu's."""
    from vault.runner import parse_spec, references
    from vault.runner import run as run_child

    argv = [c for c in command if c != "--"] if command[:1] == ("--",) else list(command)
    if not argv:
        raise UsageError(_("give the command to run after --"))
    wanted = dict(references(os.environ))
    for spec in specs:
        name, ref = parse_spec(spec)
        wanted[name] = ref
    why = reason or f"run: {os.path.basename(argv[0])}"[:200]
    secrets_ = {name: _fetch(ctx, ref, why) for name, ref in wanted.items()}
    done = run_child(argv, secrets_, mask=not no_masking)
    for name in done.unmasked:
        warn(_("the value of {name} is too short to mask in the output").format(name=name))
    sys.exit(done.exit_code)


def _fetch(ctx: click.Context, ref: Any, reason: str) -> str:
    """One secret for `run`: from the agent if one runs (it writes the receipt), else here."""
    from vault.agent import client
    from vault.agent.errors import AgentNotRunning

    selector = ref.vault or vault_selector(ctx)
    try:
        from vault import __version__

        asked = {"vault": selector, "title": ref.title, "field": ref.field, "reason": reason}
        result = client.call(_home(ctx), "reveal", {**asked, "version": __version__})
        return str(result["value"])
    except AgentNotRunning:
        pass
    from vault.sharing import upkeep

    sess = app(ctx).session(selector)
    upkeep(sess)
    value = sess.reveal(sess.find(ref.title), [ref.field], reason)[ref.field]
    return value if isinstance(value, str) else str(value)


# --- completion --------------------------------------------------------------------------


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (e.g. `eval "$(takusu completion bash)"`)."""
    from click.shell_completion import get_completion_class

    from .root import cli

    cls = get_completion_class(shell)
    assert cls is not None
    script = cls(cli, {}, "takusu", "_TAKUSU_COMPLETE").source()
    click.echo(script)


COMMANDS = [unlock, lock, status, run, completion]
