"""The export's `README.md`: a model card in the style of a TF Hub model page.

It is rendered from the export's `bert_tf.interface.ExportMetadata` (written
into the folder by `bert_tf.export.pair`), so the card and `bert-tf-inspect`
always agree. The interface it summarizes is specified in bert-tf's
docs/interface.md.
Sections: TF Hub metadata lines, overview, source checkpoint (with checksums),
architecture, inputs and outputs, a single-segment and a multi-segment (NLI)
usage example with the export's real paths, tokenizer settings, and the parity
figures measured when the export was verified.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any

from bert_tf import interface


def _architecture(config: Mapping[str, Any]) -> str:
    rows = [
        ("layers (`num_layers`)", config["num_layers"]),
        ("hidden size", config["hidden_size"]),
        ("attention heads", config["num_heads"]),
        ("feed-forward size", config["intermediate_size"]),
        ("activation", config["hidden_act"]),
        ("vocab size", config["vocab_size"]),
        ("max positions", config["max_position_embeddings"]),
        ("segment types", config["type_vocab_size"]),
        (
            "dropout (hidden / attention)",
            f"{config['hidden_dropout']} / {config['attention_dropout']}",
        ),
        ("LayerNorm epsilon", config["layer_norm_eps"]),
    ]
    return "\n".join(["| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows])


def _figures(verification: interface.VerificationInfo) -> str:
    lines = ["| endpoint | max abs diff |", "| --- | --- |"]
    for endpoint, diff in sorted(verification.max_abs_diff.items()):
        lines.append(f"| `{endpoint}` | {diff:.2e} |")
    return "\n".join(lines)


def _precision(metadata: interface.ExportMetadata) -> str:
    """The paragraph on the encoder's compute precision and the gate it passed."""
    verification = metadata.verification
    if verification.min_cosine is None:  # Written before the cosine was measured.
        return ""
    gate = (
        f"each output within {verification.relative_tolerance:g} x its scale (its largest "
        f"magnitude, at least 1) of the float32 model's, and every text's mask-aware "
        f"mean-pooled `sequence_output` at cosine >= {verification.cosine_gate} to the float32 "
        f"model's (measured: at least {verification.min_cosine:.6f})"
    )
    if metadata.precision == "float32":
        return f"\nPrecision: float32. The gate: {gate}.\n"
    return f"""
Precision: {metadata.precision}. The encoder was built under tf_keras's
`mixed_{metadata.precision}` policy: the attention projections and products and the
feed-forward matmuls compute in {metadata.precision}; the variables (what fine-tuning
updates), the embeddings, the residual stream, LayerNorm, the softmax and every
output are float32. The figures above compare it with the float32 model built from
the same checkpoint, and the gate it passed is {metadata.precision}'s: {gate}.
{_rounding(verification)}"""


def _rounding(verification: interface.VerificationInfo) -> str:
    """Why a bfloat16 export verified on a host whose MatMul truncates passed a lower gate."""
    if verification.xla_min_cosine is None:
        return ""
    return f"""
The exporting host's TensorFlow CPU MatMul rounds bfloat16 results toward zero
(a CPU without bfloat16 instructions, where bfloat16 also runs slower than
float32), which biases activations; the gate above is the one for that
rounding. The same graph XLA-compiled, which rounds to nearest as bfloat16
hardware does, met cosine >= {verification.xla_cosine_gate} (measured: at least
{verification.xla_min_cosine:.6f}).
"""


