"""A client and a secretary on two 'machines' (two TAKUSU_HOMEs) sharing one folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ok, run

SEED = "JBSWY3DPEHPK3PXP"
TOTP_URI = f"otpauth://totp/GitHub:acme?secret={SEED}&issuer=GitHub"


@dataclass
class World:
    root: Path
    client: Path
    secretary: Path
    folder: Path
    password: str

    def c(self, *args: str, **kw):
        return run(self.client, *args, **kw)

    def s(self, *args: str, **kw):
        return run(self.secretary, *args, **kw)

    def code(self, home: Path) -> str:
        return json.loads(ok(run(home, "whoami", "--json")).out)["safety_code"]

    def add_member(self, name: str = "aiko") -> None:
        card = self.root / "aiko.card"
        card.write_text(ok(self.s("card")).out)
        ok(
            self.c(
                "member",
                "add",
                str(card),
                "--name",
                name,
                "--safety-code",
                self.code(self.secretary),
            )
        )

    def open_as_secretary(self) -> None:
        ok(
            self.s(
                "vault",
                "open",
                str(self.folder),
                "--name",
                "acme",
                "--safety-code",
                self.code(self.client),
            )
        )


def make_world(
    tmp_path: Path,
    *,
    share: bool = True,
    password: str = "hunter2-canary",  # noqa: S107
) -> World:
    w = World(
        tmp_path,
        tmp_path / "client",
        tmp_path / "secretary",
        tmp_path / "shared" / "acme",
        password,
    )
    ok(w.c("init", "--name", "Acme client"))
    ok(w.s("init", "--name", "Aiko"))
    ok(w.c("vault", "create", str(w.folder), "--name", "acme"))
    ok(
        w.c(
            "add",
            "GitHub",
            "--username",
            "acme-admin",
            "--url",
            "https://github.com/login",
            "--password-stdin",
            "--totp-stdin",
            input=f"{password}\n{TOTP_URI}\n",
        )
    )
    ok(
        w.c(
            "add",
            "Bank",
            "--username",
            "acme-bank",
            "--password-stdin",
            input="bank-secret-canary\n",
        )
    )
    if share:
        w.add_member()
        ok(w.c("share", "GitHub", "--with", "aiko"))
        w.open_as_secretary()
    return w
