from tests.helpers import ok


def test_rebuild(world):
    w = world
    ok(w.s("get", "GitHub"))
    for home in (w.client, w.secretary):
        for p in (home / "vaults").glob("*/state.json"):
            p.write_bytes(b"{garbage")
    r = ok(w.c("list"))
    assert "GitHub" in r.out and "rebuilt" in r.err
    for home in (w.client, w.secretary):
        for p in (home / "vaults").glob("*/state.json"):
            p.unlink()
    assert ok(w.s("get", "GitHub")).out.strip() == w.password
    assert "OK" in ok(w.c("audit", "verify")).out
    # mirror not duplicated
    for p in (w.client / "vaults").glob("*/mirror/*.jsonl"):
        lines = p.read_bytes().splitlines()
        assert len(lines) == len(set(lines))
