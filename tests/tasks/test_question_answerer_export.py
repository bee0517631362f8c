"""`question_answerer/`: an extractive QA checkpoint exported as a string-in SavedModel.

The reference is google-research `run_squad.py` itself (`squad_reference`):
its windows (`convert_examples_to_features`) must equal the folder's exactly,
and its answers (`write_predictions`, fed the folder's own window logits) must
be the folder's; the window logits must equal the transformers / TF1 model's on
those windows within PARITY_ATOL; `score` must be the pipeline's softmax
product recomputed in NumPy.
"""

import os

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)
from squad_reference import squad_predictions
from task_checkpoints import (
    assert_loaders_agree,
    google_task_checkpoint,
    hf_task_checkpoint,
    minilm_task_checkpoint,
    reference_logits,
    run_script,
)

from bert_tf import interface
from bert_tf.preprocess import load_vocab
from bert_tf.tasks import question_answerer

# Tiny windows, so that short contexts need several.
WINDOWS = dict(seq_length=40, doc_stride=8, max_query_length=10, max_answer_length=6)
QUESTIONS = [
    "what is the answer ?",
    "who",
    "a question far longer than the ten wordpieces the windows keep of it , surely",
    "where ?",
    "Zoë ?",
    "what",
]
CONTEXTS = [
    "the quick brown fox jumps over the lazy dog . " * 5,
    "short",
    "one two three four five six seven eight nine ten eleven twelve " * 3,
    "   spaced    out\ttext\nwith  newlines   ",
    "Crème brûlée in 東京 🙂 and São Paulo, naïve café.",
    "",
]


def _flags(windows):
    return [f"--qa_{key}={value}" for key, value in windows.items()]


def _window_logits(folder, feeds):
    """The exported head's logits on run_squad's windows."""
    loaded = tf.saved_model.load(os.fspath(folder))
    logits = loaded.task_model(
        {
            interface.INPUT_WORD_IDS: tf.constant(feeds["input_ids"], tf.int32),
            interface.INPUT_MASK: tf.constant(feeds["input_mask"], tf.int32),
            interface.INPUT_TYPE_IDS: tf.constant(feeds["segment_ids"], tf.int32),
        },
        training=False,
    )["logits"].numpy()
    return logits[..., 0], logits[..., 1]


def _pipeline_score(windows, rows, best, max_answer_length):
    """p(start) * p(end) of run_squad's best span (found by its logits in `rows`),
    softmax over the window's context pieces and [CLS], as the transformers pipeline."""
    for w in rows:
        start, end = windows["start_logits"][w], windows["end_logits"][w]
        context = (windows["input_type_ids"][w] == 1) & (windows["input_mask"][w] == 1)
        context[np.flatnonzero(context)[-1]] = False  # the closing [SEP]
        scored = context.copy()
        scored[0] = True
        for p in np.flatnonzero(context & (start == np.float32(best["start_logit"]))):
            for q in range(p, min(p + max_answer_length, len(end))):
                if context[q] and end[q] == np.float32(best["end_logit"]):
                    p_start = np.exp(start[scored] - start[scored].max())
                    p_end = np.exp(end[scored] - end[scored].max())
                    index = np.cumsum(scored) - 1
                    return (p_start[index[p]] / p_start.sum()) * (p_end[index[q]] / p_end.sum())
    raise AssertionError(f"run_squad's best span {best} is in none of windows {rows}")


