"""The command line in the reader's language: help texts and click's own messages.

Help texts stay English in the source (docstrings and `help=`) and are translated when
they are shown, so one process (the agent) can answer each caller in their language:
`translate_tree` gives every command and option of the tree a class whose help is looked
up in the catalog at that moment. The msgids are exactly what click would show in
English: the cleaned docstring, the option's help, and the short help click derives for
a command list (scripts/i18n.py extracts them by walking the same tree).

click's own messages ("Usage:", "Missing option", …) use gettext's global functions,
bound in each click module at import; `translate_click` points them at vault.i18n.
"""

from __future__ import annotations

import gettext
import inspect
import sys
from typing import Any

import click

from vault.i18n import _, ngettext
from vault.text import width


def translate_click() -> None:
    """Route click's gettext calls through takusu's catalog (idempotent)."""
    for name, module in list(sys.modules.items()):
        if name != "click" and not name.startswith("click."):
            continue
        if getattr(module, "_", None) is gettext.gettext:
            module._ = _  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = ngettext  # type: ignore[attr-defined]


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` terminal columns ("..." at the end when cut): a wide character
    takes two."""
    if width(text) <= limit:
        return text
    kept = ""
    for ch in text:
        if width(kept + ch) > limit - 3:
            break
        kept += ch
    return kept.rstrip() + "..."


def help_msgid(command: click.Command) -> str | None:
    """The English help text click shows for `command` (the msgid of its translation)."""
    if command.help is None:
        return None
    return inspect.cleandoc(command.help).partition("\f")[0]


def short_help_msgid(command: click.Command, limit: int = 45) -> str:
    """The short help click shows in a command list, in English."""
    return click.Command.get_short_help_str(command, limit)


class _Translated:
    """Mixin for click.Command and click.Group: help shown in the language in use."""

    help: str | None

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = help_msgid(self)  # type: ignore[arg-type]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(_(text))

    def get_short_help_str(self, limit: int = 45) -> str:
        # A command list asks for the width it has (the terminal's), but the msgid extracted
        # is the short help at click's default limit: its translation is a summary written
        # to fit a list, so it is shown at any width (cut if it is wider).
        summary = short_help_msgid(self)  # type: ignore[arg-type]
        translated = _(summary)
        if translated != summary:
            return fit(translated, limit)
        return _(short_help_msgid(self, limit))  # type: ignore[arg-type]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        # click makes `--help` once per command, with its help text translated then, and
        # keeps it: give it back its English text, translated each time it is shown.
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and type(option) is click.Option:
            option.__class__ = Option
            option.help = HELP_OPTION
        return option  # type: ignore[no-any-return]


HELP_OPTION = "Show this message and exit."  # click's own msgid


class Command(_Translated, click.Command):
    pass


class Group(_Translated, click.Group):
    pass


class Option(click.Option):
    """An option whose help is shown in the language in use."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        english = self.help
        self.help = _(english) if english else english
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = english


def translate_tree(command: click.Command) -> None:
    """Give `command`, its subcommands and their options the translating classes."""
    if type(command) is click.Group:
        command.__class__ = Group
    elif type(command) is click.Command:
        command.__class__ = Command
    for param in command.params:
        if type(param) is click.Option:
            param.__class__ = Option
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            translate_tree(sub)


def walk(command: click.Command) -> list[Any]:
    """Every command of the tree (for extraction)."""
    found = [command]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found += walk(sub)
    return found
