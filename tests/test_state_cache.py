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


def test_a_damaged_title_index_is_rebuilt_and_never_trusted(world):
    """index.enc is this identity's own AEAD-sealed file: garbage, a seal under another
    key, or sealed bytes that are not JSON (or not a dict) mean "rebuild", never an error
    or a wrong title."""
    from vault.crypto import aead_seal
    from vault.index import TitleIndex

    w = world
    ok(w.c("list"))
    (path,) = (w.client / "vaults").glob("*/index.enc")
    sess = w.machine(w.client).session()
    real = sess.title_index()
    assert real.entries  # the list above filled it
    for damaged in (
        b"garbage",
        aead_seal(b"k" * 32, b"{}", real.aad),
        aead_seal(real.key, b"\xff\xfe not json", real.aad),
        aead_seal(real.key, b'["a list"]', real.aad),
        aead_seal(real.key, b'{"x": ' * 100_000, real.aad),
    ):
        path.write_bytes(damaged)
        assert TitleIndex(path, real.key, real.aad).entries == {}
        listed = ok(w.c("list")).out
        assert "GitHub" in listed and "Bank" in listed
        assert TitleIndex(path, real.key, real.aad).entries  # rebuilt and saved
