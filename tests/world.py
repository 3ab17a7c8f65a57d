"""The test world: a client and a secretary on two 'machines' (two TAKUSU_HOMEs) sharing one
vault folder, built by one builder (`build`) through the library.

The world is built with library calls (one unlocked Machine per person), then handed to the
tests with a CLI runner per person (`w.c(...)`, `w.s(...)`) and library handles
(`w.session(home)`, `w.identity(home)`, `w.store(home)`). Two key modes:

- "keyring": identities sealed by the OS keyring, which is the in-memory test double
  (tests/conftest.py) or the `keyring` backend given to `build`;
- "passphrase": sealed by helpers.PASSPHRASE, as on a machine without a keyring, so that
  another process (crash_worker.py, the console script) can unlock them too.

With `git_remote`, the client's folder is a git work tree with a bare remote; with `clone`
too, the secretary works in her own clone of it instead of the client's folder.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers import PASSPHRASE, Result, ok, run
from vault import fsutil, sharing
from vault.gitsync import sync
from vault.identity import Card, Identity
from vault.item import empty_payload
from vault.machine import Machine
from vault.session import Session
from vault.store import Store, VaultFolder
from vault.totp import normalize
from vault.trust import trust_new_member

ROOT = Path(__file__).resolve().parents[1]  # the repository: on PYTHONPATH of subprocesses
SEED = "JBSWY3DPEHPK3PXP"
TOTP_URI = f"otpauth://totp/GitHub:acme?secret={SEED}&issuer=GitHub"
PASSWORD = "hunter2-canary"  # noqa: S105 - GitHub's password in the story items


@dataclass(frozen=True)
class Item:
    """An item the client adds while the world is built."""

    title: str
    password: str
    username: str | None = None
    url: str | None = None
    totp: str | None = None
    shared: bool = False  # shared with the member when the world is built with share=True

    def payload(self) -> dict[str, Any]:
        payload = empty_payload()
        payload.update(
            title=self.title,
            username=self.username,
            url=self.url,
            password=self.password,
            totp=self.totp,
        )
        return payload


GITHUB = Item(
    "GitHub",
    PASSWORD,
    username="acme-admin",
    url="https://github.com/login",
    totp=normalize(TOTP_URI),
    shared=True,
)
BANK = Item("Bank", "bank-secret-canary", username="acme-bank")
STORY = (GITHUB, BANK)  # GitHub shared with aiko, Bank not

# Six items for the crash and concurrency loops: all shared but Temp-1 and Temp-2.
STABLE = ("Stable-0", "Stable-1", "Stable-2")  # never changed: what `get` reads
TEMP = ("Temp-0", "Temp-1", "Temp-2")  # shared, revoked and rotated by the client's loop
LOOP = tuple(
    Item(title, f"pw-{title}-canary", username=f"u-{title}", shared=title in STABLE + TEMP[:1])
    for title in STABLE + TEMP
)


def machine(
    home: Path,
    key_mode: str = "keyring",
    keyring: Any = None,
    disk: fsutil.Disk = fsutil.DEFAULT_DISK,
) -> Machine:
    """This home's takusu as a library, for the world's key mode."""
    if key_mode == "passphrase":
        return Machine(home, passphrase=lambda confirm: PASSPHRASE, keyring_backend=None, disk=disk)
    if keyring is not None:
        return Machine(home, keyring_backend=keyring, disk=disk)
    return Machine(home, disk=disk)


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """git with no global or system configuration (HOME is `cwd`)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(cwd), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done
    return done


def member_add_args(
    card: Path | str, name: str, code: str | None, vault: str | None = None
) -> list[str]:
    """The command line of `takusu [--vault V] member add CARD --name NAME --safety-code CODE`
    (no --safety-code when `code` is None: takusu then asks, or refuses without a terminal)."""
    args = ["--vault", vault] if vault else []
    args += ["member", "add", str(card), "--name", name]
    return args if code is None else [*args, "--safety-code", code]


