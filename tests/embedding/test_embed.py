"""bert_tf.embed and bert-tf-embed on the real all-MiniLM-L6-v2 export.

References: sentence-transformers' `encode` on the same checkpoint (mean
pooling, normalized: the way all-MiniLM-L6-v2 is used) and Hugging Face
`BertModel` for the `cls` and `pooled` vectors.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from bert_tf import embedding as embed_lib
from bert_tf.embedding import EmbedError, embed

# Varied on purpose: lengths from one word to a paragraph, casing, accents,
# digits, punctuation, quotes, CJK, emoji, odd whitespace.
SENTENCES = [
    "A man is eating food.",
    "Hello!",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
    "Résumé writing is an art: naïve applicants often forget the café-style cover letter.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong's first words were broadcast "
    "to roughly 650 million viewers.",
    "GPU-accelerated BERT inference (batch=32, seq_len=128) reached 1,234.5 sentences/s.",
    "东京是日本的首都。",
    "I love this movie 😊 but the ending was... disappointing?!",
    "  leading and trailing spaces  ",
    "tabs\tand\u00a0non-breaking\u2009spaces",
    "ALL CAPS SHOUTING ABOUT THE WEATHER",
    "Paris",
    "Transformers use self-attention to weigh the relevance of every token to every other "
    "token; stacking many such layers, each followed by a feed-forward network with a "
    "residual connection and layer normalization, gives a deep model that can be "
    "pre-trained on large unlabeled corpora and fine-tuned for classification, "
    "retrieval, question answering and many other tasks with comparatively little data.",
    "",
    "Is it 3 p.m. yet? No -- it's 2:45.",
    "Über-fast Zürich trams don't wait for anyone.",
]


def _python_doc_sentences(count: int) -> list[str]:
    """Real English prose that ships with Python: the reference manual's topics."""
    import pydoc_data.topics

    out = []
    for name in sorted(pydoc_data.topics.topics)[::7]:
        text = " ".join(pydoc_data.topics.topics[name].split())
        out += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 3][:3]
    return out[:count]


TEXTS = SENTENCES + _python_doc_sentences(40)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def assert_same_vectors(
    ours: np.ndarray, reference: np.ndarray, *, min_cosine=0.9999, atol=None
) -> None:
    """Row by row: cosine above `min_cosine` (and, if given, max abs diff <= atol)."""
    assert ours.dtype == np.float32
    assert ours.shape == reference.shape
    cosines = _cosines(ours, reference)
    worst = int(np.argmin(cosines))
    assert cosines[worst] > min_cosine, f"row {worst}: cosine {cosines[worst]}"
    if atol is not None:
        np.testing.assert_allclose(ours, reference, rtol=0, atol=atol)


@pytest.fixture(scope="module")
def sentence_transformer(minilm_dir):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_dir), device="cpu")
    model.max_seq_length = 256
    return model


@pytest.fixture(scope="module")
def st_vectors(sentence_transformer):
    return sentence_transformer.encode(TEXTS, batch_size=8, convert_to_numpy=True)


@pytest.fixture(scope="module")
def hf_outputs(minilm_dir):
    """Hugging Face BertModel's `[CLS]` vectors and pooler outputs for TEXTS."""
    import torch
    import transformers

    tokenizer = transformers.BertTokenizerFast.from_pretrained(str(minilm_dir))
    model = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        out = model(**batch)
    return out.last_hidden_state[:, 0].numpy(), out.pooler_output.numpy()


# --- Python API -----------------------------------------------------------------


