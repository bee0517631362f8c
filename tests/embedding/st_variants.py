"""sentence-transformers models with different stacks, built from the real MiniLM weights.

Each variant is saved by the installed sentence-transformers (6.x: its module
paths, `tokenizer.json` and no `vocab.txt`), exported once per session, and
kept with its `SentenceTransformer` as the reference.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

# Multilingual, empty, very long (past every max_seq_length), accents, CJK, emoji.
TEXTS = [
    "A man is eating food.",
    "",
    "Crème brûlée, naïve café and Zürich trams in one sentence.",
    "东京是日本的首都。",
    "Привет, как дела? Γειά σου Κόσμε! مرحبا بالعالم",
    "I love this movie 😊 but the ending was... disappointing?!",
    "Transformers use self-attention to weigh the relevance of every token to every other "
    "token; " * 40,
    "   ",
    "ALL CAPS SHOUTING ABOUT THE WEATHER, 42 × 7 = 294",
]


@dataclasses.dataclass
class Variant:
    """One saved sentence-transformers model, its export and its reference model."""

    name: str
    checkpoint: pathlib.Path
    export_dir: pathlib.Path
    model: Any
    normalized: bool


def build(name: str, minilm_dir: pathlib.Path, root: pathlib.Path) -> pathlib.Path:
    import torch
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(0)
    prompts = {"query": "query: ", "passage": "passage: "}
    if name == "cls_normalize_32":
        transformer = models.Transformer(str(minilm_dir), max_seq_length=32)
        modules = [transformer, models.Pooling(384, pooling_mode="cls"), models.Normalize()]
        extra = {}
    elif name == "mean_dense_tanh_prompts":
        transformer = models.Transformer(str(minilm_dir), max_seq_length=128)
        dense = models.Dense(384, 256, activation_function=torch.nn.Tanh())
        pooling = models.Pooling(384, pooling_mode="mean", include_prompt=False)
        modules = [transformer, pooling, dense, models.Normalize()]
        extra = dict(prompts=prompts)
    elif name == "max_weighted_last_sqrt":
        transformer = models.Transformer(str(minilm_dir), max_seq_length=64)
        modes = ("max", "weightedmean", "lasttoken", "mean_sqrt_len_tokens")
        modules = [transformer, models.Pooling(384, pooling_mode=modes, include_prompt=True)]
        extra = dict(prompts=prompts, default_prompt_name="query")
    else:
        raise ValueError(name)
    model = SentenceTransformer(modules=modules, device="cpu", **extra)
    out = root / name
    model.save(str(out))
    return out


VARIANTS = ("cls_normalize_32", "mean_dense_tanh_prompts", "max_weighted_last_sqrt")
