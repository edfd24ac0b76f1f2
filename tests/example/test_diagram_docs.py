"""The README's and docs' generated blocks (the example's diagrams, its cost table) match what the
commands in their markers print today: a change to the example or to a renderer that moves a
block, a grant or a price fails here until `python -m components.diagram README.md
docs/diagrams.md docs/cost.md` redraws them."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.diagram import GENERATED, regenerate

ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENTS = ["README.md", "docs/diagrams.md", "docs/cost.md"]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_generated_blocks_match_the_render(name):
    text = (ROOT / name).read_text()
    assert GENERATED.search(text), f"{name} holds no generated block"
    assert regenerate(text, str(ROOT)) == text, (
        f"{name}: a generated block drifted from the render; redraw: python -m components.diagram {' '.join(DOCUMENTS)}")
