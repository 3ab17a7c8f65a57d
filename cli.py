"""takusu's command line: the click group, global options, and the error-to-exit-code map.

The commands live in `cli_commands/` (one module per part of the job); this module
gathers them under one group. stdout carries only what was asked for; messages go to
stderr as `takusu: error: …`, `takusu: hint: …`, `takusu: warning: …`, all through the
output gate in `cli_commands/term.py`. Errors from the library carry their own text and
exit code (0 ok, 1 user error, 2 usage, 3 integrity failure); `main` maps them.
"""

from __future__ import annotations

import os
import sys

import click

from cli_commands import audit, identity, items, members, requests, sharing, term, vaults
from cli_commands.term import say
from vault.errors import EXIT_USAGE, TakusuError


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


for _module in (identity, vaults, members, items, sharing, requests, audit):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: hygiene first, then run, mapping errors to exit codes."""
    os.umask(0o077)
    given = os.environ.pop("TAKUSU_PASSPHRASE", None)
    term.PASSPHRASE[:] = [given] if given is not None else []
    _no_core_dumps()
    try:
        _run(argv, "--debug" in (argv if argv is not None else sys.argv[1:]))
    finally:
        term.PASSPHRASE.clear()  # in-process callers (tests, scripts) keep no copy around


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
