"""Looking at outcomes: the problems a load reports, where a message places them, what a
machine that never saw a vault (or `audit verify`) finds, and the receipts in an audit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.helpers import ok, run
from vault.identity import Card
from vault.store import Loaded, Problem, Store


def fresh_load(folder: Path, home: Path, vault_id: str, owner_card: Card) -> Loaded:
    """A machine that never saw this vault: verifies every log from seq 0 into a new mirror."""
    if home.exists():
        shutil.rmtree(home)
    return Store(folder, home, vault_id, owner_card).load()


def full_verify(store: Store, log: str, card: Card) -> list[Problem]:
    """What `audit verify` does for one log: re-verify it from seq 0 against the mirror."""
    problems: list[Problem] = []
    store.verify_log(log, card, problems)
    return problems


def first_fatal(problems: list[Problem]) -> Problem:
    fatal = [p for p in problems if p.fatal]
    assert fatal, f"expected an integrity problem, got {problems}"
    return fatal[0]


def assert_problem(problems: list[Problem], kind: str, log: str, seq: int | None) -> Problem:
    """The first fatal problem is `kind` at (log, seq)."""
    problem = first_fatal(problems)
    assert (problem.kind, problem.log, problem.seq) == (kind, log, seq), problems
    return problem


def place(log: str, seq: int | None = None) -> str:
    """How a message names a place: '(log <id12>, seq N)', or '(log <id12>' for a log."""
    return f"log {log[:12]}" + (f", seq {seq}" if seq is not None else "")


def assert_exit3_at(result: Any, log: str, seq: int) -> None:
    assert result.code == 3, result
    assert place(log, seq) in result.err, result


def retrievals(home: Path) -> list[dict[str, Any]]:
    """The retrieve rows of `takusu audit --json` as this machine sees them."""
    rows = json.loads(ok(run(home, "audit", "--json")).out)
    return [r for r in rows if r["type"] == "retrieve"]
