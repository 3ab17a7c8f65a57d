"""The click group, its global options, and the map from errors to exit codes.

cli.py (the console script) calls `run`; the commands themselves live in the sibling
modules, one per part of the job.
"""

from __future__ import annotations

import os
import sys

import click

from vault import i18n
from vault.errors import EXIT_USAGE, TakusuError
from vault.i18n import _

from . import audit, day, identity, items, members, moving, report, requests, sharing, term, vaults
from .common import complete_vaults
from .term import error, hint
from .translate import translate_click, translate_tree


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--vault",
    "vault_sel",
    metavar="NAME|PATH",
    default=None,
    help="Vault to use (default: TAKUSU_VAULT, then the default vault).",
    shell_complete=complete_vaults,
)
@click.option("--utc", is_flag=True, help="Show times in UTC instead of the local time zone.")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.version_option(package_name="takusu")
@click.pass_context
def cli(ctx: click.Context, vault_sel: str | None, utc: bool, debug: bool) -> None:
    """Entrust IDs, passwords and 2FA seeds to a remote secretary, one item at a time.

    Every retrieval is recorded in a signed audit trail; access can be revoked.
    TAKUSU_HOME sets this machine's data dir; TAKUSU_VAULT the vault to use.
    """
    from vault.clock import show_utc

    show_utc(utc)
    ctx.ensure_object(dict)
    ctx.obj["vault"] = vault_sel
    ctx.obj["debug"] = debug


for _module in (identity, vaults, members, items, sharing, requests, audit, report, day, moving):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
translate_tree(cli)
translate_click()


def run(argv: list[str] | None = None) -> None:
    """Run one command in this process: hygiene first, then the group, errors mapped to
    exit codes (always ends in SystemExit)."""
    os.umask(0o077)
    i18n.use(i18n.language())
    _show_local_times()
    given = os.environ.pop("TAKUSU_PASSPHRASE", None)
    term.PASSPHRASE[:] = [given] if given is not None else []
    _no_core_dumps()
    try:
        _run(argv, "--debug" in (argv if argv is not None else sys.argv[1:]))
    finally:
        term.PASSPHRASE.clear()  # in-process callers (tests, scripts) keep no copy around


def _show_local_times() -> None:
    from vault.clock import show_utc

    show_utc(False)  # until --utc says otherwise (the agent runs many commands)


def vault_first(argv: list[str]) -> list[str]:
    """`takusu get X --vault acme` as `takusu --vault acme get X`: --vault (and --utc) is
    accepted after the command too (not after a `--`, where `run`'s command begins)."""
    out, moved, i = [], [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            out += argv[i:]
            break
        if word == "--vault" and out and i + 1 < len(argv):
            moved += argv[i : i + 2]
            i += 2
            continue
        if (word.startswith("--vault=") or word == "--utc") and out:
            moved.append(word)
        else:
            out.append(word)
        i += 1
    return moved + out


def _run(argv: list[str] | None, debug: bool) -> None:
    try:
        args = vault_first(list(sys.argv[1:] if argv is None else argv))
        cli.main(args=args or ["--help"], prog_name="takusu", standalone_mode=False)
    except TakusuError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        error(exc.message)
        if exc.hint:
            hint(i18n._(exc.hint))  # a class's default hint is stored in English (N_)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C at a prompt
            error(_("interrupted"))
            sys.exit(130)
        error(_("stopped; nothing was changed"))
        sys.exit(1)
    except click.UsageError as exc:
        error(exc.format_message())
        command = exc.ctx.command_path if exc.ctx else "takusu"
        hint(_("see '{command} --help'").format(command=command))
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        error(exc.format_message())
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        error(_("interrupted"))
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug: no traceback (it could hold data) unless --debug
        if debug:
            raise
        error(
            _("internal error ({kind}); run with --debug for details").format(
                kind=type(exc).__name__
            )
        )
        sys.exit(1)
    sys.exit(0)


def _no_core_dumps() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on every platform
        pass
