"""`multiple_choice/`: a multiple-choice head (SWAG-style) as a SavedModel that serves raw text.

Written by `bert-tf-export` next to `encoder/` and `preprocess/` when the
checkpoint holds a multiple-choice head (`BertForMultipleChoice`):

```
OUT/multiple_choice/
  saved_model.pb, variables/, assets/vocab.txt
  serving_default(prompt: string [batch], choices: string [batch, choices])
      -> logits: float32 [batch, choices], probabilities: float32 [batch, choices],
         label: int64 [batch]   (the index of the best choice)
```

Each choice is packed with its prompt as `[CLS] prompt [SEP] choice [SEP]`
(trimmed round-robin to `seq_length`, as the export's `preprocess/` packs
pairs) and scored by the head; the scores of one prompt's choices are its
logits. The number of choices is the same for every prompt of a call (a
dense tensor), any number per call.

Examples:

    import tensorflow as tf, tensorflow_text  # noqa: F401
    choose = tf.saved_model.load("OUT/multiple_choice").signatures["serving_default"]
    choose(prompt=tf.constant(["She opened the umbrella because"]),
           choices=tf.constant([["it was raining.", "she was hungry."]]))
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf
import tf_keras

from bert_tf import interface
from bert_tf.tasks.task_module import TaskModule

OUTPUTS = ("logits", "probabilities", "label")

PROBE = (
    ("She opened the umbrella because", ("it was raining.", "she was hungry.", "")),
    ("Crème brûlée in 東京", ("is a dessert 🙂", "is a city", "is a river")),
)


class MultipleChoiceModule(TaskModule):
    """Prompts and their choices -> `logits`, `probabilities`, `label`.

    Args:
        preprocessor: the export's preprocessing module
            (`bert_tf.preprocess.build_preprocess_model`).
        task_model: encoder inputs `[batch * choices, seq]` -> `{"logits":
            [batch * choices, 1]}` (`bert_tf.tasks.heads.build_task_model`).
        seq_length: the packed length.
    """

    def __init__(self, preprocessor: tf.Module, task_model: tf_keras.Model, seq_length: int):
        # The head scores one choice: no label names; `label` is a choice's index.
        super().__init__(interface.MULTIPLE_CHOICE_DIR, preprocessor, task_model, (), seq_length)
        # One dict argument: the signature takes named tensors (TF Serving) and
        # the attribute one dict (Keras 3's `TFSMLayer(call_endpoint="serving_default")`).
        self.serving_default = tf.function(
            self._choose,
            input_signature=[
                {
                    "prompt": tf.TensorSpec([None], tf.string, name="prompt"),
                    "choices": tf.TensorSpec([None, None], tf.string, name="choices"),
                }
            ],
        )

    def _choose(self, inputs):
        prompt, choices = inputs["prompt"], inputs["choices"]
        shape = tf.shape(choices)
        # Each prompt is tokenized once and its rows repeated, one per choice.
        rows = tf.repeat(tf.range(shape[0]), shape[1])
        segments = [
            tf.gather(self.preprocessor.tokenize(prompt), rows),
            self.preprocessor.tokenize(tf.reshape(choices, [-1])),
        ]
        packed = self.pack(segments)
        logits = tf.reshape(self.logits(packed), shape)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits),
            "label": tf.argmax(logits, axis=-1),
        }

    def signatures(self) -> dict:
        return {interface.SERVING_SIGNATURE: self.serving_default.get_concrete_function()}

    def probe(self) -> dict:
        return {
            interface.SERVING_SIGNATURE: {
                "prompt": tf.constant([p for p, _ in PROBE]),
                "choices": tf.constant([list(c) for _, c in PROBE]),
            }
        }


def choose(
    prompts: Sequence[str],
    choices: Sequence[Sequence[str]],
    export_dir: os.PathLike | str,
    *,
    batch_size: int = 32,
) -> list[dict]:
    """Picks the best choice for each prompt with an export's `multiple_choice/`.

    Args:
        prompts: the prompts (contexts, questions).
        choices: per prompt, its candidate continuations or answers (any
            number, at least one; prompts may have different numbers).
        export_dir: an export folder with `multiple_choice/`.
        batch_size: prompts per call of the SavedModel.

    Returns:
        One dict per prompt: `label` (int, the index of the best choice),
        `score` (its probability), `logits` and `probabilities` (lists of
        floats, one per choice).

    Raises:
        ExportDirError: `export_dir` has no `multiple_choice/`.
        ValueError: `choices` is not as long as `prompts`, or a prompt has no
            choice.

    Examples:

        choose(["She opened the umbrella because"],
               [["it was raining.", "she was hungry."]], "exports/swag")
        # [{'label': 0, 'score': 0.93, 'logits': [...], 'probabilities': [...]}]
    """
    import tensorflow_text  # noqa: F401  (registers the ops preprocessing uses)

    if len(choices) != len(prompts):
        raise ValueError(
            f"choices: expected {len(prompts)} lists (one per prompt), found {len(choices)}"
        )
    empty = [i for i, options in enumerate(choices) if not options]
    if empty:
        raise ValueError(f"choices: prompt {empty[0]} has no choice")
    layout = interface.check_export_dir(export_dir, (interface.MULTIPLE_CHOICE_DIR,))
    path = os.fspath(layout.part(interface.MULTIPLE_CHOICE_DIR))
    serve = tf.saved_model.load(path).signatures[interface.SERVING_SIGNATURE]
    results: list[dict | None] = [None] * len(prompts)
    # One call per batch of prompts with the same number of choices.
    by_count: dict[int, list[int]] = {}
    for i, options in enumerate(choices):
        by_count.setdefault(len(options), []).append(i)
    for rows in by_count.values():
        for begin in range(0, len(rows), batch_size):
            batch = rows[begin : begin + batch_size]
            out = serve(
                prompt=tf.constant([prompts[i] for i in batch], tf.string),
                choices=tf.constant([list(choices[i]) for i in batch], tf.string),
            )
            for i, logits, probabilities, label in zip(
                batch, out["logits"].numpy(), out["probabilities"].numpy(), out["label"].numpy()
            ):
                results[i] = {
                    "label": int(label),
                    "score": float(probabilities[label]),
                    "logits": logits.tolist(),
                    "probabilities": probabilities.tolist(),
                }
    return results