def _embedding_section(metadata: interface.ExportMetadata, export_dir: pathlib.Path) -> str:
    """The `embedding/` section: the pooling stack, the prompts, a usage snippet."""
    stack = metadata.embedding
    if stack is None:
        return ""
    embedding_dir = interface.ExportLayout(export_dir).embedding_dir
    modes = " + ".join(stack["modes"])
    rows = [
        ("pooling", f"{modes}" + ("" if stack["include_prompt"] else " (prompt tokens excluded)")),
        *(
            (
                f"Dense {i + 1}",
                f"{d['in_features']} -> {d['out_features']}, activation {d['activation']}, "
                f"bias {d['bias']}",
            )
            for i, d in enumerate(stack["dense"])
        ),
        ("Normalize", "yes (unit L2 norm)" if stack["normalize"] else "no"),
        ("max_seq_length", stack["max_seq_length"]),
        ("stack from", stack["source"]),
    ]
    table = "\n".join(["| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows])
    prompts = stack["prompts"]
    if prompts:
        default = stack["default_prompt_name"]
        prompt_lines = "\n".join(
            f"- `{name}`: `{text!r}`"
            + (" (the default)" if name == default else "")
            + f"; signature `{interface.PROMPT_SIGNATURE_PREFIX}{name}`"
            for name, text in prompts.items()
        )
        prompt_text = f"Prompts (`model(texts, prompt_name=NAME)`):\n\n{prompt_lines}\n"
    else:
        prompt_text = "The model has no prompts.\n"
    dim = (
        stack["dense"][-1]["out_features"]
        if stack["dense"]
        else stack["dimension"] * len(stack["modes"])
    )
    return f"""
## Sentence embeddings (`embedding/`)

`embedding/` takes strings `[batch]` and returns float32 `[batch, {dim}]` sentence
vectors: truncation to `max_seq_length`, the prompt, the encoder, then this stack,
in one graph:

{table}

{prompt_text}
```python
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # registers the tf-text ops

model = hub.load("{embedding_dir}")
vectors = model(tf.constant(["A man is eating food."]))  # [1, {dim}]
# Keras 3: keras.layers.TFSMLayer("{embedding_dir}", call_endpoint="serving_default")
# TF Serving: signature serving_default, input `text`, output `embedding`.
```

From Python without TensorFlow code: `bert_tf.embed(texts, "{export_dir}")`.
"""


def _task_section(metadata: interface.ExportMetadata, export_dir: pathlib.Path) -> str:
    """The task folder's section: labels, signatures, a usage snippet."""
    if metadata.task is None:
        return ""
    folder = interface.ExportLayout(export_dir).part(metadata.task)
    labels = ", ".join(f"`{label}`" for label in metadata.labels)
    over = f", over the labels {labels}" if labels else ""
    length = f"at `seq_length` {metadata.default_seq_length}"
    if metadata.task == interface.CLASSIFIER_DIR:
        title, what, call, api = (
            "Sequence classification",
            "`serving_default(text)` and `pairs(text, text_pair)` (a row whose "
            '`text_pair` is "" is classified alone) return `logits` and '
            f"`probabilities` `[batch, {len(metadata.labels)}]` and `label` (string)",
            '(text=tf.constant(["a great film"]))["label"]',
            'classify(["a great film"]',
        )
    elif metadata.task == interface.MULTIPLE_CHOICE_DIR:
        title, what, call, api = (
            "Multiple choice",
            "`serving_default(prompt, choices)` (`choices` string `[batch, n]`) returns "
            "`logits` and `probabilities` `[batch, n]` and `label`, the best choice's index",
            '(prompt=tf.constant(["It rained, so"]), choices=tf.constant([["we ran.", '
            '"we sang."]]))["label"]',
            'choose(["It rained, so"], [["we ran.", "we sang."]]',
        )
    elif metadata.task == interface.QUESTION_ANSWERER_DIR:
        windows = metadata.qa_windows or {}
        over = ""
        length = (
            f"in windows of {windows.get('seq_length')} wordpieces starting "
            f"{windows.get('doc_stride')} apart, the question cut to "
            f"{windows.get('max_query_length')}, answers of at most "
            f"{windows.get('max_answer_length')} wordpieces, as google's `run_squad.py`"
        )
        title, what, call, api = (
            "Extractive question answering",
            "`serving_default(question, context)` returns `answer` (a slice of the "
            "context), its `start`/`end` byte offsets and `score` (the best span over "
            "all of the context's windows)",
            '(question=tf.constant(["Where is the tower?"]), '
            'context=tf.constant(["The tower stands in Paris."]))["answer"]',
            'answer(["Where is the tower?"], ["The tower stands in Paris."]',
        )
    else:
        title, what, call, api = (
            "Token classification",
            "`serving_default(text)` returns `logits` `[batch, seq_length, "
            f"{len(metadata.labels)}]` and the entities of each text (`entity_group`, "
            "`score`, `start`/`end` byte offsets, `word`, `num_entities`; as the "
            'transformers pipeline with `aggregation_strategy="first"`)',
            '(text=tf.constant(["Angela Merkel visited Paris."]))["entity_group"]',
            'tag_entities(["Angela Merkel visited Paris."]',
        )
    return f"""
## {title} (`{metadata.task}/`)

The checkpoint's fine-tuned head, strings in (float32, {length}): {what}{over}.

```python
import tensorflow as tf
import tensorflow_text  # noqa: F401

serve = tf.saved_model.load("{folder}").signatures["serving_default"]
serve{call}
# Or: bert_tf.tasks.{api}, "{export_dir}")
```
"""


def render_model_card(metadata: interface.ExportMetadata, export_dir: os.PathLike | str) -> str:
    """The card's markdown text.

    Args:
        metadata: the export's metadata.
        export_dir: the export's final location, used in the usage examples.
    """
    export_dir = pathlib.Path(export_dir).absolute()
    layout = interface.ExportLayout(export_dir)
    encoder_dir, preprocess_dir = layout.encoder_dir, layout.preprocess_dir
    config = metadata.config
    source = metadata.source
    tokenizer = metadata.tokenizer
    special = metadata.special_tokens
    verification = metadata.verification
    seq_length = metadata.default_seq_length
    checksums = "\n".join(
        f"- `{name}`: sha256 `{digest}`" for name, digest in sorted(source.sha256.items())
    )
    xla = "XLA-compiled" if metadata.serving_jit_compile else "not XLA-compiled"
    mlm = ""
    if metadata.with_mlm:
        mlm = f"""
With the masked-LM head (`encoder.mlm`): the same dict plus `masked_lm_positions`
int32 `[batch, num_predictions]` in; the encoder outputs plus `mlm_logits`
`[batch, num_predictions, {config["vocab_size"]}]` out. Try it:
`bert-tf-fill-mask {export_dir} "Paris is the [MASK] of France."`
"""
    if metadata.with_nsp:
        mlm += """
With the next-sentence head (`encoder.nsp`): the encoder's dict in; its outputs
plus `nsp_logits` float32 `[batch, 2]` out (index 0: the second segment follows
the first, as BERT was pre-trained).
"""
    preset = (
        f"\n\nIts architecture is the preset `{source.preset}`: {source.preset_description}"
        if source.preset
        else ""
    )
    return f"""# {metadata.name}

<!-- network-architecture: transformer -->
<!-- network-architecture: bert -->
<!-- language: {source.language or "und"} -->
<!-- fine-tunable: true -->
<!-- format: saved_model_2 -->
<!-- task: text-embedding -->
<!-- license: see the source checkpoint -->

## Overview

A BERT encoder with {config["num_layers"]} layers, hidden size {config["hidden_size"]} and \
{config["num_heads"]} attention heads, exported by bert-tf {metadata.bert_tf_version} as a pair
of TF2 SavedModels: `encoder/` (token ids to pooled, sequence and per-layer outputs)
and `preprocess/` (strings to token ids, tf-text ops, vocab as an asset).
Both load with `hub.load` / `hub.KerasLayer` (tf_keras) and with Keras 3's
`keras.layers.TFSMLayer(path, call_endpoint="serving_default")`. The full
interface is specified in bert-tf's `docs/interface.md`.{preset}

## Source checkpoint

- checkpoint: `{source.checkpoint}` ({source.format} format)
- config: {source.config_source}
- vocab: `{source.vocab_file}`
{checksums}

Weights loaded: {metadata.load_report}

## Architecture

{_architecture(config)}

## Inputs and outputs

`encoder(inputs, training=False)`: `inputs` is a dict of int32 `[batch, seq_length]`
tensors `input_word_ids`, `input_mask`, `input_type_ids` (`seq_length` up to
{config["max_position_embeddings"]}). It returns `pooled_output` `[batch, {config["hidden_size"]}]`,
`sequence_output` `[batch, seq_length, {config["hidden_size"]}]`, `encoder_outputs` (a list
of {config["num_layers"]} `[batch, seq_length, {config["hidden_size"]}]`, one per transformer
block) and `default` (= `pooled_output`). Dropout is active only with `training=True`.

Signatures: `serving_default` (the same inputs, flat outputs `pooled_output`,
`sequence_output`, `default`, `encoder_outputs_0` ... `encoder_outputs_{config["num_layers"] - 1}`)
and `tokens` (legacy TF1 Hub inputs `input_ids`, `input_mask`, `segment_ids`;
outputs `pooled_output`, `sequence_output`).
{mlm}
`preprocess(strings)` packs single sentences to `seq_length` {seq_length};
`preprocess.tokenize`, `preprocess.tokenize_with_offsets` and
`preprocess.bert_pack_inputs(segments, seq_length=N)` do it step by step for
one or more segments.

## Usage

Single sentences:

```python
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # registers the tf-text ops that preprocess/ uses
import tf_keras

preprocess = hub.KerasLayer("{preprocess_dir}")
encoder = hub.KerasLayer("{encoder_dir}", trainable=True)
sentences = tf_keras.layers.Input(shape=(), dtype=tf.string)
outputs = encoder(preprocess(sentences))
pooled = outputs["pooled_output"]      # [batch, {config["hidden_size"]}]
sequence = outputs["sequence_output"]  # [batch, {seq_length}, {config["hidden_size"]}]
model = tf_keras.Model(sentences, pooled)
```

Sentence pairs (for example NLI premise / hypothesis):

```python
preprocessor = hub.load("{preprocess_dir}")
tokenize = hub.KerasLayer(preprocessor.tokenize)
bert_pack_inputs = hub.KerasLayer(preprocessor.bert_pack_inputs,
                                  arguments=dict(seq_length=64))
encoder = hub.KerasLayer("{encoder_dir}", trainable=True)
premise = tf_keras.layers.Input(shape=(), dtype=tf.string)
hypothesis = tf_keras.layers.Input(shape=(), dtype=tf.string)
packed = bert_pack_inputs([tokenize(premise), tokenize(hypothesis)])
pooled = encoder(packed)["pooled_output"]
logits = tf_keras.layers.Dense(3)(pooled)
model = tf_keras.Model([premise, hypothesis], logits)
```

{_embedding_section(metadata, export_dir)}{_task_section(metadata, export_dir)}
## Tokenizer settings

- do_lower_case: {tokenizer.do_lower_case}
- strip_accents: {tokenizer.strip_accents}
- tokenize_chinese_chars: {tokenizer.tokenize_chinese_chars}
- chosen from: {tokenizer.source}
- vocab size {special["vocab_size"]}; `[CLS]` = {special["start_of_sequence_id"]},
  `[SEP]` = {special["end_of_segment_id"]}, `[PAD]` = {special["padding_id"]},
  `[MASK]` = {special["mask_id"]}

## Verification at export

The SavedModels were loaded back and {verification.texts} texts (single sentences
and sentence pairs, packed to `seq_length` {verification.seq_length}) ran through the
loaded `preprocess` then the loaded `encoder` (at `seq_length`
{verification.encoder_seq_length}: the longest text and a few
padding positions). The ids equal the in-memory preprocessing's;
the largest absolute difference of any output to the in-memory float32 Keras model:

{_figures(verification)}

(The largest output magnitude is {verification.max_abs_output:.3g}.)
{_precision(metadata)}
The serving signatures are {xla}.
Export took {metadata.export_seconds:.1f} s.
"""


def write_model_card(
    export_dir: os.PathLike | str, metadata: interface.ExportMetadata, final_dir: os.PathLike | str
) -> pathlib.Path:
    """Writes `export_dir/README.md` (paths in it name `final_dir`); returns its path."""
    path = interface.ExportLayout(pathlib.Path(export_dir)).model_card
    path.write_text(render_model_card(metadata, final_dir), encoding="utf-8")
    return path
