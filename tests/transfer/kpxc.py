"""Driving the real KeePassXC command line (keepassxc-cli, Debian package `keepassxc`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class KeePassXC:
    """keepassxc-cli with its own HOME (it keeps a config there) and the password on stdin."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, stdin: str = "") -> str:
        env = {**os.environ, "HOME": str(self.home), "QT_QPA_PLATFORM": "offscreen"}
        proc = subprocess.run(
            ["keepassxc-cli", args[0], "-q", *args[1:]],
            input=stdin.encode("utf-8"),
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"keepassxc-cli {args[0]} failed ({proc.returncode}): "
                f"{proc.stderr.decode('utf-8', 'replace')}"
            )
        return proc.stdout.decode("utf-8")

    def create(self, db: Path, password: str) -> None:
        # 100 ms is the lowest decryption time the CLI accepts: AES-KDF, about 4M rounds
        self.run("db-create", "-p", "-t", "100", str(db), stdin=f"{password}\n{password}\n")

    def import_xml(self, xml: Path, db: Path, password: str) -> None:
        self.run("import", "-p", "-t", "100", str(xml), str(db), stdin=f"{password}\n{password}\n")

    def attribute(self, db: Path, password: str, entry: str, name: str) -> str:
        out = self.run("show", "-s", "-a", name, str(db), entry, stdin=f"{password}\n")
        return out[:-1] if out.endswith("\n") else out

    def totp(self, db: Path, password: str, entry: str) -> str:
        return self.run("show", "--totp", str(db), entry, stdin=f"{password}\n").strip()

    def info(self, db: Path, password: str) -> str:
        return self.run("db-info", str(db), stdin=f"{password}\n")
