"""`classifier/`: a sequence-classification checkpoint exported as a string-in SavedModel.

Tiny random Hugging Face `BertForSequenceClassification` and google-research
`run_classifier.py` checkpoints go through `export_pair` (and the console
script); the folder's logits must equal the reference model's on the ids the
export's own `preprocess/` packs, within PARITY_ATOL.
"""

import json
import os

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)
from task_checkpoints import (
    LABELS,
    assert_loaders_agree,
    export_task_checkpoint,
    google_task_checkpoint,
    minilm_task_checkpoint,
    packed_inputs,
    reference_logits,
    run_script,
)

from bert_tf import interface
from bert_tf.export import pair
from bert_tf.tasks import classifier

TEXTS = ["The movie was wonderful.", "Terrible; never again!", "", "Crème brûlée in 東京 🙂"]
PAIRS = ["", "The food was fine.", "Empty first.", "A dessert."]
SEQ_LENGTH = 24


@pytest.fixture(scope="module")
def hf_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sst")
    return export_task_checkpoint(folder, "BertForSequenceClassification", 3, SEQ_LENGTH)


@pytest.mark.parametrize("signature", ["serving_default", "pairs"])
def test_logits_match_transformers(hf_export, signature):
    export_dir, reference = hf_export
    loaded = tf.saved_model.load(os.fspath(export_dir / interface.CLASSIFIER_DIR))
    feed = {"text": tf.constant(TEXTS)}
    pairs = None
    if signature == "pairs":
        pairs = PAIRS
        feed["text_pair"] = tf.constant(PAIRS)
    out = loaded.signatures[signature](**feed)
    assert set(out) == set(classifier.OUTPUTS)
    expected = reference_logits(
        reference,
        "BertForSequenceClassification",
        packed_inputs(export_dir, TEXTS, SEQ_LENGTH, pairs),
    )
    diff = float(np.max(np.abs(out["logits"].numpy() - expected)))
    print(f"{signature}: max abs diff to transformers {diff:.2e}")
    assert diff <= factory.PARITY_ATOL
    probabilities = out["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)
    assert [s.decode() for s in out["label"].numpy()] == [LABELS[i] for i in expected.argmax(-1)]


def test_pairs_with_empty_pair_equal_single_texts(hf_export):
    export_dir, _ = hf_export
    signatures = tf.saved_model.load(os.fspath(export_dir / interface.CLASSIFIER_DIR)).signatures
    texts = tf.constant(TEXTS)
    single = signatures["serving_default"](text=texts)["logits"].numpy()
    empty = signatures["pairs"](text=texts, text_pair=tf.constant([""] * len(TEXTS)))
    # The same packed ids; `pairs` pads them to the pairs' longer length, so
    # only the masked padding columns of the attention differ: float noise.
    np.testing.assert_allclose(empty["logits"].numpy(), single, rtol=0, atol=1e-6)
    assert (
        empty["label"].numpy() == signatures["serving_default"](text=texts)["label"].numpy()
    ).all()


def test_metadata_card_and_python_api(hf_export):
    export_dir, _ = hf_export
    meta = interface.read_metadata(export_dir)
    assert meta.task == "classifier" and tuple(meta.labels) == LABELS
    assert 0 <= meta.verification.max_abs_diff["classifier"] < 1e-4
    card = (export_dir / "README.md").read_text()
    assert "`classifier/`" in card and "B-PER" in card
    signatures = tf.saved_model.load(os.fspath(export_dir / interface.CLASSIFIER_DIR)).signatures
    served = signatures["pairs"](text=tf.constant(TEXTS), text_pair=tf.constant(PAIRS))
    found = classifier.classify(TEXTS, export_dir, text_pairs=PAIRS, batch_size=3)
    assert [r["label"] for r in found] == [s.decode() for s in served["label"].numpy()]
    np.testing.assert_allclose(
        [r["score"] for r in found], served["probabilities"].numpy().max(-1), atol=1e-6
    )
    np.testing.assert_allclose([r["logits"] for r in found], served["logits"].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        [r["probabilities"] for r in found], served["probabilities"].numpy(), atol=1e-6
    )
    with pytest.raises(ValueError, match="text_pairs: expected 4 entries"):
        classifier.classify(TEXTS, export_dir, text_pairs=PAIRS[:2])


def test_inspect_lists_the_classifier(hf_export):
    export_dir, _ = hf_export
    done = run_script("bert-tf-inspect", os.fspath(export_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    listed = done.stdout.split("\nclassifier/\n", 1)[1]
    assert "signature 'pairs':" in listed and "out  label: string [?]" in listed
    assert f"task: classifier/ with labels {', '.join(LABELS)}" in done.stdout


def test_google_run_classifier_with_labels_through_the_cli(tmp_path):
    reference, weights, bias = google_task_checkpoint(tmp_path / "ckpt", "", 4)
    out = tmp_path / "export"
    done = run_script(
        "bert-tf-export",
        f"--checkpoint={tmp_path / 'ckpt'}",
        f"--output_dir={out}",
        f"--default_seq_length={SEQ_LENGTH}",
        "--labels=w,x,y,z",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    meta = json.loads(interface.ExportLayout(out).metadata_file.read_text())
    assert meta["task"] == "classifier" and meta["labels"] == ["w", "x", "y", "z"]
    inputs = packed_inputs(out, TEXTS, SEQ_LENGTH)
    pooled = factory.reference_outputs(reference, inputs)["pooled_output"]
    expected = pooled @ weights.T + bias
    found = classifier.classify(TEXTS, out)
    assert np.max(np.abs(np.array([r["logits"] for r in found]) - expected)) <= (
        factory.PARITY_ATOL
    )
    assert [r["label"] for r in found] == ["wxyz"[i] for i in expected.argmax(-1)]

    # A label count other than the head's: one line naming the variable; nothing written.
    bad = run_script(
        "bert-tf-export",
        f"--checkpoint={tmp_path / 'ckpt'}",
        f"--output_dir={tmp_path / 'bad'}",
        f"--default_seq_length={SEQ_LENGTH}",
        "--labels=a,b",
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "output_weights" in last and "[2, 32]" in last
    assert not (tmp_path / "bad").exists()


# Multilingual, accented, CJK, emoji and one text longer than the export's
# sequence length (truncated by both sides).
PIPELINE_TEXTS = [
    "Zoë Saldaña lives in São Paulo.",
    "東京は日本の首都です。",
    "Привет, как дела? 🙂",
    "naïve café owners in Zürich",
    "word " * 200,
]
PIPELINE_PAIRS = [("A dog runs in the park.", "An animal is outside."), ("Ünïcödé", "ascii")]


@pytest.mark.slow
def test_minilm_labels_and_scores_match_the_transformers_pipeline(tmp_path, minilm_dir):
    """Real MiniLM weights, a seeded random 4-label head: `classify` vs `text-classification`."""
    import transformers

    labels = ("negative", "neutral", "positive", "mixed")
    model, tokenizer = minilm_task_checkpoint(
        tmp_path / "ckpt",
        minilm_dir,
        "BertForSequenceClassification",
        labels,
        seed=7,
        head_scale=50.0,
    )
    pair.export_pair(str(tmp_path / "ckpt"), str(tmp_path / "export"), default_seq_length=128)
    pipe = transformers.pipeline(
        "text-classification", model=model, tokenizer=tokenizer, device="cpu"
    )
    cases = {
        "single": (PIPELINE_TEXTS, None, pipe(PIPELINE_TEXTS, truncation=True, max_length=128)),
        "pairs": (
            [t for t, _ in PIPELINE_PAIRS],
            [p for _, p in PIPELINE_PAIRS],
            pipe([{"text": t, "text_pair": p} for t, p in PIPELINE_PAIRS]),
        ),
    }
    for name, (texts, text_pairs, expected) in cases.items():
        found = classifier.classify(texts, tmp_path / "export", text_pairs=text_pairs)
        assert [r["label"] for r in found] == [e["label"] for e in expected], name
        scores = np.array([r["score"] for r in found])
        diff = float(np.max(np.abs(scores - [e["score"] for e in expected])))
        print(f"{name}: max abs score diff to the pipeline {diff:.2e}")
        assert diff <= 1e-4, name


def test_hub_keras_layer_and_tfsm_layer_serve_it(hf_export):
    export_dir, _ = hf_export
    folder = export_dir / interface.CLASSIFIER_DIR
    assert_loaders_agree(folder, {"text": TEXTS})
    assert_loaders_agree(folder, {"text": TEXTS, "text_pair": PAIRS}, signature="pairs")
