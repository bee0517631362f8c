"""Export of a fine-tuned classifier as a SavedModel that serves raw text.

The SavedModel holds the export's preprocessing (vocab as an asset), the
fine-tuned encoder and the head, so a client sends strings and gets labels:

```
OUT/classifier/
  saved_model.pb, variables/, assets/vocab.txt
  signature serving_default(premise: string [batch], hypothesis: string [batch])
      -> probabilities: float32 [batch, num_classes], label: string [batch]
```

With other `segment_names` (three segments, say) the signature takes one
string input per name. Load it with `tf.saved_model.load`:

```python
classify = tf.saved_model.load("OUT/classifier").signatures["serving_default"]
classify(premise=tf.constant(["A dog runs."]), hypothesis=tf.constant(["An animal runs."]))
```

or serve it with TensorFlow Serving (`--model_base_path` pointing at a parent
folder holding it as version `1/`), whose REST ``:predict`` takes
``{"inputs": {"premise": [...], "hypothesis": [...]}}``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from bert_tf import atomic
from bert_tf.errors import BertTfError
from bert_tf.finetune.config import DEFAULT_SEGMENTS


class ServingExportError(BertTfError):
    """The classifier export cannot be written or does not reproduce the model."""


class NliServingModule(tf.Module):
    """String segments -> `probabilities` and `label`, for `tf.saved_model.save`.

    Args:
      packer: strings -> encoder inputs (`finetune.model.build_packer`).
      classifier: encoder inputs -> probabilities (`finetune.model.build_classifier`).
      labels: class names in the classifier's output order.
      segment_names: the signature's input names, in packing order; the
        packer's inputs.
    """

    def __init__(
        self,
        packer: tf_keras.Model,
        classifier: tf_keras.Model,
        labels: Sequence[str],
        segment_names: Sequence[str],
    ):
        super().__init__(name="nli_serving")
        self.packer = packer
        self.classifier = classifier
        self.segment_names = tuple(segment_names)
        self.label_names = tf.constant(list(labels))
        self.serve = tf.function(
            self._serve,
            input_signature=[tf.TensorSpec([None], tf.string, name=s) for s in self.segment_names],
        )

    def _serve(self, *segments):
        packed = self.packer(dict(zip(self.segment_names, segments)))
        probabilities = tf.cast(
            self.classifier(packed, training=False)["probabilities"], tf.float32
        )
        label = tf.gather(self.label_names, tf.argmax(probabilities, axis=-1))
        return {"probabilities": probabilities, "label": label}


def _verify(path: str, module: NliServingModule, probe: dict[str, tf.Tensor]) -> None:
    """Reloads the export and checks it reproduces the in-memory model on `probe`."""
    expected = module.serve(*[probe[s] for s in module.segment_names])["probabilities"].numpy()
    loaded = tf.saved_model.load(path).signatures["serving_default"]
    found = loaded(**probe)["probabilities"].numpy()
    diff = float(np.max(np.abs(found - expected)))
    if diff > 1e-5:
        raise ServingExportError(
            f"{path}: reloaded classifier differs from the in-memory one by {diff:.3g} (max abs)"
        )


def export_classifier(
    packer: tf_keras.Model,
    classifier: tf_keras.Model,
    labels: Sequence[str],
    output_path: str | os.PathLike,
    *,
    segment_names: Sequence[str] = DEFAULT_SEGMENTS,
    overwrite: bool = False,
) -> str:
    """Writes the serving SavedModel atomically (temp folder, verify, rename).

    Args:
      packer: strings -> encoder inputs.
      classifier: the fine-tuned classifier.
      labels: class names, in output order.
      output_path: the SavedModel folder to create.
      segment_names: the signature's string inputs.
      overwrite: replace an existing `output_path`.

    Returns:
      `output_path`.

    Raises:
      OutputError: `output_path` exists (without `overwrite`) or cannot be written.
      ServingExportError: the reloaded model does not reproduce the in-memory one.
    """
    module = NliServingModule(packer, classifier, labels, segment_names)
    with atomic.atomic_directory(output_path, overwrite=overwrite, name="classifier") as tmp:
        tf.saved_model.save(
            module,
            os.fspath(tmp),
            signatures={"serving_default": module.serve.get_concrete_function()},
        )
        probe = {s: tf.constant([f"probe {s} text.", ""]) for s in module.segment_names}
        _verify(os.fspath(tmp), module, probe)
    return os.path.abspath(os.fspath(output_path))
