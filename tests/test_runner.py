"""`takusu run`'s engine with real child processes: environment, masking, exit codes,
signals (SIGTERM, SIGINT, Ctrl-C at a real pseudo-terminal), prompts; and the specs."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.errors import BadInput, UserError
from vault.masking import MASK, Masker
from vault.runner import Ref, parse_ref, parse_spec, references, run, unmaskable

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def child(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def run_captured(capfd, code: str, secrets: dict[str, str], **kw):
    result = run(child(code), secrets, **kw)
    out, err = capfd.readouterr()
    return result, out, err


# ---- environment and masking ----


def test_secrets_reach_the_child_and_the_passphrase_does_not(capfd):
    base = {"PATH": os.environ["PATH"], "KEEP": "kept", "TAKUSU_PASSPHRASE": "pp"}
    code = """
        import os
        print(os.environ["API_KEY"], os.environ["KEEP"], os.environ.get("TAKUSU_PASSPHRASE"))
    """
    result, out, _ = run_captured(capfd, code, {"API_KEY": "k-123456"}, mask=False, base_env=base)
    assert out == "k-123456 kept None\n"
    assert result.exit_code == 0


def test_run_turns_the_collector_back_on_for_a_child_that_may_run_for_hours(capfd):
    """bin/takusu turns the cyclic collector off for a command's moment; `run` waits on
    its child for as long as the child lives, so it collects again."""
    import gc

    gc.disable()
    try:
        code = "import time; print('ran', flush=True); time.sleep(3)"
        seen: list[bool] = []
        with_child = threading.Timer(1.0, lambda: seen.append(gc.isenabled()))
        with_child.start()
        result, out, _ = run_captured(capfd, code, {}, mask=True)
        with_child.join()
        after = gc.isenabled()
    finally:
        gc.enable()
    assert seen == [True]  # while the child ran
    assert not after  # and as the caller had it once the child is gone
    assert (out, result.exit_code) == ("ran\n", 0)


def test_secrets_are_masked_in_stdout_and_stderr(capfd):
    code = """
        import os, sys
        print("token=" + os.environ["TOKEN"] + " user=" + os.environ["USER_NAME"])
        print("oops " + os.environ["TOKEN"], file=sys.stderr)
    """
    _, out, err = run_captured(capfd, code, {"TOKEN": "tok-SECRET-42", "USER_NAME": "alice@x"})
    assert out == "token=******** user=********\n"
    assert err == "oops ********\n"


def test_a_secret_written_one_byte_at_a_time_is_masked(capfd):
    code = """
        import os, sys, time
        for ch in "[" + os.environ["S"] + "]":
            sys.stdout.write(ch); sys.stdout.flush(); time.sleep(0.005)
    """
    _, out, _ = run_captured(capfd, code, {"S": "correct-horse-battery"})
    assert out == "[********]"


def test_a_secret_at_the_very_end_without_newline_is_masked(capfd):
    code = 'import os, sys; sys.stdout.write("end:" + os.environ["S"])'
    _, out, _ = run_captured(capfd, code, {"S": "p4ssw0rd!"})
    assert out == "end:********"


def test_overlapping_and_nested_secrets_are_masked_whole(capfd):
    code = """
        import os
        print("a " + "abcdef12" + "ghij" + " b")   # A's end is B's start
        print("c " + os.environ["LONG"] + " d")     # SHORT is inside LONG
        print("e " + os.environ["SHORT"] + " f")
    """
    secrets = {"A": "abcdef12", "B": "ef12ghij", "LONG": "pass-word-123", "SHORT": "word"}
    _, out, _ = run_captured(capfd, code, secrets)
    assert out == "a ******** b\nc ******** d\ne ******** f\n"


def test_binary_output_passes_through_except_the_secret(capfdbinary):
    code = """
        import os, sys
        out = sys.stdout.buffer
        out.write(bytes(range(256)) + os.environb[b"S"] + b"\\xff\\x00\\r\\n"); out.flush()
    """
    run(child(code), {"S": "\u00e9t\u00e9-s3cret"})
    out, _ = capfdbinary.readouterr()
    assert out == bytes(range(256)) + MASK + b"\xff\x00\r\n"


def test_short_values_are_passed_but_reported_unmasked(capfd):
    code = 'import os; print(os.environ["PIN"], os.environ["EMPTY"] == "")'
    result, out, _ = run_captured(capfd, code, {"PIN": "123", "EMPTY": "", "OK": "long-enough"})
    assert out == "123 True\n"
    assert result.unmasked == ["EMPTY", "PIN"] == unmaskable({"PIN": "123", "EMPTY": ""})


def test_without_masking_the_output_is_untouched(capfd):
    code = 'import os, sys; print(os.environ["S"]); print(os.environ["S"], file=sys.stderr)'
    result, out, err = run_captured(capfd, code, {"S": "visible-secret", "PIN": "1"}, mask=False)
    assert (out, err) == ("visible-secret\n", "visible-secret\n")
    assert result.unmasked == []  # nothing was to be masked


# ---- exit codes and missing commands ----


@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("code", [0, 3, 42])
def test_the_exit_code_is_the_childs(code, mask):
    assert run(child(f"raise SystemExit({code})"), {}, mask=mask).exit_code == code


def test_a_child_killed_by_a_signal_gives_128_plus_the_signal():
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert run(child(code), {"S": "secret-value"}).exit_code == 137


def test_a_missing_command_is_a_user_error_with_exit_127():
    with pytest.raises(UserError, match="command not found: no-such-command-xyz") as caught:
        run(["no-such-command-xyz"], {"S": "secret-value"})
    assert caught.value.exit_code == 127
    assert "secret-value" not in str(caught.value)


def test_a_file_that_cannot_be_executed_gives_126(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(UserError, match="permission denied") as caught:
        run([str(script)], {})
    assert caught.value.exit_code == 126
    with pytest.raises(BadInput):
        run([], {})
    with pytest.raises(BadInput, match="NUL") as refused:
        run([PY, "-c", "pass"], {"S": "nul\0inside"})
    assert "inside" not in str(refused.value)


# ---- the runner in its own process: signals, prompts ----

RUNNER = textwrap.dedent(
    """
    import sys
    from vault.runner import run
    child = sys.argv[1]
    result = run([sys.executable, "-c", child], {"S": "runner-secret-1"})
    sys.exit(result.exit_code)
    """
)

# Counts SIGINT/SIGTERM for half a second after the first one, then reports and exits 7.
COUNTING_CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    got = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda n, f: got.append(signal.Signals(n).name))
    print("ready " + os.environ["S"], flush=True)
    deadline = time.monotonic() + 20
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    print("got", " ".join(got), flush=True)
    sys.exit(7)
    """
)


