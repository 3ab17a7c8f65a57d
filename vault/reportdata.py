"""The client's report, gathered from an opened vault: who can read what, every retrieval
a member's takusu reported, what to change, and whether the trail verifies.

`build` reads only what the owner's session already has (the state, the mirrored logs,
the rotation checklist and `audit.verify`); `vault.report` turns it into a page or a
summary. The numbers are the audit's own: a retrieval here is a `retrieve` row of
`audit.timeline`, so the page and `takusu audit --json` cannot disagree.
"""

from __future__ import annotations

from datetime import datetime

from . import audit, report
from .clock import local_zone, parse_time
from .codewindow import Hours
from .session import Session
from .sharing import rotation_checklist
from .state import active_items

# The field names of records, as the report names them (a code is not the seed).
_REPORT_FIELDS = {"otp": "totp-code", "totp": "totp-seed"}


def _field(name: str) -> str:
    return _REPORT_FIELDS.get(name, name)


def _local(stamp: str | None) -> datetime | None:
    return parse_time(stamp).astimezone(local_zone()) if stamp else None


def zone_label(now: datetime) -> str:
    """The zone the page's times are in: "Asia/Tokyo (+09:00)"."""
    zone = local_zone()
    offset = now.astimezone(zone).strftime("%z")
    name = getattr(zone, "key", None) or now.astimezone(zone).tzname() or "local"
    return f"{name} ({offset[:3]}:{offset[3:]})"


def build(
    session: Session,
    *,
    member: str | None = None,
    since: datetime | None = None,
) -> report.ReportData:
    """The report of the vault `session` opened (the owner's), for one member's name or
    everyone, retrievals since `since` or all of them."""
    session.require_owner()
    now = session.clock()
    names = {m: v["name"] for m, v in session.state["members"].items()}
    member_id = None
    if member is not None:
        from .sharing import member_by_name

        member_id = member_by_name(session, member, include_removed=True)
    verified, problems = _verified(session)
    return report.ReportData(
        vault_name=str(session.state["name"] or ""),
        owner_name=session.owner_card.name,
        generated_at=now.astimezone(local_zone()),
        zone_label=zone_label(now),
        since=since.astimezone(local_zone()) if since else None,
        member_filter=names.get(member_id, member) if member_id else None,
        verified=verified,
        problems=problems,
        access=_access(session, names, member_id),
        retrievals=retrievals(session, member_id, since),
        exposed=_exposed(session, member_id),
        members=sorted(
            (v["name"] for v in session.state["members"].values() if not v["removed"]),
            key=str.casefold,
        )
        if member_id is None
        else [names[member_id]],
    )


def _verified(session: Session) -> tuple[bool, list[str]]:
    checked = audit.verify(session.store, session.loaded)
    return checked.ok, [str(p) for p in checked.problems if p.fatal]


def _access(
    session: Session, names: dict[str, str], member_id: str | None
) -> list[report.AccessRow]:
    rows = []
    titles = session.titles()
    for item_id, item in active_items(session.state).items():
        for grantee, grant in item["grants"].items():
            if member_id not in (None, grantee):
                continue
            scope = grant.get("scope")
            fields = None
            hours = None
            if scope is not None:
                fields = [str(f) for f in scope["fields"]]
                otp = scope.get("otp")
                if otp is not None:
                    fields.append("totp-code")
                    hours = f"{Hours.from_json(otp['hours']).describe()} ({otp['zone']})"
            rows.append(
                report.AccessRow(
                    member=names.get(grantee, grantee[:8]),
                    title=titles.get(item_id, f"[{item_id[:8]}]"),
                    fields=fields,
                    otp_hours=hours,
                    expires=_local(grant.get("expires")),
                )
            )
    rows.sort(key=lambda r: (r.member.casefold(), r.title.casefold()))
    return rows


def retrievals(
    session: Session, member_id: str | None = None, since: datetime | None = None
) -> list[report.RetrievalRow]:
    """Every retrieval the audit shows (oldest first), as report rows."""
    rows = []
    for row in audit.timeline(session, member=member_id, since=since):
        if row["type"] != "retrieve":
            continue
        at = _local(row["at"])
        assert at is not None
        rows.append(
            report.RetrievalRow(
                at=at,
                member=str(row["actor"]),
                title=str(row.get("title") or ""),
                what=[_field(str(f)) for f in row.get("fields") or []],
                reason=row.get("reason"),
                approved_request=None,
            )
        )
    return rows


def _exposed(session: Session, member_id: str | None) -> list[report.ExposedRow]:
    rows = []
    for row in rotation_checklist(session, member_id):
        since = _local(row["exposed_since"])
        assert since is not None
        rows.append(
            report.ExposedRow(
                title=row["title"],
                url=row["url"],
                member=row["member"],
                since=since,
                fields_seen=[_field(str(f)) for f in row["fields"]],
                seed_seen=bool(row["seed_seen"]),
                first_retrieved=_local(row["first_retrieved"]),
                last_retrieved=_local(row["last_retrieved"]),
                deleted=bool(row["deleted"]),
            )
        )
    return rows
