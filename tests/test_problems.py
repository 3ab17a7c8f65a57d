"""Problem kinds are a closed set, each with one sentence for people."""

from __future__ import annotations

import ast
from pathlib import Path

from vault.store.problems import SENTENCES, Kind

ROOT = Path(__file__).resolve().parent.parent


def test_every_problem_kind_has_a_sentence():
    assert set(SENTENCES) == set(Kind)
    for kind, sentence in SENTENCES.items():
        assert sentence.endswith(".") and sentence[0].isupper(), kind
        assert "receipt" not in sentence.lower(), f"{kind}: plain words, please"


def test_problems_are_made_only_with_a_kind_from_the_enum():
    """Problem(...) calls in vault/ name their kind as Kind.X, never as a bare string."""
    for path in (ROOT / "vault").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem":
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Attribute | ast.IfExp), (path, node.lineno)
