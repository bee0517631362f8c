"""Readers: every layout NLI data comes in, and one-line errors for bad rows."""

import collections
import json

import nli_synth
import pytest

from bert_tf.finetune import data

MNLI_JSONL = (
    "\n".join(
        json.dumps(row)
        for row in [
            {
                "annotator_labels": ["neutral"],
                "genre": "government",
                "gold_label": "neutral",
                "pairID": "31193n",
                "promptID": "31193",
                "sentence1": "Conceptually cream skimming has two basic dimensions - product and geography.",
                "sentence1_binary_parse": "( ( Conceptually ( cream skimming ) ) ...",
                "sentence2": "Product and geography are what make cream skimming work. ",
                "sentence2_binary_parse": "( ( ( Product and ) geography ) ...",
            },
            {
                "annotator_labels": ["entailment", "neutral", "contradiction"],
                "gold_label": "-",
                "sentence1": "A man.",
                "sentence2": "A woman.",
            },
            {
                "gold_label": "contradiction",
                "sentence1": "Il pleut.",
                "sentence2": "Il fait beau.",
                "language": "fr",
            },
        ]
    )
    + "\n"
)

GLUE_MNLI_TSV = (
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
    "0\t31193\t31193n\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\t"
    "Conceptually cream skimming.\tProduct and geography.\tneutral\tneutral\n"
    "1\t101457\t101457e\ttelephone\t( x )\t( y )\t(ROOT x)\t(ROOT y)\t"
    'you know "during" the season\tYou lose the things.\tentailment\tentailment\n'
)

SNLI_TXT = (
    "gold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
    "sentence2_parse\tsentence1\tsentence2\tcaptionID\tpairID\tlabel1\tlabel2\n"
    "neutral\t( x )\t( y )\t(ROOT)\t(ROOT)\tA person on a horse.\tA person is training.\t3416050480.jpg#4\t1n\tneutral\t\n"
    "-\t( x )\t( y )\t(ROOT)\t(ROOT)\tTwo women.\tTwo men.\t1.jpg#0\t2c\tneutral\tcontradiction\n"
    "contradiction\t( x )\t( y )\t(ROOT)\t(ROOT)\tA person on a horse.\tA person is at a diner.\t3416050480.jpg#4\t1c\tcontradiction\tcontradiction\n"
)

XNLI_MT_TSV = "premise\thypo\tlabel\nIl pleut.\tIl fait beau.\tcontradictory\nIl pleut.\tIl y a de l'eau.\tentailment\n"

PLAIN_TSV = "A dog runs.\tAn animal runs.\tentailment\r\nA dog runs.\tA cat runs.\tneutral\r\n\r\n"

THREE_SEGMENT_TSV = "Q: where?\tin the park\tOption: park\t0\nQ: who?\ta man\tOption: woman\t1\n"

INDEX_LABELS_JSONL = (
    '{"premise": "A b.", "hypothesis": "C d.", "label": 2}\n'
    '{"premise": "A b.", "hypothesis": "C d.", "label": -1}\n'
    '{"premise": "A b.", "hypothesis": "E f.", "label": 0}\n'
)

READER_CASES = [
    # name, content, format, examples, skipped, first (segments, label)
    (
        "mnli.jsonl",
        MNLI_JSONL,
        "jsonl",
        2,
        1,
        (
            (
                "Conceptually cream skimming has two basic dimensions - product and geography.",
                "Product and geography are what make cream skimming work. ",
            ),
            1,
        ),
    ),
    (
        "train.tsv",
        GLUE_MNLI_TSV,
        "header_tsv",
        2,
        0,
        (("Conceptually cream skimming.", "Product and geography."), 1),
    ),
    (
        "snli_1.0_dev.txt",
        "\ufeff" + SNLI_TXT,
        "header_tsv",
        2,
        1,
        (("A person on a horse.", "A person is training."), 1),
    ),
    ("multinli.train.fr.tsv", XNLI_MT_TSV, "header_tsv", 2, 0, (("Il pleut.", "Il fait beau."), 2)),
    ("pairs.tsv", PLAIN_TSV, "plain_tsv", 2, 0, (("A dog runs.", "An animal runs."), 0)),
    (
        "choice.tsv",
        THREE_SEGMENT_TSV,
        "plain_tsv",
        2,
        0,
        (("Q: where?", "in the park", "Option: park"), 0),
    ),
    ("hf.jsonl", INDEX_LABELS_JSONL, "jsonl", 2, 1, (("A b.", "C d."), 2)),
]


@pytest.mark.parametrize(
    "name,content,fmt,count,skipped,first", READER_CASES, ids=[c[0] for c in READER_CASES]
)
def test_reads_every_layout(tmp_path, name, content, fmt, count, skipped, first):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = data.read_nli(path)
    assert (result.format, len(result.examples), result.skipped) == (fmt, count, skipped)
    assert (result.examples[0].segments, result.examples[0].label) == first
    assert result.num_segments == len(first[0])


def test_custom_labels(tmp_path):
    path = tmp_path / "rte.tsv"
    path.write_text(
        "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment\n1\tA.\tA.\tentailment\n"
    )
    result = data.read_nli(path, labels=("entailment", "not_entailment"))
    assert [e.label for e in result.examples] == [1, 0]
    with pytest.raises(
        data.DataError, match=r"rte.tsv:2: label 'not_entailment' is not one of entailment, neutral"
    ):
        data.read_nli(path)


