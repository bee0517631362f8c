"""`token_classifier/`: a token-classification (NER) head as a SavedModel that serves raw text.

Written by `bert-tf-export` next to `encoder/` and `preprocess/` when the
checkpoint holds a token-classification head (`bert_tf.tasks.heads`):

```
OUT/token_classifier/
  saved_model.pb, variables/, assets/vocab.txt
  serving_default(text: string [batch])
      -> logits: float32 [batch, seq, labels]   ([CLS] at 0, then the pieces; seq:
                                                the batch's longest, at most seq_length)
         entity_group: string [batch, entities]        ("" past num_entities)
         score: float32 [batch, entities]
         start, end: int64 [batch, entities]           byte offsets into `text` (-1 past)
         word: string [batch, entities]                the entity's wordpieces, joined
         num_entities: int32 [batch]
         truncated: bool [batch]                       the text had more wordpieces
                                                       than seq_length - 2
```

Entities (`docs/tasks.md`): every word (as the export's tokenizer splits
words) takes the label and score of its first wordpiece (softmax over the
labels); consecutive words join into one entity while their tag stays the same
and the next word's label does not begin a new one (`B-`); entities labelled
`O` are dropped. This is the transformers `token-classification` pipeline
with `aggregation_strategy="first"`; `entity_group` is the label without its
`B-` / `I-` prefix, `score` the mean of the words' scores, `start`/`end` span
the entity's first to last kept wordpiece.

Examples:

    import tensorflow as tf, tensorflow_text  # noqa: F401
    tag = tf.saved_model.load("OUT/token_classifier")
    tag.signatures["serving_default"](text=tf.constant(["Angela Merkel visited Paris."]))
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf
import tf_keras
from absl import logging

from bert_tf import interface
from bert_tf.tasks.task_module import STRINGS, TaskModule, char_offset

OUTPUTS = (
    "logits",
    "entity_group",
    "score",
    "start",
    "end",
    "word",
    "num_entities",
    "truncated",
)

UNK = "[UNK]"

# The label dropped from the entities, as the transformers pipeline's `ignore_labels`.
IGNORED_GROUP = "O"

PROBE = (
    "Angela Merkel visited Paris with Barack Obama.",
    "",
    "Zoë Saldaña lives in São Paulo 🙂",
    "東京は日本の首都です。 New York, N.Y.",
)


def split_label(label: str) -> tuple[bool, str, str]:
    """`(begins, tag, group)` of a label, as the transformers pipeline reads it.

    `B-PER` -> `(True, "PER", "PER")`, `I-PER` -> `(False, "PER", "PER")`, any
    other label is its own tag that never begins an entity (`O` ->
    `(False, "O", "O")`); the group is the label after its first `-`.
    """
    if label.startswith(("B-", "I-")):
        return label.startswith("B-"), label[2:], label.split("-", 1)[-1]
    return False, label, label.split("-", 1)[-1]


def _spaced(words: tf.Tensor, first: tf.Tensor) -> tf.Tensor:
    """Words with the space that joins them to the previous one of their entity.

    As the WordPiece decoder's clean-up (transformers `convert_tokens_to_string`):
    no space before `.`, `?`, `!` or `,`, and none before an entity's first word.
    """
    attached = first | tf.strings.regex_full_match(words, r"[.?!,].*")
    return tf.where(attached, words, tf.strings.join([" ", words]))


class TokenClassifierModule(TaskModule):
    """Strings -> logits and entity spans, for `tf.saved_model.save`.

    Args:
        preprocessor: the export's preprocessing module
            (`bert_tf.preprocess.build_preprocess_model`).
        task_model: encoder inputs -> `{"logits": [batch, seq, labels]}`
            (`bert_tf.tasks.heads.build_task_model`).
        labels: label names in logit order.
        seq_length: the packed length.
        vocab: the wordpiece strings in id order (for `word`).
    """

    def __init__(
        self,
        preprocessor: tf.Module,
        task_model: tf_keras.Model,
        labels: Sequence[str],
        seq_length: int,
        vocab: Sequence[str],
    ):
        super().__init__(
            interface.TOKEN_CLASSIFIER_DIR, preprocessor, task_model, labels, seq_length
        )
        parts = [split_label(label) for label in self.labels]
        tags = sorted({tag for _, tag, _ in parts})
        groups = [group for _, _, group in parts]
        self.label_begins = tf.constant([begins for begins, _, _ in parts])
        self.label_tag = tf.constant([tags.index(tag) for _, tag, _ in parts], tf.int32)
        self.label_group = tf.constant(groups)
        self.vocab = tf.constant(list(vocab))
        self.unk_id = tf.constant(list(vocab).index(UNK) if UNK in vocab else -1, tf.int32)
        self.serve = tf.function(self._tag, input_signature=[STRINGS])

    def _tag(self, text):
        ids, starts, limits = self.preprocessor.tokenize_with_offsets(text)
        packed = self.pack([ids])
        logits = self.logits(packed)
        words = self._words(text, ids, starts, limits, tf.nn.softmax(logits))
        entities = self._entities(words, tf.shape(text, out_type=tf.int64)[0])
        budget = tf.cast(self.seq_length - 2, tf.int64)
        return {
            "logits": logits,
            **entities,
            "truncated": ids.merge_dims(1, 2).row_lengths() > budget,
        }

    def _words(self, text, ids, starts, limits, probabilities):
        """Per kept word (flat over the batch): row, label, score, offsets, string."""
        piece_splits = ids.values.row_splits  # words -> flat pieces
        word_row = ids.value_rowids()
        first_piece = piece_splits[:-1]
        row_first_piece = tf.gather(piece_splits, ids.row_splits[:-1])
        # Position of the word's first piece among its text's pieces; the
        # packer keeps the first seq_length - 2 of them.
        first = first_piece - tf.gather(row_first_piece, word_row)
        budget = tf.cast(self.seq_length - 2, tf.int64)
        kept_pieces = tf.minimum(piece_splits[1:] - first_piece, budget - first)
        kept = kept_pieces > 0
        piece_index = tf.range(tf.size(ids.flat_values, out_type=tf.int64))
        piece_word = ids.values.value_rowids()
        piece_kept = piece_index - tf.gather(first_piece, piece_word) < tf.gather(
            kept_pieces, piece_word
        )
        pieces = tf.strings.regex_replace(tf.gather(self.vocab, ids.flat_values), "^##", "")
        # An unknown word reads as its own text, as the transformers pipeline shows it.
        piece_start = starts.flat_values
        original = tf.strings.substr(
            tf.gather(text, tf.gather(word_row, piece_word)),
            piece_start,
            limits.flat_values - piece_start,
        )
        pieces = tf.where(tf.equal(ids.flat_values, self.unk_id), original, pieces)
        pieces = tf.where(piece_kept, pieces, "")
        strings = tf.strings.reduce_join(
            tf.RaggedTensor.from_row_splits(pieces, piece_splits), axis=1
        )
        # [CLS] is at 0: the word's first piece is at `first + 1`.
        first_scores = tf.gather_nd(
            probabilities,
            tf.stack([word_row, tf.minimum(first, budget - 1) + 1], axis=1),
        )
        last_piece = first_piece + tf.maximum(kept_pieces, 1) - 1
        words = {
            "row": word_row,
            "label": tf.argmax(first_scores, axis=-1, output_type=tf.int32),
            "score": tf.reduce_max(first_scores, axis=-1),
            "start": tf.gather(starts.flat_values, first_piece),
            "end": tf.gather(limits.flat_values, last_piece),
            "word": strings,
        }
        return {key: tf.boolean_mask(value, kept) for key, value in words.items()}

    def _entities(self, words, batch_size):
        """Groups consecutive words into entities, drops `O`, pads per text."""
        row, label = words["row"], words["label"]
        tag = tf.gather(self.label_tag, label)
        shifted = lambda x, fill: tf.concat([[fill], x[:-1]], axis=0)  # noqa: E731
        begins = (
            tf.not_equal(row, shifted(row, tf.constant(-1, tf.int64)))
            | tf.gather(self.label_begins, label)
            | tf.not_equal(tag, shifted(tag, -1))
        )
        group = tf.cumsum(tf.cast(begins, tf.int64)) - 1
        count = tf.reduce_sum(tf.cast(begins, tf.int64))
        entities = {
            "entity_group": tf.gather(self.label_group, tf.boolean_mask(label, begins)),
            "score": tf.math.unsorted_segment_mean(words["score"], group, count),
            "start": tf.math.unsorted_segment_min(words["start"], group, count),
            "end": tf.math.unsorted_segment_max(words["end"], group, count),
            "word": tf.strings.reduce_join(
                tf.RaggedTensor.from_value_rowids(
                    _spaced(words["word"], begins), group, nrows=count
                ),
                axis=1,
            ),
        }
        keep = tf.not_equal(entities["entity_group"], IGNORED_GROUP)
        entity_row = tf.boolean_mask(tf.boolean_mask(row, begins), keep)
        padding = {"entity_group": "", "score": 0.0, "start": -1, "end": -1, "word": ""}
        out = {}
        for key, value in entities.items():
            ragged = tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(value, keep), entity_row, nrows=batch_size
            )
            out[key] = ragged.to_tensor(default_value=padding[key])
        out["num_entities"] = tf.cast(ragged.row_lengths(), tf.int32)
        return out

    def signatures(self) -> dict:
        return {interface.SERVING_SIGNATURE: self.serve.get_concrete_function()}

    def probe(self) -> dict:
        return {interface.SERVING_SIGNATURE: {"text": tf.constant(list(PROBE))}}


def tag_entities(
    texts: Sequence[str], export_dir: os.PathLike | str, *, batch_size: int = 32
) -> list[list[dict]]:
    """Named entities of texts with an export's `token_classifier/`.

    Args:
        texts: the texts.
        export_dir: an export folder with `token_classifier/`.
        batch_size: texts per call of the SavedModel.

    Returns:
        Per text, its entities in order: dicts with `entity_group` (str),
        `score` (float), `word` (str), `start` and `end` (Python character
        offsets into the text), the fields and values of the transformers
        `token-classification` pipeline with `aggregation_strategy="first"`.
        A text with more wordpieces than the export's sequence length is
        tagged on its first ones (logged as a warning).

    Raises:
        ExportDirError: `export_dir` has no `token_classifier/`.

    Examples:

        tag_entities(["Angela Merkel visited Paris."], "exports/ner")
        # [[{'entity_group': 'PER', 'score': 0.99, 'word': 'angela merkel',
        #    'start': 0, 'end': 13}, {'entity_group': 'LOC', ...}]]
    """
    import tensorflow_text  # noqa: F401  (registers the ops preprocessing uses)

    layout = interface.check_export_dir(export_dir, (interface.TOKEN_CLASSIFIER_DIR,))
    path = os.fspath(layout.part(interface.TOKEN_CLASSIFIER_DIR))
    serve = tf.saved_model.load(path).signatures[interface.SERVING_SIGNATURE]
    results, truncated = [], 0
    for begin in range(0, len(texts), batch_size):
        batch = list(texts[begin : begin + batch_size])
        out = {k: v.numpy() for k, v in serve(text=tf.constant(batch, tf.string)).items()}
        truncated += int(out["truncated"].sum())
        for i, text in enumerate(batch):
            data = text.encode("utf-8")
            results.append(
                [
                    {
                        "entity_group": out["entity_group"][i, j].decode("utf-8"),
                        "score": float(out["score"][i, j]),
                        "word": out["word"][i, j].decode("utf-8"),
                        "start": char_offset(data, int(out["start"][i, j])),
                        "end": char_offset(data, int(out["end"][i, j])),
                    }
                    for j in range(int(out["num_entities"][i]))
                ]
            )
    if truncated:
        logging.warning(
            "%d of %d texts were longer than the export's sequence length: tagged on "
            "their first wordpieces.",
            truncated,
            len(texts),
        )
    return results
