"""The trail and the vault's health: audit, audit verify, doctor, sync, demo."""

from __future__ import annotations

from typing import Any

import click

from vault import i18n
from vault.errors import UsageError
from vault.i18n import N_, _

from .common import app, json_option, session, vault_selector
from .term import emit_json, hint, out, say, warn


@click.group(invoke_without_command=True)
@click.option("--item", metavar="TITLE")
@click.option("--member", "member_", metavar="NAME")
@click.option("--since", metavar="DATE", help="YYYY-MM-DD or an RFC 3339 time.")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet (times in UTC).")
@click.option(
    "--excel",
    is_flag=True,
    help="With --csv: start with a byte-order mark, so Japanese Excel reads it as UTF-8.",
)
@click.pass_context
def audit(
    ctx: click.Context,
    item: str | None,
    member_: str | None,
    since: str | None,
    as_json: bool,
    as_csv: bool,
    excel: bool,
) -> None:
    """The timeline of who did what, merged from every log; 'audit verify' checks it."""
    if ctx.invoked_subcommand is not None:
        return
    from vault.audit import csv_text, table, timeline
    from vault.clock import parse_since
    from vault.sharing import member_by_name

    if excel and not as_csv:
        raise UsageError(_("--excel goes with --csv"))
    start = parse_since(since) if since else None  # checked before the vault is opened
    sess = session(ctx)
    item_id = sess.find(item) if item else None
    member_id = member_by_name(sess, member_, include_removed=True) if member_ else None
    rows = timeline(sess, item_id, member_id, start)
    if as_json:
        emit_json(rows)
    elif as_csv:
        if excel:
            click.echo("\ufeff", nl=False)  # the BOM, which out() would show escaped
        out(*csv_text(rows).splitlines())
    else:
        out(*table(rows))  # a row a line, then one note on whose word members' rows are


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Verify every signature, chain link, witness and retrieval; exit 3 on tampering."""
    from vault.audit import verify
    from vault.errors import IntegrityError

    sess = session(ctx)
    report = verify(sess.store, sess.loaded)
    for problem in report.problems:
        _say_problem(problem)
    events = sum(report.logs.values())
    if not report.ok:
        first = next(p for p in report.problems if p.fatal)
        raise IntegrityError(_("audit verify failed: {problem}").format(problem=first))
    out(
        _(
            "OK: everything verified (logs: {logs}, events: {events}, "
            "records of retrievals: {retrievals})"
        ).format(logs=len(report.logs), events=events, retrievals=report.receipts)
    )


def _say_problem(problem: Any) -> None:
    """A problem found: a warning, or (when it is tampering or damage) `problem: …`."""
    if problem.fatal:
        say(_("problem: {problem}").format(problem=problem))
    else:
        warn(str(problem))


@click.command()
@click.option("--repair", is_flag=True, help="Restore damaged or missing logs from the mirror.")
@click.option(
    "--accept-rollback",
    is_flag=True,
    help="Owner: republish the newest verified state and log the rollback.",
)
@click.pass_context
def doctor(ctx: click.Context, repair: bool, accept_rollback: bool) -> None:
    """Health of my identity and of the vault folder; exit 3 if something was tampered with."""
    from vault import doctor as doc
    from vault.errors import IntegrityError

    takusu = app(ctx)
    if repair or accept_rollback:
        sess = takusu.session(vault_selector(ctx))
        done = doc.accept_rollback(sess) if accept_rollback else doc.repair(sess)
        for log in done.fixed:
            say(
                _("restored log {log} in the folder from this machine's verified mirror").format(
                    log=log[:12]
                )
            )
        for log in done.forks_kept:
            warn(
                _(
                    "log {log} in the folder is a different valid branch by its own writer "
                    "(a fork); it was not overwritten: see docs/security.md, 'Forks'"
                ).format(log=log[:12])
            )
        for name in done.copies_moved:
            say(
                _(
                    "moved the sync-conflict copy {name} out of the folder (kept in quarantine)"
                ).format(name=name)
            )
        if accept_rollback:
            say(_("recorded the rollback in the vault's signed log"))
    health = doc.check(takusu, vault_selector(ctx))
    for line in health.lines:
        out(line)
    for problem in health.problems:
        _say_problem(problem)
    for text in health.hints:
        hint(text)
    if not health.ok:
        raise IntegrityError(
            _("the vault folder has problems (see above)"),
            hint=_("'takusu doctor --repair' restores logs from this machine's mirror"),
        )


# What `sync` did, by (committed, pulled, pushed).
SYNCED = {
    (False, False, False): N_("sync: nothing to do"),
    (True, False, False): N_("sync: committed"),
    (False, True, False): N_("sync: pulled"),
    (False, False, True): N_("sync: pushed"),
    (True, True, False): N_("sync: committed, pulled"),
    (True, False, True): N_("sync: committed, pushed"),
    (False, True, True): N_("sync: pulled, pushed"),
    (True, True, True): N_("sync: committed, pulled, pushed"),
}


@click.command()
@click.pass_context
def sync(ctx: click.Context) -> None:
    """In a vault folder kept in git: commit my log, pull --rebase, verify, push."""
    from vault.gitsync import sync as do_sync

    result = do_sync(session(ctx))
    done = SYNCED[bool(result.committed), bool(result.pulled), bool(result.pushed)]
    out(i18n._(done))
    for note in result.notes:
        warn(note)


@click.command()
def demo() -> None:
    """Run the whole story (client and secretary) in a temporary folder, narrated."""
    from vault.demo import run

    run(out)


COMMANDS = [audit, doctor, sync, demo]
