"""Verify a written export against the in-memory models it was saved from.

Before an export is renamed into place, both SavedModels are loaded back and a
few texts (single sentences, and sentence pairs packed as two segments) run
through the loaded `preprocess` then the loaded `encoder`:

- the loaded preprocessing gives the same ids as the in-memory one;
- every endpoint of the loaded encoder (`__call__`, the `serving_default` and
  `tokens` signatures, `mlm` when exported) gives the float32 in-memory
  model's outputs on those ids, within `tolerance(reference, precision)`, and
  the same sentence embeddings (mask-aware mean-pooled `sequence_output`,
  cosine at least `GATES[precision].min_cosine`); every output is float32;
- the special tokens and vocab size equal the config's and the vocab's, and
  `encoder_outputs` has `num_layers` entries of width `hidden_size`.

The measured figures (max abs differences, the worst cosine) go into the model card.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)

from bert_tf import interface
from bert_tf import precision as precisions
from bert_tf.config import BertConfig
from bert_tf.export.errors import ExportError

# Texts that exercise casing, accents, CJK, punctuation, emoji and padding.
TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "BERT exports are verified before they are renamed into place!",
    "Crème brûlée, naïve café and 東京 in one sentence: 42 × 7 = 294 🙂",
    "hi",
)
PAIRS = (
    ("A man is playing a guitar.", "Someone is making music."),
    ("Where is the train station?", "The weather is nice today, isn't it?"),
)
NUM_MLM_PREDICTIONS = 3
# Padding columns kept after the longest probe text when the encoder runs, so
# that masking is exercised while activations stay small (the whole default
# seq_length would raise a big model's peak memory during export).
NUM_PADDING_COLUMNS = 3


@dataclasses.dataclass(frozen=True)
class Gate:
    """What a saved encoder of one precision must meet against the float32 in-memory model.

    Attributes:
        relative_tolerance: each output's max abs difference, as a fraction of
            its scale (its largest magnitude, at least 1).
        min_cosine: the cosine similarity of every text's mask-aware
            mean-pooled `sequence_output` (a sentence embedding).
    """

    relative_tolerance: float
    min_cosine: float


GATES = {
    # Float32 reordering (graph rewrites, oneDNN and XLA fusions) moves
    # MiniLM's outputs (scale ~10) by up to ~8e-5 and grows with depth; a
    # wrong weight, input or signature wiring moves them by 1e-2 or more.
    precisions.FLOAT32: Gate(relative_tolerance=1e-4, min_cosine=0.99999),
    # bfloat16 rounds every matmul input to 8 significant bits (2**-9 = 0.2%
    # relative). Sentence embeddings barely move (MiniLM: mean-pooled cosine
    # >= 0.99993 on varied text), single elements more: LayerNorm rescales
    # small activations, and MiniLM's largest sequence_output element moves by
    # ~17% of the output scale. 25% keeps that margin and still catches a
    # wrong weight or wiring (order 100%); the cosine gate is the quality bar.
    precisions.BFLOAT16: Gate(relative_tolerance=0.25, min_cosine=0.9999),
}
# The bfloat16 gate is one on bfloat16 arithmetic as bfloat16 hardware and XLA
# do it: results rounded to nearest. Where TensorFlow's CPU MatMul truncates
# them instead (`precision.host_bfloat16_matmul_rounding`, CPUs without
# bfloat16 instructions), the bias toward zero costs MiniLM's embeddings
# ~1e-4 of cosine; there the endpoints as this host runs them meet this gate
# (still far above a wrong weight's or wiring's, order 0.9), and an
# XLA-compiled run of the same graph meets `GATES["bfloat16"]`.
TOWARD_ZERO_BFLOAT16_GATE = Gate(relative_tolerance=0.25, min_cosine=0.9995)


def host_gate(precision: str) -> Gate:
    """The gate the saved encoder's endpoints, as this host runs them, meet."""
    if (
        precision == precisions.BFLOAT16
        and precisions.host_bfloat16_matmul_rounding() == precisions.TOWARD_ZERO
    ):
        return TOWARD_ZERO_BFLOAT16_GATE
    return GATES[precision]


