"""Asking and answering: `request` (a member), `requests`, `approve`, `deny` (the owner)."""

from __future__ import annotations

import click

from vault import i18n
from vault.i18n import N_, _

from .common import complete_titles, json_option, session
from .sharing import grant_options, report_share, share_options
from .term import emit_json, info, out


@click.command()
@click.argument("text")
@click.option("--reason", help="Why you need it (the owner sees it with the request).")
@click.option("--for", "for_", metavar="DURATION", help="How long you need it (e.g. 1d, 2w).")
@click.pass_context
def request(ctx: click.Context, text: str, reason: str | None, for_: str | None) -> None:
    """Ask the vault's owner for access to something, in your own words (sealed: only
    the owner and you can read it)."""
    from datetime import timedelta

    from vault.clock import parse_duration
    from vault.delegation import request as do_request

    duration = None
    if for_ is not None:
        count, unit = parse_duration(for_)
        days = {"months": 30, "years": 365}.get(unit)
        duration = timedelta(days=count * days) if days else timedelta(**{unit: count})
    request_id = do_request(session(ctx), text, reason, duration)
    out(request_id)
    info(
        _("Sent. The owner sees it when they next run takusu; 'takusu requests' shows the answer.")
    )


# A request's status as people read it (the --json output keeps the word itself).
STATUS = {"pending": N_("pending"), "approved": N_("approved"), "denied": N_("denied")}


def _status(status: str) -> str:
    return i18n._(STATUS[status]) if status in STATUS else status


@click.command()
@json_option
@click.pass_context
def requests(ctx: click.Context, as_json: bool) -> None:
    """Access requests: the owner sees the pending ones, a member hers and their answers."""
    from vault.clock import parse_time, shown_time
    from vault.delegation import requests as all_requests

    sess = session(ctx)
    rows = all_requests(sess)
    if sess.is_owner and not as_json:
        rows = [r for r in rows if r.status == "pending"]
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    if not rows:
        info(_("No pending requests.") if sess.is_owner else _("You have sent no requests."))
    for r in rows:
        when = shown_time(parse_time(r.at))
        who = f"{r.member}: " if sess.is_owner else ""
        out(f"{r.id}  {when}  {who}{r.text}  [{_status(r.status)}]")
        if r.reason:
            reason = _("reason: {reason}").format(reason=r.reason)
            out(f"      {reason}")
        if r.answer:
            answer = _("answer: {answer}").format(answer=r.answer)
            out(f"      {answer}")


@click.command()
@click.argument("request_id", metavar="ID")
@click.option(
    "--item",
    "title",
    required=True,
    metavar="TITLE",
    help="The item to share.",
    shell_complete=complete_titles,
)
@share_options
@click.pass_context
def approve(
    ctx: click.Context,
    request_id: str,
    title: str,
    expires: str | None,
    fields: str | None,
    otp_hours: str | None,
    otp_days: int,
    tz: str | None,
) -> None:
    """Answer a request by sharing an item (the audit shows which request it approved)."""
    from vault.delegation import approve as do_approve

    when, chosen, otp = grant_options(expires, fields, otp_hours, otp_days, tz)
    sess = session(ctx)
    sess.require_owner()
    item_id = sess.find(title)
    done = do_approve(sess, request_id, item_id, when, chosen, otp)  # type: ignore[arg-type]
    report_share(sess, item_id, sess.member_name(done.member), done)
    info(_("Approved request {id}.").format(id=request_id))


@click.command()
@click.argument("request_id", metavar="ID")
@click.option("--reason", help="Why not (the member sees it).")
@click.pass_context
def deny(ctx: click.Context, request_id: str, reason: str | None) -> None:
    """Answer a request with no."""
    from vault.delegation import deny as do_deny

    asked = do_deny(session(ctx), request_id, reason)
    out(_("Denied request {id} from {member}.").format(id=asked.id, member=asked.member))


COMMANDS = [request, requests, approve, deny]
