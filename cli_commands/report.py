"""`takusu report`: what the client looks at — a page for the browser, or a short summary."""

from __future__ import annotations

from pathlib import Path

import click

from vault.i18n import _

from .common import complete_members, session
from .term import info, out


@click.command()
@click.option(
    "--member",
    "member_",
    metavar="NAME",
    help="Only this member.",
    shell_complete=complete_members,
)
@click.option("--since", metavar="DATE", help="Only retrievals since DATE (e.g. 2026-12-01, 7d).")
@click.option(
    "--html",
    "html_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as one web page to FILE (open it in a browser, print it to PDF).",
)
@click.pass_context
def report(
    ctx: click.Context, member_: str | None, since: str | None, html_file: Path | None
) -> None:
    """Who can read what, every retrieval with its reason, what to change, and whether the
    trail verifies: a short summary here, or with --html a page to open in a browser."""
    from vault import i18n
    from vault.clock import parse_since
    from vault.fsutil import atomic_write
    from vault.report import render_html, render_text
    from vault.reportdata import build

    start = parse_since(since) if since else None  # checked before the vault is opened
    sess = session(ctx)
    data = build(sess, member=member_, since=start)
    if html_file is None:
        out(*render_text(data, i18n._).splitlines())
        return
    page = render_html(data, i18n._, i18n.current())
    atomic_write(html_file, page.encode("utf-8"))
    out(_("Wrote the report to {file}").format(file=html_file))
    info(_("Open it in a web browser; it needs no network and prints to A4."))


COMMANDS = [report]