def test_mean_normalized_equals_sentence_transformers(minilm_export_dir, st_vectors):
    ours = embed(TEXTS, minilm_export_dir, pooling="mean", normalize=True, max_seq_length=256)
    assert_same_vectors(ours, st_vectors, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_exports_own_stack_is_the_default(minilm_export_dir, st_vectors):
    # all-MiniLM-L6-v2's modules.json: mean pooling + Normalize, max_seq_length 256.
    assert_same_vectors(embed(TEXTS, minilm_export_dir), st_vectors, atol=1e-5)


def test_mean_unnormalized_is_the_same_direction(minilm_export_dir, st_vectors):
    ours = embed(TEXTS, minilm_export_dir, normalize=False, max_seq_length=256)
    assert_same_vectors(ours, st_vectors)
    # Raw mean-pooled vectors of MiniLM are far from unit length.
    assert np.all(np.abs(np.linalg.norm(ours, axis=1) - 1.0) > 0.05)


@pytest.mark.parametrize("pooling, index", [("cls", 0), ("pooled", 1)])
def test_cls_and_pooled_equal_hugging_face(minilm_export_dir, hf_outputs, pooling, index):
    ours = embed(TEXTS, minilm_export_dir, pooling=pooling, normalize=False, max_seq_length=128)
    assert_same_vectors(ours, hf_outputs[index], atol=1e-4)


def test_order_is_kept_whatever_the_batching(minilm_export_dir):
    forward = embed(TEXTS, minilm_export_dir, batch_size=5)
    backward = embed(TEXTS[::-1], minilm_export_dir, batch_size=64)[::-1]
    np.testing.assert_allclose(forward, backward, rtol=0, atol=1e-5)
    # Each row is its own text's vector (none swapped, none left unwritten).
    one_by_one = np.concatenate([embed([t], minilm_export_dir) for t in TEXTS])
    np.testing.assert_allclose(forward, one_by_one, rtol=0, atol=1e-5)


def test_truncation_matches_sentence_transformers(minilm_export_dir, sentence_transformer):
    long_texts = [SENTENCES[12], SENTENCES[4], "short one"]
    sentence_transformer.max_seq_length = 16
    try:
        reference = sentence_transformer.encode(long_texts, convert_to_numpy=True)
    finally:
        sentence_transformer.max_seq_length = 256
    ours = embed(long_texts, minilm_export_dir, normalize=True, max_seq_length=16)
    assert_same_vectors(ours, reference, atol=1e-4)
    untruncated = embed(long_texts, minilm_export_dir, normalize=True, max_seq_length=256)
    assert _cosines(ours, untruncated)[0] < 0.99  # The limit really cut the long text.


def test_default_max_seq_length_is_the_exports(minilm_export_dir):
    embedder = embed_lib.load(minilm_export_dir)
    assert embedder.default_seq_length == 128
    assert embedder.max_positions == 512
    np.testing.assert_array_equal(
        embed(TEXTS[:4], minilm_export_dir), embed(TEXTS[:4], minilm_export_dir, max_seq_length=128)
    )


def test_empty_inputs(minilm_export_dir, sentence_transformer):
    assert embed([], minilm_export_dir).shape == (0, 384)
    ours = embed(["", "   ", "x"], minilm_export_dir, normalize=True)
    reference = sentence_transformer.encode(["", "   ", "x"], convert_to_numpy=True)
    assert_same_vectors(ours, reference, atol=1e-4)


def test_packing_equals_the_exported_preprocess_model(minilm_export_dir):
    """Our pad-to-longest packing gives the ids of `preprocess(strings)`, unpadded."""
    import tensorflow as tf

    embedder = embed_lib.load(minilm_export_dir)
    flat, starts = embedder.token_ids(TEXTS)
    lengths = np.minimum(np.diff(starts), 126) + 2
    packed = embedder._pack(flat, starts, lengths, np.arange(len(TEXTS)))
    reference = embedder._preprocess(tf.constant(TEXTS))
    width = packed["input_word_ids"].shape[1]
    for key in ("input_word_ids", "input_mask", "input_type_ids"):
        np.testing.assert_array_equal(packed[key].numpy(), reference[key].numpy()[:, :width])
        assert not reference[key].numpy()[:, width:].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(pooling="sum"),
            "pooling: expected one of mean, cls, max, mean_sqrt_len_tokens, weightedmean, "
            "lasttoken, pooled, found 'sum'",
        ),
        (dict(batch_size=0), "batch_size: expected an int >= 1, found 0"),
        (dict(max_seq_length=1), "max_seq_length: expected an int >= 2"),
        (dict(max_seq_length=513), "max_seq_length: expected at most 512"),
    ],
)
def test_bad_arguments(minilm_export_dir, kwargs, message):
    with pytest.raises(EmbedError, match=re.escape(message)):
        embed(["a"], minilm_export_dir, **kwargs)


def test_bad_texts_and_export_dirs(minilm_export_dir, tmp_path):
    with pytest.raises(EmbedError, match="found a single str"):
        embed("just one string", minilm_export_dir)
    with pytest.raises(EmbedError, match=r"texts\[1\]: expected str, found int"):
        embed(["a", 3], minilm_export_dir)
    with pytest.raises(EmbedError, match="not found"):
        embed(["a"], tmp_path / "missing")
    (tmp_path / "half" / "encoder").mkdir(parents=True)
    with pytest.raises(EmbedError, match="not a bert-tf export: no encoder/saved_model.pb"):
        embed(["a"], tmp_path / "half")


# --- Files ------------------------------------------------------------------------


def _write(path: pathlib.Path, data: bytes) -> pathlib.Path:
    path.write_bytes(data)
    return path


