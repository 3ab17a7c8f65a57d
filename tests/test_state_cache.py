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


def test_a_cache_that_passed_once_is_checked_again_when_its_bytes_change(world):
    """A long-lived process (the agent) skips re-walking the very bytes it checked; any
    other bytes, a wrong shape in valid JSON included, are checked and rebuilt."""
    import json

    from vault.store import mirror

    w = world
    ok(w.c("list"))  # checks the cache and remembers its digest
    (cache,) = (w.client / "vaults").glob("*/state.json")
    assert mirror._SHAPE_CHECKED  # noqa: SLF001 - the memo this test is about
    doc = json.loads(cache.read_bytes())
    doc["state"]["items"] = ["not", "a", "dict"]
    cache.write_text(json.dumps(doc))
    r = ok(w.c("list"))
    assert "GitHub" in r.out and "rebuilt" in r.err
