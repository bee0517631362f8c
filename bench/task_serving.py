"""Task folders serving raw text: `token_classifier/` and `question_answerer/` vs PyTorch.

Both contenders run the same model (the real all-MiniLM-L6-v2 with a seeded
random head, saved once by transformers) on the same texts, strings in and
decoded answers out, interleaved in one process:
- NER: `token_classifier/`'s `serving_default` on batches of 32 sentences,
  its entities turned into dicts, vs the transformers `token-classification`
  pipeline (`aggregation_strategy="first"`, `batch_size=32`) on the same
  checkpoint. The entities must be the same (group, word, offsets).
- QA: `question_answerer/`'s `serving_default` on batches of 8 questions with
  contexts of 60 to 700 words (several windows each), vs the same work in
  PyTorch, as transformers 5 has no question-answering pipeline: the fast
  tokenizer windows each example as run_squad.py does (384 / stride 128 / 64),
  `BertForQuestionAnswering` runs the windows, NumPy picks the best
  `start + end` logit span of at most 15 pieces (without run_squad.py's
  max-context rule: less work for the peer, and the reason an answer can
  differ, where the best span starts near a window's edge).
Loading is not timed. The figures are medians of `--repeats` interleaved runs.

Run:
  .venv/bin/python -m bench.task_serving
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import corpus, models  # noqa: E402

_NER_TEXTS = flags.DEFINE_integer("ner_texts", 512, "Sentences to tag.")
_QA_PAIRS = flags.DEFINE_integer("qa_pairs", 48, "Questions to answer.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs of each contender.")

NER_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
QA = dict(seq_length=384, doc_stride=128, max_query_length=64, max_answer_length=15)

COLUMNS = [
    ("task", "{}"),
    ("items", "{}"),
    ("ours_per_s", "{:.1f}"),
    ("peer", "{}"),
    ("peer_per_s", "{:.1f}"),
    ("ratio", "{:.2f}x"),
    ("same_outputs", "{}"),
]


def _checkpoint(architecture: str):
    """The MiniLM weights with a seeded head (cached), its model and tokenizer."""
    import torch
    import transformers

    out = harness.CACHE_DIR / "checkpoints" / f"minilm-{architecture}"
    named = {}
    if architecture == "BertForTokenClassification":
        named = dict(
            num_labels=len(NER_LABELS),
            id2label=dict(enumerate(NER_LABELS)),
            label2id={label: i for i, label in enumerate(NER_LABELS)},
        )
    if not (out / "model.safetensors").exists():
        torch.manual_seed(7)
        model = getattr(transformers, architecture).from_pretrained(models.minilm_path(), **named)
        head = model.qa_outputs if architecture == "BertForQuestionAnswering" else model.classifier
        with torch.no_grad():
            head.weight.mul_(20.0)  # labels and spans that differ more than at init
        model.save_pretrained(out)
        transformers.AutoTokenizer.from_pretrained(models.minilm_path()).save_pretrained(out)
        (out / "vocab.txt").write_text((models.minilm_path() / "vocab.txt").read_text())
    model = getattr(transformers, architecture).from_pretrained(out).eval()
    return out, model, transformers.AutoTokenizer.from_pretrained(out)


def _export(checkpoint, name):
    from bert_tf.export import pair

    out = harness.CACHE_DIR / "exports" / name
    pair.export_pair(str(checkpoint), str(out), overwrite=True)
    return out


def _ner(run):
    import tensorflow as tf
    import transformers

    from bert_tf import interface

    checkpoint, model, tokenizer = _checkpoint("BertForTokenClassification")
    export = _export(checkpoint, "minilm-ner")
    serve = tf.saved_model.load(str(export / interface.TOKEN_CLASSIFIER_DIR)).signatures[
        interface.SERVING_SIGNATURE
    ]
    texts = corpus.sentences(_NER_TEXTS.value)
    pipe = transformers.pipeline(
        "token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first"
    )

    def ours():
        found = []
        for begin in range(0, len(texts), 32):
            batch = texts[begin : begin + 32]
            out = {k: v.numpy() for k, v in serve(text=tf.constant(batch)).items()}
            for i, text in enumerate(batch):
                data = text.encode("utf-8")
                found.append(
                    [
                        (
                            out["entity_group"][i, j].decode(),
                            out["word"][i, j].decode(),
                            len(data[: out["start"][i, j]].decode()),
                            len(data[: out["end"][i, j]].decode()),
                        )
                        for j in range(out["num_entities"][i])
                    ]
                )
        return found

    def peer():
        return [
            [(e["entity_group"], e["word"], e["start"], e["end"]) for e in entities]
            for entities in pipe(texts, batch_size=32)
        ]

    _race(run, "token_classifier/", len(texts), ours, "transformers pipeline", peer)


def _qa_pairs(count):
    sentences = corpus.sentences(4000, seed=1)
    rng = random.Random(2)
    pairs = []
    for _ in range(count):
        words = rng.randint(60, 700)
        context, start = [], rng.randrange(len(sentences))
        while sum(len(s.split()) for s in context) < words:
            context.append(sentences[(start + len(context)) % len(sentences)])
        question = f"What does it say about {rng.choice(context[0].split()[:6])}?"
        pairs.append((question, " ".join(context)))
    return pairs


def _torch_answers(model, tokenizer, pairs):
    """run_squad.py's windows by the fast tokenizer, the model, NumPy span search."""
    import torch

    answers = []
    for question, context in pairs:
        q_len = len(tokenizer.tokenize(question))  # the questions are short: none is cut
        room = QA["seq_length"] - q_len - 3
        enc = tokenizer(
            question,
            context,
            truncation="only_second",
            max_length=QA["seq_length"],
            stride=max(0, room - QA["doc_stride"]),
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="max_length",
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping").numpy()
        sequence_ids = [enc.sequence_ids(i) for i in range(len(offsets))]
        enc.pop("overflow_to_sample_mapping", None)
        with torch.no_grad():
            out = model(**enc)
        best = (-np.inf, 0, 0)
        for w, (start, end) in enumerate(zip(out.start_logits.numpy(), out.end_logits.numpy())):
            context_mask = np.array([s == 1 for s in sequence_ids[w]])
            s = np.where(context_mask, start, -np.inf)
            e = np.where(context_mask, end, -np.inf)
            sums = s[:, None] + e[None, :]
            band = np.triu(np.ones_like(sums, dtype=bool)) & ~np.triu(
                np.ones_like(sums, dtype=bool), QA["max_answer_length"]
            )
            sums = np.where(band, sums, -np.inf)
            i, j = np.unravel_index(np.argmax(sums), sums.shape)
            if sums[i, j] > best[0]:
                best = (sums[i, j], offsets[w][i][0], offsets[w][j][1])
        answers.append(context[best[1] : best[2]])
    return answers


def _qa(run):
    import tensorflow as tf

    from bert_tf import interface

    checkpoint, model, tokenizer = _checkpoint("BertForQuestionAnswering")
    export = _export(checkpoint, "minilm-squad")
    serve = tf.saved_model.load(str(export / interface.QUESTION_ANSWERER_DIR)).signatures[
        interface.SERVING_SIGNATURE
    ]
    pairs = _qa_pairs(_QA_PAIRS.value)

    def ours():
        found = []
        for begin in range(0, len(pairs), 8):
            batch = pairs[begin : begin + 8]
            out = serve(
                question=tf.constant([q for q, _ in batch]),
                context=tf.constant([c for _, c in batch]),
            )
            found += [a.decode("utf-8") for a in out["answer"].numpy()]
        return found

    def peer():
        return _torch_answers(model, tokenizer, pairs)

    _race(run, "question_answerer/", len(pairs), ours, "PyTorch (no QA pipeline in v5)", peer)


def _race(run, task, items, ours, peer_name, peer):
    import torch

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    outputs = {}

    def timed(name, fn):
        def call():
            outputs[name] = fn()

        return call

    ours(), peer()  # warm-up
    timings = harness.measure_interleaved(
        {"ours": timed("ours", ours), "peer": timed("peer", peer)},
        warmup=0,
        repeats=_REPEATS.value,
        budget_s=0.0,
    )
    same = outputs["ours"] == outputs["peer"]
    differ = sum(a != b for a, b in zip(outputs["ours"], outputs["peer"]))
    row = {
        "task": task,
        "items": items,
        "peer": peer_name,
        "same_outputs": "yes" if same else f"{differ} of {items} differ",
        "ours_per_s": timings["ours"].per_second(items),
        "peer_per_s": timings["peer"].per_second(items),
        "ours_timing": timings["ours"].to_dict(),
        "peer_timing": timings["peer"].to_dict(),
    }
    row["ratio"] = row["ours_per_s"] / row["peer_per_s"]
    print(json.dumps({k: row[k] for k in ("task", "ratio", "same_outputs")}), flush=True)
    run.add(row)


def main(argv) -> None:
    del argv
    run = harness.Run("task_serving")
    _ner(run)
    _qa(run)
    run.finish(COLUMNS, title="Task folders serving raw text (items/s)")


if __name__ == "__main__":
    app.run(main)
