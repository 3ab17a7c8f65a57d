"""The one place takusu talks to the terminal: output, messages, prompts.

Every line goes through `vault.text.escape`, so no text from another person or from the
folder (titles, names, reasons, file names) reaches a terminal as raw control bytes.
stdout holds only what was asked for; messages go to stderr as `takusu: error: …`,
`takusu: hint: …`, `takusu: warning: …`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from vault.errors import BadInput, PassphraseUnavailable
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


def table(rows: list[list[str]], gap: str = "  ") -> None:
    """Rows as aligned columns on stdout: each cell escaped, then padded by display width
    (a Japanese character takes two columns); the last column is not padded."""
    text = table_text(rows, gap)
    if text:  # one write: a list of 10,000 rows is not 10,000 calls into click
        click.echo(text)


def table_text(rows: list[list[str]], gap: str = "  ") -> str:
    """The lines `table` prints, joined. A column of printable ASCII (nearly always) is
    checked, measured and padded as a whole, in C; any other column cell by cell."""
    if not rows:
        return ""
    count = max(len(row) for row in rows)
    if any(len(row) != count for row in rows):
        rows = [row + [""] * (count - len(row)) for row in rows]
    columns = [list(column) for column in zip(*rows, strict=True)]
    plain = []
    for column in columns:
        joined = "".join(column)
        plain.append(joined.isascii() and joined.isprintable())
    for n, column in enumerate(columns):
        if not plain[n]:
            columns[n] = [escape(cell) for cell in column]
    widths = [
        (max(map(len, column)) if plain[n] else max(map(width, column)))
        for n, column in enumerate(columns[:-1])
    ]
    if all(plain[:-1]):
        line = gap.join(f"{{:<{w}}}" for w in widths) + (gap if widths else "") + "{}"
        return "\n".join(line.format(*row).rstrip() for row in zip(*columns, strict=True))
    return "\n".join(
        gap.join([pad(cell, widths[n]) for n, cell in enumerate(row[:-1])] + [row[-1]]).rstrip()
        for row in zip(*columns, strict=True)
    )


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
    if not interactive() and not confirm:
        typed = _from_terminal(_("takusu passphrase"))  # stdin is busy (a pasted card, a pipe)
        if typed is not None:
            return typed
    if not interactive():
        raise PassphraseUnavailable(
            _("a passphrase is needed but there is no terminal to ask it on"),
            hint=_("run in a terminal, or set TAKUSU_PASSPHRASE for automation"),
        )
    if not confirm:
        return hidden(_("takusu passphrase"))
    from vault.keystore import MIN_PASSPHRASE

    def long_enough(value: str) -> str | None:
        if len(value) >= MIN_PASSPHRASE:
            return None
        return _(
            "a passphrase needs at least {count} characters; a few unrelated "
            "words are easy to type and hard to guess"
        ).format(count=MIN_PASSPHRASE)

    return hidden(_("New takusu passphrase"), confirm=True, check=long_enough)


def _from_terminal(prompt: str) -> str | None:
    """A hidden answer typed at this process's terminal (/dev/tty) when stdin is not it
    but a person is watching (stderr is a terminal); None otherwise."""
    import getpass

    if not sys.stderr.isatty():
        return None
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return None
    return getpass.getpass(f"{prompt}: ")


def hidden(
    prompt: str, confirm: bool = False, check: Callable[[str], str | None] | None = None
) -> str:
    """A value typed at a hidden prompt (`prompt` is already translated). `check` (checked
    before any confirmation) says what is wrong with a value, or None; with `confirm`, it
    is typed twice. Three tries."""
    for _attempt in range(3):
        value: str = click.prompt(prompt, hide_input=True, err=True)
        problem = check(value) if check else None
        if problem:
            warn(problem)
            continue
        if not confirm:
            return value
        again: str = click.prompt(_("Type it again to confirm"), hide_input=True, err=True)
        if again == value:
            return value
        warn(_("the two entries differ; please type it again"))
    raise BadInput(_("three tries without a usable value; nothing was changed"))


def ask(prompt: str) -> str:
    """A value typed at a prompt that shows it (`prompt` is already translated)."""
    value: str = click.prompt(prompt, err=True)
    return value


def confirm_destructive(question: str, yes: bool) -> None:
    """On a terminal, ask `question` (default no) before something that cannot be undone;
    Abort if the answer is no. `--yes`, or no terminal (a script), goes on."""
    if yes or not interactive():
        return
    if not click.confirm(question, default=False, err=True):
        raise click.exceptions.Abort()


def confirm_code(who: str, code: str) -> bool:
    info(_("The safety code of {name}: {code}").format(name=who, code=code))
    info(_("Compare it by phone or video with the code {name} reads to you.").format(name=who))
    question = _("Does it match the code {name} read to you, digit for digit?")
    return bool(click.confirm(question.format(name=who), default=False, err=True))


def confirm_fn() -> Any:
    return confirm_code if interactive() else None
