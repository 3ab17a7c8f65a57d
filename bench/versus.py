"""Benchmark: takusu side by side with the real `pass` and `gopass` (Debian's packages).

Every command is a separate process, as a person runs it. In each round every tool runs
every operation once, interleaved (the order of tools and of operations rotates from
round to round), so that load from elsewhere on the machine falls on all of them alike;
the table gives medians and 90th percentiles and the ratio of each median to gopass'
median from the same run.

    sudo? python bench/versus.py [--sizes 1000,10000] [--rounds 15] [--offboard-rounds 3]

`pass` and `gopass` are installed with apt when they are missing (as root, or through
`sudo -n`); CI never runs this script. What is measured, per vault size N:

- `get` (the password of one entry), `otp` (the current 2FA code), `list` (every entry),
  `add` (one new entry, password from stdin);
- offboarding: `takusu offboard` of a member who holds 1,000 items of the N, against
  gopass and pass removing a recipient from a store of 1,000 entries encrypted to two
  (`gopass init KEY` / `pass init KEY` on a store whose `.gpg-id` held two keys: both
  re-encrypt every entry, which is how these tools take access back).

The tools:

- gopass 1.5 (Debian's: github.com/aviau/gopass): a git repository per store, as its
  `init` makes it (every insert commits; it cannot be turned off); `show` for get,
  `show --2fa` for the code, `ls` (tree) for list, `insert -m` with an EDITOR that
  writes the password (its single-line insert reads only from a terminal);
- pass 1.7: no git (its default); `show`, `ls`, `insert -m` from stdin; `otp` only when
  the pass-otp extension is installed;
- takusu, the owner: through the agent (`takusu unlock` first, no passphrase in the
  environment), in keyring mode without an agent (a private gnome-keyring Secret Service
  on its own D-Bus, tests/secretservice.py), and in passphrase mode without an agent;
- takusu, the secretary (a member holding 1,000 items) through her agent: every `get`
  and `otp` writes a signed receipt first;
- takusu through the agent on a vault with the same N items and a long history
  (`--events`, 100,000 by default, built by bench.py's `build_big`).

The stores hold the same entries: title, user name, URL and password (`pw-I`), one of
them with a TOTP seed. The pass and gopass entries are encrypted with `gpg --multifile
--encrypt` (one gpg process for all files, to save time) to a key made for the run (gpg's
default algorithm, no passphrase, in a temporary GNUPGHOME with its own gpg-agent); the
takusu vaults are built through the library in one batch (Session.batch and
Session.append of item.put and grant events, as Session.add and sharing.share make them).

Figures from a run are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSPHRASE = "bench passphrase"
SEED = "JBSWY3DPEHPK3PXP"
OTP_TITLE = "Otp item"  # takusu's title of the entry with a TOTP seed
OTP_NAME = "otp-item"  # its name in pass and gopass
HELD = 1_000  # items the secretary holds, entries the recipient is removed from
APT_PACKAGES = {"pass": "pass", "gopass": "gopass", "gpg": "gnupg", "tree": "tree", "git": "git"}


# --- tools ----------------------------------------------------------------------------------


def ensure_tools() -> None:
    """Install pass and gopass (and what they run) from Debian's packages when missing."""
    missing = sorted({pkg for tool, pkg in APT_PACKAGES.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo"):
        prefix = ["sudo", "-n"]
    else:
        sys.exit(
            f"missing {', '.join(missing)}: install them (apt-get install {' '.join(missing)})"
        )
    print(f"installing {', '.join(missing)} with apt-get", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )


def takusu_script() -> str:
    here = Path(sys.executable).parent / "takusu"
    found = str(here) if here.exists() else shutil.which("takusu")
    if not found:
        sys.exit("the takusu console script is not installed (pip install -e .)")
    return found


def run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run a setup command; its stdout, or exit with its stderr."""
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:3])} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


# --- gpg, pass and gopass -------------------------------------------------------------------


@dataclass
class Gpg:
    env: dict[str, str]  # PATH, HOME (with a git identity), GNUPGHOME
    keys: list[str]  # fingerprints: the owner's, the recipient removed in offboarding


def setup_gpg(root: Path, base: dict[str, str]) -> Gpg:
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Bench\n\temail = bench@bench.invalid\n[init]\n\tdefaultBranch = main\n"
    )
    gnupg = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))  # short: gpg-agent's socket
    gnupg.chmod(0o700)
    env = {**base, "HOME": str(home), "GNUPGHOME": str(gnupg), "GIT_CONFIG_NOSYSTEM": "1"}
    keys = []
    for who in ("owner", "secretary"):
        uid = f"bench {who} <{who}@bench.invalid>"
        run(
            [
                "gpg",
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                "default",
                "default",
                "never",
            ],
            env,
        )
        listing = run(["gpg", "--batch", "--with-colons", "--list-keys", uid], env)
        keys.append(next(line.split(":")[9] for line in listing.splitlines() if line[:4] == "fpr:"))
    return Gpg(env, keys)


def stop_gpg_agent(gpg: Gpg) -> None:
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=gpg.env, check=False)
    shutil.rmtree(gpg.env["GNUPGHOME"], ignore_errors=True)


def entry_text(i: int) -> str:
    return f"pw-{i}\nusername: user{i}\nurl: https://site{i}.example/login\n"


def encrypted_entries(gpg: Gpg, folder: Path, count: int, keys: list[str]) -> None:
    """`count` entries (and the TOTP one) as .gpg files in `folder`, all in one gpg run."""
    folder.mkdir(parents=True)
    names = [f"item-{i}" for i in range(count)]
    for i, name in enumerate(names):
        (folder / name).write_text(entry_text(i))
    (folder / OTP_NAME).write_text(
        f"pw-otp\nusername: otp-user\n2fa: otpauth://totp/Bench:otp?secret={SEED}&issuer=Bench\n"
        f"otpauth://totp/Bench:otp?secret={SEED}&issuer=Bench\n"
    )
    names.append(OTP_NAME)
    recipients = [arg for key in keys for arg in ("--recipient", key)]
    run(
        [
            "gpg",
            "--batch",
            "--yes",
            "--quiet",
            "--trust-model",
            "always",
            *recipients,
            "--multifile",
            "--encrypt",
        ],
        gpg.env,
        stdin="".join(f"{folder / n}\n" for n in names),
    )
    for name in names:
        (folder / name).unlink()


def gopass_store(gpg: Gpg, path: Path, files: Path, keys: list[str]) -> None:
    """A store as `gopass init` makes it (a git repository), filled with one commit."""
    run(["gopass", "init", *keys], {**gpg.env, "PASSWORD_STORE_DIR": str(path)})
    for f in files.iterdir():
        shutil.copy2(f, path / f.name)
    git = ["git", "-C", str(path)]
    run([*git, "add", "-A"], gpg.env)
    run([*git, "commit", "-q", "-m", "bench entries"], gpg.env)


def pass_store(gpg: Gpg, path: Path, files: Path, keys: list[str]) -> None:
    run(["pass", "init", *keys], {**gpg.env, "PASSWORD_STORE_DIR": str(path)})
    for f in files.iterdir():
        shutil.copy2(f, path / f.name)


def recipients_of(gpg: Gpg, entry: Path) -> int:
    done = subprocess.run(
        ["gpg", "--batch", "--list-packets", str(entry)],
        env=gpg.env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.count(":pubkey enc packet:")


def has_pass_otp(env: dict[str, str]) -> bool:
    done = subprocess.run(["pass", "otp", "--help"], env=env, capture_output=True, text=True)
    return done.returncode == 0 and "otp" in done.stdout.lower() and "insert" in done.stdout


# --- takusu vaults --------------------------------------------------------------------------


@dataclass
class Takusu:
    owner: Path  # the owner's home (agent)
    folder: Path  # its vault folder
    secretary: Path  # the secretary's home (agent), her copy of the folder
    keyring: Path | None  # the owner on a second machine, keyring mode (its own folder copy)
    passphrase: Path  # the owner on a third machine, passphrase mode (same copy)
    history: Path | None  # the owner of a vault with a long history (agent)
    events: dict[str, int] = field(default_factory=dict)  # vault -> number of events


def payload_of(i: int) -> Any:
    from vault.item import empty_payload

    payload = empty_payload()
    payload.update(
        title=f"Item {i}",
        username=f"user{i}",
        password=f"pw-{i}",
        url=f"https://site{i}.example/login",
    )
    return payload


def add_otp_item(sess: Any) -> str:
    from vault.item import empty_payload
    from vault.totp import normalize

    payload = empty_payload()
    payload.update(
        title=OTP_TITLE,
        username="otp-user",
        password="pw-otp",
        totp=normalize(f"otpauth://totp/Bench:otp?secret={SEED}&issuer=Bench"),
    )
    return str(sess.add(payload))


def build_takusu(root: Path, items: int, events: int, keyring: bool, history_module: Any) -> Takusu:
    """The owner's vault with `items` items, HELD of them shared with the secretary (the
    TOTP item among them), her machine, two more machines of the owner, a long history."""
    from vault import envelope, sharing
    from vault.machine import Machine

    def unlocked(home: Path) -> Machine:
        return Machine(home, passphrase=lambda _c: PASSPHRASE, keyring_backend=None)

    owner_home, folder, sec_home = root / "owner", root / "vault", root / "secretary"
    owner = unlocked(owner_home)
    owner.init("Bench owner")
    owner.create_vault(folder, "bench")
    sec = unlocked(sec_home)
    sec.init("Bench secretary")
    card = sec.card()
    sess = owner.session("bench")
    sharing.add_member(sess, card, "sec")
    vault_id, vault_key = sess.vault_id, sess.vault_key()
    held = min(HELD, items + 1) - 1  # plus the TOTP item
    with sess.batch():  # one locked append, one fsync: Session.add's checks, done once here
        for i in range(items):
            item_id = secrets.token_hex(16)
            body, data_key = envelope.seal_item(vault_id, item_id, 1, payload_of(i), vault_key, [])
            sess.append("item.put", body)
            if i < held:
                wrap = envelope.wrap_for(vault_id, item_id, 1, card, data_key)
                sess.append(
                    "grant", {"item": item_id, "version": 1, "member": card.id, "wrap": wrap}
                )
    otp_id = add_otp_item(sess)  # Session.add: builds the title index of all items once
    sharing.share(sess, otp_id, card.id, None)
    owner_code = owner.card().safety_code
    # The secretary's receipts stay in her own copy of the folder (as if not synced yet), and
    # the owner's other machines share a third copy that offboarding does not touch: every
    # row measures one person's commands, on a folder no one else is writing to.
    sec_folder, copy = root / "vault-secretary", root / "vault-copy"
    shutil.copytree(folder, sec_folder, symlinks=True)
    shutil.copytree(folder, copy, symlinks=True)
    sec.add_shared_vault(sec_folder, "bench", owner_code, None)
    sec.session("bench")  # first contact: verifies the owner's log once
    kit = root / "owner.kit"
    code = owner.write_recovery_kit(kit)
    keyring_home = None
    if keyring:
        keyring_home = root / "owner-keyring"
        other = Machine(keyring_home)  # the Secret Service of this run (DBUS_SESSION_BUS_ADDRESS)
        other.restore(kit, code)
        assert other.keystore.mode() == "keyring", "the keyring was not used"
        other.add_shared_vault(copy, "bench", owner_code, None)
        other.session("bench")
    pass_home = root / "owner-passphrase"
    third = unlocked(pass_home)
    third.restore(kit, code, use_passphrase=True)
    third.add_shared_vault(copy, "bench", owner_code, None)
    third.session("bench")

    result = Takusu(owner_home, folder, sec_home, keyring_home, pass_home, None)
    result.events["new"] = count_events(folder)
    if events:
        hist_root = root / "history"
        hist_root.mkdir()
        hist_home, hist_folder = history_module.build_big(hist_root, items, events)
        hist = unlocked(hist_home)
        add_otp_item(hist.session("big"))
        result.history = hist_home
        result.events["history"] = count_events(hist_folder)
    return result


def count_events(folder: Path) -> int:
    total = 0
    for log in (folder / "logs").iterdir():
        with open(log, "rb") as fh:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return total


def load_history_module() -> Any:
    spec = importlib.util.spec_from_file_location("takusu_bench_big", ROOT / "bench" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- snapshots (offboarding changes what it runs on) ---------------------------------------


def snapshot(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)


def restore(snap: Path, target: Path, keep: frozenset[str] = frozenset()) -> None:
    """Put `target` back as `snap` was; entries named in `keep` stay untouched (the
    identity file an agent watches: it locks itself when that file changes)."""
    for child in target.iterdir():
        if child.name in keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in snap.iterdir():
        if child.name in keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.copytree(child, target / child.name, symlinks=True)
        else:
            shutil.copy2(child, target / child.name)


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    stdin: str | None = None
    expect: str | None = None  # a line or text the output must contain


Op = Callable[[int], Command]  # round number -> the command to run


def timed(cmd: Command) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        cmd.argv, env=cmd.env, input=cmd.stdin, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or (cmd.expect is not None and cmd.expect not in done.stdout):
        sys.exit(
            f"{' '.join(cmd.argv)} failed ({done.returncode}): "
            f"{done.stderr.strip()[:500] or done.stdout.strip()[:500]}"
        )
    return elapsed


def rotated(seq: list[Any], k: int) -> list[Any]:
    k %= len(seq)
    return seq[k:] + seq[:k]


def measure(
    contestants: dict[str, dict[str, Op]], rounds: int, warmup: int = 1
) -> dict[str, dict[str, list[float]]]:
    """Every contestant runs every operation once per round, interleaved; the first
    `warmup` rounds are not recorded (caches, gpg-agent, the agents' first contact)."""
    ops = sorted({op for c in contestants.values() for op in c}, key=OPS.index)
    names = list(contestants)
    samples: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    for r in range(-warmup, rounds):
        for op in rotated(ops, r):
            for name in rotated(names, r):
                if op in contestants[name]:
                    t = timed(contestants[name][op](r))
                    if r >= 0:
                        samples[name].setdefault(op, []).append(t)
    return samples


OPS = ["get", "otp", "list", "add", "offboard"]


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[-1] if len(xs) > 1 else xs[0]


# --- one size -------------------------------------------------------------------------------


@dataclass
class Peers:
    gpg: Gpg
    gopass: Path
    pass_: Path
    recipients_gopass: Path  # snapshots: 1,000 entries encrypted to both keys
    recipients_pass: Path
    pass_otp: bool


def build_peers(root: Path, gpg: Gpg, items: int, shared: Path | None) -> tuple[Peers, Path]:
    files = root / "files"
    encrypted_entries(gpg, files, items, gpg.keys[:1])
    gopass, pass_ = root / "gopass-store", root / "pass-store"
    gopass_store(gpg, gopass, files, gpg.keys[:1])
    pass_store(gpg, pass_, files, gpg.keys[:1])
    if shared is None:  # the recipient stores, the same for every size
        shared = root.parent.parent / "recipients"
        shared.mkdir()
        two = shared / "files"
        encrypted_entries(gpg, two, HELD - 1, gpg.keys)
        gopass_store(gpg, shared / "gopass", two, gpg.keys)
        pass_store(gpg, shared / "pass", two, gpg.keys)
    peers = Peers(gpg, gopass, pass_, shared / "gopass", shared / "pass", has_pass_otp(gpg.env))
    return peers, shared


def contestants_for(
    peers: Peers,
    tk: Takusu,
    items: int,
    editor: Path,
    base: dict[str, str],
    runtime: Path,
    dbus: dict[str, str] | None,
) -> dict[str, dict[str, Op]]:
    probe = items // 2
    held_probe = (min(HELD, items + 1) - 1) // 2  # an item the secretary holds
    exe = takusu_script()

    def store_env(path: Path, **extra: str) -> dict[str, str]:
        return {**peers.gpg.env, "PASSWORD_STORE_DIR": str(path), **extra}

    g_env = store_env(peers.gopass, EDITOR=str(editor))
    p_env = store_env(peers.pass_)

    def tk_env(home: Path, **extra: str) -> dict[str, str]:
        return {**base, "TAKUSU_HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), **extra}

    def takusu(env: dict[str, str], password: str = f"pw-{probe}\n") -> dict[str, Op]:
        return {
            "get": lambda r: Command([exe, "get", f"Item {probe}"], env, expect=password),
            "otp": lambda r: Command([exe, "otp", OTP_TITLE], env),
            "list": lambda r: Command([exe, "list"], env, expect=f"Item {probe}"),
            "add": lambda r: Command(
                [exe, "add", f"New {r}", "--password-stdin"], env, stdin=f"new-pw-{r}\n"
            ),
        }

    out: dict[str, dict[str, Op]] = {
        "gopass": {
            "get": lambda r: Command(
                ["gopass", "show", f"item-{probe}"], g_env, expect=f"pw-{probe}\n"
            ),
            "otp": lambda r: Command(["gopass", "show", "--2fa", OTP_NAME], g_env),
            "list": lambda r: Command(["gopass", "ls"], g_env, expect=f"item-{probe}.gpg"),
            "add": lambda r: Command(
                ["gopass", "insert", "-m", f"new-{r}"],
                {**g_env, "BENCH_SECRET": f"new-pw-{r}"},
                expect="added to the store",
            ),
        },
        "pass": {
            "get": lambda r: Command(
                ["pass", "show", f"item-{probe}"], p_env, expect=f"pw-{probe}\n"
            ),
            "list": lambda r: Command(["pass", "ls"], p_env, expect=f"item-{probe}"),
            "add": lambda r: Command(
                ["pass", "insert", "-m", f"new-{r}"], p_env, stdin=f"new-pw-{r}\n"
            ),
        },
        "takusu (agent)": takusu(tk_env(tk.owner)),
    }
    if peers.pass_otp:
        out["pass"]["otp"] = lambda r: Command(["pass", "otp", OTP_NAME], p_env)
    sec_env = tk_env(tk.secretary)
    out["takusu secretary (agent, receipts)"] = {
        "get": lambda r: Command(
            [exe, "get", f"Item {held_probe}"], sec_env, expect=f"pw-{held_probe}\n"
        ),
        "otp": lambda r: Command([exe, "otp", OTP_TITLE], sec_env),
        "list": lambda r: Command([exe, "list"], sec_env, expect=f"Item {held_probe}"),
    }
    if tk.keyring is not None and dbus is not None:
        kr = takusu(tk_env(tk.keyring, **dbus))
        out["takusu keyring, no agent"] = {k: kr[k] for k in ("get", "otp", "list")}
    pp = takusu(tk_env(tk.passphrase, TAKUSU_PASSPHRASE=PASSPHRASE))
    out["takusu passphrase, no agent"] = {k: pp[k] for k in ("get", "list")}
    if tk.history is not None:
        events = tk.events["history"]
        # (bench.py's long history rewrites passwords: any of them will do)
        out[f"takusu (agent), {events:,} events"] = takusu(tk_env(tk.history), "pw-")
    return out


def offboard_contestants(
    peers: Peers, tk: Takusu, base: dict[str, str], runtime: Path, work: Path, pass_reinit: bool
) -> tuple[dict[str, dict[str, Op]], Callable[[], None]]:
    """The offboarding commands; each puts what it changes back first (not timed)."""
    exe = takusu_script()
    owner_snap, folder_snap = work / "owner-snap", work / "vault-snap"
    snapshot(tk.owner, owner_snap)
    snapshot(tk.folder, folder_snap)
    g_target, p_target = work / "gopass-recipients", work / "pass-recipients"
    keep = frozenset({"identity.key"})
    env = {**base, "TAKUSU_HOME": str(tk.owner), "XDG_RUNTIME_DIR": str(runtime)}

    def tk_op(r: int) -> Command:
        restore(owner_snap, tk.owner, keep)
        restore(folder_snap, tk.folder)
        return Command([exe, "offboard", "sec"], env, expect="Offboarded sec")

    def store_op(tool: str, snap: Path, target: Path) -> Op:
        def op(r: int) -> Command:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(snap, target, symlinks=True)
            penv = {**peers.gpg.env, "PASSWORD_STORE_DIR": str(target)}
            return Command([tool, "init", peers.gpg.keys[0]], penv, expect="reencrypting")

        return op

    ops: dict[str, dict[str, Op]] = {
        "gopass": {"offboard": store_op("gopass", peers.recipients_gopass, g_target)},
        "takusu (agent)": {"offboard": tk_op},
    }
    if pass_reinit:
        ops["pass"] = {"offboard": store_op("pass", peers.recipients_pass, p_target)}

    def check() -> None:
        for target in (g_target, p_target) if pass_reinit else (g_target,):
            n = recipients_of(peers.gpg, target / "item-1.gpg")
            assert n == 1, f"{target}: still encrypted to {n} keys"

    return ops, check


# --- the agents -----------------------------------------------------------------------------


@contextlib.contextmanager
def agents(homes: list[Path], base: dict[str, str], runtime: Path) -> Iterator[None]:
    exe = takusu_script()
    started = []
    try:
        for home in homes:
            env = {**base, "TAKUSU_HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
            run(
                [exe, "unlock", "--idle", "3h", "--max", "8h"],
                {**env, "TAKUSU_PASSPHRASE": PASSPHRASE},
            )
            started.append(env)
        yield
    finally:
        for env in started:
            subprocess.run([exe, "lock"], env=env, capture_output=True, check=False)


# --- the report -----------------------------------------------------------------------------

LABELS = {
    "get": "`get` one entry",
    "otp": "`otp` (2FA code)",
    "list": "`list`",
    "add": "`add` one entry",
    "offboard": "offboard a member holding {held:,} items / remove a recipient "
    f"({HELD:,} entries)",
}


def table(samples: dict[str, dict[str, list[float]]], held: int) -> list[str]:
    rows = ["| operation | tool | median | p90 | × gopass |", "|---|---|---:|---:|---:|"]
    for op in OPS:
        ref = samples.get("gopass", {}).get(op)
        ref_median = statistics.median(ref) if ref else None
        for name, by_op in samples.items():
            xs = by_op.get(op)
            if not xs:
                continue
            median = statistics.median(xs)
            ratio = f"{median / ref_median:.2f}×" if ref_median else "—"
            label = LABELS[op].format(held=held)
            rows.append(f"| {label} | {name} | {ms(median)} | {ms(p90(xs))} | {ratio} |")
    return rows


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def machine_notes() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def tool_versions(env: dict[str, str]) -> str:
    def first_line(argv: list[str]) -> str:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        text = (done.stdout or done.stderr).strip().splitlines()
        return text[0] if text else "?"

    def deb(pkg: str) -> str:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True
        )
        return done.stdout.strip() or "?"

    return (
        f"pass {deb('pass')}, gopass {deb('gopass')}, {first_line(['gpg', '--version'])}, "
        f"{first_line(['git', '--version'])}"
    )


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="vault sizes, comma separated")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of get/otp/list/add")
    parser.add_argument("--offboard-rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000, help="0: no long-history vault")
    parser.add_argument("--no-keyring", action="store_true", help="skip keyring mode")
    parser.add_argument(
        "--no-pass-reinit", action="store_true", help="skip pass re-encrypting 1,000 entries"
    )
    parser.add_argument("--json", type=Path, help="write the raw samples here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    history_module = load_history_module()
    history_module.compile_sources()  # bench.py's: the figures must not measure the compiler
    ensure_tools()
    started = time.perf_counter()
    print(f"machine: {machine_notes()}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="takusu-versus-"))
    runtime = Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp"))  # short: socket paths
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    raw: dict[str, Any] = {"machine": machine_notes(), "sizes": {}}
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        stack.callback(shutil.rmtree, runtime, True)
        dbus = None
        keyring = not args.no_keyring
        if keyring:
            from tests.secretservice import missing_tools, running

            if missing_tools():
                print(f"no keyring mode: missing {', '.join(missing_tools())}", file=sys.stderr)
                keyring = False
            else:
                ss_env = stack.enter_context(running())
                dbus = {"DBUS_SESSION_BUS_ADDRESS": ss_env["DBUS_SESSION_BUS_ADDRESS"]}
                os.environ.update(dbus)  # the library's keyring, for the keyring-mode machine
        gpg = setup_gpg(root, base)
        stack.callback(stop_gpg_agent, gpg)
        base = {**base, "HOME": gpg.env["HOME"]}
        print(f"tools: {tool_versions(gpg.env)}", flush=True)
        editor = root / "editor.sh"  # gopass insert -m: "edit" the new entry
        editor.write_text('#!/bin/sh\nprintf "%s\\n" "$BENCH_SECRET" > "$1"\n')
        editor.chmod(0o755)
        shared = None
        for items in sizes:
            t0 = time.perf_counter()
            work = root / f"n{items}"
            work.mkdir()
            peers, shared = build_peers(work / "peers", gpg, items, shared)
            tk = build_takusu(work / "takusu", items, args.events, keyring, history_module)
            built = time.perf_counter() - t0
            homes = [tk.owner, tk.secretary] + ([tk.history] if tk.history else [])
            with agents(homes, base, runtime):
                load_before = os.getloadavg()
                t1 = time.perf_counter()
                contestants = contestants_for(peers, tk, items, editor, base, runtime, dbus)
                samples = measure(contestants, args.rounds)
                print()
                print(
                    f"### {items:,} items ({tk.events['new']:,} events in takusu's vault"
                    + (f"; the long-history vault {tk.events['history']:,}" if tk.history else "")
                    + f"); {args.rounds} rounds"
                )
                print()
                print("\n".join(table(samples, min(HELD, items + 1))))
                print()
                print(
                    f"built in {built:.0f} s, measured in {time.perf_counter() - t1:.0f} s; "
                    f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after",
                    flush=True,
                )
                off_samples: dict[str, dict[str, list[float]]] = {}
                if args.offboard_rounds:
                    load_before = os.getloadavg()
                    t1 = time.perf_counter()
                    off, check = offboard_contestants(
                        peers, tk, base, runtime, work, not args.no_pass_reinit
                    )
                    off_samples = measure(off, args.offboard_rounds, warmup=0)
                    check()
                    print()
                    print("\n".join(table(off_samples, min(HELD, items + 1))))
                    print()
                    print(
                        f"{args.offboard_rounds} rounds in {time.perf_counter() - t1:.0f} s; "
                        f"load average {load_before[0]:.2f} before, "
                        f"{os.getloadavg()[0]:.2f} after",
                        flush=True,
                    )
            for name, by_op in off_samples.items():
                samples.setdefault(name, {}).update(by_op)
            raw["sizes"][items] = {
                "events": tk.events,
                "medians_ms": {
                    n: {op: round(statistics.median(xs) * 1000, 1) for op, xs in by.items()}
                    for n, by in samples.items()
                },
                "samples_s": samples,
            }
            if args.json:
                args.json.write_text(json.dumps(raw, indent=1))
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; machine after: {machine_notes()}")


if __name__ == "__main__":
    main()