def tolerance(reference: np.ndarray, precision: str = precisions.FLOAT32) -> float:
    """Allowed max abs difference to the float32 in-memory model for an encoder in `precision`.

    `GATES[precision].relative_tolerance` x the output's scale (at least 1).
    """
    return GATES[precision].relative_tolerance * max(1.0, float(np.max(np.abs(reference))))


def mean_pooled(sequence_output: np.ndarray, input_mask: np.ndarray) -> np.ndarray:
    """Mask-aware mean over tokens: `[batch, seq, hidden]`, `[batch, seq]` -> `[batch, hidden]`."""
    mask = np.asarray(input_mask, np.float32)[..., np.newaxis]
    total = np.sum(np.asarray(sequence_output, np.float32) * mask, axis=1)
    return total / np.maximum(np.sum(mask, axis=1), 1.0)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of `[batch, hidden]` arrays -> `[batch]`."""
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.sum(a * b, axis=-1) / np.maximum(norms, 1e-12)


@dataclasses.dataclass
class Probe:
    """Encoder inputs for the verification texts: one batch, `TEXTS` then `PAIRS`.

    Attributes:
        inputs: int32 `[len(TEXTS) + len(PAIRS), seq_length]` arrays by input name,
            as the preprocessing packs them.
        seq_length: their length.
    """

    inputs: dict[str, np.ndarray]
    seq_length: int

    @property
    def num_texts(self) -> int:
        return len(TEXTS) + 2 * len(PAIRS)

    @property
    def encoder_seq_length(self) -> int:
        """The longest packed text plus `NUM_PADDING_COLUMNS`, at most `seq_length`."""
        longest = int(np.max(np.sum(self.inputs[interface.INPUT_MASK], axis=1)))
        return min(self.seq_length, longest + NUM_PADDING_COLUMNS)

    @property
    def encoder_inputs(self) -> dict[str, np.ndarray]:
        """`inputs` without the columns that are padding in every row past the first few."""
        return {key: value[:, : self.encoder_seq_length] for key, value in self.inputs.items()}


def make_probe(preprocessor, seq_length: int) -> Probe:
    """Runs the verification texts through a preprocessing object (in memory or loaded).

    Single texts go through `preprocessor(strings)`, pairs through `tokenize`
    and `bert_pack_inputs` with two segments; one batch keeps the encoder's
    XLA signatures to one compilation each.
    """
    single = preprocessor(tf.constant(TEXTS))
    segments = [preprocessor.tokenize(tf.constant([pair[i] for pair in PAIRS])) for i in (0, 1)]
    pair = preprocessor.bert_pack_inputs(segments, seq_length=tf.constant(seq_length))
    if single[interface.INPUT_WORD_IDS].shape[1] != seq_length:
        raise ExportError(
            f"verification failed: preprocess(strings) gives seq_length "
            f"{single['input_word_ids'].shape[1]}, expected {seq_length}"
        )
    return Probe(
        inputs={
            key: np.concatenate([np.asarray(single[key]), np.asarray(pair[key])])
            for key in interface.ENCODER_INPUTS
        },
        seq_length=seq_length,
    )


def _mlm_inputs(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Predict the first real tokens after [CLS] of every row."""
    batch = inputs[interface.INPUT_WORD_IDS].shape[0]
    positions = np.tile(np.arange(1, NUM_MLM_PREDICTIONS + 1, dtype=np.int32), (batch, 1))
    return {**inputs, interface.MLM_POSITIONS: positions}


def _numpy(nest: Any) -> Any:
    return tf.nest.map_structure(np.asarray, nest)


