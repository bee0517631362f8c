"""The bfloat16 export of the real all-MiniLM-L6-v2 against float32 PyTorch, on varied real text.

The quality gate of `bert-tf-export --precision=bfloat16` (`verify.GATES`):
every text's mask-aware mean-pooled `sequence_output` (the sentence embedding
all-MiniLM-L6-v2 is used for) at cosine >= 0.9999 to Hugging Face's float32
`BertModel` on the same ids, and each output within 25% of its scale. On a
host whose TensorFlow CPU MatMul truncates bfloat16 results
(`precision.host_bfloat16_matmul_rounding`), the endpoints as it runs them
meet `verify.host_gate` and an XLA-compiled run (round to nearest, as bfloat16
hardware) meets 0.9999.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)

from bert_tf import interface
from bert_tf.embedding import embed
from bert_tf.export import verify

pytestmark = pytest.mark.slow

# Lengths from nothing to the full 128 tokens, casing, accents, digits, CJK,
# Cyrillic, emoji, odd whitespace, code.
SENTENCES = [
    "",
    "Paris",
    "A man is eating food.",
    "How do I reset my password if I forgot the email address I used to register?",
    "Résumé writing is an art: naïve applicants often forget the café-style cover letter.",
    "In 1969, Apollo 11 landed on the Moon; 650 million viewers watched the broadcast.",
    "东京是日本的首都。",
    "Как дела? Всё хорошо, спасибо.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "I love this movie 😊 but the ending was... disappointing?!",
    "tabs\tand\u00a0non-breaking\u2009spaces",
    "ALL CAPS SHOUTING ABOUT THE WEATHER",
    "for i in range(10): print(i ** 2)  # squares",
    "Transformers use self-attention to weigh the relevance of every token to every other "
    "token; stacking many such layers, each followed by a feed-forward network with a "
    "residual connection and layer normalization, gives a deep model that can be "
    "pre-trained on large unlabeled corpora and fine-tuned for classification, "
    "retrieval, question answering and many other tasks with comparatively little data. "
    "The same recipe, scaled up, drives most of today's language systems.",
]


def _python_doc_sentences(count: int) -> list[str]:
    """Real English prose that ships with Python: the reference manual's topics."""
    import pydoc_data.topics

    out = []
    for name in sorted(pydoc_data.topics.topics)[::5]:
        text = " ".join(pydoc_data.topics.topics[name].split())
        out += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 3][:2]
    return out[:count]


TEXTS = SENTENCES + _python_doc_sentences(34)


@pytest.fixture(scope="module")
def ids(minilm_bf16_export) -> dict[str, np.ndarray]:
    preprocess = tf.saved_model.load(os.fspath(minilm_bf16_export / "preprocess"))
    return {k: v.numpy() for k, v in preprocess(tf.constant(TEXTS)).items()}


@pytest.fixture(scope="module")
def torch_outputs(minilm_dir, ids) -> dict[str, np.ndarray]:
    import torch
    import transformers

    model = transformers.BertModel.from_pretrained(os.fspath(minilm_dir)).eval()
    with torch.inference_mode():
        out = model(
            input_ids=torch.from_numpy(ids["input_word_ids"]).long(),
            attention_mask=torch.from_numpy(ids["input_mask"]).long(),
            token_type_ids=torch.from_numpy(ids["input_type_ids"]).long(),
        )
    return {
        "sequence_output": out.last_hidden_state.numpy(),
        "pooled_output": out.pooler_output.numpy(),
    }


def test_export_verified_with_the_bf16_gate(minilm_bf16_export):
    meta = interface.read_metadata(minilm_bf16_export)
    assert meta.precision == "bfloat16"
    assert meta.verification.min_cosine >= verify.host_gate("bfloat16").min_cosine
    if meta.verification.bfloat16_rounding == "toward_zero":
        assert meta.verification.xla_min_cosine >= 0.9999
    # MiniLM is a sentence-transformers folder: embedding/ (bfloat16 too) is verified as well.
    assert set(meta.verification.max_abs_diff) == {
        "__call__",
        "serving_default",
        "tokens",
        "embedding",
        "embedding/serving_default",
    }


@pytest.mark.parametrize("endpoint", ["__call__", "serving_default", "__call__ XLA"])
def test_quality_gate_against_pytorch_float32(minilm_bf16_export, ids, torch_outputs, endpoint):
    encoder = tf.saved_model.load(os.fspath(minilm_bf16_export / "encoder"))
    tensors = {k: tf.constant(v) for k, v in ids.items()}
    # XLA rounds bfloat16 results to nearest on every host: the full gate holds.
    min_cosine = verify.GATES["bfloat16"].min_cosine
    if endpoint == "__call__":
        found = encoder(tensors, training=False)
        min_cosine = verify.host_gate("bfloat16").min_cosine
    elif endpoint == "serving_default":
        found = encoder.signatures["serving_default"](**tensors)
        min_cosine = verify.host_gate("bfloat16").min_cosine
    else:
        found = tf.function(lambda x: encoder(x, training=False), jit_compile=True)(tensors)
    mask = ids["input_mask"]
    cosines = verify.cosine(
        verify.mean_pooled(found["sequence_output"].numpy(), mask),
        verify.mean_pooled(torch_outputs["sequence_output"], mask),
    )
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= min_cosine, (TEXTS[worst], cosines[worst])
    # Padding positions included: the mask must keep them as float32 does. Where
    # the host's MatMul truncates, the outputs at the padding of 2-3 token texts
    # (which no consumer reads) drift by up to ~50% of the scale; real tokens
    # stay within ~1%, and a mask bug would move those.
    truncating = endpoint != "__call__ XLA" and min_cosine < verify.GATES["bfloat16"].min_cosine
    for key in ("sequence_output", "pooled_output"):
        got, want = found[key].numpy(), torch_outputs[key]
        assert got.dtype == np.float32
        if truncating and key == "sequence_output":
            got, want = got * mask[..., np.newaxis], want * mask[..., np.newaxis]
        diff = float(np.max(np.abs(got - want)))
        assert 0 < diff <= verify.tolerance(want, "bfloat16"), (key, diff)


def test_sentence_embeddings_end_to_end(minilm_bf16_export, minilm_dir):
    """`bert_tf.embedding` on the bfloat16 export against sentence-transformers (float32)."""
    from sentence_transformers import SentenceTransformer

    texts = [t for t in TEXTS if t]
    model = SentenceTransformer(os.fspath(minilm_dir), device="cpu")
    reference = model.encode(texts, normalize_embeddings=True)
    # Truncated where sentence-transformers truncates (256 tokens for this model).
    found = embed(
        texts,
        minilm_bf16_export,
        normalize=True,
        batch_size=16,
        max_seq_length=model.max_seq_length,
    )
    assert found.dtype == np.float32 and found.shape == reference.shape
    cosines = np.sum(found * reference, axis=1)
    min_cosine = verify.host_gate("bfloat16").min_cosine
    assert np.min(cosines) >= min_cosine, texts[int(np.argmin(cosines))]
