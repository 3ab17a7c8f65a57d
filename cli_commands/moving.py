"""Moving in and out: `import` from where logins are kept today, `export` to a file another
password manager opens."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from vault import i18n
from vault.errors import UsageError
from vault.i18n import N_, _, ngettext

from .common import StdinLines, session
from .term import hidden, hint, info, interactive, out


def _source_password(password_stdin: bool, lines: StdinLines) -> Any:
    """A callable the kdbx reader asks only when it needs the database's password."""

    def ask() -> str:
        if password_stdin:
            return lines.next(_("password of the KeePass database"))
        if not interactive():
            raise UsageError(_("the KeePass database needs its password: use --password-stdin"))
        return hidden(_("Password of the KeePass database"))

    return ask


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise UsageError(_("--map takes COLUMN=FIELD, not {given}").format(given=repr(pair)))
        mapping[column.strip()] = target.strip()
    return mapping


@click.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", metavar="FORMAT", help="The source's format (default: detected).")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--tag", "tags", multiple=True, help="A tag for every imported item (repeatable).")
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "update", "add"]),
    default="skip",
    show_default=True,
    help="What to do with a login already in the vault (same title, user and URL).",
)
@click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD", help="Map a column.")
@click.option(
    "--password-stdin", is_flag=True, help="Read a KeePass database's password from stdin."
)
@click.option("--skip-bad-totp", is_flag=True, help="Import a row without its broken 2FA seed.")
@click.pass_context
def import_(
    ctx: click.Context,
    file: Path,
    fmt: str | None,
    dry_run: bool,
    tags: tuple[str, ...],
    on_duplicate: str,
    maps: tuple[str, ...],
    password_stdin: bool,
    skip_bad_totp: bool,
) -> None:
    """Import logins from a spreadsheet, a browser, Bitwarden, 1Password, KeePass(XC) or a
    pass store (the format is detected). Each row is imported whole or not at all."""
    from vault.moving import plan
    from vault.transfer import read_source
    from vault.transfer.record import ReadOptions

    ask = _source_password(password_stdin, StdinLines())
    options = ReadOptions(_mapping(maps), skip_bad_totp, ask)
    result = read_source(file, fmt, options)  # before the vault is unlocked
    sess = None
    if not dry_run:
        sess = session(ctx)
        sess.require_owner()
    existing = sess.summaries() if sess else None
    the_plan = plan(result, on_duplicate, list(tags), existing, sess.payload if sess else None)
    _show_plan(the_plan, dry_run)
    if dry_run or sess is None:
        return
    _apply(sess, the_plan)
    if the_plan.format not in ("kdbx", "pass"):  # a file of plain text
        hint(
            _(
                "{file} holds your passwords in plain text: delete it now "
                "(and empty the trash), since they are in the vault"
            ).format(file=file)
        )


# What happens to one row, by (what, whether there is a reason): {place}, {title}, {why}.
ACTIONS = {
    ("add", False): N_("{place}: add {title}"),
    ("add", True): N_("{place}: add {title} ({why})"),
    ("update", False): N_("{place}: update {title}"),
    ("update", True): N_("{place}: update {title} ({why})"),
    ("skip", False): N_("{place}: skip {title}"),
    ("skip", True): N_("{place}: skip {title} ({why})"),
    ("refuse", False): N_("{place}: refuse {title}"),
    ("refuse", True): N_("{place}: refuse {title} ({why})"),
}


def _say(msgid: str) -> str:
    """A sentence of a table above, in the reader's language."""
    return i18n._(msgid)


def _show_plan(the_plan: Any, dry_run: bool) -> None:
    lines: list[tuple[str, str]] = []
    for action in the_plan.actions:
        if action.what != "add" or dry_run or action.why:
            place, title, why = action.record.place, repr(action.record.title), action.why
            line = _say(ACTIONS[action.what, bool(why)]).format(place=place, title=title, why=why)
            lines.append((place, line))
    refuse = _("{place}: refuse ({why})")
    skip = _("{place}: skip ({why})")
    lines += [(place, refuse.format(place=place, why=why)) for place, why in the_plan.refused]
    lines += [(place, skip.format(place=place, why=why)) for place, why in the_plan.skipped]
    for _place, line in sorted(lines, key=lambda pair: _place_order(pair[0])):
        out(line)
    for notice in the_plan.notices:
        info(notice)
    if dry_run and not the_plan.compared:
        info(_("(not compared with the vault's items: logins already in it are skipped on import)"))


