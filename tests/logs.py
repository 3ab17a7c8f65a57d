"""Folder surgery: reading, forging, signing and appending the lines of a vault's logs, and
editing its vault.json.

These helpers only build hostile inputs; they never weaken a check in `vault/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vault import fsutil, labels
from vault.clock import now_utc
from vault.crypto import sha256_hex
from vault.encoding import b64d, dumps
from vault.events import encode_line, make_event, split_line
from vault.identity import Identity
from vault.store.mirror import split_complete


def read_lines(path: Path) -> list[bytes]:
    """Complete lines of a log, without their newlines."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "a clean log ends with a newline"
    return data[:-1].split(b"\n")


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def append_raw(path: Path, line: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(line + b"\n")


def read_log(path: Path) -> bytes:
    """A log's bytes as takusu reads them (bounded), or nothing if it is not there."""
    try:
        return fsutil.read_bytes(path, labels.MAX_LOG)
    except FileNotFoundError:
        return b""


def vault_json(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "vault.json").read_text())


def edit_vault_json(folder: Path, **fields: Any) -> None:
    """Replace top-level fields of a folder's vault.json (as someone with write access)."""
    (folder / "vault.json").write_text(json.dumps({**vault_json(folder), **fields}))


def payload(line: bytes) -> dict[str, Any]:
    """The claimed (unverified) payload of a line."""
    return json.loads(b64d(json.loads(line)["p"]))


def with_payload(line: bytes, fields: dict[str, Any]) -> bytes:
    """The line with its payload replaced by `fields`, keeping the old signature (a forgery)."""
    env = json.loads(line)
    return encode_line(dumps(fields), b64d(env["s"])).rstrip(b"\n")


def sign_as(identity: Identity, fields: dict[str, Any]) -> bytes:
    """A canonical line whose payload `fields` is signed by `identity` (no newline)."""
    raw = dumps(fields)
    return encode_line(raw, identity.signing.sign(labels.EVENT_SIG, raw)).rstrip(b"\n")


def next_event(
    identity: Identity, path: Path, vault_id: str, type_: str, body: dict[str, Any]
) -> bytes:
    """A correctly chained next line for the log at `path`, signed by `identity`."""
    lines = read_lines(path) if path.exists() else []
    prev = sha256_hex(b64d(json.loads(lines[-1])["p"])) if lines else None
    event = make_event(identity, vault_id, len(lines), prev, now_utc(), type_, body)
    return event.line.rstrip(b"\n")


def log_events(data: bytes, log: str, first_seq: int = 0) -> list[tuple[str, str]]:
    """(hash, type) of each complete line of a log's bytes (signatures not checked here)."""
    out = []
    for seq, line in enumerate(split_complete(data)[0], first_seq):
        raw = split_line(line, log, seq)[0]
        out.append((sha256_hex(raw), json.loads(raw)["type"]))
    return out


def log_hashes(data: bytes, log: str) -> list[str]:
    """Event hashes of the complete lines of a log's bytes."""
    return [digest for digest, _type in log_events(data, log)]


def puts(path: Path, item_id: str) -> list[dict[str, Any]]:
    """The item.put payloads of one item in an owner log, oldest first (what was signed)."""
    return [
        p
        for p in map(payload, read_lines(path))
        if p["type"] == "item.put" and p["item"] == item_id
    ]


def grant_wrap(path: Path, item_id: str, member_id: str) -> str:
    """The wrap of the latest signed `grant` of an item to a member in an owner log."""
    grants = [
        p
        for p in map(payload, read_lines(path))
        if p["type"] == "grant" and p["item"] == item_id and p["member"] == member_id
    ]
    return str(grants[-1]["wrap"])