def start_runner(child_code: str, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PY, "-c", RUNNER, child_code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: a kill is the only way in
        **kw,
    )


def read_until(fd: int, marker: bytes, timeout: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {seen!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # a pty's master reads EIO once the other side is gone
                chunk = b""
            assert chunk, f"EOF before {marker!r} in {seen!r}"
            seen += chunk
    return seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_sent_to_the_runner_reaches_the_child_once(sig):
    proc = start_runner(COUNTING_CHILD)
    assert proc.stdout is not None
    assert b"ready ********" in read_until(proc.stdout.fileno(), b"ready")
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert out.strip() == f"got {sig.name}".encode()
    assert proc.returncode == 7


def test_ctrl_c_at_a_terminal_reaches_the_child_exactly_once():
    # The runner as a terminal session leader with the pty as its controlling terminal:
    # ^C makes the line discipline send SIGINT to the whole foreground group.
    master, slave = pty.openpty()
    take_terminal = "import fcntl, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    proc = subprocess.Popen(
        [PY, "-c", take_terminal + RUNNER, COUNTING_CHILD],
        cwd=ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        read_until(master, b"ready")
        os.write(master, b"\x03")
        seen = read_until(master, b"got SIGINT")
        proc.wait(timeout=20)
        with_rest = seen + _drain(master)
        assert b"got SIGINT SIGINT" not in with_rest
        assert proc.returncode == 7
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _drain(fd: int) -> bytes:
    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_a_prompt_without_newline_shows_before_the_child_reads():
    code = """
        import sys
        sys.stdout.write("Name: "); sys.stdout.flush()
        print("hello " + sys.stdin.readline().strip(), flush=True)
    """
    proc = start_runner(textwrap.dedent(code), stdin=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    assert read_until(proc.stdout.fileno(), b"Name: ") == b"Name: "
    proc.stdin.write(b"bob\n")
    proc.stdin.close()
    assert proc.stdout.read() == b"hello bob\n"
    proc.stdout.close()
    assert proc.wait(timeout=20) == 0


def test_a_closed_stdout_does_not_hang_the_runner():
    code = "import sys\nwhile True: sys.stdout.write('x' * 1000 + '\\n')"
    proc = start_runner(code)
    assert proc.stdout is not None
    read_until(proc.stdout.fileno(), b"x")
    proc.stdout.close()
    assert proc.wait(timeout=20) != 0  # the child died of the broken pipe, as in a shell


# ---- the masker on its own ----


def mask_reference(data: bytes, secrets: list[bytes]) -> bytes:
    """Every byte inside any occurrence covered; each run of covered bytes one MASK."""
    covered = [False] * len(data)
    for s in secrets:
        start = data.find(s)
        while s and start >= 0:
            covered[start : start + len(s)] = [True] * len(s)
            start = data.find(s, start + 1)
    out, i = bytearray(), 0
    while i < len(data):
        if covered[i]:
            while i < len(data) and covered[i]:
                i += 1
            out += MASK
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(
    secrets=st.lists(
        st.binary(min_size=1, max_size=6).map(lambda b: bytes(x % 3 for x in b)),
        min_size=1,
        max_size=3,
    ),
    data=st.binary(max_size=40).map(lambda b: bytes(x % 4 for x in b)),
    cuts=st.lists(st.integers(min_value=1, max_value=7), max_size=40),
)
def test_the_masker_does_not_depend_on_how_the_stream_is_cut(secrets, data, cuts):
    masker, out, i = Masker(secrets), b"", 0
    for n in cuts + [len(data)]:
        out += masker.feed(data[i : i + n])
        i += n
    assert out + masker.end() == mask_reference(data, secrets)


def test_the_masker_holds_back_only_what_could_start_a_secret():
    masker = Masker([b"secret-1", b"other"])
    assert masker.feed(b"Password: ") == b"Password: "
    assert masker.feed(b"xx sec") == b"xx "
    assert masker.feed(b"ret-1 ok") == MASK + b" ok"
    assert masker.feed(b"oth") == b""
    assert masker.end() == b"oth"


def test_a_long_run_of_one_secret_stays_one_mask_in_bounded_memory():
    masker = Masker([b"aaaa"])
    out = b"".join(masker.feed(b"a" * 1000) for _ in range(100)) + masker.feed(b"!")
    assert out + masker.end() == MASK + b"!"
    assert len(masker._tail) < 4


# ---- naming secrets ----


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("GitHub", Ref(None, "GitHub", "password")),
        ("GitHub/username", Ref(None, "GitHub", "username")),
        ("GitHub/totp", Ref(None, "GitHub", "totp")),
        ("acme/GitHub", Ref("acme", "GitHub", "password")),
        ("acme/GitHub/api key", Ref("acme", "GitHub", "api key")),
        ("/GitHub/api key", Ref(None, "GitHub", "api key")),
        ("acme/GitHub/Password", Ref("acme", "GitHub", "Password")),
        ("acme/Password", Ref("acme", "Password", "password")),  # field names are exact
        ("Bank//Checking", Ref(None, "Bank/Checking", "password")),
        ("acme/Bank//Checking/url", Ref("acme", "Bank/Checking", "url")),
        ("a///b", Ref("a/", "b", "password")),
        ("銀行/ネット口座", Ref("銀行", "ネット口座", "password")),
    ],
)
def test_parse_ref(text, ref):
    assert parse_ref(text) == ref


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no item title"),
        ("a/b/c/d", "too many '/'"),
        ("/GitHub", "no vault name"),
        ("acme/", "no item title"),
        ("acme/GitHub/", "no field name"),
    ],
)
def test_parse_ref_refuses(text, why):
    with pytest.raises(BadInput, match=why):
        parse_ref(text)


def test_parse_spec():
    assert parse_spec("DB_PASS=acme/Postgres") == ("DB_PASS", Ref("acme", "Postgres"))
    assert parse_spec("U=takusu://GitHub/username") == ("U", Ref(None, "GitHub", "username"))
    assert parse_spec("K=x=y") == ("K", Ref(None, "x=y"))
    for bad, why in [("NOEQUALS", "no '='"), ("1X=a", "not a variable name"), ("=a", "not a")]:
        with pytest.raises(BadInput, match=why):
            parse_spec(bad)


def test_references_finds_and_parses_only_takusu_urls():
    env = {
        "DB": "takusu://acme/Postgres/password",
        "WEB": "https://example.com",
        "TOTP": "takusu://GitHub/totp",
        "PLAIN": "takusu",
    }
    assert references(env) == {
        "DB": Ref("acme", "Postgres", "password"),
        "TOTP": Ref(None, "GitHub", "totp"),
    }
    with pytest.raises(BadInput, match="^BAD: too many"):
        references({"BAD": "takusu://a/b/c/d"})
