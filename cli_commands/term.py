"""The one place takusu talks to the terminal: output, messages, prompts.

Every line goes through `vault.text.escape`, so no text from another person or from the
folder (titles, names, reasons, file names) reaches a terminal as raw control bytes.
stdout holds only what was asked for; messages go to stderr as `takusu: error: …`,
`takusu: hint: …`, `takusu: warning: …`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from vault.errors import PassphraseUnavailable
from vault.i18n import _
from vault.text import escape, json_text, pad, width

# TAKUSU_PASSPHRASE, read once by cli.main() and removed from the environment
PASSPHRASE: list[str] = []


def out(*lines: str) -> None:
    """Lines of the command's output, on stdout, each escaped."""
    for line in lines:
        click.echo(escape(line))


def say(message: str) -> None:
    """A message from takusu on stderr: `takusu: MESSAGE`."""
    click.echo(f"takusu: {escape(message)}", err=True)


def error(message: str) -> None:
    """`takusu: error: MESSAGE` (the label in the language in use)."""
    say(_("error: {message}").format(message=message))


def hint(message: str) -> None:
    """`takusu: hint: MESSAGE`: what to do next."""
    say(_("hint: {message}").format(message=message))


def warn(message: str) -> None:
    """`takusu: warning: MESSAGE`."""
    say(_("warning: {message}").format(message=message))


def info(message: str) -> None:
    """A line for the person at the terminal that is not the command's output (stderr)."""
    click.echo(escape(message), err=True)


def labelled(rows: list[tuple[str, str]], indent: str = "") -> list[str]:
    """`LABEL: VALUE` lines with the values aligned (translated labels differ in width)."""
    columns = max((width(label) for label, _value in rows), default=0) + 1
    return [f"{indent}{pad(label + ':', columns)} {value}" for label, value in rows]


def emit_json(obj: Any) -> None:
    click.echo(json_text(obj))


def out_value(value: str) -> None:
    """A secret value asked for (`get`): exact when piped; on a terminal, escaped (with a
    warning) if it holds control characters, which could otherwise drive the terminal."""
    shown = escape(value)
    if shown != value and sys.stdout.isatty():
        warn(
            _(
                "the value holds control characters and is shown escaped; "
                "pipe it to a file or another program to get it exactly"
            )
        )
        click.echo(shown)
        return
    click.echo(value, color=True)  # color=True: click would strip ANSI sequences from a pipe


def interactive() -> bool:
    return sys.stdin.isatty()


def passphrase(confirm: bool) -> str:
    """TAKUSU_PASSPHRASE if it was set, else a hidden prompt; never an echoing fallback."""
    if PASSPHRASE:
        return PASSPHRASE[0]
    if not interactive():
        raise PassphraseUnavailable(
            _("a passphrase is needed but there is no terminal to ask it on"),
            hint=_("run in a terminal, or set TAKUSU_PASSPHRASE for automation"),
        )
    if confirm:
        prompt = _("Choose a takusu passphrase (typing is not shown)")
    else:
        prompt = _("Your takusu passphrase (typing is not shown)")
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return value


def hidden(prompt: str, confirm: bool = False) -> str:
    """A value typed at a hidden prompt (`prompt` is already translated)."""
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return value


def ask(prompt: str) -> str:
    """A value typed at a prompt that shows it (`prompt` is already translated)."""
    value: str = click.prompt(prompt, err=True)
    return value


def confirm_code(who: str, code: str) -> bool:
    info(_("The safety code of {name}: {code}").format(name=who, code=code))
    info(_("Compare it by phone or video with the code {name} reads to you.").format(name=who))
    question = _("Does it match the code {name} read to you, digit for digit?")
    return bool(click.confirm(question.format(name=who), default=False, err=True))


def confirm_fn() -> Any:
    return confirm_code if interactive() else None
