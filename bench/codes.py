"""How many bytes 2FA code windows add to the owner's log, per member, item and day.

    .venv/bin/python bench/codes.py

A real vault (tests/world.py: real keys, real signatures, the library's own share and
upkeep), one item with a TOTP seed shared with one member as 2FA codes for given hours.
The clock seam moves time forward so that upkeep tops the codes up the way an owner who
runs takusu every day would. The log line of every `codes` event is measured as written
(base64, signature and all). Figures from a run are recorded in docs/performance.md.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.logs import payload, read_lines  # noqa: E402
from tests.world import build  # noqa: E402
from vault import sharing  # noqa: E402
from vault.codewindow import parse_hours  # noqa: E402
from vault.trust import trust_new_member  # noqa: E402

MONDAY_10_TOKYO = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
CASES = [
    ("Mon-Fri 09:00-18:00", 7),
    ("Mon-Fri 09:00-18:00", 30),
    ("00:00-24:00", 7),
]
DAYS_RUN = 28  # the owner runs takusu once a day for four weeks


def codes_lines(log: Path) -> list[bytes]:
    return [line for line in read_lines(log) if payload(line)["type"] == "codes"]


def measure(root: Path, hours: str, days: int) -> dict[str, float]:
    w = build(root, share=False)
    client = w.machine(w.client)
    client.clock = lambda: MONDAY_10_TOKYO
    sess = client.session("acme")
    card = w.machine(w.secretary).card()
    trust_new_member(sess, card, "aiko", card.safety_code, None, lambda message: None)
    otp = {"hours": parse_hours(hours).to_json(), "zone": "Asia/Tokyo", "days": days}
    sharing.share(sess, w.items["GitHub"], w.member_id, None, fields=["password"], otp=otp)
    first = codes_lines(w.owner_log)
    for day in range(1, DAYS_RUN + 1):
        when = MONDAY_10_TOKYO + timedelta(days=day)
        client.clock = lambda when=when: when
        sharing.upkeep(client.session("acme"))
    every = codes_lines(w.owner_log)
    top_ups = every[len(first) :]
    total = sum(len(line) for line in every)
    return {
        "first": sum(len(line) for line in first),
        "top_ups": len(top_ups),
        "top_up_mean": sum(len(line) for line in top_ups) / max(1, len(top_ups)),
        "per_day": (total - sum(len(line) for line in first)) / DAYS_RUN,
    }


def main() -> None:
    print(
        f"| hours | days ahead | first delivery | top-ups in {DAYS_RUN} days | bytes per top-up "
        "| bytes per member-item-day |"
    )
    print("|---|---|---|---|---|---|")
    for hours, days in CASES:
        with tempfile.TemporaryDirectory(prefix="takusu-codes-") as tmp:
            m = measure(Path(tmp), hours, days)
        print(
            f"| {hours} | {days} | {m['first']:,.0f} B | {m['top_ups']} "
            f"| {m['top_up_mean']:,.0f} B | {m['per_day']:,.0f} B |"
        )


if __name__ == "__main__":
    main()
