"""The keystore: one contract every KEK backend passes, insecure-keyring refusal, passphrases.

`KekBackendContract` is written once, in the style of keyring's `BackendBasicTests`; each
subclass only says how to build its backend and how to make its KEK gone or wrong. The
Secret Service subclass runs against a real gnome-keyring on a private D-Bus session that
the test run starts for itself (tests/secretservice.py).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from pathlib import Path

import pytest

import cli
from tests.helpers import PASSPHRASE, ok, run
from vault import crypto
from vault.encoding import b64e
from vault.errors import (
    AlreadyExists,
    IntegrityError,
    KeyringUnavailable,
    PassphraseUnavailable,
    TakusuError,
)
from vault.identity import Identity
from vault.keystore import (
    KeyringKek,
    KeyStore,
    PassphraseKek,
    is_secure_backend,
    secure_keyring,
)

# The cheapest Argon2id the keystore accepts: the contract is about behaviour, not cost.
FAST_KDF = {"alg": "argon2id", **crypto.KDF_FLOOR}


def secret_encodings(raw: bytes) -> list[bytes]:
    """The ways a private key could leak into a text file: raw, base64url, base64, hex."""
    return [
        raw,
        b64e(raw).encode(),
        base64.b64encode(raw).rstrip(b"="),
        raw.hex().encode(),
    ]


# --- the contract ---------------------------------------------------------------------------


class KekBackendContract:
    """Every KEK backend must pass these. Subclasses provide the three hooks below."""

    @pytest.fixture
    def backend(self):
        raise NotImplementedError

    def lose_kek(self, backend, store: KeyStore):
        """Make the KEK gone; return the backend to try unlocking with."""
        raise NotImplementedError

    def wrong_kek(self, backend, store: KeyStore):
        """Make the KEK wrong; return the backend to try unlocking with."""
        raise NotImplementedError

    @pytest.fixture
    def account(self, backend):
        """A keyring account name no other test uses; forgotten afterwards."""
        name = f"takusu-test-{secrets.token_hex(8)}"
        created: list[dict] = []
        yield name, created
        for params in created:
            backend.forget(params)

    @pytest.fixture
    def store(self, tmp_path, backend):
        store = KeyStore(tmp_path / "home")
        yield store
        if store.exists():
            store.forget(backend)

    @pytest.fixture
    def identity(self):
        return Identity.generate("Contract Tester")

    # --- the tests ---

    def test_create_then_unlock_gives_the_same_kek(self, backend, account):
        name, created = account
        kek, params = backend.create(name)
        created.append(params)
        assert len(kek) == 32
        assert backend.unlock(json.loads(json.dumps(params))) == kek

    def test_keystore_round_trips_an_identity(self, backend, store, identity):
        store.create(identity, backend)
        opened = store.unlock(backend)
        assert opened.id == identity.id
        assert opened.card.envelope == identity.card.envelope
        assert opened.signing.raw() == identity.signing.raw()
        assert opened.kem.x25519_raw == identity.kem.x25519_raw
        assert opened.kem.mlkem_seed == identity.kem.mlkem_seed
        assert store.mode() == backend.mode

    def test_second_create_refuses_and_keeps_the_first(self, backend, store, identity):
        store.create(identity, backend)
        before = store.path.read_bytes()
        with pytest.raises(AlreadyExists):
            store.create(Identity.generate("Someone Else"), backend)
        assert store.path.read_bytes() == before
        assert store.unlock(backend).id == identity.id

    @pytest.mark.parametrize("how", ["lose_kek", "wrong_kek"])
    def test_unlock_without_the_right_kek_fails_typed_and_changes_nothing(
        self, backend, store, identity, how
    ):
        store.create(identity, backend)
        before = store.path.read_bytes()
        other = getattr(self, how)(backend, store)
        with pytest.raises(TakusuError):
            store.unlock(other)
        assert store.path.read_bytes() == before

    def test_key_file_is_private_and_holds_no_private_key(self, backend, store, identity):
        store.create(identity, backend)
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
        data = store.path.read_bytes()
        secrets_ = [identity.signing.raw(), identity.kem.x25519_raw]
        if identity.kem.mlkem_seed:
            secrets_.append(identity.kem.mlkem_seed)
        for raw in secrets_:
            for encoded in secret_encodings(raw):
                assert encoded not in data
        # not vacuous: a plaintext dump of the identity would have been caught
        assert b64e(identity.signing.raw()).encode() in identity.private_bytes()
        assert json.loads(data)["card"] == identity.card.envelope

    def test_card_is_readable_without_unlocking(self, backend, store, identity):
        store.create(identity, backend)
        self.lose_kek(backend, store)
        card = KeyStore(store.home).card()
        assert card.id == identity.id
        assert card.safety_code == identity.card.safety_code


class TestMemoryKeyringBackend(KekBackendContract):
    """The KEK in a keyring backend (the in-memory test double)."""

    @pytest.fixture
    def backend(self, memory_keyring):
        return KeyringKek(memory_keyring)

    def lose_kek(self, backend, store):
        store.forget(backend)
        return backend

    def wrong_kek(self, backend, store):
        params = json.loads(store.path.read_bytes())["params"]
        backend.backend.set_password(params["service"], params["account"], b64e(os.urandom(32)))
        return backend

    def test_unlock_after_kek_gone_says_so(self, backend, store, identity):
        store.create(identity, backend)
        store.forget(backend)
        with pytest.raises(KeyringUnavailable, match="missing from the OS keyring") as exc:
            store.unlock(backend)
        assert "--restore" in (exc.value.hint or "")

    def test_unlock_with_wrong_kek_is_an_integrity_error(self, backend, store, identity):
        store.create(identity, backend)
        with pytest.raises(IntegrityError):
            store.unlock(self.wrong_kek(backend, store))


class TestPassphraseBackend(KekBackendContract):
    """The KEK from Argon2id over a passphrase."""

    @pytest.fixture
    def backend(self):
        return PassphraseKek(lambda confirm: PASSPHRASE, kdf=FAST_KDF)

    def lose_kek(self, backend, store):
        def nobody_to_ask(confirm: bool) -> str:
            raise PassphraseUnavailable("no passphrase")

        return PassphraseKek(nobody_to_ask)

    def wrong_kek(self, backend, store):
        return PassphraseKek(lambda confirm: PASSPHRASE + "!")

    def test_kdf_parameters_are_stored_beside_the_salt(self, backend, store, identity):
        store.create(identity, backend)
        params = json.loads(store.path.read_bytes())["params"]
        assert params["kdf"] == FAST_KDF
        assert len(base64.urlsafe_b64decode(params["salt"] + "==")) == 16

    def test_kdf_below_the_floor_is_refused_before_asking(self, backend, store, identity):
        store.create(identity, backend)
        doc = json.loads(store.path.read_bytes())
        doc["params"]["kdf"]["memory_kib"] = 8
        store.path.write_bytes(json.dumps(doc).encode())

        def must_not_ask(confirm: bool) -> str:
            raise AssertionError("asked for the passphrase before checking the KDF parameters")

        with pytest.raises(IntegrityError, match="below the floor"):
            store.unlock(PassphraseKek(must_not_ask))


@pytest.mark.secret_service
class TestSecretServiceBackend(TestMemoryKeyringBackend):
    """The real thing: gnome-keyring over D-Bus, as on a Linux desktop (a private one
    started for the test run, see tests/secretservice.py)."""

    @pytest.fixture
    def backend(self, secret_service):
        from keyring.backends import SecretService

        return KeyringKek(SecretService.Keyring())


@pytest.mark.secret_service
def test_the_secret_service_reader_opens_what_keyrings_backend_stored(secret_service, tmp_path):
    """The light reader (no `keyring` import) finds the KEK keyring's Secret Service backend
    stored, by the same attributes; an entry that is gone is KeyringUnavailable, which
    sends the caller to keyring itself."""
    from keyring.backends import SecretService

    from vault.keystore import SecretServiceReader

    store = KeyStore(tmp_path / "home")
    identity = Identity.generate("Reader Tester")
    written = KeyringKek(SecretService.Keyring())
    store.create(identity, written)
    assert store.unlock(SecretServiceReader()).id == identity.id
    store.forget(written)
    with pytest.raises(KeyringUnavailable):
        store.unlock(SecretServiceReader())


_UNLOCK_AND_SAY = (
    "import sys; from pathlib import Path; from vault.machine import Machine; "
    "m = Machine(Path(sys.argv[1])); print(m.identity().id, 'keyring' in sys.modules)"
)


@pytest.mark.secret_service
def test_a_keyring_identity_opens_without_importing_keyring_unless_keyring_was_chosen(
    secret_service, secret_service_env, tmp_path
):
    """Finding and importing every keyring backend cost more than the rest of a command:
    where keyring would ask the Secret Service anyway, takusu reads it directly. A backend
    chosen with PYTHON_KEYRING_BACKEND or keyringrc.cfg is keyring's to ask, and so is an
    entry the Secret Service does not hold (it falls back, and says what keyring says)."""
    import subprocess
    import sys

    from keyring.backends import SecretService

    from vault.machine import Machine

    home = tmp_path / "home"
    keyring_backend = SecretService.Keyring()
    identity, mode = Machine(home, keyring_backend=keyring_backend).init("Light Unlock")
    assert mode == "keyring"
    env = {
        **os.environ,
        **secret_service_env,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    env.pop("PYTHON_KEYRING_BACKEND", None)

    def unlock(**extra):
        done = subprocess.run(
            [sys.executable, "-c", _UNLOCK_AND_SAY, str(home)],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.split(), done.stderr

    said = unlock()
    assert said[0] == [identity.id, "False"], said[1]
    chosen = "keyring.backends.SecretService.Keyring"
    assert unlock(PYTHON_KEYRING_BACKEND=chosen)[0] == [identity.id, "True"]
    rc = tmp_path / "config" / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text(f"[backend]\ndefault-keyring={chosen}\n")
    assert unlock()[0] == [identity.id, "True"]
    rc.unlink()
    Machine(home).keystore.forget(KeyringKek(keyring_backend))
    out, err = unlock()
    assert out == [] and "missing from the OS keyring" in err


# --- insecure keyrings are refused ----------------------------------------------------------


class _FakeBackend:
    priority = 1

    def get_password(self, service, username):  # pragma: no cover - never reached
        raise AssertionError("an insecure backend was used")

    set_password = delete_password = get_password


class PlaintextKeyring(_FakeBackend):
    pass


PlaintextKeyring.__module__ = "keyrings.alt.file"


class VendorPlaintextStore(_FakeBackend):
    pass


VendorPlaintextStore.__module__ = "somevendor.backends"


class ZeroPriority(_FakeBackend):
    priority = 0


ZeroPriority.__module__ = "somevendor.backends"


class NegativePriority(_FakeBackend):
    priority = -1


NegativePriority.__module__ = "somevendor.backends"


class PriorityRaises(_FakeBackend):
    @property
    def priority(self):  # type: ignore[override]
        raise RuntimeError("no D-Bus here")


PriorityRaises.__module__ = "somevendor.backends"


def _insecure_backends():
    from keyring.backends import fail, null

    return [
        fail.Keyring(),
        null.Keyring(),
        PlaintextKeyring(),
        VendorPlaintextStore(),
        ZeroPriority(),
        NegativePriority(),
        PriorityRaises(),
    ]


@pytest.mark.parametrize("insecure", _insecure_backends(), ids=lambda b: type(b).__name__)
def test_insecure_backends_are_not_secure(insecure):
    assert is_secure_backend(insecure) is False


@pytest.mark.parametrize("insecure", _insecure_backends(), ids=lambda b: type(b).__name__)
def test_keyring_kek_refuses_an_insecure_backend(insecure):
    with pytest.raises(KeyringUnavailable, match="insecure"):
        KeyringKek(insecure)


def test_a_positive_priority_backend_is_secure(memory_keyring):
    assert is_secure_backend(memory_keyring) is True


def test_secure_keyring_is_none_under_the_fail_backend(no_keyring):
    assert secure_keyring() is None


def test_secure_keyring_returns_the_secure_backend(memory_keyring):
    assert secure_keyring() is memory_keyring


def test_init_without_a_secure_keyring_uses_a_passphrase(tmp_path, no_keyring):
    home = tmp_path / "h"
    r = ok(run(home, "init", "--name", "Alice"))
    assert "passphrase" in r.out
    info = json.loads(ok(run(home, "whoami", "--json")).out)
    assert info["key_mode"] == "passphrase"
    ok(run(home, "vault", "create", str(tmp_path / "v")))  # and it unlocks


def test_init_passphrase_flag_wins_over_a_keyring(tmp_path, memory_keyring):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice", "--passphrase"))
    info = json.loads(ok(run(home, "whoami", "--json")).out)
    assert info["key_mode"] == "passphrase"
    assert memory_keyring.entries == {}


def test_init_uses_the_keyring_when_a_secure_one_exists(tmp_path, memory_keyring):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice"))
    info = json.loads(ok(run(home, "whoami", "--json")).out)
    assert info["key_mode"] == "keyring"
    [(service, account)] = memory_keyring.entries
    assert service == "takusu"
    assert account.startswith(info["id"])
    params = json.loads((home / "identity.key").read_bytes())["params"]
    assert params == {"service": service, "account": account}


# --- passphrases through the CLI ------------------------------------------------------------


@pytest.fixture
def passphrase_home(tmp_path, no_keyring) -> Path:
    """An identity protected by PASSPHRASE, with one vault (so config.json exists)."""
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice"))
    ok(run(home, "vault", "create", str(tmp_path / "v")))
    return home


def _snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (home / "identity.key", home / "config.json")}


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("takusu: error:")]
    assert len(errors) == 1, err
    assert lines[0] == errors[0], err
    assert "Traceback" not in err
    return errors[0]


def test_wrong_passphrase_is_one_line_and_changes_nothing(passphrase_home, tmp_path):
    before = _snapshot(passphrase_home)
    r = run(passphrase_home, "vault", "create", str(tmp_path / "v2"), passphrase="not it")
    assert r.code == 1, r
    assert r.out == ""
    assert "wrong passphrase" in _one_error_line(r.err)
    assert "not it" not in r.err
    assert _snapshot(passphrase_home) == before
    assert not (tmp_path / "v2").exists()


def test_no_passphrase_and_no_terminal_is_a_clear_error(passphrase_home, tmp_path):
    before = _snapshot(passphrase_home)
    piped = "piped secret that must not be read"
    r = run(
        passphrase_home,
        "vault",
        "create",
        str(tmp_path / "v2"),
        passphrase=None,
        input=piped + "\n",
    )
    assert r.code == 1, r
    assert r.out == ""
    assert "no terminal" in _one_error_line(r.err)
    assert "TAKUSU_PASSPHRASE" in r.err  # the hint says how to automate
    assert "passphrase:" not in r.err.lower()
    assert piped not in r.err
    assert _snapshot(passphrase_home) == before


def test_init_passphrase_without_terminal_creates_nothing(tmp_path, no_keyring):
    home = tmp_path / "h"
    r = run(home, "init", "--name", "Alice", passphrase=None)
    assert r.code == 1, r
    assert "no terminal" in _one_error_line(r.err)
    assert not (home / "identity.key").exists()


def test_takusu_passphrase_is_removed_from_the_environment(
    passphrase_home, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TAKUSU_HOME", str(passphrase_home))
    monkeypatch.setenv("TAKUSU_PASSPHRASE", PASSPHRASE)
    with pytest.raises(SystemExit) as exc:
        cli.main(["vault", "create", str(tmp_path / "v2"), "--name", "second"])
    assert exc.value.code == 0, capsys.readouterr()
    assert "TAKUSU_PASSPHRASE" not in os.environ
    assert (tmp_path / "v2" / "vault.json").exists()  # the value was read before removal


def test_kdf_below_the_floor_is_refused_with_exit_3(passphrase_home):
    key_file = passphrase_home / "identity.key"
    doc = json.loads(key_file.read_bytes())
    doc["params"]["kdf"]["memory_kib"] = 8
    key_file.write_bytes(json.dumps(doc).encode())
    before = _snapshot(passphrase_home)
    r = run(passphrase_home, "list")
    assert r.code == 3, r
    assert "below the floor" in _one_error_line(r.err)
    assert _snapshot(passphrase_home) == before


@pytest.mark.parametrize("mode", [0o644, 0o640], ids=oct)
def test_key_file_readable_by_others_is_refused(passphrase_home, mode):
    key_file = passphrase_home / "identity.key"
    key_file.chmod(mode)
    for args in (["list"], ["whoami"]):
        r = run(passphrase_home, *args)
        assert r.code == 3, r
        assert r.out == ""
        assert "readable by other users" in _one_error_line(r.err)
        assert "takusu: hint:" in r.err and "chmod 600" in r.err
    assert stat.S_IMODE(key_file.stat().st_mode) == mode  # never "fixed" silently
