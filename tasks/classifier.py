"""`classifier/`: a sequence-classification head as a SavedModel that serves raw text.

Written by `bert-tf-export` next to `encoder/` and `preprocess/` when the
checkpoint holds a sequence-classification head (`bert_tf.tasks.heads`):

```
OUT/classifier/
  saved_model.pb, variables/, assets/vocab.txt
  serving_default(text: string [batch])
      -> logits: float32 [batch, labels], probabilities: float32 [batch, labels],
         label: string [batch]
  pairs(text: string [batch], text_pair: string [batch])
      -> the same; a row whose text_pair is "" is classified as `text` alone
```

Texts are packed as the export's `preprocess/` packs them (`[CLS] text [SEP]`
or `[CLS] text [SEP] text_pair [SEP]`, trimmed round-robin to `seq_length`).
`label` is the name of the highest logit (`id2label` of the checkpoint, or
`--labels`).

Examples:

    import tensorflow as tf, tensorflow_text  # noqa: F401
    classify = tf.saved_model.load("OUT/classifier")
    classify.signatures["serving_default"](text=tf.constant(["a great film"]))
    classify.signatures["pairs"](text=tf.constant(["A dog runs."]),
                                 text_pair=tf.constant(["An animal moves."]))
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf
import tf_keras

from bert_tf import interface
from bert_tf.tasks.task_module import STRINGS, TaskModule

PAIRS_SIGNATURE = "pairs"
OUTPUTS = ("logits", "probabilities", "label")

# Texts, and pairs with and without a second segment, for the check after saving.
PROBE = (
    ("The movie was wonderful.", ""),
    ("Terrible service; never again!", "The food was fine."),
    ("", ""),
    ("Crème brûlée in 東京 🙂", "A dessert."),
)


class ClassifierModule(TaskModule):
    """Strings -> `logits`, `probabilities`, `label`, for `tf.saved_model.save`.

    Args:
        preprocessor: the export's preprocessing module
            (`bert_tf.preprocess.build_preprocess_model`).
        task_model: encoder inputs -> `{"logits": [batch, labels]}`
            (`bert_tf.tasks.heads.build_task_model`).
        labels: label names in logit order.
        seq_length: the packed length.
    """

    def __init__(
        self,
        preprocessor: tf.Module,
        task_model: tf_keras.Model,
        labels: Sequence[str],
        seq_length: int,
    ):
        super().__init__(interface.CLASSIFIER_DIR, preprocessor, task_model, labels, seq_length)
        self.label_names = tf.constant(list(labels))
        self.serve = tf.function(self._classify, input_signature=[STRINGS])
        # One dict argument: the signature takes named tensors (TF Serving) and
        # the attribute one dict (Keras 3's `TFSMLayer(call_endpoint="pairs")`).
        self.pairs = tf.function(
            self._classify_pairs,
            input_signature=[
                {
                    "text": tf.TensorSpec([None], tf.string, name="text"),
                    "text_pair": tf.TensorSpec([None], tf.string, name="text_pair"),
                }
            ],
        )

    def _outputs(self, packed):
        logits = self.logits(packed)
        label = tf.gather(self.label_names, tf.argmax(logits, axis=-1))
        return {"logits": logits, "probabilities": tf.nn.softmax(logits), "label": label}

    def _classify(self, text):
        return self._outputs(self.pack([self.preprocessor.tokenize(text)]))

    def _classify_pairs(self, inputs):
        text, text_pair = inputs["text"], inputs["text_pair"]
        # Each text is tokenized once; only the packing differs.
        first, second = self.preprocessor.tokenize(text), self.preprocessor.tokenize(text_pair)
        # Both at the pairs' length (the longer), so that rows can be chosen.
        paired = self.pack([first, second])
        single = self.preprocessor.bert_pack_inputs(
            [first], seq_length=tf.shape(paired[interface.INPUT_WORD_IDS])[1]
        )
        has_pair = tf.not_equal(text_pair, "")[:, tf.newaxis]
        packed = {k: tf.where(has_pair, paired[k], single[k]) for k in interface.ENCODER_INPUTS}
        return self._outputs(packed)

    def signatures(self) -> dict:
        return {
            interface.SERVING_SIGNATURE: self.serve.get_concrete_function(),
            PAIRS_SIGNATURE: self.pairs.get_concrete_function(),
        }

    def probe(self) -> dict:
        texts = tf.constant([t for t, _ in PROBE])
        return {
            interface.SERVING_SIGNATURE: {"text": texts},
            PAIRS_SIGNATURE: {"text": texts, "text_pair": tf.constant([p for _, p in PROBE])},
        }


def classify(
    texts: Sequence[str],
    export_dir: os.PathLike | str,
    *,
    text_pairs: Sequence[str] | None = None,
    batch_size: int = 32,
) -> list[dict]:
    """Classifies texts (or text pairs) with an export's `classifier/`.

    Args:
        texts: the texts.
        export_dir: an export folder with `classifier/`.
        text_pairs: a second segment per text ("" for none), or None.
        batch_size: texts per call of the SavedModel.

    Returns:
        One dict per text: `label` (str) and `score` (its probability), as the
        transformers `text-classification` pipeline returns them, plus
        `logits` and `probabilities` (lists of floats, in label order).

    Raises:
        ExportDirError: `export_dir` has no `classifier/`.
        ValueError: `text_pairs` is not as long as `texts`.

    Examples:

        classify(["a great film", "a dull film"], "exports/sst2")
        # [{'label': 'positive', 'score': 0.98, 'logits': [...], 'probabilities': [...]}, ...]
    """
    import tensorflow_text  # noqa: F401  (registers the ops preprocessing uses)

    layout = interface.check_export_dir(export_dir, (interface.CLASSIFIER_DIR,))
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise ValueError(
            f"text_pairs: expected {len(texts)} entries (one per text), found {len(text_pairs)}"
        )
    signatures = tf.saved_model.load(os.fspath(layout.part(interface.CLASSIFIER_DIR))).signatures
    results = []
    for start in range(0, len(texts), batch_size):
        batch = {"text": tf.constant(list(texts[start : start + batch_size]), tf.string)}
        if text_pairs is None:
            out = signatures[interface.SERVING_SIGNATURE](**batch)
        else:
            pairs = list(text_pairs[start : start + batch_size])
            out = signatures[PAIRS_SIGNATURE](**batch, text_pair=tf.constant(pairs, tf.string))
        for logits, probabilities, label in zip(
            out["logits"].numpy(), out["probabilities"].numpy(), out["label"].numpy()
        ):
            results.append(
                {
                    "label": label.decode("utf-8"),
                    "score": float(probabilities.max()),
                    "logits": logits.tolist(),
                    "probabilities": probabilities.tolist(),
                }
            )
    return results
