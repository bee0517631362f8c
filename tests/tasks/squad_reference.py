"""google-research `run_squad.py` (PyPI `bert-tensorflow`) as the QA tests' reference.

The module cannot be imported under TF 2 (`bert.modeling` needs
`tensorflow.contrib`, and importing it defines its command-line flags), so its
data-processing and prediction code, which needs neither, is taken from its
source unchanged: `read_squad_examples` (the SQuAD JSON -> whitespace tokens),
`convert_examples_to_features` (the windows), `write_predictions` (the span
rule and `get_final_text`) and the helpers they call, run with
`tensorflow.compat.v1` for their `tf.gfile` / `tf.logging`.
"""

from __future__ import annotations

import ast
import collections
import json
import math
import pathlib
import types

import bert
import six
import tensorflow.compat.v1 as tf1
from absl import flags as absl_flags
from bert import tokenization

if not absl_flags.FLAGS.is_parsed():
    # tokenization.py reads --preserve_unused_tokens (default False).
    absl_flags.FLAGS.mark_as_parsed()

_SOURCE = pathlib.Path(bert.__file__).parent / "run_squad.py"
_NAMES = {
    "SquadExample",
    "InputFeatures",
    "read_squad_examples",
    "convert_examples_to_features",
    "_improve_answer_span",
    "_check_is_max_context",
    "RawResult",
    "write_predictions",
    "get_final_text",
    "_get_best_indexes",
    "_compute_softmax",
}


def _load():
    tree = ast.parse(_SOURCE.read_text(encoding="utf-8"))

    def name(node):
        if isinstance(node, ast.Assign):
            return node.targets[0].id if isinstance(node.targets[0], ast.Name) else None
        return getattr(node, "name", None)

    tree.body = [node for node in tree.body if name(node) in _NAMES]
    missing = _NAMES - {name(node) for node in tree.body}
    assert not missing, f"run_squad.py no longer defines {missing}"
    # SQuAD v1.1: no null answer; quiet.
    flags = types.SimpleNamespace(
        version_2_with_negative=False, verbose_logging=False, null_score_diff_threshold=0.0
    )
    namespace = dict(
        collections=collections,
        json=json,
        math=math,
        six=six,
        tf=tf1,
        tokenization=tokenization,
        FLAGS=flags,
    )
    exec(compile(tree, str(_SOURCE), "exec"), namespace)  # noqa: S102 (the installed reference)
    return types.SimpleNamespace(**{k: namespace[k] for k in _NAMES})


run_squad = _load()


def full_tokenizer(vocab: list[str], do_lower_case: bool):
    """`tokenization.FullTokenizer` over `vocab` (its own loader needs TF 1's `tf.gfile`)."""
    tokenizer = tokenization.FullTokenizer.__new__(tokenization.FullTokenizer)
    tokenizer.vocab = collections.OrderedDict((token, i) for i, token in enumerate(vocab))
    tokenizer.inv_vocab = dict(enumerate(vocab))
    tokenizer.basic_tokenizer = tokenization.BasicTokenizer(
        do_lower_case=do_lower_case, vocab=tokenizer.vocab
    )
    tokenizer.wordpiece_tokenizer = tokenization.WordpieceTokenizer(vocab=tokenizer.vocab)
    return tokenizer


def squad_predictions(
    folder: pathlib.Path,
    questions,
    contexts,
    vocab,
    do_lower_case,
    window_logits,
    *,
    seq_length=384,
    doc_stride=128,
    max_query_length=64,
    max_answer_length=15,
):
    """run_squad.py's windows and answers for `questions` / `contexts`.

    Args:
        folder: a scratch folder (the SQuAD JSON and the prediction files).
        window_logits: `features -> (start_logits, end_logits)` `[windows,
            seq]`, the model's logits for run_squad's own windows (a dict of
            `input_ids`, `input_mask`, `segment_ids` lists).

    Returns:
        (features: the windows as dicts of lists, in order;
        predictions: the answer text per example;
        best: per example, run_squad's best n-best entry (`text`,
        `start_logit`, `end_logit`)).
    """
    data = {
        "data": [
            {
                "paragraphs": [
                    {"context": context, "qas": [{"id": str(i), "question": question}]}
                    for i, (question, context) in enumerate(zip(questions, contexts))
                ]
            }
        ]
    }
    squad = folder / "squad.json"
    squad.write_text(json.dumps(data), encoding="utf-8")
    examples = run_squad.read_squad_examples(str(squad), is_training=False)
    features = []
    run_squad.convert_examples_to_features(
        examples,
        full_tokenizer(vocab, do_lower_case),
        seq_length,
        doc_stride,
        max_query_length,
        is_training=False,
        output_fn=features.append,
    )
    feeds = {
        key: [getattr(f, key) for f in features]
        for key in ("input_ids", "input_mask", "segment_ids")
    }
    start_logits, end_logits = window_logits(feeds)
    results = [
        run_squad.RawResult(
            unique_id=f.unique_id,
            start_logits=[float(x) for x in start],
            end_logits=[float(x) for x in end],
        )
        for f, start, end in zip(features, start_logits, end_logits)
    ]
    predictions, nbest = folder / "predictions.json", folder / "nbest.json"
    # n_best_size = seq_length: every start and end is a candidate, the
    # exhaustive search the rule stands for (20 keeps only the top logits).
    run_squad.write_predictions(
        examples,
        features,
        results,
        seq_length,
        max_answer_length,
        do_lower_case,
        str(predictions),
        str(nbest),
        str(folder / "null_odds.json"),
    )
    texts = json.loads(predictions.read_text(encoding="utf-8"))
    best = json.loads(nbest.read_text(encoding="utf-8"))
    return (
        feeds,
        [texts[str(i)] for i in range(len(questions))],
        [best[str(i)][0] for i in range(len(questions))],
    )