def test_embed_file_streams_text_lines_in_order(minilm_export_dir, tmp_path):
    lines = ["first line", "", "third, after an empty line", "  ", "ünïcödé fifth"] + TEXTS[:9]
    data = ("\n".join(lines[:3]) + "\r\n" + "\n".join(lines[3:])).encode()  # No final newline.
    source = _write(tmp_path / "in.txt", data)
    assert embed_lib.count_lines(source) == len(lines)
    seen = []
    result = embed_lib.embed_file(
        source,
        tmp_path / "out.npy",
        minilm_export_dir,
        normalize=True,
        batch_size=2,
        chunk_lines=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (result.count, result.dim) == (len(lines), 384)
    vectors = np.load(tmp_path / "out.npy")
    assert vectors.dtype == np.float32 and vectors.shape == (len(lines), 384)
    expected = embed(lines, minilm_export_dir, normalize=True)
    np.testing.assert_allclose(vectors, expected, rtol=0, atol=1e-5)
    assert seen[-1] == (len(lines), len(lines))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.npy"]


def test_embed_file_json_lines(minilm_export_dir, tmp_path):
    records = [
        {"id": 1, "text": "A man is eating food."},
        None,
        {"text": "Über-fast Zürich trams", "lang": "de"},
        {"text": ""},
    ]
    data = "\n".join("" if r is None else json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    source = _write(tmp_path / "in.jsonl", data.encode())
    embed_lib.embed_file(
        source, tmp_path / "out.npy", minilm_export_dir, pooling="cls", json_field="text"
    )
    texts = [(r or {}).get("text", "") for r in records]
    expected = embed(texts, minilm_export_dir, pooling="cls")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=0, atol=1e-5)


def test_embed_file_of_an_empty_file(minilm_export_dir, tmp_path):
    source = _write(tmp_path / "empty.txt", b"")
    result = embed_lib.embed_file(source, tmp_path / "out.npy", minilm_export_dir)
    assert result.count == 0
    assert np.load(tmp_path / "out.npy").shape == (0, 384)


@pytest.mark.parametrize(
    "data, json_field, message",
    [
        (b"fine\nbad \xff byte\n", None, r"in\.txt:2: not valid UTF-8"),
        (b'{"text": "ok"}\n{"text": oops}\n', "text", r"in\.txt:2: not a JSON line"),
        (
            b'{"text": "ok"}\n{"body": "x", "id": 2}\n',
            "text",
            r"in\.txt:2: expected a JSON object with field 'text', found an object with "
            r"fields 'body', 'id'",
        ),
        (
            b'["a list"]\n',
            "text",
            r"in\.txt:1: expected a JSON object with field 'text', "
            r"found a JSON list",
        ),
        (b'{"text": 42}\n', "text", r"in\.txt:1: field 'text': expected a string, found int"),
    ],
)
def test_embed_file_bad_lines_leave_nothing(minilm_export_dir, tmp_path, data, json_field, message):
    source = _write(tmp_path / "in.txt", data)
    with pytest.raises(EmbedError, match=message):
        embed_lib.embed_file(
            source, tmp_path / "out.npy", minilm_export_dir, json_field=json_field, chunk_lines=1
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_embed_file_bad_paths(minilm_export_dir, tmp_path):
    with pytest.raises(EmbedError, match="no such file"):
        embed_lib.embed_file(tmp_path / "nope.txt", tmp_path / "o.npy", minilm_export_dir)
    source = _write(tmp_path / "in.txt", b"a\n")
    with pytest.raises(EmbedError, match="does not exist"):
        embed_lib.embed_file(source, tmp_path / "no" / "o.npy", minilm_export_dir)


# --- The command ------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [pathlib.Path(sys.executable).parent / "bert-tf-embed", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=pathlib.Path(__file__).resolve().parents[2],
        timeout=600,
    )


def test_cli_end_to_end(minilm_export_dir, tmp_path):
    lines = TEXTS[:12] + [""]
    source = _write(tmp_path / "texts.txt", ("\n".join(lines) + "\n").encode())
    output = tmp_path / "vectors.npy"
    done = _cli(
        f"--export_dir={minilm_export_dir}",
        f"--input={source}",
        f"--output={output}",
        "--pooling=mean",
        "--normalize",
        "--batch_size=4",
        "--max_seq_length=64",
    )
    assert done.returncode == 0, done.stderr
    assert f"Wrote {len(lines)} x 384 float32 vectors to {output}" in done.stdout
    assert f"embedded {len(lines)}/{len(lines)} lines" in done.stderr  # Progress.
    expected = embed(lines, minilm_export_dir, normalize=True, max_seq_length=64)
    np.testing.assert_allclose(np.load(output), expected, rtol=0, atol=1e-5)


def test_cli_errors_are_one_line(minilm_export_dir, tmp_path):
    source = _write(tmp_path / "in.jsonl", b'{"text": "a"}\n{"txt": "b"}\n')
    output = tmp_path / "out.npy"
    done = _cli(
        f"--export_dir={minilm_export_dir}",
        f"--input={source}",
        f"--output={output}",
        "--json_field=text",
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {source}:2: expected a JSON object with field 'text', "
        "found an object with fields 'txt'"
    ]
    assert "Traceback" not in done.stderr
    assert not output.exists()
    missing = _cli(f"--export_dir={tmp_path}", f"--input={source}")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == "error: missing --output (see --help)"
