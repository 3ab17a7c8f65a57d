"""Benchmark: a vault with 10,000 items and 100,000 events against a new one.

Builds both vaults with real keys and real signatures (the big one is written event by
event straight into the logs, then verified once by a fresh machine, exactly as a
machine that has just opened a long-lived vault would), then times `takusu get` and
`takusu list` as subprocesses, the way a user runs them. Prints a Markdown table.

    python bench/bench.py [--items 10000] [--events 100000] [--runs 5]

Figures from a run are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vault import envelope, fsutil  # noqa: E402
from vault.clock import now_utc  # noqa: E402
from vault.events import make_event  # noqa: E402
from vault.identity import Identity  # noqa: E402
from vault.item import empty_payload  # noqa: E402
from vault.machine import Machine  # noqa: E402

PASSPHRASE = "bench passphrase"


def build_small(root: Path) -> tuple[Path, Path]:
    home, folder = root / "small-home", root / "small-vault"
    app = Machine(home, passphrase=lambda _c: PASSPHRASE, keyring_backend=None)
    app.init("Bench owner")
    app.create_vault(folder, "small")
    sess = app.session("small")
    for i in (0, 1, 2, 5000, 500, 50):
        payload = empty_payload()
        payload.update(title=f"Item {i}", username=f"user{i}", password=f"pw-{i}")
        sess.add(payload)
    return home, folder


def build_big(root: Path, items: int, events: int) -> tuple[Path, Path]:
    """Write a long history directly: genesis, a member, items, edits, grants, receipts."""
    home, folder = root / "big-home", root / "big-vault"
    app = Machine(home, passphrase=lambda _c: PASSPHRASE, keyring_backend=None)
    owner, _ = app.init("Bench owner")
    app.create_vault(folder, "big")
    sess = app.session("big")
    member = Identity.generate("Bench secretary")
    vault_id, vault_key = sess.vault_id, sess.vault_key()
    owner_log = folder / "logs" / f"{owner.id}.jsonl"
    head = sess.state["heads"][owner.id]
    seq, prev = head["seq"] + 1, head["hash"]
    lines: list[bytes] = []

    def emit(type_: str, body: dict) -> None:
        nonlocal seq, prev
        event = make_event(owner, vault_id, seq, prev, now_utc(), type_, body)
        lines.append(event.line)
        seq, prev = seq + 1, event.hash

    emit("member.add", {"member": member.id, "name": "sec", "card": member.card.envelope})
    versions: dict[str, int] = {}
    ids = []
    for i in range(items):
        item_id = os.urandom(16).hex()
        payload = empty_payload()
        payload.update(
            title=f"Item {i}",
            username=f"user{i}",
            password=f"pw-{i}",
            url=f"https://site{i}.example/login",
        )
        body, _ = envelope.seal_item(vault_id, item_id, 1, payload, vault_key, [])
        emit("item.put", body)
        versions[item_id] = 1
        ids.append(item_id)
    rng = random.Random(7)
    shared = ids[: max(1, items // 10)]
    for item_id in shared:
        payload = empty_payload()
        payload.update(title=f"Shared {item_id[:6]}", password="x")
        version = versions[item_id] + 1
        body, data_key = envelope.seal_item(vault_id, item_id, version, payload, vault_key, [])
        emit("item.put", body)
        versions[item_id] = version
        emit(
            "grant",
            {
                "item": item_id,
                "version": version,
                "member": member.id,
                "wrap": envelope.wrap_for(vault_id, item_id, version, member.card, data_key),
            },
        )
    owner_events = events // 2
    while seq < owner_events:
        item_id = rng.choice(ids[len(shared) :])
        payload = empty_payload()
        payload.update(title=f"Item {ids.index(item_id)}", password=f"pw-{seq}")
        version = versions[item_id] + 1
        body, _ = envelope.seal_item(vault_id, item_id, version, payload, vault_key, [])
        emit("item.put", body)
        versions[item_id] = version
    with open(owner_log, "ab") as fh:
        fh.write(b"".join(lines))
        fh.flush()
        os.fsync(fh.fileno())
    member_lines, mprev = [], None
    owner_head = {"seq": seq - 1, "hash": prev}
    for mseq in range(events - seq):
        item_id = shared[mseq % len(shared)]
        event = make_event(
            member,
            vault_id,
            mseq,
            mprev,
            now_utc(),
            "retrieve",
            {
                "item": item_id,
                "version": versions[item_id],
                "fields": ["password"],
                "owner_head": owner_head,
            },
        )
        member_lines.append(event.line)
        mprev = event.hash
    fsutil.write_new(folder / "logs" / f"{member.id}.jsonl", b"".join(member_lines))
    return home, folder


def fresh_machine(root: Path, name: str, folder: Path, owner_home: Path) -> Path:
    """A second machine of the same owner (restored from a kit) that has never seen the vault."""
    kit = root / f"{name}.kit"
    code = Machine(
        owner_home, passphrase=lambda _c: PASSPHRASE, keyring_backend=None
    ).write_recovery_kit(kit)
    home = root / f"{name}-fresh-home"
    app = Machine(home, passphrase=lambda _c: PASSPHRASE, keyring_backend=None)
    app.restore(kit, code, use_passphrase=True)
    app.add_shared_vault(folder, name, app.card().safety_code, None)
    return home


def timed(home: Path, *args: str, runs: int) -> float:
    env = {**os.environ, "TAKUSU_HOME": str(home), "TAKUSU_PASSPHRASE": PASSPHRASE}
    env.pop("TAKUSU_VAULT", None)
    subprocess.run(["takusu", *args], env=env, check=True, capture_output=True)  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["takusu", *args], env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def compile_sources() -> None:
    """Byte-compile takusu first, as pip does on install: with PYTHONDONTWRITEBYTECODE set
    (or a source changed since its .pyc), every process would compile from source again
    and the figures would measure the compiler."""
    import compileall

    for part in ("vault", "cli_commands"):
        compileall.compile_dir(str(ROOT / part), quiet=1)
    compileall.compile_file(str(ROOT / "cli.py"), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compile_sources()
    root = Path(tempfile.mkdtemp(prefix="takusu-bench-"))
    try:
        t0 = time.perf_counter()
        small_home, _ = build_small(root)
        big_home, big_folder = build_big(root, args.items, args.events)
        build = time.perf_counter() - t0
        fresh = fresh_machine(root, "big", big_folder, big_home)
        t0 = time.perf_counter()
        timed(fresh, "list", runs=1)  # first contact: verifies the whole history once
        first = time.perf_counter() - t0
        logs = big_folder / "logs"
        size = sum(p.stat().st_size for p in logs.iterdir())
        print(
            f"built in {build:.1f}s; big vault: {args.items} items, {args.events} events, "
            f"{size / 1e6:.1f} MB of logs; first verification on a fresh machine {first:.2f}s"
        )
        print()
        print("| command | new vault (3 items) | big vault | big vault, fresh machine |")
        print("|---|---|---|---|")
        probe = f"Item {args.items // 2}"  # exists in both vaults
        for label, cmd in (
            ("takusu --help", ("--help",)),
            (f"takusu get '{probe}'", ("get", probe)),
            ("takusu list", ("list",)),
            ("takusu list --json", ("list", "--json")),
        ):
            small = timed(small_home, *cmd, runs=args.runs)
            big = timed(big_home, *cmd, runs=args.runs)
            again = timed(fresh, *cmd, runs=args.runs)
            print(
                f"| `{label}` | {small * 1000:.0f} ms | {big * 1000:.0f} ms | "
                f"{again * 1000:.0f} ms |"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