def reference_outputs(encoder, mlm_model, probe: Probe, nsp_model=None) -> dict[str, Any]:
    """The in-memory models' outputs on the probe, as numpy (computed before saving)."""
    inputs = probe.encoder_inputs
    outputs = _numpy(encoder(inputs, training=False))
    if mlm_model is not None:
        outputs[interface.MLM_LOGITS] = np.asarray(
            mlm_model(_mlm_inputs(inputs), training=False)[interface.MLM_LOGITS]
        )
    if nsp_model is not None:
        outputs[interface.NSP_LOGITS] = np.asarray(
            nsp_model(inputs, training=False)[interface.NSP_LOGITS]
        )
    return outputs


def _max_diff(
    found: Mapping[str, Any],
    reference: Mapping[str, Any],
    keys,
    endpoint: str,
    precision: str = precisions.FLOAT32,
) -> float:
    worst = 0.0
    for key in keys:
        want = reference[key]
        got = np.asarray(found[key])
        if got.shape != want.shape:
            raise ExportError(
                f"verification failed: {endpoint} output {key!r} has shape "
                f"{got.shape}, the in-memory model's is {want.shape}"
            )
        diff = float(np.max(np.abs(got - want))) if want.size else 0.0
        allowed = tolerance(want, precision)
        if not diff <= allowed:
            raise ExportError(
                f"verification failed: {endpoint} output {key!r} differs from the float32 "
                f"in-memory model by {diff:.3g} (allowed for {precision}: {allowed:.3g})"
            )
        worst = max(worst, diff)
    return worst


def _flat_reference(reference: Mapping[str, Any]) -> dict[str, np.ndarray]:
    heads = (interface.MLM_LOGITS, interface.NSP_LOGITS)
    return interface.flat_outputs({k: v for k, v in reference.items() if k not in heads})


def check_special_tokens(
    special: Mapping[str, Any], config: BertConfig, vocab: list[str], where: str
) -> dict[str, int]:
    """Checks `get_special_tokens_dict()` against the config and the vocab; returns it as ints."""
    special = {key: int(value) for key, value in special.items()}
    if special.get("vocab_size") != config.vocab_size:
        raise ExportError(
            f"{where}: vocab size {special.get('vocab_size')} differs from the "
            f"config's vocab_size {config.vocab_size}"
        )
    for key, token in interface.SPECIAL_TOKENS.items():  # mask_id is -1 without [MASK]
        expected = vocab.index(token) if token in vocab else -1
        if special.get(key) != expected:
            raise ExportError(
                f"{where}: {key} is {special.get(key)}, expected {expected} "
                f"(the id of {token} in the vocab)"
            )
    return special


