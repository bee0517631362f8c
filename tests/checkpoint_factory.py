"""Writes tiny random BERT checkpoints in every source format, for tests.

One set of random weights is made by a Hugging Face PyTorch model (the
reference implementation) and written out as:

- `write_google_checkpoint`: a google-research TF1 checkpoint
  (`bert_model.ckpt.index/.data-*`, `bert_config.json`, `vocab.txt`) with the
  variable names google-research/bert writes, plus `global_step` and Adam
  slots that a loader must ignore;
- `write_hf_checkpoint`: a Hugging Face folder (`config.json`,
  `model.safetensors` or `pytorch_model.bin`, `vocab.txt`,
  `tokenizer_config.json`), with or without the `bert.` prefix, optionally with
  the old `LayerNorm.gamma/beta` names.

Both return `WrittenCheckpoint(folder, reference)`: `reference` is the torch
model holding the same weights, in eval mode, whose outputs are the expected
values (`reference_outputs`). The google checkpoint's reference uses
`hidden_act="gelu_new"` because google-research's "gelu" is the tanh
approximation.

Weights are drawn larger than BERT's initializer (and LayerNorm gammas/betas,
biases are random too), so that attention is sharp, every weight matters, and
a mis-mapped or mis-transposed weight moves the outputs far beyond 1e-4.

Typical use:

    config = tiny_config()
    folder, reference = write_hf_checkpoint(tmp_path / "hf", config, seed=1)
    inputs = sample_inputs(config, batch=3, seq_length=9, seed=0)
    expected = reference_outputs(reference, inputs, masked_lm_positions=positions)
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

# Special tokens first ([PAD] = 0), then words and ## pieces that tokenize real text.
BASE_VOCAB = (
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    ".",
    ",",
    "!",
    "?",
    "'",
    "-",
    "the",
    "a",
    "an",
    "is",
    "are",
    "was",
    "be",
    "to",
    "of",
    "and",
    "in",
    "it",
    "on",
    "for",
    "with",
    "that",
    "this",
    "not",
    "no",
    "yes",
    "i",
    "you",
    "he",
    "she",
    "we",
    "they",
    "cat",
    "dog",
    "man",
    "woman",
    "sat",
    "mat",
    "hello",
    "world",
    "good",
    "bad",
    "day",
    "night",
    "play",
    "run",
    "walk",
    "eat",
    "food",
    "red",
    "blue",
    "green",
    "big",
    "small",
    "house",
    "car",
    "book",
    "read",
    "write",
    "model",
    "text",
    "word",
    "un",
    "##s",
    "##ed",
    "##ing",
    "##ly",
    "##er",
    "##est",
    "##able",
    "##ness",
    "##a",
    "##b",
    "##c",
    "##d",
    "##e",
    "##i",
    "##o",
    "##u",
    "##n",
    "##t",
    "##r",
    "##y",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "0",
    "1",
    "2",
    "3",
)


# The float32 parity bound: max abs difference on activations and logits.
PARITY_ATOL = 1e-4


class WrittenCheckpoint(NamedTuple):
    """What a writer returns: the checkpoint folder and the torch reference model."""

    folder: pathlib.Path
    reference: Any  # transformers BertForPreTraining (with_heads) or BertModel, eval mode.


def tiny_config(**overrides) -> dict[str, Any]:
    """A tiny BERT config dict in the file schema (google-research / HF keys).

    `vocab_size` defaults to the size of `BASE_VOCAB`; `hidden_act` to "gelu"
    (which google-research reads as tanh GELU and Hugging Face as exact GELU).
    """
    config = dict(
        vocab_size=len(BASE_VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=64,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
    )
    config.update(overrides)
    return config


def write_vocab(
    path: str | os.PathLike, extra_words: Iterable[str] = (), *, size: int | None = None
) -> list[str]:
    """Writes a `vocab.txt`: `BASE_VOCAB`, then `extra_words`, then `[unusedN]` up to `size`.

    Returns:
        The tokens written, one per line, id = index.
    """
    tokens = list(BASE_VOCAB) + [w for w in extra_words if w not in BASE_VOCAB]
    if size is not None:
        if size < len(tokens):
            raise ValueError(f"vocab size {size} < {len(tokens)} tokens")
        tokens += [f"[unused{i}]" for i in range(size - len(tokens))]
    pathlib.Path(path).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return tokens


def write_google_checkpoint(
    folder: str | os.PathLike, config_dict: dict[str, Any], *, seed: int, with_heads: bool = True
) -> WrittenCheckpoint:
    """Writes a google-research TF1 checkpoint with random weights.

    Written with `tf.compat.v1` (graph, variables, `Saver`), as google-research
    did. Files: `bert_model.ckpt.index`, `bert_model.ckpt.data-00000-of-00001`,
    `bert_model.ckpt.meta`, `checkpoint`, `bert_config.json` (`config_dict` as given; "gelu" = tanh GELU) and
    `vocab.txt`. Variables: `bert/...`, and with `with_heads` the
    `cls/predictions/...` and `cls/seq_relationship/...` heads; always also
    `global_step` and `.../adam_m`, `.../adam_v` slots.

    Returns:
        `WrittenCheckpoint(folder, reference)`: the reference is built with
        `hidden_act="gelu_new"` (HF's tanh GELU) when the config says "gelu".
    """
    import tensorflow as tf

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hf_act = {"gelu": "gelu_new"}.get(
        config_dict.get("hidden_act", "gelu"), config_dict.get("hidden_act")
    )
    reference = _random_reference(dict(config_dict, hidden_act=hf_act), seed, with_heads)
    variables = {}
    for name, value in _state_dict(reference).items():
        google = _google_name(name)
        if google is not None:
            variables[google[0]] = value.T if google[1] else value
    variables["global_step"] = np.array(1000, np.int64)
    for name in ("bert/embeddings/word_embeddings", "bert/pooler/dense/kernel"):
        variables[name + "/adam_m"] = np.zeros_like(variables[name])
        variables[name + "/adam_v"] = np.ones_like(variables[name])
    # As google-research/bert wrote them: a TF1 graph, variables, a Saver (V2 format).
    with tf.Graph().as_default():
        for name in sorted(variables):
            tf.compat.v1.get_variable(
                name, initializer=tf.constant(variables[name]), trainable=name != "global_step"
            )
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "bert_model.ckpt"))
    (folder / "bert_config.json").write_text(json.dumps(config_dict, indent=2))
    write_vocab(folder / "vocab.txt", size=config_dict["vocab_size"])
    return WrittenCheckpoint(folder, reference)


def write_hf_checkpoint(
    folder: str | os.PathLike,
    config_dict: dict[str, Any],
    *,
    seed: int,
    weights_format: str = "safetensors",
    prefix: bool = True,
    old_layernorm_names: bool = False,
    with_heads: bool = True,
    do_lower_case: bool = True,
) -> WrittenCheckpoint:
    """Writes a Hugging Face checkpoint folder with random weights.

    Made with `save_pretrained` (so `config.json` is what transformers writes),
    then the weights are rewritten when the options ask for it.

    Args:
        folder: where to write (created).
        config_dict: the config in HF keys ("gelu" = exact GELU).
        seed: the weights' random seed.
        weights_format: "safetensors" (`model.safetensors`, tied decoder weight
            left out as transformers does) or "bin" (`pytorch_model.bin`, a
            torch state dict with the tied `cls.predictions.decoder.*` copies, as
            older transformers wrote it).
        prefix: encoder names start with `bert.` (as `BertForPreTraining`
            writes them); False: no prefix (as `BertModel` writes them).
        old_layernorm_names: `LayerNorm.gamma` / `LayerNorm.beta` instead of
            `.weight` / `.bias` (checkpoints converted by old transformers).
        with_heads: a `BertForPreTraining` (MLM + NSP heads) or a `BertModel`.
        do_lower_case: written to `tokenizer_config.json`.

    Returns:
        `WrittenCheckpoint(folder, reference)`.
    """
    import torch

    if weights_format not in ("safetensors", "bin"):
        raise ValueError(f"weights_format must be 'safetensors' or 'bin', got {weights_format!r}")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reference = _random_reference(config_dict, seed, with_heads)
    reference.save_pretrained(folder)
    for stale in ("model.safetensors", "pytorch_model.bin"):
        (folder / stale).unlink(missing_ok=True)

    state = {}
    for name, tensor in reference.state_dict().items():
        canonical = name[len("bert.") :] if name.startswith("bert.") else name
        if prefix and not canonical.startswith("cls."):
            canonical = "bert." + canonical
        if old_layernorm_names:
            canonical = canonical.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"
            )
        state[canonical] = tensor.detach().clone().contiguous()
    if weights_format == "safetensors":
        import safetensors.torch

        state = {k: v for k, v in state.items() if not k.startswith("cls.predictions.decoder.")}
        safetensors.torch.save_file(
            state, str(folder / "model.safetensors"), metadata={"format": "pt"}
        )
    else:
        torch.save(state, folder / "pytorch_model.bin")
    write_vocab(folder / "vocab.txt", size=config_dict["vocab_size"])
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "do_lower_case": do_lower_case,
                "strip_accents": None,
                "tokenize_chinese_chars": True,
                "tokenizer_class": "BertTokenizer",
                "model_max_length": 512,
            }
        )
    )
    return WrittenCheckpoint(folder, reference)


def sample_inputs(
    config_dict: dict[str, Any], *, batch: int = 3, seq_length: int = 11, seed: int = 0
) -> dict[str, np.ndarray]:
    """Encoder inputs with padding and two segments: `[CLS] a [SEP] b [SEP] [PAD]...`.

    Row r has `seq_length - 2 * r` real tokens (at least 5), so the batch mixes
    lengths; ids are random non-special tokens.
    """
    rng = np.random.default_rng(seed)
    ids = np.zeros([batch, seq_length], np.int32)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for r in range(batch):
        length = max(5, seq_length - 2 * r)
        first = (length - 1) // 2
        row = rng.integers(5, config_dict["vocab_size"], size=length)
        row[0], row[first], row[length - 1] = 2, 3, 3  # [CLS] a [SEP] b [SEP]
        ids[r, :length] = row
        mask[r, :length] = 1
        types[r, first + 1 : length] = 1
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def reference_outputs(
    reference, inputs: dict[str, np.ndarray], masked_lm_positions: np.ndarray | None = None
) -> dict[str, Any]:
    """The reference model's outputs in the encoder's dict terms, as numpy float32.

    Returns:
        `encoder_outputs` (list per layer), `sequence_output`, `pooled_output`,
        and for a model with heads `nsp_logits`, plus `mlm_logits`
        `[batch, num_predictions, vocab]` when `masked_lm_positions` is given.
    """
    import torch

    bert = getattr(reference, "bert", reference)
    with torch.no_grad():
        out = bert(
            input_ids=torch.as_tensor(inputs["input_word_ids"], dtype=torch.long),
            attention_mask=torch.as_tensor(inputs["input_mask"], dtype=torch.long),
            token_type_ids=torch.as_tensor(inputs["input_type_ids"], dtype=torch.long),
            output_hidden_states=True,
        )
        result = {
            "encoder_outputs": [h.numpy() for h in out.hidden_states[1:]],
            "sequence_output": out.last_hidden_state.numpy(),
            "pooled_output": out.pooler_output.numpy(),
        }
        if hasattr(reference, "cls"):
            result["nsp_logits"] = reference.cls.seq_relationship(out.pooler_output).numpy()
            if masked_lm_positions is not None:
                positions = torch.as_tensor(masked_lm_positions, dtype=torch.long)
                gathered = torch.gather(
                    out.last_hidden_state,
                    1,
                    positions[:, :, None].expand(-1, -1, out.last_hidden_state.shape[-1]),
                )
                result["mlm_logits"] = reference.cls.predictions(gathered).numpy()
    return result


def _random_reference(config_dict, seed, with_heads):
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(**config_dict, attn_implementation="eager")
    model = (transformers.BertForPreTraining if with_heads else transformers.BertModel)(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "LayerNorm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                param.copy_(0.2 * noise)
            elif "embeddings" in name:
                param.copy_(0.5 * noise)
            else:
                param.copy_(0.2 * noise)
    return model.eval()


def _state_dict(model) -> dict[str, np.ndarray]:
    """HF names without the `bert.` prefix -> float32 arrays (tied copies dropped)."""
    out = {}
    for name, tensor in model.state_dict().items():
        name = name[len("bert.") :] if name.startswith("bert.") else name
        if name.startswith("cls.predictions.decoder."):
            continue
        out[name] = tensor.detach().numpy().astype(np.float32)
    return out


def _google_name(hf_name: str) -> tuple[str, bool] | None:
    """The google-research variable name for a (prefix-less) HF name, and transpose?"""
    if hf_name.startswith("embeddings.") and hf_name.endswith("_embeddings.weight"):
        return "bert/" + hf_name[: -len(".weight")].replace(".", "/"), False
    if hf_name == "cls.predictions.bias":
        return "cls/predictions/output_bias", False
    if hf_name.startswith("cls.seq_relationship."):
        kind = "output_weights" if hf_name.endswith("weight") else "output_bias"
        return f"cls/seq_relationship/{kind}", False  # [2, hidden] in both.
    if not hf_name.endswith((".weight", ".bias")):
        return None  # Buffers such as position_ids.
    scope, kind = hf_name.rsplit(".", 1)
    scope = scope.replace("encoder.layer.", "encoder.layer_").replace(".", "/")
    if not scope.startswith("cls/"):
        scope = "bert/" + scope
    if scope.endswith("LayerNorm"):
        return f"{scope}/{'gamma' if kind == 'weight' else 'beta'}", False
    return f"{scope}/{'kernel' if kind == 'weight' else 'bias'}", kind == "weight"


def max_abs_diffs(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, float]:
    """Max abs difference per output present in both dicts (`encoder_outputs` per layer).

    Keys: `encoder_outputs/0`, ..., and every other shared key (`pooled_output`,
    `sequence_output`, `mlm_logits`, `nsp_logits`, ...). Shapes must agree.
    """
    diffs = {}
    for key in sorted(set(actual) & set(expected)):
        a, e = actual[key], expected[key]
        pairs = (
            [(f"{key}/{i}", x, y) for i, (x, y) in enumerate(zip(a, e, strict=True))]
            if isinstance(e, (list, tuple))
            else [(key, a, e)]
        )
        for name, x, y in pairs:
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape:
                raise AssertionError(f"{name}: shape {x.shape} != expected {y.shape}")
            diffs[name] = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
    return diffs
