"""The audit trail: one timeline merged from every log, and a full verification pass.

Ordering comes from sequence numbers and hash links: an owner event sits at its own
sequence number, a member's receipt right after the owner event it witnessed. The
`at` times are shown but never used to order or to trust anything.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import i18n
from . import state as state_mod
from .clock import is_stamp, parse_time, shown_stamp
from .codewindow import Hours, parse_zone, within
from .errors import IntegrityError
from .events import MEMBER_TYPES, Event
from .i18n import N_, _, ngettext
from .identity import Card
from .moving import FORMAT_NAMES
from .session import Session
from .state import Policy, member_event_problem
from .store import Kind, Loaded, Problem, Store

# What each event did, in English for --json and --csv (scripts read it); the table's
# sentences, in the reader's language, are `describe`'s.
_ACTIONS = {
    "vault.create": "created the vault",
    "member.add": "added member",
    "member.remove": "removed member",
    "item.put": "saved",
    "item.delete": "deleted",
    "grant": "shared",
    "revoke": "revoked",
    "retrieve": "retrieved",
    "request": "asked for access",
    "rollback.accept": "accepted a rollback of the folder",
    "view": "sealed the shared fields of",
    "codes": "delivered 2FA codes of",
    "policy": "set the retrieval policy",
    "request.deny": "denied a request of",
    "import": "imported items",
    "export": "exported every item",
}

# How a field a retrieval names reads to people: the seed is permanent 2FA access, a code
# is one login (marked for translation: show them with `field_word`).
FIELD_WORDS = {"totp": N_("the 2FA seed"), "otp": N_("one 2FA code")}
# The other fields keep their names in English (they are what `takusu get` takes).
_FIELD_NAMES = {
    "password": N_("password"),
    "username": N_("username"),
    "url": N_("url"),
    "notes": N_("notes"),
    "title": N_("title"),
    "tags": N_("tags"),
    "2FA codes": N_("2FA codes"),  # a scope with code windows
}
_OWNER = " (owner)"


def _names(session: Session) -> dict[str, str]:
    names = {m: v["name"] for m, v in session.state["members"].items()}
    names[session.owner_id] = session.owner_card.name + _OWNER
    return names


def _title(item_id: str | None, titles: dict[str, str]) -> str | None:
    if item_id is None:
        return None
    return titles.get(item_id, f"[item {item_id[:8]}]")


def timeline(
    session: Session,
    item: str | None = None,
    member: str | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every event of every log as rows, oldest first, filtered as asked."""
    names = _names(session)
    titles = _titles(session)
    owner = session.owner_id
    rows: list[tuple[tuple[int, int], str, str, dict[str, Any]]] = []
    for log in [owner, *sorted(k for k in session.state["heads"] if k != owner)]:
        for ev in session.store.mirror.events(log):
            if log == owner:
                row = _row(ev, log, names, titles)
                rows.append(((ev["seq"], 0), ev["at"], log, row))
            elif member_event_problem(ev) is None:
                row = _row(ev, log, names, titles)
                row["reported_by"] = "the member's takusu"
                rows.append(((ev["owner_head"]["seq"], 1), ev["at"], log, row))
            else:
                rows.append(((_LAST, 1), "", log, _ignored_row(ev, log, names)))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = []
    for _order, _at, log, row in rows:
        if item and row.get("item") != item:
            continue
        if member and member not in (log, row.get("member_id")):
            continue
        if since and (row["time"] is None or parse_time(row["time"]) < since):
            continue
        del row["time"]
        out.append(row)
    return out


_LAST = 1 << 53  # where a member's unreadable event sorts: after everything


def _titles(session: Session) -> dict[str, str]:
    """Titles of the items this identity can read (the owner: deleted ones too)."""
    titles = dict(session.titles())  # from the encrypted summary index, not 10,000 decryptions
    if session.is_owner:
        for item_id, it in session.state["items"].items():
            if it["deleted"] and item_id not in titles:
                try:
                    titles[item_id] = session.payload(item_id)["title"]
                except IntegrityError:
                    pass
    return titles


