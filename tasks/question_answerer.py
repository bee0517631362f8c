"""`question_answerer/`: an extractive QA (SQuAD) head as a SavedModel that serves raw text.

Written by `bert-tf-export` next to `encoder/` and `preprocess/` when the
checkpoint holds a question-answering head (`BertForQuestionAnswering`, or a
google-research `run_squad.py` checkpoint):

```
OUT/question_answerer/
  saved_model.pb, variables/, assets/vocab.txt
  serving_default(question: string [batch], context: string [batch])
      -> answer: string [batch]    the context from the span's first to last wordpiece
         start, end: int64 [batch] byte offsets of `answer` in `context`
         score: float32 [batch]    p(start) * p(end) in the span's window
         num_windows: int32 [batch]
  windows(inputs) (a function, not a signature): the windows the encoder
      runs (`input_word_ids`, ... [windows, seq_length]), each one's
      `window_row` (its example), `window_first` and `window_length` (its
      context pieces) and their `start_logits`, `end_logits` [windows, seq_length]
```

Windows and spans are google's `run_squad.py` (`docs/tasks.md`): the question
is cut to `max_query_length` wordpieces; the context's wordpieces are split
into windows of `seq_length - question - 3` pieces that start `doc_stride`
pieces apart, each packed as `[CLS] question [SEP] context piece [SEP]`. The
answer is the span with the highest `start_logit + end_logit` over all the
windows of its example: start and end on context pieces, `start <= end`, at
most `max_answer_length` pieces, and the start in the window where it has the
most context on both sides. `score` is the transformers pipeline's: the
product of the start and end softmax probabilities over the window's context
pieces and `[CLS]`. An empty context has no answer: `""`, offsets -1, score 0.

Examples:

    import tensorflow as tf, tensorflow_text  # noqa: F401
    qa = tf.saved_model.load("OUT/question_answerer").signatures["serving_default"]
    qa(question=tf.constant(["Where is the Eiffel Tower?"]),
       context=tf.constant(["The Eiffel Tower stands in Paris."]))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import tensorflow as tf
import tf_keras

from bert_tf import interface
from bert_tf.tasks.task_module import TaskModule, char_offset

OUTPUTS = ("answer", "start", "end", "score", "num_windows")

# The span-selection sums are float64, as run_squad.py adds the logits in Python.
# Not a span: the lowest float64 (segment maxima start there, so -inf never wins).
_NO_SPAN = tf.float64.min

_LONG_CONTEXT = " ".join(
    f"Paragraph {i}: the river flows past the old mill, and the miller's daughter "
    f"counts {i * 7} sacks of flour before the bells ring at noon."
    for i in range(24)
)
PROBE = (
    ("Who counts the sacks?", _LONG_CONTEXT),
    ("Where is the Eiffel Tower?", "The Eiffel Tower stands in Paris, France."),
    ("What is this?", ""),
    ("東京はどこ？", "Crème brûlée 🙂 東京は日本の首都です。"),
)


@dataclasses.dataclass(frozen=True)
class Windows:
    """How contexts are windowed and spans bounded; defaults as google's `run_squad.py`.

    Attributes:
        seq_length: wordpieces per window, `[CLS]` and `[SEP]`s included.
        doc_stride: context pieces from one window's start to the next's.
        max_query_length: the question's wordpieces kept.
        max_answer_length: the longest answer, in wordpieces.
    """

    seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 15

    def check(self, max_position_embeddings: int) -> None:
        """Raises ValueError (naming the flag) for settings no window fits."""
        for name in ("seq_length", "doc_stride", "max_query_length", "max_answer_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"--qa_{name}: expected an int >= 1, found {value!r}")
        if self.seq_length > max_position_embeddings:
            raise ValueError(
                f"--qa_seq_length: expected at most the config's max_position_embeddings "
                f"{max_position_embeddings}, found {self.seq_length}"
            )
        if self.max_query_length + 3 >= self.seq_length:
            raise ValueError(
                f"--qa_max_query_length: expected less than --qa_seq_length - 3 = "
                f"{self.seq_length - 3}, found {self.max_query_length}"
            )


class QuestionAnswererModule(TaskModule):
    """Questions and contexts -> `answer`, `start`, `end`, `score`, for `tf.saved_model.save`.

    Args:
        preprocessor: the export's preprocessing module
            (`bert_tf.preprocess.build_preprocess_model`).
        task_model: encoder inputs `[windows, seq]` -> `{"logits": [windows,
            seq, 2]}` (start, end; `bert_tf.tasks.heads.build_task_model`).
        windows: the window and span settings.
    """

    def __init__(
        self, preprocessor: tf.Module, task_model: tf_keras.Model, windows: Windows = Windows()
    ):
        super().__init__(
            interface.QUESTION_ANSWERER_DIR,
            preprocessor,
            task_model,
            ("start", "end"),
            windows.seq_length,
        )
        self.settings = windows
        spec = [
            {
                "question": tf.TensorSpec([None], tf.string, name="question"),
                "context": tf.TensorSpec([None], tf.string, name="context"),
            }
        ]
        # One dict argument: the signature takes named tensors (TF Serving) and
        # the attribute one dict (Keras 3's `TFSMLayer(call_endpoint="serving_default")`).
        self.serving_default = tf.function(self._answer, input_signature=spec)
        self.windows = tf.function(self._window_logits, input_signature=spec)

    def _window_logits(self, inputs):
        """The windows' encoder inputs, place in their context, and logits."""
        packed, _ = self._windows(inputs)
        logits = self.logits({key: packed[key] for key in interface.ENCODER_INPUTS})
        return {**packed, "start_logits": logits[..., 0], "end_logits": logits[..., 1]}

    def _windows(self, inputs):
        """Packed windows (`[windows, seq_length]`) and where each sits in its context."""
        settings = self.settings
        question = self.preprocessor.tokenize(inputs["question"]).merge_dims(1, 2)
        question = question.with_row_splits_dtype(tf.int64)[:, : settings.max_query_length]
        ids, starts, limits = self.preprocessor.tokenize_with_offsets(inputs["context"])
        doc = ids.merge_dims(1, 2).with_row_splits_dtype(tf.int64)
        doc_pieces = doc.row_lengths()
        room = tf.cast(settings.seq_length - 3, tf.int64) - question.row_lengths()
        step = tf.minimum(room, settings.doc_stride)
        # run_squad.py: windows start `step` apart until one reaches the end.
        count = tf.where(
            doc_pieces <= room, tf.ones_like(room), (doc_pieces - room + step - 1) // step + 1
        )
        row = tf.repeat(tf.range(tf.size(count, out_type=tf.int64)), count)
        first = tf.ragged.range(count).flat_values * tf.gather(step, row)
        length = tf.minimum(tf.gather(doc_pieces, row) - first, tf.gather(room, row))
        flat_first = tf.gather(doc.row_splits[:-1], row) + first
        pieces = tf.ragged.range(flat_first, flat_first + length)
        packed = self.preprocessor.bert_pack_inputs(
            [tf.gather(question, row), tf.gather(doc.flat_values, pieces)],
            seq_length=settings.seq_length,
        )
        where = {
            "row": row,
            "first": first,
            "length": length,
            # A window's context pieces start after [CLS] question [SEP].
            "offset": tf.gather(question.row_lengths(), row) + 2,
            "pieces": pieces,
        }
        offsets = {
            "starts": starts.merge_dims(1, 2).flat_values,
            "limits": limits.merge_dims(1, 2).flat_values,
        }
        return {**packed, "window_row": row, "window_first": first, "window_length": length}, (
            where,
            offsets,
            tf.size(doc.flat_values, out_type=tf.int64),
        )

    def _max_context(self, where, num_pieces):
        """bool `[windows, seq]`: the piece there has its most context in this window.

        run_squad.py's `_check_is_max_context`: a piece's score in a window is
        min(pieces left, pieces right) + 0.01 * the window's length; the first
        window with the highest score wins.
        """
        pieces = where["pieces"]
        window = pieces.value_rowids()
        position = tf.range(tf.size(window, out_type=tf.int64)) - tf.gather(
            pieces.row_splits, window
        )
        length = tf.gather(where["length"], window)
        score = tf.cast(tf.minimum(position, length - 1 - position), tf.float64) + 0.01 * tf.cast(
            length, tf.float64
        )
        piece = pieces.flat_values
        best = tf.math.unsorted_segment_max(score, piece, num_pieces)
        first_best = tf.math.unsorted_segment_min(
            tf.where(tf.equal(score, tf.gather(best, piece)), window, tf.int64.max),
            piece,
            num_pieces,
        )
        is_max = tf.equal(window, tf.gather(first_best, piece))
        at = tf.stack([window, tf.gather(where["offset"], window) + position], axis=1)
        shape = tf.stack([tf.size(where["row"], out_type=tf.int64), self.settings.seq_length])
        return tf.scatter_nd(at, tf.cast(is_max, tf.int32), shape) > 0

    def _answer(self, inputs):
        packed, (where, offsets, num_pieces) = self._windows(inputs)
        encoder_inputs = {key: packed[key] for key in interface.ENCODER_INPUTS}
        logits = self.logits(encoder_inputs)
        start_logits, end_logits = logits[..., 0], logits[..., 1]
        seq_length, max_answer = self.settings.seq_length, self.settings.max_answer_length
        position = tf.range(seq_length, dtype=tf.int64)[tf.newaxis]
        in_context = (position >= where["offset"][:, tf.newaxis]) & (
            position < (where["offset"] + where["length"])[:, tf.newaxis]
        )
        can_start = in_context & self._max_context(where, num_pieces)
        # [windows, seq, max_answer]: the span from `position` to `position + k`.
        ends = tf.signal.frame(
            tf.pad(tf.cast(end_logits, tf.float64), [[0, 0], [0, max_answer - 1]]), max_answer, 1
        )
        can_end = (
            tf.signal.frame(
                tf.pad(tf.cast(in_context, tf.int32), [[0, 0], [0, max_answer - 1]]), max_answer, 1
            )
            > 0
        )
        sums = tf.cast(start_logits, tf.float64)[..., tf.newaxis] + ends
        sums = tf.where(can_start[..., tf.newaxis] & can_end, sums, _NO_SPAN)
        flat = tf.reshape(sums, [tf.shape(sums)[0], -1])
        window_best = tf.reduce_max(flat, axis=1)
        window_span = tf.argmax(flat, axis=1)
        # The example's first window with its best span.
        batch_size = tf.size(inputs["context"], out_type=tf.int64)
        best = tf.math.unsorted_segment_max(window_best, where["row"], batch_size)
        window_index = tf.range(tf.size(where["row"], out_type=tf.int64))
        chosen = tf.math.unsorted_segment_min(
            tf.where(
                tf.equal(window_best, tf.gather(best, where["row"])), window_index, tf.int64.max
            ),
            where["row"],
            batch_size,
        )
        span = tf.gather(window_span, chosen)
        start = span // max_answer
        end = start + span % max_answer
        has_answer = tf.gather(window_best, chosen) > _NO_SPAN
        # The pipeline's score: softmax over the window's context pieces and [CLS].
        scored = in_context | tf.equal(position, 0)
        p_start = tf.nn.softmax(tf.where(scored, start_logits, float("-inf")))
        p_end = tf.nn.softmax(tf.where(scored, end_logits, float("-inf")))
        score = tf.gather_nd(p_start, tf.stack([chosen, start], 1)) * tf.gather_nd(
            p_end, tf.stack([chosen, end], 1)
        )
        # Window positions -> the context's flat pieces -> byte offsets; with no
        # answer, the index one past the pieces picks the -1 padding.
        pieces = tf.concat([where["pieces"].flat_values, [num_pieces]], 0)
        at = tf.gather(where["pieces"].row_splits, chosen) - tf.gather(where["offset"], chosen)
        none = tf.size(pieces, out_type=tf.int64) - 1
        first_piece = tf.gather(pieces, tf.where(has_answer, at + start, none))
        last_piece = tf.gather(pieces, tf.where(has_answer, at + end, none))
        byte_start = tf.gather(tf.concat([offsets["starts"], [-1]], 0), first_piece)
        byte_end = tf.gather(tf.concat([offsets["limits"], [-1]], 0), last_piece)
        answer = tf.strings.substr(
            inputs["context"], tf.maximum(byte_start, 0), tf.maximum(byte_end - byte_start, 0)
        )
        return {
            "answer": tf.where(has_answer, answer, ""),
            "start": byte_start,
            "end": byte_end,
            "score": tf.where(has_answer, score, 0.0),
            "num_windows": tf.math.unsorted_segment_sum(
                tf.ones_like(where["row"], tf.int32), where["row"], batch_size
            ),
        }

    def signatures(self) -> dict:
        return {interface.SERVING_SIGNATURE: self.serving_default.get_concrete_function()}

    def probe(self) -> dict:
        return {
            interface.SERVING_SIGNATURE: {
                "question": tf.constant([q for q, _ in PROBE]),
                "context": tf.constant([c for _, c in PROBE]),
            }
        }


