from tests.helpers import ok, run


def test_init_whoami(tmp_path):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice"))
    r = ok(run(home, "whoami", "--json"))
    assert '"name": "Alice"' in r.out


def test_the_demo_tells_the_whole_story(tmp_path):
    """`takusu demo` runs every step (it raises on a step that does not behave)."""
    result = ok(run(tmp_path / "unused-home", "demo", passphrase=None))
    for step in (
        "1. Two people",
        "4. The secretary opens",
        "6. The contract ends",
        "7. Trusting less",
    ):
        assert step in result.out
    assert "(it matches)" in result.out and "The exposed mark is cleared." in result.out
    assert "the 2FA seed of this item was not shared" in result.out
    assert "ended by itself when her codes ran out" in result.out