def _row(
    ev: dict[str, Any], log: str, names: dict[str, str], titles: dict[str, str]
) -> dict[str, Any]:
    """A row for an event whose fields were checked: an accepted owner event, or a member
    event that passed `state.member_event_problem`."""
    t = ev["type"]
    row: dict[str, Any] = {
        "at": printable(ev["at"]),
        "time": ev["at"],
        "log": log,
        "seq": ev["seq"],
        "actor": names.get(log, log[:8]),
        "type": t,
        "action": _ACTIONS.get(t, t),
        "item": ev.get("item"),
        "title": printable(_title(ev.get("item"), titles)),
    }
    if "version" in ev:
        row["version"] = ev["version"]
    if isinstance(ev.get("member"), str):
        row["member_id"] = ev["member"]
        row["member"] = printable(names.get(ev["member"], str(ev.get("name") or ev["member"][:8])))
    for key in ("fields", "reason", "expires"):
        if isinstance(ev.get(key), str | list):
            row[key] = printable(ev[key])
    if t == "item.put" and ev.get("rotated"):
        row["action"] = "rotated"
    scope = ev.get("scope")
    if t == "grant" and isinstance(scope, dict) and isinstance(scope.get("fields"), list):
        row["scope"] = printable([str(f) for f in scope["fields"]])
        if scope.get("otp"):
            row["scope"].append("2FA codes")
    if t in ("grant", "request.deny") and isinstance(ev.get("request"), str):
        row["request"] = printable(ev["request"])
    if t == "request" and isinstance(ev.get("id"), str):
        row["request"] = printable(ev["id"])
    if t == "import":
        source = FORMAT_NAMES.get(str(ev.get("format")), _ANOTHER_TOOL)
        row["action"] = f"imported {ev.get('added')} items from {source}"
        if ev.get("updated"):
            row["action"] += f" ({ev.get('updated')} updated)"
        row["format"] = printable(str(ev.get("format")))
        row["added"], row["updated"] = ev.get("added"), ev.get("updated")
    if t == "export":
        kind = (
            "an encrypted KeePass file" if ev.get("format") == "kdbx" else "a plain-text CSV file"
        )
        row["action"] = f"exported {ev.get('items')} items to {kind}"
        row["format"], row["items"] = printable(str(ev.get("format"))), ev.get("items")
    return row


_ANOTHER_TOOL = N_("another tool")


def _ignored_row(ev: dict[str, Any], log: str, names: dict[str, str]) -> dict[str, Any]:
    """A member's event takusu does not read: shown as ignored, none of its fields used."""
    at = ev.get("at")
    return {
        "at": printable(at) if is_stamp(at) else "?",
        "time": at if is_stamp(at) else None,
        "log": log,
        "seq": ev["seq"],
        "actor": names.get(log, log[:8]),
        "type": "ignored",
        "action": "wrote an event takusu does not read (ignored: "
        f"{member_event_problem(ev, translated=False)})",
        "event_type": printable(str(ev.get("type"))[:40]),
        "item": None,
        "title": None,
        "reported_by": "the member's takusu",
    }


def _escape(text: str) -> str:
    if text.isprintable():
        # No character of category C (nor Z, but for the ASCII space): nothing to escape.
        # A line of an audit is nearly always this; the walk below is for the rest.
        return text
    return "".join(
        ch
        if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029"
        else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in text
    )


def printable(value: Any) -> Any:
    """Text safe for a terminal or spreadsheet: control/format characters escaped, and a
    leading = + - @ defused (a member signs some of this text, so it is hostile)."""
    if isinstance(value, list):
        return [printable(v if isinstance(v, str) else str(v)) for v in value]
    if not isinstance(value, str):
        return value
    out = _escape(value)
    return "'" + out if out[:1] in ("=", "+", "-", "@") else out