def verify_export(
    export_dir: os.PathLike | str,
    probe: Probe,
    reference: Mapping[str, Mapping[str, Any]],
    *,
    config: BertConfig,
    vocab: list[str],
    with_mlm: bool,
    with_nsp: bool = False,
    precision: str = precisions.FLOAT32,
) -> interface.VerificationInfo:
    """Loads `export_dir`'s two SavedModels back and checks them; returns the figures.

    Args:
        export_dir: the folder holding `encoder/` and `preprocess/`.
        probe: the in-memory preprocessing's encoder inputs for the verification texts.
        reference: `reference_outputs` of the in-memory models on `probe`.
        config: the encoder's config.
        vocab: the vocab's tokens (a token's id is its index).
        with_mlm: whether `encoder/` must have the `mlm` sub-object.
        with_nsp: whether `encoder/` must have the `nsp` sub-object.
        precision: the saved encoder's precision; `reference` is the float32
            model's, and `GATES[precision]` is what the encoder must meet.

    Returns:
        The figures (`interface.VerificationInfo`): `max_abs_diff` maps each
        endpoint to its largest difference to the float32 in-memory model,
        `min_cosine` is the worst mean-pooled cosine.

    Raises:
        ExportError: any check fails; the message names the endpoint and output.
    """
    export_dir = pathlib.Path(export_dir)
    # One SavedModel in memory at a time: preprocess/, then encoder/.
    preprocess = tf.saved_model.load(os.fspath(export_dir / interface.PREPROCESS_DIR))
    special = check_special_tokens(
        preprocess.tokenize.get_special_tokens_dict(), config, vocab, "preprocess/"
    )
    loaded_probe = make_probe(preprocess, probe.seq_length)
    del preprocess
    for key, want in probe.inputs.items():
        if not np.array_equal(loaded_probe.inputs[key], want):
            raise ExportError(
                f"verification failed: the saved preprocess/ gives other "
                f"{key!r} than the in-memory one"
            )

    encoder = tf.saved_model.load(os.fspath(export_dir / interface.ENCODER_DIR))

    tensors = {key: tf.constant(value) for key, value in probe.encoder_inputs.items()}
    flat_want = _flat_reference(reference)
    serving = encoder.signatures[interface.SERVING_SIGNATURE]
    tokens = encoder.signatures[interface.TOKENS_SIGNATURE]
    # The XLA signature first: the memory its compilation used is then reused
    # by the other runs, which keeps the export's peak lower.
    mask = probe.encoder_inputs[interface.INPUT_MASK]
    want_pooled = mean_pooled(flat_want[interface.SEQUENCE_OUTPUT], mask)
    cosines = {}

    gate = host_gate(precision)

    def pooled_cosine(endpoint, found, min_cosine):
        value = float(
            np.min(cosine(mean_pooled(found[interface.SEQUENCE_OUTPUT], mask), want_pooled))
        )
        if not value >= min_cosine:
            raise ExportError(
                f"verification failed: {endpoint} mean-pooled sequence_output has cosine "
                f"{value:.6f} to the float32 in-memory model's (at least {min_cosine} "
                f"required for {precision})"
            )
        return value

    def check(endpoint, found, keys):
        cosines[endpoint] = pooled_cosine(endpoint, found, gate.min_cosine)
        return _max_diff(found, flat_want, keys, endpoint, precision)

    serving_diff = check("serving_default", serving(**tensors), flat_want)
    outputs = encoder(tensors, training=False)
    if len(outputs["encoder_outputs"]) != config.num_layers:
        raise ExportError(
            f"verification failed: encoder_outputs has "
            f"{len(outputs['encoder_outputs'])} entries, the config has "
            f"num_layers={config.num_layers}"
        )
    if outputs["pooled_output"].shape[-1] != config.hidden_size:
        raise ExportError(
            f"verification failed: pooled_output width "
            f"{outputs['pooled_output'].shape[-1]}, the config has "
            f"hidden_size={config.hidden_size}"
        )
    for name, value in interface.flat_outputs(outputs).items():
        if value.dtype != tf.float32:
            raise ExportError(
                f"verification failed: encoder output {name!r} is {value.dtype.name}, "
                "expected float32"
            )
    figures = {
        "__call__": check("encoder", interface.flat_outputs(outputs), flat_want),
        "serving_default": serving_diff,
    }
    del outputs
    xla_cosine = None
    if gate is not GATES[precision]:
        # The same graph with XLA's round-to-nearest: the export's quality on bfloat16 hardware.
        xla_call = tf.function(lambda inputs: encoder(inputs, training=False), jit_compile=True)
        xla_cosine = pooled_cosine(
            "__call__ (XLA-compiled)", xla_call(tensors), GATES[precision].min_cosine
        )
    figures["tokens"] = check(
        "tokens",
        tokens(**{old: tensors[new] for old, new in interface.TOKENS_INPUTS.items()}),
        interface.TOKENS_OUTPUTS,
    )
    if with_mlm:
        if not hasattr(encoder, interface.MLM_ENDPOINT):
            raise ExportError("verification failed: encoder/ has no mlm sub-object")
        mlm_inputs = {k: tf.constant(v) for k, v in _mlm_inputs(probe.encoder_inputs).items()}
        figures["mlm"] = _max_diff(
            encoder.mlm(mlm_inputs, training=False),
            reference,
            (interface.MLM_LOGITS,),
            "mlm",
            precision,
        )
    if with_nsp:
        if not hasattr(encoder, interface.NSP_ENDPOINT):
            raise ExportError("verification failed: encoder/ has no nsp sub-object")
        figures["nsp"] = _max_diff(
            encoder.nsp(tensors, training=False),
            reference,
            (interface.NSP_LOGITS,),
            "nsp",
            precision,
        )
    scale = max(float(np.max(np.abs(value))) for value in flat_want.values())
    return interface.VerificationInfo(
        texts=probe.num_texts,
        seq_length=probe.seq_length,
        encoder_seq_length=probe.encoder_seq_length,
        special_tokens=special,
        max_abs_diff=figures,
        max_abs_output=scale,
        precision=precision,
        relative_tolerance=gate.relative_tolerance,
        min_cosine=min(cosines.values()),
        cosine_gate=gate.min_cosine,
        bfloat16_rounding=(
            precisions.host_bfloat16_matmul_rounding() if precision == precisions.BFLOAT16 else None
        ),
        xla_min_cosine=xla_cosine,
        xla_cosine_gate=None if xla_cosine is None else GATES[precision].min_cosine,
    )


