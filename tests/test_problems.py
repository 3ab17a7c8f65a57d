"""Problem kinds are a closed set, each with one sentence for people."""

from __future__ import annotations

import pytest

from vault.store.problems import SENTENCES, Kind, Problem


def test_every_problem_kind_has_a_sentence():
    assert set(SENTENCES) == set(Kind)
    for kind, sentence in SENTENCES.items():
        assert sentence.endswith(".") and sentence[0].isupper(), kind
        assert "receipt" not in sentence.lower(), f"{kind}: plain words, please"


def test_a_problem_kind_must_come_from_the_closed_set():
    assert Problem(Kind.TAMPERED, "x").kind == "tampered"
    with pytest.raises(TypeError):
        Problem("tampered", "x")  # type: ignore[arg-type]
