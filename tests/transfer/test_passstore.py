"""Format pass, against the real `pass` and `gpg` in a throwaway GNUPGHOME.

These tests are marked `external` and fail (never skip) when pass or gpg is missing:
apt packages `pass` and `gnupg`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transfer.builders import assert_clean, by_title, message_texts, places, read, skipped
from vault.errors import BadImport
from vault.transfer.passstore import ENV_PASSED, parse_entry

pytestmark = pytest.mark.external

MIZUHO = (
    "Pass-pw-1\n"
    "login: 0012345\n"
    "url: https://www.mizuhobank.co.jp/\n"
    "otpauth://totp/Mizuho:0012345?secret=GEZDGNBVGY3TQOJQGEZDGNBV&issuer=Mizuho\n"
    "支店: 本店\n"
    "口座の用途は給与振込\n"
    "https://www.mizuhobank.co.jp/help\n"
    "otpauth://totp/second?secret=JBSWY3DPEHPK3PXP\n"
)


@dataclass
class Store:
    home: Path  # GNUPGHOME
    path: Path  # the password store
    env: dict[str, str]

    def run(self, *args: str, stdin: bytes = b"") -> bytes:
        done = subprocess.run(
            list(args), input=stdin, env=self.env, capture_output=True, timeout=60, check=True
        )
        return done.stdout

    def insert(self, name: str, text: str) -> None:
        self.run("pass", "insert", "-m", "-f", name, stdin=text.encode())

    def fingerprint(self, uid: str) -> str:
        out = self.run("gpg", "--batch", "--with-colons", "--list-keys", uid).decode()
        return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr"))


def _need_tools() -> None:
    missing = [name for name in ("pass", "gpg", "gpgconf") if shutil.which(name) is None]
    if missing:
        pytest.fail(f"install {', '.join(missing)} (apt: pass gnupg) to run the pass tests")


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    _need_tools()
    # a short path: gpg-agent's socket lives in GNUPGHOME and sockets have a length limit
    root = Path(tempfile.mkdtemp(prefix="tkp", dir="/tmp"))
    home, path = root / "g", root / "s"
    home.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(root),
        "GNUPGHOME": str(home),
        "PASSWORD_STORE_DIR": str(path),
    }
    s = Store(home, path, env)
    try:
        for uid in ("takusu test <t@example.invalid>", "gone <gone@example.invalid>"):
            s.run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "future-default")
        s.run("pass", "init", s.fingerprint("t@example.invalid"))
        s.insert("Banking/みずほ", MIZUHO)
        s.insert("email/work.example.jp", "Pass-pw-2\nuser: tanaka\n")
        s.insert("Work/Deep/nest", "Pass-pw-3")
        s.insert("bad-otp", "CANARY-pass-pw\notpauth://totp/x?secret=CANARY0\n")
        # encrypted to a key whose secret half this machine no longer has
        gone = s.fingerprint("gone@example.invalid")
        s.run("gpg", "--batch", "--yes", "--trust-model", "always", "-r", gone,
              "-o", str(path / "no-key.gpg"), "--encrypt", stdin=b"CANARY-no-key\n")  # fmt: skip
        s.run("gpg", "--batch", "--yes", "--delete-secret-keys", gone)
        # not UTF-8 once decrypted
        s.run("gpg", "--batch", "--yes", "--trust-model", "always", "-r", "t@example.invalid",
              "-o", str(path / "latin1.gpg"), "--encrypt", stdin=b"caf\xe9\n")  # fmt: skip
        (path / ".git").mkdir()
        shutil.copy(path / "Work/Deep/nest.gpg", path / ".git/ignored.gpg")
        (path / "link.gpg").symlink_to(path / "Work/Deep/nest.gpg")
        yield s
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def result(store, monkeypatch):
    monkeypatch.setenv("GNUPGHOME", str(store.home))
    return read(store.path, "pass")


def test_fields_by_pass_conventions(result):
    mizuho = by_title(result)["Banking/みずほ"]
    assert mizuho.password == "Pass-pw-1"
    assert mizuho.username == "0012345"
    assert mizuho.url == "https://www.mizuhobank.co.jp/"
    assert mizuho.totp.startswith("otpauth://totp/Mizuho:0012345?secret=GEZDGNBVGY3TQOJQGEZDGNBV")
    assert mizuho.fields == {"支店": "本店"}
    assert mizuho.notes == (
        "口座の用途は給与振込\nhttps://www.mizuhobank.co.jp/help\n"
        "otpauth://totp/second?secret=JBSWY3DPEHPK3PXP"
    )
    assert mizuho.tags == ["Banking"]


def test_folders_are_tags_and_paths_are_titles(result):
    records = by_title(result)
    assert records["email/work.example.jp"].username == "tanaka"
    assert records["Work/Deep/nest"].password == "Pass-pw-3"
    assert records["Work/Deep/nest"].tags == ["Work/Deep"]
    assert records["Work/Deep/nest"].notes is None
    assert len(result.records) == 3  # .git and the symlink are not read


def test_undecryptable_bad_otp_and_non_utf8_entries_are_refused_without_secrets(result):
    refused = places(result)
    assert set(refused) == {"bad-otp", "no-key", "latin1"}
    assert "TOTP" in refused["bad-otp"]
    assert "gpg could not decrypt it" in refused["no-key"]
    assert "not UTF-8" in refused["latin1"]
    assert skipped(result) == {"link": "a symbolic link or special file (not followed)"}
    assert_clean(message_texts(result), "CANARY")


def test_nothing_decrypted_is_written_to_disk(store, monkeypatch):
    monkeypatch.setenv("GNUPGHOME", str(store.home))
    before = {p: p.stat().st_mtime_ns for p in store.path.rglob("*")}
    read(store.path, "pass")
    after = {p: p.stat().st_mtime_ns for p in store.path.rglob("*")}
    assert after == before
    for path in store.path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"Pass-pw-1" not in path.read_bytes()


def test_gpg_gets_a_minimal_environment(store, monkeypatch):
    monkeypatch.setenv("GNUPGHOME", str(store.home))
    monkeypatch.setenv("TAKUSU_CANARY_ENV", "CANARY-env")
    seen: list[dict[str, str]] = []
    real_run = subprocess.run

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003
        seen.append(kwargs["env"])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    read(store.path, "pass")
    assert seen and all(set(env) <= set(ENV_PASSED) for env in seen)
    assert "TAKUSU_CANARY_ENV" not in ENV_PASSED
    assert all(env["GNUPGHOME"] == str(store.home) for env in seen)


def test_no_gpg_is_one_clear_error(store, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BadImport, match="gpg is not installed"):
        read(store.path, "pass")


def test_not_a_store(tmp_path):
    with pytest.raises(BadImport, match="no .gpg-id"):
        read(tmp_path, "pass")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(BadImport, match="not a folder"):
        read(tmp_path / "x.csv", "pass")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.binary(max_size=200))
def test_any_bytes_in_a_gpg_file_are_one_refusal(store, garbage):
    with tempfile.TemporaryDirectory(dir="/tmp") as root:
        fake = Path(root)
        (fake / ".gpg-id").write_text("t@example.invalid\n")
        (fake / "junk.gpg").write_bytes(garbage)
        previous = os.environ.get("GNUPGHOME")
        os.environ["GNUPGHOME"] = str(store.home)  # no monkeypatch under hypothesis
        try:
            result = read(fake, "pass")
        finally:
            if previous is None:
                del os.environ["GNUPGHOME"]
            else:
                os.environ["GNUPGHOME"] = previous
        assert len(result.records) + len(result.refused) == 1


def test_parse_entry_without_gpg():
    entry = parse_entry("pw\nUsername: bob\nURL: https://a.example\nemail: b@example.jp\n", "p")
    assert (entry.password, entry.username, entry.url) == ("pw", "bob", "https://a.example")
    assert entry.fields == [("email", "b@example.jp")]
    assert parse_entry("", "p").password == ""
    assert parse_entry("only\n\n\n", "p").notes == ""