# --- embedding/ ----------------------------------------------------------------------

# The probe texts plus an empty one and one longer than any max_seq_length, to
# check truncation.
EMBEDDING_TEXTS = (*TEXTS, *(pair[0] for pair in PAIRS), "", " ".join(["Long text."] * 400))


def embedding_reference(model) -> dict[str | None, dict[str, np.ndarray]]:
    """The in-memory `EmbeddingModel`'s ids and vectors, per prompt name (None: the default)."""
    model.trace_for_saving()  # the traces the calls below (and the save) reuse
    texts = tf.constant(EMBEDDING_TEXTS)
    return {
        name: {
            **_numpy(model.pack(texts, prompt_name=name)),
            interface.EMBEDDING_OUTPUT: np.asarray(model(texts, prompt_name=name)),
        }
        for name in model.prompt_names()
    }


def verify_embedding(
    embedding_dir: os.PathLike | str, reference: Mapping[str | None, Mapping[str, np.ndarray]]
) -> dict[str, float]:
    """Loads `embedding/` back; checks its ids, then its vectors, for every prompt and endpoint.

    Args:
        embedding_dir: the `embedding/` SavedModel.
        reference: `embedding_reference` of the in-memory model.

    Returns:
        endpoint -> max abs difference of the vectors (`embedding`: `__call__`
        over all prompts; `embedding/serving_default`, `embedding/prompt_<name>`).

    Raises:
        ExportError: other ids, vectors beyond `tolerance`, or a missing signature.
    """
    from bert_tf.embedding.saved_embedding import prompt_signature

    model = tf.saved_model.load(os.fspath(embedding_dir))
    texts = tf.constant(EMBEDDING_TEXTS)
    figures = {}
    worst = 0.0
    for name, want in reference.items():
        label = "default prompt" if name is None else f"prompt {name!r}"
        packed = model.pack(texts, prompt_name=name)
        for key in interface.ENCODER_INPUTS:
            if not np.array_equal(np.asarray(packed[key]), want[key]):
                raise ExportError(
                    f"verification failed: the saved embedding/ gives other {key!r} "
                    f"({label}) than the in-memory model"
                )
        found = {interface.EMBEDDING_OUTPUT: model(texts, prompt_name=name)}
        keys = (interface.EMBEDDING_OUTPUT,)
        worst = max(worst, _max_diff(found, want, keys, f"embedding/ ({label})"))
        signature = interface.SERVING_SIGNATURE if name is None else prompt_signature(name)
        if signature not in model.signatures:
            raise ExportError(f"verification failed: embedding/ has no {signature} signature")
        outputs = model.signatures[signature](**{interface.EMBEDDING_INPUT: texts})
        figures[f"embedding/{signature}"] = _max_diff(
            outputs, want, keys, f"embedding/ {signature}"
        )
    figures["embedding"] = worst
    return figures
