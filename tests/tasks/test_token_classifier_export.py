"""`token_classifier/`: a token-classification checkpoint exported as a string-in SavedModel.

Logits against transformers on the ids the export packs (tiny random
checkpoint); entities against the transformers `token-classification`
pipeline (`aggregation_strategy="first"`) on the real MiniLM weights with a
seeded head, over multilingual, accented, CJK, unknown-word and punctuated text.
"""

import os

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
from task_checkpoints import (
    LABELS,
    assert_loaders_agree,
    export_task_checkpoint,
    minilm_task_checkpoint,
    packed_inputs,
    reference_logits,
)

from bert_tf import interface
from bert_tf.export import pair
from bert_tf.tasks import token_classifier

TEXTS = ["Angela Merkel visited Paris.", "", "Crème brûlée in 東京 🙂", "a b c d e f g h i j k"]
SEQ_LENGTH = 12


@pytest.fixture(scope="module")
def hf_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ner")
    return export_task_checkpoint(folder, "BertForTokenClassification", 3, SEQ_LENGTH)


def _serve(export_dir):
    path = os.fspath(export_dir / interface.TOKEN_CLASSIFIER_DIR)
    return tf.saved_model.load(path).signatures[interface.SERVING_SIGNATURE]


def test_logits_match_transformers(hf_export):
    export_dir, reference = hf_export
    out = _serve(export_dir)(text=tf.constant(TEXTS))
    assert set(out) == set(token_classifier.OUTPUTS)
    expected = reference_logits(
        reference, "BertForTokenClassification", packed_inputs(export_dir, TEXTS, SEQ_LENGTH)
    )
    diff = float(np.max(np.abs(out["logits"].numpy() - expected)))
    print(f"token_classifier: max abs diff to transformers {diff:.2e}")
    assert diff <= factory.PARITY_ATOL
    preprocess = tf.saved_model.load(os.fspath(export_dir / interface.PREPROCESS_DIR))
    pieces = preprocess.tokenize(tf.constant(TEXTS)).merge_dims(1, 2).row_lengths().numpy()
    np.testing.assert_array_equal(out["truncated"].numpy(), pieces > SEQ_LENGTH - 2)
    assert out["truncated"].numpy()[3] and not out["truncated"].numpy()[1]


def test_entities_of_a_truncated_text_are_those_of_its_kept_part(hf_export):
    export_dir, _ = hf_export
    serve = _serve(export_dir)
    # Words of one piece each ([UNK] or in the vocab): 10 fit beside [CLS] and [SEP].
    long, kept = tf.constant(["a b c d e f g h i j k"]), tf.constant(["a b c d e f g h i j"])
    found, expected = serve(text=long), serve(text=kept)
    assert found["truncated"].numpy()[0] and not expected["truncated"].numpy()[0]
    for key in ("entity_group", "score", "start", "end", "word", "num_entities"):
        np.testing.assert_array_equal(found[key].numpy(), expected[key].numpy(), err_msg=key)


def test_metadata_card_and_inspect(hf_export):
    export_dir, _ = hf_export
    meta = interface.read_metadata(export_dir)
    assert meta.task == "token_classifier" and tuple(meta.labels) == LABELS
    assert 0 <= meta.verification.max_abs_diff["token_classifier"] < 1e-4
    card = (export_dir / "README.md").read_text()
    assert "`token_classifier/`" in card and "tag_entities" in card


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("B-PER", (True, "PER", "PER")),
        ("I-PER", (False, "PER", "PER")),
        ("O", (False, "O", "O")),
        ("PER", (False, "PER", "PER")),
        ("S-LOC", (False, "S-LOC", "LOC")),
    ],
)
def test_labels_read_as_the_pipeline_reads_them(label, expected):
    assert token_classifier.split_label(label) == expected


# Accents (composed and decomposed), CJK with unknown characters, Cyrillic,
# Greek, Hangul, Arabic, emoji, abbreviations, apostrophes, numbers, odd spaces.
PIPELINE_TEXTS = [
    "Angela Merkel visited Paris with Barack Obama.",
    "Zoë Saldaña lives in São Paulo.",
    "Zoe\u0308 and Cafe\u0301 (decomposed)",
    "東京は日本の首都です。",
    "naïve café owners in Zürich, N.Y., U.S.A.",
    "Привет, Москва! Un été à Montréal.",
    "Ελληνικά και 한국어 텍스트 العربية",
    "Hello 🙂 world 🚀🚀 done",
    "Dr. Smith's O'Neil can't go... state-of-the-art 1,000.50 $5   tabs\there",
    "İstanbul ŞEHRİ ﬁne",
    "",
    "unbelievable tokenization counterrevolutionaries",
]
NER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")


@pytest.mark.slow
def test_minilm_entities_match_the_transformers_pipeline(tmp_path, minilm_dir):
    import transformers

    model, tokenizer = minilm_task_checkpoint(
        tmp_path / "ckpt",
        minilm_dir,
        "BertForTokenClassification",
        NER_LABELS,
        seed=5,
        head_scale=60.0,
    )
    pair.export_pair(str(tmp_path / "ckpt"), str(tmp_path / "export"), default_seq_length=64)
    pipe = transformers.pipeline(
        "token-classification",
        model=model,
        tokenizer=tokenizer,
        aggregation_strategy="first",
        device="cpu",
    )
    found = token_classifier.tag_entities(PIPELINE_TEXTS, tmp_path / "export", batch_size=5)
    worst, entities = 0.0, 0
    for text, want, got in zip(PIPELINE_TEXTS, pipe(PIPELINE_TEXTS), found, strict=True):
        fields = ("entity_group", "word", "start", "end")
        assert [tuple(e[f] for f in fields) for e in got] == [
            tuple(e[f] for f in fields) for e in want
        ], text
        worst = max([worst] + [abs(g["score"] - w["score"]) for g, w in zip(got, want)])
        entities += len(got)
        for entity in got:
            assert entity["start"] < entity["end"] <= len(text)
    print(f"{entities} entities; max abs score diff to the pipeline {worst:.2e}")
    assert entities > 2 * len(PIPELINE_TEXTS)
    assert worst <= 1e-4


def test_hub_keras_layer_and_tfsm_layer_serve_it(hf_export):
    export_dir, _ = hf_export
    assert_loaders_agree(export_dir / interface.TOKEN_CLASSIFIER_DIR, {"text": TEXTS})