def _place_order(place: str) -> tuple[int, ...]:
    """Rows and entries in file order: by the numbers in their place ("row 12")."""
    return tuple(int(n) for n in re.findall(r"\d+", place)[:4])


def _apply(sess: Any, the_plan: Any) -> None:
    from vault.moving import FORMAT_NAMES, apply

    total = len(the_plan.actions)
    if total > 50 and sys.stderr.isatty():
        with click.progressbar(length=total, label=_("Importing"), file=sys.stderr) as bar:
            apply(sess, the_plan, lambda n: bar.update(1))
    else:
        apply(sess, the_plan)
    refused = the_plan.count("refuse") + len(the_plan.refused)
    skipped = the_plan.count("skip") + len(the_plan.skipped)
    source = FORMAT_NAMES.get(the_plan.format)
    out(
        _(
            "Imported from {source}: {added} added, {updated} updated, "
            "{skipped} skipped, {refused} refused"
        ).format(
            source=i18n._(source) if source else the_plan.format,
            added=the_plan.count("add"),
            updated=the_plan.count("update"),
            skipped=skipped,
            refused=refused,
        )
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--password-stdin", is_flag=True, help="Read the new file's password from stdin.")
@click.option("--plain", is_flag=True, help="Write a CSV file in plain text (asks first).")
@click.option("--yes", is_flag=True, help="With --plain: do not ask (for scripts).")
@click.pass_context
def export(ctx: click.Context, file: Path, password_stdin: bool, plain: bool, yes: bool) -> None:
    """Export every item: to FILE.kdbx, a KeePass database KeePassXC opens (encrypted with a
    password you choose), or with --plain to a CSV file in plain text."""
    from vault.moving import export_items, record_export

    kind = file.suffix.lower()
    if kind not in (".kdbx", ".csv"):
        raise UsageError(_("export writes FILE.kdbx (encrypted) or FILE.csv (with --plain)"))
    if kind == ".csv" and not plain:
        raise UsageError(_("a CSV file holds every password in plain text: add --plain to say so"))
    if kind == ".kdbx" and plain:
        raise UsageError(_("--plain is for FILE.csv; a .kdbx file is always encrypted"))
    if file.exists():
        raise UsageError(_("{file} exists already; choose a new file name").format(file=file))
    if kind == ".kdbx":
        from vault.transfer.keepass import require_kdbx

        require_kdbx()
    password = _export_password(password_stdin) if kind == ".kdbx" else None
    if plain:
        _confirm_plain(file, yes)
    sess = session(ctx)
    items = export_items(sess)
    if kind == ".kdbx":
        from vault.transfer.export import write_kdbx

        assert password is not None
        write_kdbx(file, items, password)
    else:
        from vault.transfer.export import write_plain_csv

        write_plain_csv(file, items)
    record_export(sess, file, kind[1:], len(items))
    count = len(items)
    out(
        ngettext("Exported {n} item to {file}", "Exported {n} items to {file}", count).format(
            n=count, file=file
        )
    )


def _export_password(password_stdin: bool) -> str:
    if password_stdin:
        return StdinLines().next(_("password for the KeePass file"))
    if not interactive():
        raise UsageError(_("the KeePass file needs a password: use --password-stdin or a terminal"))
    return hidden(_("Password for the new KeePass file"), confirm=True)


def _confirm_plain(file: Path, yes: bool) -> None:
    if yes:
        return
    if not interactive():
        raise UsageError(_("a plain-text export asks first: add --yes in a script"))
    info(_("{file} will hold every password of this vault in plain text.").format(file=file))
    info(_("Anyone who can read the file can use them. Delete it as soon as you are done."))
    if not click.confirm(_("Write it?"), default=False, err=True):
        raise click.exceptions.Abort()


COMMANDS = [import_, export]
