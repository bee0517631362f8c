"""`multiple_choice/`: a `BertForMultipleChoice` checkpoint exported as a string-in SavedModel.

The folder's logits must equal transformers' on the same prompt/choice pairs:
on the ids the export packs (tiny random checkpoint), and on the real MiniLM
weights with a seeded head, tokenized by the Hugging Face tokenizer.
"""

import os

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
from task_checkpoints import (
    assert_loaders_agree,
    export_task_checkpoint,
    minilm_task_checkpoint,
    packed_inputs,
    reference_logits,
)

from bert_tf import interface
from bert_tf.export import pair
from bert_tf.tasks import multiple_choice

PROMPTS = ["The cat sat on", "Crème brûlée in 東京 🙂"]
CHOICES = [["the mat.", "a cloud.", ""], ["is sweet", "is loud", "is a dessert!"]]
SEQ_LENGTH = 16


@pytest.fixture(scope="module")
def hf_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swag")
    return export_task_checkpoint(folder, "BertForMultipleChoice", 1, SEQ_LENGTH)


def test_logits_match_transformers(hf_export):
    export_dir, reference = hf_export
    serve = tf.saved_model.load(os.fspath(export_dir / interface.MULTIPLE_CHOICE_DIR))
    out = serve.signatures["serving_default"](
        prompt=tf.constant(PROMPTS), choices=tf.constant(CHOICES)
    )
    assert set(out) == set(multiple_choice.OUTPUTS)
    prompts = [p for p, options in zip(PROMPTS, CHOICES) for _ in options]
    choices = [c for options in CHOICES for c in options]
    # Each pair as preprocess/ packs it (an empty choice is still a segment).
    rows = [
        packed_inputs(export_dir, [p], SEQ_LENGTH, [c or " "]) for p, c in zip(prompts, choices)
    ]
    expected = np.concatenate(
        [reference_logits(reference, "BertForMultipleChoice", r) for r in rows]
    ).reshape(len(PROMPTS), -1)
    diff = float(np.max(np.abs(out["logits"].numpy() - expected)))
    print(f"multiple_choice: max abs diff to transformers {diff:.2e}")
    assert diff <= factory.PARITY_ATOL
    np.testing.assert_array_equal(out["label"].numpy(), expected.argmax(-1))


def test_choose_groups_prompts_by_their_number_of_choices(hf_export):
    export_dir, _ = hf_export
    prompts = ["The cat sat on", "A", "The cat sat on"]
    choices = [["the mat.", "a cloud."], ["b", "c", "d"], ["the mat.", "a cloud."]]
    found = multiple_choice.choose(prompts, choices, export_dir, batch_size=1)
    assert [len(r["logits"]) for r in found] == [2, 3, 2]
    assert found[0] == found[2]
    for result in found:
        assert result["label"] == int(np.argmax(result["logits"]))
        assert result["score"] == pytest.approx(max(result["probabilities"]))
    with pytest.raises(ValueError, match="choices: prompt 1 has no choice"):
        multiple_choice.choose(["a", "b"], [["x"], []], export_dir)
    with pytest.raises(ValueError, match="choices: expected 2 lists"):
        multiple_choice.choose(["a", "b"], [["x"]], export_dir)


@pytest.mark.slow
def test_minilm_logits_match_transformers_on_its_tokenizer(tmp_path, minilm_dir):
    import torch

    model, tokenizer = minilm_task_checkpoint(
        tmp_path / "ckpt", minilm_dir, "BertForMultipleChoice", seed=11
    )
    pair.export_pair(str(tmp_path / "ckpt"), str(tmp_path / "export"), default_seq_length=64)
    prompts = ["She opened the umbrella because", "Zoë est allée à São Paulo et"]
    choices = [
        ["it was raining.", "she was hungry.", "the sun rose 🙂", "東京は雨です。"],
        ["elle a aimé.", "il a plu.", "naïve café", "Привет"],
    ]
    batch = tokenizer(
        [p for p in prompts for _ in range(4)],
        [c for options in choices for c in options],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        expected = model(**{k: v.view(2, 4, -1) for k, v in batch.items()}).logits.numpy()
    found = multiple_choice.choose(prompts, choices, tmp_path / "export")
    diff = float(np.max(np.abs(np.array([r["logits"] for r in found]) - expected)))
    print(f"minilm multiple_choice: max abs diff to transformers {diff:.2e}")
    assert diff <= factory.PARITY_ATOL
    assert [r["label"] for r in found] == expected.argmax(-1).tolist()


def test_hub_keras_layer_and_tfsm_layer_serve_it(hf_export):
    export_dir, _ = hf_export
    assert_loaders_agree(
        export_dir / interface.MULTIPLE_CHOICE_DIR, {"prompt": PROMPTS, "choices": CHOICES}
    )
