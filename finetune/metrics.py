"""Classification metrics from a confusion matrix.

>>> m = classification_metrics([[3, 1], [0, 4]], ("yes", "no"))
>>> m["accuracy"], m["per_class"]["yes"]["precision"], m["per_class"]["yes"]["recall"]
(0.875, 1.0, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(confusion, labels: Sequence[str]) -> dict:
    """Accuracy and per-class precision, recall, F1 and support.

    Args:
      confusion: `[num_classes, num_classes]` counts, rows the true label,
        columns the prediction.
      labels: the class names, in index order.

    Returns:
      `{"examples", "accuracy", "macro_f1", "per_class": {label: {"precision",
      "recall", "f1", "support"}}, "confusion_matrix"}`; a precision or recall
      with an empty denominator is 0.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    total = cm.sum()
    correct = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(actual[i]),
        }
        for i, name in enumerate(labels)
    }
    return {
        "examples": int(total),
        "accuracy": float(correct.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": per_class,
        "confusion_matrix": cm.astype(np.int64).tolist(),
    }