CSV_COLUMNS = (
    "at",
    "actor",
    "action",
    "title",
    "member",
    "version",
    "fields",
    "reason",
    "log",
    "seq",
)


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The timeline as CSV, every cell defused for spreadsheets (see `printable`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                printable(";".join(r[c]) if isinstance(r.get(c), list) else r.get(c, ""))
                for c in CSV_COLUMNS
            ]
        )
    return buffer.getvalue()


def field_word(name: str) -> str:
    """A field a retrieval or share names, as people read it in their language (a custom
    field keeps its own name)."""
    known = FIELD_WORDS.get(name) or _FIELD_NAMES.get(name)
    return i18n._(known) if known else name


def _words(names: Any) -> str:
    listed = names if isinstance(names, list) else [names]
    return _(", ").join(field_word(str(n)) for n in listed)


def describe(row: dict[str, Any]) -> str:
    """One timeline row as a line of text for people, in their language. That members'
    rows are as their own takusu reported them is said once, under the table (`note`)."""
    actor = str(row.get("actor", "?"))
    if actor.endswith(_OWNER):
        actor = _("{name} (owner)").format(name=actor.removesuffix(_OWNER))
    line = f"{shown_stamp(row.get('at', '?'))}  {actor}  {_what(row)}"
    if row.get("fields"):
        line = _("{line} [{fields}]").format(line=line, fields=_words(row["fields"]))
    if row.get("scope"):
        line = _("{line} (only: {fields})").format(line=line, fields=_words(row["scope"]))
    if row.get("request") and row.get("type") == "grant":
        line = _("{line} (approving request {request})").format(line=line, request=row["request"])
    elif row.get("request"):
        line = _("{line} (request {request})").format(line=line, request=row["request"])
    if row.get("reason"):
        line = _("{line} reason: {reason}").format(line=line, reason=row["reason"])
    return _escape(line)