def answer(
    questions: Sequence[str],
    contexts: Sequence[str],
    export_dir: os.PathLike | str,
    *,
    batch_size: int = 16,
) -> list[dict]:
    """Answers questions from their contexts with an export's `question_answerer/`.

    Args:
        questions: the questions.
        contexts: one context per question, any length (longer ones are
            read in overlapping windows).
        export_dir: an export folder with `question_answerer/`.
        batch_size: questions per call of the SavedModel.

    Returns:
        One dict per question, the fields of the transformers
        `question-answering` pipeline: `answer` (str, a slice of the context),
        `score` (float), `start` and `end` (Python character offsets:
        `context[start:end] == answer`). A context with no wordpiece (only
        spaces) has the answer `""` at 0.

    Raises:
        ExportDirError: `export_dir` has no `question_answerer/`.
        ValueError: `contexts` is not as long as `questions`, or a question or
            context is empty.

    Examples:

        answer(["Where is the Eiffel Tower?"], ["The Eiffel Tower stands in Paris."],
               "exports/squad")
        # [{'answer': 'Paris', 'score': 0.97, 'start': 27, 'end': 32}]
    """
    import tensorflow_text  # noqa: F401  (registers the ops preprocessing uses)

    if len(contexts) != len(questions):
        raise ValueError(
            f"contexts: expected {len(questions)} (one per question), found {len(contexts)}"
        )
    for what, texts in (("questions", questions), ("contexts", contexts)):
        empty = [i for i, text in enumerate(texts) if not text]
        if empty:
            raise ValueError(f"{what}: entry {empty[0]} is empty")
    layout = interface.check_export_dir(export_dir, (interface.QUESTION_ANSWERER_DIR,))
    path = os.fspath(layout.part(interface.QUESTION_ANSWERER_DIR))
    serve = tf.saved_model.load(path).signatures[interface.SERVING_SIGNATURE]
    results = []
    for begin in range(0, len(questions), batch_size):
        batch = slice(begin, begin + batch_size)
        out = serve(
            question=tf.constant(list(questions[batch]), tf.string),
            context=tf.constant(list(contexts[batch]), tf.string),
        )
        out = {key: value.numpy() for key, value in out.items()}
        for i, context in enumerate(contexts[batch]):
            data = context.encode("utf-8")
            start, end = (max(0, int(out[k][i])) for k in ("start", "end"))
            results.append(
                {
                    "answer": out["answer"][i].decode("utf-8"),
                    "score": float(out["score"][i]),
                    "start": char_offset(data, start),
                    "end": char_offset(data, end),
                }
            )
    return results