@dataclass
class World:
    root: Path
    client: Path  # the client's home (the vault's owner)
    secretary: Path  # the secretary's home (member 'aiko' once added)
    folder: Path  # the client's vault folder
    key_mode: str = "keyring"
    keyring: Any = None  # the keyring backend of the library handles (None: the process's)
    password: str = PASSWORD  # GitHub's password
    secretary_folder: Path | None = None  # where the secretary opened the vault
    remote: Path | None = None  # the bare git remote, with git_remote
    vault_id: str = ""
    owner_id: str = ""
    member_id: str = ""  # the secretary's id (her member id once added)
    items: dict[str, str] = field(default_factory=dict)  # title -> item id

    # --- the CLI, in-process -------------------------------------------------------------

    def run(self, home: Path, *args: str, **kw: Any) -> Result:
        return run(home, *args, **kw)

    def c(self, *args: str, **kw: Any) -> Result:
        return self.run(self.client, *args, **kw)

    def s(self, *args: str, **kw: Any) -> Result:
        return self.run(self.secretary, *args, **kw)

    def code(self, home: Path) -> str:
        """The safety code `home` reads aloud."""
        return self.machine(home).card().safety_code

    def member_add(
        self,
        card: Path | str,
        name: str,
        code: str | None,
        *,
        by: Path | None = None,
        vault: str | None = None,
        input: str | None = None,
    ) -> Result:
        """`takusu member add CARD --name NAME --safety-code CODE` as `by` (the client)."""
        return self.run(by or self.client, *member_add_args(card, name, code, vault), input=input)

    def add_member(
        self,
        name: str = "aiko",
        home: Path | None = None,
        *,
        by: Path | None = None,
        vault: str | None = None,
    ) -> None:
        """`by` (the client) adds the person of `home` (the secretary) after comparing codes."""
        home = home or self.secretary
        card = self.root / f"{name}.card"
        card.write_text(ok(self.run(home, "card")).out)
        ok(self.member_add(card, name, self.code(home), by=by, vault=vault))

    def open_as(
        self,
        home: Path,
        folder: Path | None = None,
        *,
        name: str | None = "acme",
        owner: Path | None = None,
    ) -> Result:
        """`takusu vault open FOLDER --name NAME` on `home`, confirming the owner's code."""
        args = ["vault", "open", str(folder or self.folder)]
        if name is not None:
            args += ["--name", name]
        return ok(self.run(home, *args, "--safety-code", self.code(owner or self.client)))

    def open_as_secretary(self) -> None:
        self.open_as(self.secretary, self.secretary_folder)

    def second_client(self) -> Path:
        """A second client, 'Beta client', with vault 'beta' holding 'Shop' (password
        'shop-pw') shared with the secretary, who has opened it; returns that client's home."""
        other = self.root / "other-client"
        folder = self.root / "shared" / "beta"
        ok(run(other, "init", "--name", "Beta client"))
        ok(run(other, "vault", "create", str(folder), "--name", "beta"))
        ok(run(other, "add", "Shop", "--password-stdin", input="shop-pw\n"))
        self.add_member("aiko", by=other)
        ok(run(other, "share", "Shop", "--with", "aiko"))
        self.open_as(self.secretary, folder, name="beta", owner=other)
        return other

    # --- the library ---------------------------------------------------------------------

    def machine(self, home: Path, disk: fsutil.Disk = fsutil.DEFAULT_DISK) -> Machine:
        return machine(home, self.key_mode, self.keyring, disk)

    def session(self, home: Path, vault: str = "acme") -> Session:
        return self.machine(home).session(vault)

    def session_at(self, home: Path, when: datetime, vault: str = "acme") -> Session:
        """`home`'s session (a new command) as if the time were `when` (the clock seam)."""
        machine = self.machine(home)
        machine.clock = lambda: when
        return machine.session(vault)

    def client_session(self) -> Session:
        return self.session(self.client)

    def secretary_session(self) -> Session:
        return self.session(self.secretary)

    def identity(self, home: Path) -> Identity:
        return self.machine(home).identity()

    def store(self, home: Path, folder: Path | None = None) -> Store:
        """The vault as `home` sees it; loading it needs no unlocked identity."""
        meta = VaultFolder(folder or self.folder).meta()
        owner = Card.from_envelope(meta["owner_card"])
        return Store(folder or self.folder, home, meta["vault"], owner)

    def log(self, writer: str) -> Path:
        return self.folder / "logs" / f"{writer}.jsonl"

    @property
    def owner_log(self) -> Path:
        return self.log(self.owner_id)

    @property
    def member_log(self) -> Path:
        return self.log(self.member_id)

    # --- other processes -----------------------------------------------------------------

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """The environment of a takusu process (or crash worker) on `home`."""
        return {
            **os.environ,
            "TAKUSU_HOME": str(home),
            "TAKUSU_PASSPHRASE": PASSPHRASE,
            "PYTHONPATH": str(ROOT),
            **extra,
        }

    def remote_log(self, writer: str) -> bytes:
        """A log as the remote's main branch holds it (empty when it has none)."""
        assert self.remote is not None
        shown = subprocess.run(
            ["git", "--git-dir", str(self.remote), "show", f"main:logs/{writer}.jsonl"],
            capture_output=True,
            check=False,
        )
        return shown.stdout if shown.returncode == 0 else b""


def build(
    root: Path,
    *,
    items: Sequence[Item] = STORY,
    share: bool = True,
    key_mode: str = "keyring",
    keyring: Any = None,
    git_remote: bool = False,
    clone: bool = False,
) -> World:
    """Client 'Acme client' creates vault 'acme' in root/shared/acme and adds `items`; with
    `share`, adds the secretary 'Aiko' as member 'aiko' (safety code compared), shares the
    items marked shared with her, and she opens the vault. Without `share` she has an
    identity and nothing else."""
    w = World(
        root,
        root / "client",
        root / "secretary",
        root / "shared" / "acme",
        key_mode=key_mode,
        keyring=keyring,
    )
    use_passphrase = key_mode == "passphrase"
    client, secretary = w.machine(w.client), w.machine(w.secretary)
    client.init("Acme client", use_passphrase)
    secretary.init("Aiko", use_passphrase)
    w.owner_id, w.member_id = client.card().id, secretary.card().id
    w.vault_id = client.create_vault(w.folder, "acme")
    sess = client.session()
    if git_remote:  # `vault create` wants an empty folder: create, then `git init`
        w.remote = root / "remote.git"
        git(root, "init", "--quiet", "--bare", "-b", "main", str(w.remote))
        git(w.folder, "init", "--quiet", "-b", "main")
        git(w.folder, "remote", "add", "origin", str(w.remote))
        assert sync(sess).committed
        git(w.folder, "push", "--quiet", "-u", "origin", "main")
    for item in items:
        w.items[item.title] = sess.add(item.payload())
    if not share:
        return w
    card = secretary.card()
    trust_new_member(sess, card, "aiko", card.safety_code, None, lambda message: None)
    for item in items:
        if item.shared:
            sharing.share(sess, w.items[item.title], w.member_id, None)
    w.secretary_folder = w.folder
    if git_remote:
        done = sync(sess)
        assert (done.committed, done.pulled, done.pushed) == (True, True, True), done
        if clone:
            w.secretary_folder = root / "secretary-clone"
            git(root, "clone", "--quiet", str(w.remote), str(w.secretary_folder))
    secretary.add_shared_vault(w.secretary_folder, "acme", client.card().safety_code, None)
    return w