def note(rows: list[dict[str, Any]]) -> str | None:
    """The one note under the table, when it holds rows members' takusu reported."""
    if any(row.get("reported_by") for row in rows):
        return _("Rows by members are as reported by the member's own takusu.")
    return None


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The timeline as lines for people: a row a line, then the note (see `note`)."""
    lines = [describe(row) for row in rows]
    shown = note(rows)
    return [*lines, "", _escape(shown)] if shown else lines


def _what(row: dict[str, Any]) -> str:
    """What the row's event did, as one sentence in the reader's language."""
    t = row.get("type")
    title = _shown_title(row)
    member = str(row.get("member") or "?")
    if t == "vault.create":
        return _("created the vault")
    if t == "member.add":
        return _("added member {member}").format(member=member)
    if t == "member.remove":
        return _("removed member {member}").format(member=member)
    if t == "item.put" and row.get("action") == "rotated":
        return _("rotated {title}").format(title=title)
    if t == "item.put":
        return _("saved {title}").format(title=title)
    if t == "item.delete":
        return _("deleted {title}").format(title=title)
    if t == "grant" and row.get("expires"):
        return _("shared {title} with {member} until {expires}").format(
            title=title, member=member, expires=shown_stamp(row["expires"])
        )
    if t == "grant":
        return _("shared {title} with {member}").format(title=title, member=member)
    if t == "revoke":
        return _("revoked {title} from {member}").format(title=title, member=member)
    if t == "retrieve":
        return _("retrieved {title}").format(title=title)
    if t == "request":
        return _("asked for access")
    if t == "rollback.accept":
        return _("accepted a rollback of the folder")
    if t == "view":
        return _("gave {member} the shared fields of {title}").format(title=title, member=member)
    if t == "codes":
        return _("gave {member} 2FA codes for {title}").format(title=title, member=member)
    if t == "policy":
        return _("set the retrieval policy")
    if t == "request.deny":
        return _("denied a request from {member}").format(member=member)
    if t == "import":
        return _imported(row)
    if t == "export":
        return _exported(row)
    if t == "ignored":
        return _("wrote an event takusu does not read (ignored: {why})").format(
            why=_ignored_why(row)
        )
    return str(row.get("action", t))


def _shown_title(row: dict[str, Any]) -> str:
    title, item = row.get("title"), row.get("item")
    if isinstance(item, str) and title == f"[item {item[:8]}]":
        return _("[item {id}]").format(id=item[:8])  # no readable title: the id
    return str(title) if title else "?"


def _imported(row: dict[str, Any]) -> str:
    added, updated = row.get("added"), row.get("updated")
    n = added if type(added) is int else 0
    name = FORMAT_NAMES.get(str(row.get("format")), _ANOTHER_TOOL)
    source = i18n._(name)
    if type(updated) is int and updated:
        return ngettext(
            "imported {n} item from {source} ({updated} updated)",
            "imported {n} items from {source} ({updated} updated)",
            n,
        ).format(n=n, source=source, updated=updated)
    return ngettext(
        "imported {n} item from {source}", "imported {n} items from {source}", n
    ).format(n=n, source=source)


def _exported(row: dict[str, Any]) -> str:
    items = row.get("items")
    n = items if type(items) is int else 0
    if row.get("format") == "kdbx":
        return ngettext(
            "exported {n} item to an encrypted KeePass file",
            "exported {n} items to an encrypted KeePass file",
            n,
        ).format(n=n)
    return ngettext(
        "exported {n} item to a plain-text CSV file",
        "exported {n} items to a plain-text CSV file",
        n,
    ).format(n=n)


def _ignored_why(row: dict[str, Any]) -> str:
    """Why a member's event was ignored (what `state.member_event_problem` found), from
    what the row keeps: the type the event claims, and its time ("?" when unreadable)."""
    wrote = str(row.get("event_type", "?"))
    if wrote not in MEMBER_TYPES:
        why = state_mod.NOT_A_MEMBER_TYPE
    elif row.get("at") == "?":
        why = state_mod.BAD_TIME
    else:
        why = state_mod.BAD_SHAPE
    return i18n._(why).format(type=wrote)


@dataclass
class Report:
    logs: dict[str, int] = field(default_factory=dict)
    receipts: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)


def verify(store: Store, loaded: Loaded) -> Report:
    """Re-verify every log in the folder from the start (against the state `loaded` from
    `store`); check witnesses and receipts."""
    st = loaded.state
    report = Report(problems=list(loaded.problems))
    owner = store.owner
    owner_events = store.verify_log(owner, store.owner_card, report.problems)
    report.logs[owner] = len(owner_events)
    member_events: dict[str, list[Event]] = {}
    for member_id, member in st["members"].items():
        events = store.verify_log(member_id, Card.from_envelope(member["card"]), report.problems)
        member_events[member_id] = events
        report.logs[member_id] = len(events)
        for ev in events:
            problem = member_event_problem(ev.fields)
            if problem is not None:
                kind = (
                    Kind.MEMBER_STATE_CHANGE
                    if ev.type not in MEMBER_TYPES
                    else Kind.MALFORMED_RECEIPT
                )
                why = _("{problem}; it was ignored").format(problem=problem)
                report.problems.append(Problem(kind, why, member_id, ev.seq))
    _check_owner_chain(owner_events, member_events, report)
    _check_receipts(owner_events, member_events, report)
    return report


def _check_owner_chain(
    owner_events: list[Event], member_events: dict[str, list[Event]], report: Report
) -> None:
    for ev in owner_events:
        seen = ev.fields.get("seen")
        for log, head in (seen if isinstance(seen, dict) else {}).items():
            if not isinstance(head, dict) or type(head.get("seq")) is not int:
                continue
            events = member_events.get(log)
            if events is None:
                continue
            seq = head.get("seq", -1)
            if seq >= len(events):
                report.problems.append(
                    Problem(
                        Kind.TRUNCATED,
                        _("the owner saw event {seq} of this log, which is now missing").format(
                            seq=seq
                        ),
                        log,
                        seq,
                    )
                )
            elif events[seq].hash != head.get("hash"):
                report.problems.append(
                    Problem(
                        Kind.REWRITTEN,
                        _("this event differs from the one the owner witnessed"),
                        log,
                        seq,
                    )
                )


def _check_receipts(
    owner_events: list[Event], member_events: dict[str, list[Event]], report: Report
) -> None:
    """Each receipt must name an owner head that exists and a grant valid at that point."""
    by_position = _receipts_by_owner_head(member_events)
    report.receipts += sum(len(r) for r in by_position.values())
    st = state_mod.empty()
    for position, ev in enumerate(owner_events):
        try:
            state_mod.apply_owner(st, ev)
        except IntegrityError as exc:
            report.problems.append(Problem(Kind.INVALID_OWNER_EVENT, exc.reason, ev.actor, ev.seq))
            return
        for receipt in by_position.pop(position, []):
            report.problems.extend(_check_receipt(st, ev, receipt))
    for position, receipts in by_position.items():
        for receipt in receipts:
            report.problems.append(
                Problem(
                    Kind.RECEIPT_WITHOUT_GRANT if position < 0 else Kind.FORK,
                    _("a retrieval names an owner event the owner's log does not contain"),
                    receipt.actor,
                    receipt.seq,
                )
            )


def _receipts_by_owner_head(member_events: dict[str, list[Event]]) -> dict[int, list[Event]]:
    """Every well-formed receipt, keyed by the owner event (seq) it says it saw."""
    by_position: dict[int, list[Event]] = {}
    for events in member_events.values():
        for ev in events:
            if ev.type == "retrieve" and member_event_problem(ev.fields) is None:
                head = ev.fields.get("owner_head") or {}
                by_position.setdefault(int(head.get("seq", -1)), []).append(ev)
    return by_position


def _check_receipt(st: state_mod.State, seen: Event, receipt: Event) -> list[Problem]:
    """What is wrong with one receipt, given the owner's state at the event it saw."""
    if receipt.fields["owner_head"].get("hash") != seen.hash:
        return [
            Problem(
                Kind.FORK,
                _("a retrieval names an owner event that differs from the owner's log"),
                receipt.actor,
                receipt.seq,
            )
        ]
    item = st["items"].get(str(receipt.fields.get("item")))
    grant = item["grants"].get(receipt.actor) if item else None
    if not grant or grant["version"] != receipt.fields.get("version"):
        return [
            Problem(
                Kind.RECEIPT_WITHOUT_GRANT,
                _("a retrieval names no access that was valid at that time"),
                receipt.actor,
                receipt.seq,
            )
        ]
    policy = st["policy"]
    breach = _policy_breach(policy, receipt.fields) if policy is not None else None
    if breach is not None:
        return [
            Problem(
                Kind.POLICY_BREACH,
                _("a retrieval of {item} at {at} broke the owner's policy: {why}").format(
                    item=str(receipt.fields.get("item"))[:8],
                    at=receipt.fields.get("at"),
                    why=breach,
                ),
                receipt.actor,
                receipt.seq,
                fatal=False,
            )
        ]
    if grant["expires"] and str(receipt.fields.get("at")) > grant["expires"]:
        # Times are the member's own claim, so this is a warning, not proof.
        return [
            Problem(
                Kind.RETRIEVED_AFTER_EXPIRY,
                _("a retrieval is dated after its access expired ({expires})").format(
                    expires=shown_stamp(grant["expires"])
                ),
                receipt.actor,
                receipt.seq,
                fatal=False,
            )
        ]
    return []


def _policy_breach(policy: Policy, fields: dict[str, Any]) -> str | None:
    """How a receipt breaks the policy in force when it was written, or None. (Its time is
    the member's own claim: a breach is reported, never proof of one.)"""
    if policy["require_reason"] and not fields.get("reason"):
        return _("it gives no reason, and the owner asks for one")
    if policy["hours"] is not None and policy["zone"] is not None and is_stamp(fields.get("at")):
        when = parse_time(str(fields["at"]))
        if not within(Hours.from_json(policy["hours"]), parse_zone(policy["zone"]), when):
            return _("it is dated outside the hours the owner allows")
    return None
