"""Tiny fine-tuned task checkpoints for the task tests: Hugging Face heads and TF1 heads."""

import os
import pathlib
import subprocess
import sys

import checkpoint_factory as factory
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)

from bert_tf import interface

LABELS = ("O", "B-PER", "I-PER")


def packed_inputs(export_dir, texts, seq_length, pairs=None) -> dict[str, np.ndarray]:
    """The ids the export's preprocess/ packs: one segment, or two where the pair is not ""."""
    preprocess = tf.saved_model.load(os.fspath(export_dir / interface.PREPROCESS_DIR))
    rows = []
    for i, text in enumerate(texts):
        segments = [text] if not pairs or not pairs[i] else [text, pairs[i]]
        tokens = [preprocess.tokenize(tf.constant([s])) for s in segments]
        packed = preprocess.bert_pack_inputs(tokens, seq_length=tf.constant(seq_length))
        rows.append({k: v.numpy() for k, v in packed.items()})
    return {k: np.concatenate([r[k] for r in rows]) for k in interface.ENCODER_INPUTS}


def run_script(name, *args):
    """Runs an installed console script; the completed process."""
    script = os.path.join(os.path.dirname(sys.executable), name)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([script, *args], capture_output=True, text=True, env=env, timeout=300)


def hf_task_checkpoint(folder: pathlib.Path, architecture: str, num_labels: int):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        **factory.tiny_config(),
        num_labels=num_labels,
        id2label={i: LABELS[i % 3] + ("" if i < 3 else str(i)) for i in range(num_labels)},
        label2id={LABELS[i % 3] + ("" if i < 3 else str(i)): i for i in range(num_labels)},
        attn_implementation="eager",
    )
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape))
    model.save_pretrained(folder)
    factory.write_vocab(folder / "vocab.txt", size=config.vocab_size)
    return model


def minilm_task_checkpoint(
    folder: pathlib.Path,
    minilm_dir: pathlib.Path,
    architecture: str,
    labels=(),
    *,
    seed: int,
    head_scale: float = 1.0,
):
    """The real MiniLM weights with a seeded random head, saved with its tokenizer.

    `head_scale` multiplies the head's kernel, so that its labels differ more
    than at initialization. Returns the transformers model and tokenizer.
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    named = (
        dict(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
        if labels
        else {}
    )
    model = (
        getattr(transformers, architecture)
        .from_pretrained(minilm_dir, attn_implementation="eager", **named)
        .eval()
    )
    head = model.qa_outputs if architecture == "BertForQuestionAnswering" else model.classifier
    with torch.no_grad():
        head.weight.mul_(head_scale)
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_dir)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer


def export_task_checkpoint(folder: pathlib.Path, architecture: str, num_labels: int, seq_length):
    """A tiny random HF task checkpoint in `folder/checkpoint`, exported to `folder/export`.

    Returns the export folder and the transformers reference model.
    """
    from bert_tf.export import pair

    reference = hf_task_checkpoint(folder / "checkpoint", architecture, num_labels)
    pair.export_pair(
        str(folder / "checkpoint"), str(folder / "export"), default_seq_length=seq_length
    )
    return folder / "export", reference


def reference_logits(model, architecture: str, inputs) -> np.ndarray:
    import torch

    feed = dict(
        input_ids=torch.as_tensor(inputs["input_word_ids"], dtype=torch.long),
        attention_mask=torch.as_tensor(inputs["input_mask"], dtype=torch.long),
        token_type_ids=torch.as_tensor(inputs["input_type_ids"], dtype=torch.long),
    )
    with torch.no_grad():
        if architecture == "BertForMultipleChoice":  # [batch, choices, seq]
            out = model(**{k: v[None] for k, v in feed.items()})
            return out.logits.numpy().reshape(-1, 1)
        out = model(**feed)
    if architecture == "BertForQuestionAnswering":
        return np.stack([out.start_logits.numpy(), out.end_logits.numpy()], axis=-1)
    return out.logits.numpy()


def google_task_checkpoint(folder: pathlib.Path, scope: str, rows: int):
    """A run_classifier (`scope=""`) or run_squad (`scope="cls/squad/"`) TF1 checkpoint."""
    written = factory.write_google_checkpoint(
        folder, factory.tiny_config(), seed=3, with_heads=False
    )
    prefix = str(folder / "bert_model.ckpt")
    reader = tf.train.load_checkpoint(prefix)
    variables = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
    rng = np.random.default_rng(1)
    weights = rng.normal(0, 0.2, [rows, 32]).astype(np.float32)
    bias = rng.normal(0, 0.2, [rows]).astype(np.float32)
    variables[f"{scope}output_weights"], variables[f"{scope}output_bias"] = weights, bias
    variables[f"{scope}output_weights/adam_m"] = np.zeros_like(weights)
    with tf.Graph().as_default():  # As run_classifier.py / run_squad.py saved them.
        for name in sorted(variables):
            tf.compat.v1.get_variable(name, initializer=tf.constant(variables[name]))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix)
    return written.reference, weights, bias


def assert_loaders_agree(folder: pathlib.Path, feed: dict, signature="serving_default") -> None:
    """A signature gives the same outputs via `tf.saved_model.load`,
    `hub.KerasLayer` (Keras 2) and `keras.layers.TFSMLayer` (Keras 3)."""
    import keras
    import tensorflow_hub as hub

    feed = {k: tf.constant(v) for k, v in feed.items()}
    expected = tf.saved_model.load(os.fspath(folder)).signatures[signature](**feed)
    layer = hub.KerasLayer(os.fspath(folder), signature=signature, signature_outputs_as_dict=True)
    found = {"hub.KerasLayer": layer(feed)}
    tfsm = keras.layers.TFSMLayer(os.fspath(folder), call_endpoint=signature)
    found["TFSMLayer"] = tfsm(*feed.values()) if len(feed) == 1 else tfsm(feed)
    for loader, outputs in found.items():
        assert set(outputs) == set(expected), loader
        for key, value in expected.items():
            np.testing.assert_array_equal(
                np.asarray(outputs[key]), value.numpy(), err_msg=f"{loader} {key}"
            )
