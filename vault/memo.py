"""The bounded tables a long-lived process (the agent) keeps between commands.

The state cache (store/mirror.py), the title index (index.py), what an identity can read
(session.py) and when upkeep next has work (sharing.py) are each remembered per vault in
a small table; `remember` puts the newest entry in and lets the oldest go.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 8  # vaults a process keeps in memory at once


def remember(table: dict[K, V], key: K, value: V, limit: int = LIMIT) -> None:
    """`value` under `key`, as the newest entry of `table`; the oldest beyond `limit` go."""
    table.pop(key, None)
    table[key] = value
    while len(table) > limit:
        del table[next(iter(table))]
