"""Fixtures: sentence-transformers variants of MiniLM (`st_variants`), each exported once."""

from __future__ import annotations

import pytest
from st_variants import Variant, build


@pytest.fixture(scope="session")
def variants(tmp_path_factory, minilm_dir):
    """name -> a lazily built `Variant` (each built and exported at most once)."""
    cache: dict[str, Variant] = {}

    def get(name: str) -> Variant:
        if name not in cache:
            from sentence_transformers import SentenceTransformer

            from bert_tf.export import export_pair

            root = tmp_path_factory.mktemp(name)
            checkpoint = build(name, minilm_dir, root / "st")
            export_dir = root / "export"
            # The encoder signatures' XLA is tested elsewhere; without it the export is faster.
            export_pair(str(checkpoint), str(export_dir), serving_jit_compile=False)
            model = SentenceTransformer(str(checkpoint), device="cpu")
            cache[name] = Variant(
                name, checkpoint, export_dir, model, normalized=name != "max_weighted_last_sqrt"
            )
        return cache[name]

    return get