MALFORMED_CASES = [
    # name, content, expected message (regex, after "<path>:")
    (
        "bad.jsonl",
        '{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n{"sentence1": "a", \n',
        r":2: invalid JSON",
    ),
    (
        "missing.jsonl",
        '{"sentence1": "a", "gold_label": "neutral"}\n',
        r":1: missing field 'sentence2' or 'hypothesis' or 'hypo'",
    ),
    (
        "list.jsonl",
        '{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n["a", "b"]\n',
        r":2: expected a JSON object, found list",
    ),
    (
        "number.jsonl",
        '{"sentence1": 3, "sentence2": "b", "gold_label": "neutral"}\n',
        r":1: expected text, found int 3",
    ),
    (
        "label.tsv",
        "a\tb\tentailment\na\tb\tmaybe\n",
        r":2: label 'maybe' is not one of entailment, neutral, contradiction",
    ),
    ("index.tsv", "a\tb\t7\n", r":1: label '7' is not one of"),
    (
        "columns.tsv",
        "a\tb\tentailment\n\na\tneutral\n",
        r":3: expected 3 tab-separated columns as on the first row, found 2",
    ),
    (
        "two.tsv",
        "a\tentailment\n",
        r":1: expected premise<TAB>hypothesis<TAB>label \(at least 3 tab-separated columns\), found 2",
    ),
    (
        "header.tsv",
        "sentence1\tsentence2\tlabel\na\tb\tneutral\na\tb\n",
        r":3: expected 3 tab-separated columns as in the header, found 2",
    ),
    ("nolabel.tsv", "index\tsentence1\tsentence2\n0\ta\tb\n", r":1: header has no label column"),
    ("utf8.tsv", b"a\tb\tneutral\nd\xe9j\xe0\tb\tneutral\n", r":2: not valid UTF-8"),
    ("empty.tsv", "\n\n", r": no data rows"),
    ("nogold.tsv", "a\tb\t-\n", r": no labelled examples \(1 rows without a gold label\)"),
]


@pytest.mark.parametrize(
    "name,content,message", MALFORMED_CASES, ids=[c[0] for c in MALFORMED_CASES]
)
def test_malformed_rows_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(data.DataError) as error:
        data.read_nli(path)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(str(path))
    assert __import__("re").search(message, text), text


def test_missing_file(tmp_path):
    with pytest.raises(data.DataError, match=r"nope.tsv: no such file"):
        data.read_nli(tmp_path / "nope.tsv")


def test_synthetic_set_hides_the_label():
    """No hypothesis word, and no template family, predicts the label much better than chance."""
    examples = nli_synth.generate(900, seed=0)
    assert collections.Counter(label for _, _, label in examples) == {0: 300, 1: 300, 2: 300}
    by_word = collections.defaultdict(collections.Counter)
    for _, hypothesis, label in examples:
        for word in set(hypothesis.lower().strip(".").replace(",", "").split()):
            by_word[word][label] += 1
    purity = {
        w: max(c.values()) / sum(c.values()) for w, c in by_word.items() if sum(c.values()) >= 30
    }
    assert "not" in purity and "some" in purity and "animal" in purity
    assert max(purity.values()) < 0.6, sorted(purity.items(), key=lambda kv: -kv[1])[:3]
    # Every label uses negation, quantifiers and hypernyms somewhere.
    for marker in ("not", "some", "all"):
        labels = {
            label
            for premise, hypothesis, label in examples
            if marker in f"{premise} {hypothesis}".lower().split()
        }
        assert labels == {0, 1, 2}, marker


@pytest.mark.parametrize(("pipelines", "replicas", "start_step"), [(2, 2, 0), (2, 4, 1), (3, 3, 2)])
def test_training_steps_hold_the_same_examples_on_any_number_of_workers(
    pipelines, replicas, start_step
):
    """Step k's examples, over all input pipelines, are the one-process run's step k."""
    import tensorflow as tf

    from bert_tf.finetune import pipeline

    examples = [data.NliExample((f"p{i}", f"h{i}"), i % 3) for i in range(100)]
    global_batch = 12

    def steps(context):
        fn = pipeline.train_dataset_fn(
            examples,
            lambda x: x,
            ("premise", "hypothesis"),
            global_batch,
            seed=4,
            epoch=1,
            start_step=start_step,
        )
        return [[s.decode() for s in x["premise"].numpy()] for x, _ in fn(context)]

    one = steps(tf.distribute.InputContext(1, 0, 1))
    assert len(one) == 100 // global_batch - start_step
    shares = [steps(tf.distribute.InputContext(pipelines, i, replicas)) for i in range(pipelines)]
    per_pipeline = replicas // pipelines
    for step, expected in enumerate(one):
        found = [
            text
            for share in shares
            for batch in share[step * per_pipeline : (step + 1) * per_pipeline]
            for text in batch
        ]
        assert sorted(found) == sorted(expected), step
    assert all(len(share) == len(one) * per_pipeline for share in shares)
