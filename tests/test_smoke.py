from tests.helpers import ok, run


def test_init_whoami(tmp_path):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice"))
    r = ok(run(home, "whoami", "--json"))
    assert '"name": "Alice"' in r.out