def assert_matches_run_squad(tmp_path, folder, vocab, do_lower_case, questions, contexts, windows):
    """Windows, answers and scores of `folder` vs run_squad.py on the same texts."""
    qa = tf.saved_model.load(os.fspath(folder))
    feed = {"question": tf.constant(questions), "context": tf.constant(contexts)}
    ours = {k: v.numpy() for k, v in qa.windows(feed).items()}
    out = {k: v.numpy() for k, v in qa.signatures["serving_default"](**feed).items()}
    assert set(out) == set(question_answerer.OUTPUTS)
    feeds, texts, best = squad_predictions(
        tmp_path,
        questions,
        contexts,
        vocab,
        do_lower_case,
        lambda f: _window_logits(folder, f),
        **windows,
    )
    # run_squad writes no window for an empty context; the folder one without context.
    has_context = np.array([bool(c.split()) for c in contexts])[ours["window_row"]]
    for ours_key, key in (
        (interface.INPUT_WORD_IDS, "input_ids"),
        (interface.INPUT_MASK, "input_mask"),
        (interface.INPUT_TYPE_IDS, "segment_ids"),
    ):
        np.testing.assert_array_equal(ours[ours_key][has_context], np.array(feeds[key]), key)
    np.testing.assert_array_equal(out["num_windows"], np.bincount(ours["window_row"]))
    for i, context in enumerate(contexts):
        answer = out["answer"][i].decode("utf-8")
        if not context.split():
            assert (answer, out["start"][i], out["score"][i]) == ("", -1, 0.0)
            continue
        # run_squad joins a span's whitespace tokens with one space.
        assert " ".join(answer.split()) == texts[i], (i, answer, texts[i])
        assert context.encode("utf-8")[out["start"][i] : out["end"][i]].decode() == answer
        rows = np.flatnonzero(ours["window_row"] == i)
        expected = _pipeline_score(ours, rows, best[i], windows["max_answer_length"])
        assert abs(out["score"][i] - expected) <= 1e-6, (i, out["score"][i], expected)
    return ours


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squad")
    reference = hf_task_checkpoint(folder / "checkpoint", "BertForQuestionAnswering", 2)
    done = run_script(
        "bert-tf-export",
        f"--checkpoint={folder / 'checkpoint'}",
        f"--output_dir={folder / 'export'}",
        "--default_seq_length=32",
        *_flags(WINDOWS),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "export", reference, load_vocab(folder / "checkpoint" / "vocab.txt")


def test_windows_answers_and_scores_equal_run_squad(tiny_export, tmp_path):
    export_dir, _, vocab = tiny_export
    folder = export_dir / interface.QUESTION_ANSWERER_DIR
    ours = assert_matches_run_squad(tmp_path, folder, vocab, True, QUESTIONS, CONTEXTS, WINDOWS)
    assert np.bincount(ours["window_row"]).max() >= 4  # several windows per context, overlapping


def test_window_logits_equal_transformers(tiny_export):
    export_dir, reference, _ = tiny_export
    qa = tf.saved_model.load(os.fspath(export_dir / interface.QUESTION_ANSWERER_DIR))
    windows = qa.windows({"question": tf.constant(QUESTIONS), "context": tf.constant(CONTEXTS)})
    inputs = {k: windows[k].numpy() for k in interface.ENCODER_INPUTS}
    expected = reference_logits(reference, "BertForQuestionAnswering", inputs)
    found = np.stack([windows["start_logits"].numpy(), windows["end_logits"].numpy()], -1)
    assert np.max(np.abs(found - expected)) <= factory.PARITY_ATOL


def test_answer_returns_character_offsets(tiny_export):
    export_dir, _, _ = tiny_export
    found = question_answerer.answer(QUESTIONS[:-1], CONTEXTS[:-1], export_dir, batch_size=2)
    assert len(found) == len(CONTEXTS) - 1
    for context, result in zip(CONTEXTS, found):
        assert set(result) == {"answer", "score", "start", "end"}
        assert context[result["start"] : result["end"]] == result["answer"] != ""
        assert 0.0 < result["score"] <= 1.0
    # Character offsets: the SavedModel's byte offsets, decoded.
    qa = tf.saved_model.load(os.fspath(export_dir / interface.QUESTION_ANSWERER_DIR))
    served = qa.signatures["serving_default"](
        question=tf.constant(QUESTIONS[:-1]), context=tf.constant(CONTEXTS[:-1])
    )
    for context, result, start in zip(CONTEXTS, found, served["start"].numpy()):
        assert len(context[: result["start"]].encode("utf-8")) == start
    with pytest.raises(ValueError, match="contexts: entry 0 is empty"):
        question_answerer.answer(["who"], [""], export_dir)
    with pytest.raises(ValueError, match="questions: entry 0 is empty"):
        question_answerer.answer([""], ["a context"], export_dir)
    with pytest.raises(ValueError, match="contexts: expected 2"):
        question_answerer.answer(["a", "b"], ["c"], export_dir)


def test_loaders_agree(tiny_export):
    export_dir, _, _ = tiny_export
    assert_loaders_agree(
        export_dir / interface.QUESTION_ANSWERER_DIR,
        {"question": np.array(QUESTIONS[:3]), "context": np.array(CONTEXTS[:3])},
    )


def test_metadata_card_and_inspect(tiny_export):
    export_dir, _, _ = tiny_export
    metadata = interface.read_metadata(export_dir)
    assert metadata.task == interface.QUESTION_ANSWERER_DIR
    assert metadata.qa_windows == WINDOWS
    card = (export_dir / interface.MODEL_CARD).read_text(encoding="utf-8")
    assert "## Extractive question answering (`question_answerer/`)" in card
    assert "windows of 40 wordpieces starting 8 apart" in card
    done = run_script("bert-tf-inspect", os.fspath(export_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    listed = done.stdout.split("\nquestion_answerer/\n", 1)[1]
    assert "in   question: string [?]" in listed and "out  answer: string [?]" in listed


def test_google_run_squad_checkpoint(tmp_path):
    reference, weights, bias = google_task_checkpoint(tmp_path / "ckpt", "cls/squad/", 2)
    out = tmp_path / "export"
    done = run_script(
        "bert-tf-export",
        f"--checkpoint={tmp_path / 'ckpt'}",
        f"--output_dir={out}",
        "--default_seq_length=32",
        *_flags(WINDOWS),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    qa = tf.saved_model.load(os.fspath(out / interface.QUESTION_ANSWERER_DIR))
    windows = qa.windows({"question": tf.constant(QUESTIONS), "context": tf.constant(CONTEXTS)})
    inputs = {k: windows[k].numpy() for k in interface.ENCODER_INPUTS}
    sequence = factory.reference_outputs(reference, inputs)["sequence_output"]
    expected = sequence @ weights.T + bias
    found = np.stack([windows["start_logits"].numpy(), windows["end_logits"].numpy()], -1)
    assert np.max(np.abs(found - expected)) <= factory.PARITY_ATOL


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--qa_max_query_length=37", "--qa_max_query_length: expected less than"),
        ("--qa_seq_length=65", "--qa_seq_length: expected at most the config's"),
    ],
)
def test_bad_windows_are_one_line_errors(tmp_path, flag, message):
    hf_task_checkpoint(tmp_path / "ckpt", "BertForQuestionAnswering", 2)
    done = run_script(
        "bert-tf-export",
        f"--checkpoint={tmp_path / 'ckpt'}",
        f"--output_dir={tmp_path / 'out'}",
        "--default_seq_length=32",
        "--qa_seq_length=40",
        flag,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


# Multilingual, accented, CJK and contexts far longer than one 384-piece window.
MINILM_QUESTIONS = [
    "Where did the miller's daughter count the sacks?",
    "Quelle est la capitale de la France ?",
    "東京はどこですか？",
    "Who wrote the letter to Zoë?",
]
MINILM_CONTEXTS = [
    " ".join(
        f"In year {1800 + i} the miller's daughter counted {i * 7} sacks of flour at the "
        f"old mill by the river {['Avon', 'Thames', 'Severn'][i % 3]}."
        for i in range(60)
    ),
    "Paris est la capitale de la France. Elle compte deux millions d'habitants. " * 30,
    "東京は日本の首都です。人口は約千四百万人です。" * 20,
    "Dear Zoë, the letter was written by Ángel Núñez in São Paulo on a rainy day.",
]


@pytest.mark.slow
def test_minilm_matches_run_squad_and_transformers(tmp_path, minilm_dir):
    model, _ = minilm_task_checkpoint(
        tmp_path / "ckpt", minilm_dir, "BertForQuestionAnswering", seed=5, head_scale=20.0
    )
    out = tmp_path / "export"
    done = run_script("bert-tf-export", f"--checkpoint={tmp_path / 'ckpt'}", f"--output_dir={out}")
    assert done.returncode == 0, done.stderr[-3000:]
    windows = dict(seq_length=384, doc_stride=128, max_query_length=64, max_answer_length=15)
    assert interface.read_metadata(out).qa_windows == windows
    vocab = load_vocab(minilm_dir / "vocab.txt")
    folder = out / interface.QUESTION_ANSWERER_DIR
    ours = assert_matches_run_squad(
        tmp_path, folder, vocab, True, MINILM_QUESTIONS, MINILM_CONTEXTS, windows
    )
    assert np.bincount(ours["window_row"])[:3].min() >= 2
    inputs = {k: ours[k][:6] for k in interface.ENCODER_INPUTS}
    expected = reference_logits(model, "BertForQuestionAnswering", inputs)
    found = np.stack([ours["start_logits"][:6], ours["end_logits"][:6]], -1)
    assert np.max(np.abs(found - expected)) <= factory.PARITY_ATOL
    found = question_answerer.answer(MINILM_QUESTIONS, MINILM_CONTEXTS, out)
    for context, result in zip(MINILM_CONTEXTS, found):
        assert context[result["start"] : result["end"]] == result["answer"]
