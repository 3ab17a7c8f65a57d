"""Shared pieces of the adversarial catalogue: two homes, log surgery, forged lines, checks.

Every case in tests/adversarial names the one failure it expects. These helpers only
build hostile inputs and look at outcomes; they never weaken a check in `vault/`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.twohomes import World, make_world
from vault.clock import now_utc
from vault.encoding import b64d, dumps
from vault.events import encode_line, make_event
from vault.identity import Card, Identity
from vault.machine import Machine
from vault.store import Loaded, Problem, Store


@pytest.fixture
def world(tmp_path) -> World:
    """Client and secretary homes, one shared folder; GitHub shared with 'aiko', Bank not."""
    return make_world(tmp_path)


def session(home: Path) -> Any:
    return Machine(home).session("acme")


def ident(home: Path) -> Identity:
    return Machine(home).identity()


def owner_log(world: World) -> Path:
    return world.folder / "logs" / f"{ident(world.client).id}.jsonl"


def member_log(world: World) -> Path:
    return world.folder / "logs" / f"{ident(world.secretary).id}.jsonl"


# --- log surgery ----------------------------------------------------------------------------


def read_lines(path: Path) -> list[bytes]:
    """Complete lines of a log, without their newlines."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "a clean log ends with a newline"
    return data[:-1].split(b"\n")


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def payload(line: bytes) -> dict[str, Any]:
    """The claimed (unverified) payload of a line."""
    return json.loads(b64d(json.loads(line)["p"]))


def with_payload(line: bytes, fields: dict[str, Any]) -> bytes:
    """The line with its payload replaced by `fields`, keeping the old signature (a forgery)."""
    env = json.loads(line)
    return encode_line(dumps(fields), b64d(env["s"])).rstrip(b"\n")


def sign_as(identity: Identity, fields: dict[str, Any]) -> bytes:
    """A canonical line whose payload `fields` is signed by `identity` (no newline)."""
    from vault import labels

    raw = dumps(fields)
    return encode_line(raw, identity.signing.sign(labels.EVENT_SIG, raw)).rstrip(b"\n")


def next_event(
    identity: Identity, path: Path, vault_id: str, type_: str, body: dict[str, Any]
) -> bytes:
    """A correctly chained next line for the log at `path`, signed by `identity`."""
    from vault.crypto import sha256_hex

    lines = read_lines(path) if path.exists() else []
    prev = sha256_hex(b64d(json.loads(lines[-1])["p"])) if lines else None
    event = make_event(identity, vault_id, len(lines), prev, now_utc(), type_, body)
    return event.line.rstrip(b"\n")


def append_raw(path: Path, line: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(line + b"\n")


# --- other machines -------------------------------------------------------------------------


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


# --- outcomes -------------------------------------------------------------------------------


def first_fatal(problems: list[Problem]) -> Problem:
    fatal = [p for p in problems if p.fatal]
    assert fatal, f"expected an integrity problem, got {problems}"
    return fatal[0]


def assert_problem(problems: list[Problem], kind: str, log: str, seq: int | None) -> Problem:
    """The first fatal problem is `kind` at (log, seq)."""
    problem = first_fatal(problems)
    assert (problem.kind, problem.log, problem.seq) == (kind, log, seq), problems
    return problem


def place(log: str, seq: int) -> str:
    """How a message names a place: '(log <id12>, seq N)'."""
    return f"log {log[:12]}, seq {seq}"


def assert_exit3_at(result: Any, log: str, seq: int) -> None:
    assert result.code == 3, result
    assert place(log, seq) in result.err, result


def puts(path: Path, item_id: str) -> list[dict[str, Any]]:
    """The item.put payloads of one item in an owner log, oldest first (what was signed)."""
    return [
        p
        for p in map(payload, read_lines(path))
        if p["type"] == "item.put" and p["item"] == item_id
    ]


def retrievals(home: Path) -> list[dict[str, Any]]:
    """The retrieve rows of `takusu audit --json` as this machine sees them."""
    from tests.helpers import ok, run

    rows = json.loads(ok(run(home, "audit", "--json")).out)
    return [r for r in rows if r["type"] == "retrieve"]


def grant_wrap(path: Path, item_id: str, member_id: str) -> str:
    """The wrap of the latest signed `grant` of an item to a member in an owner log."""
    grants = [
        p
        for p in map(payload, read_lines(path))
        if p["type"] == "grant" and p["item"] == item_id and p["member"] == member_id
    ]
    return str(grants[-1]["wrap"])
