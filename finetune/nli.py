"""`finetune_nli`: the whole `bert-tf-finetune` job as one library call.

Reads the data files, makes the `tf.distribute` strategy, trains (resuming
from `output_dir`'s checkpoints), and on the chief exports the string-in
classifier to `output_dir/classifier`.
"""

from __future__ import annotations

import dataclasses
import os

from absl import logging

CLASSIFIER_SUBDIR = "classifier"


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning job ended with.

    Attributes:
        step: the optimizer step reached.
        accuracy: the last evaluation's accuracy, or None without eval data.
        classifier_dir: the exported classifier (None on non-chief workers).
    """

    step: int
    accuracy: float | None
    classifier_dir: str | None


def finetune_nli(
    export_dir: str | os.PathLike,
    train_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    config,
    *,
    eval_path: str | os.PathLike | None = None,
    strategy: str = "default",
    tpu: str = "",
) -> FinetuneResult:
    """Fine-tunes an export on NLI data and exports the classifier.

    Args:
        export_dir: an export folder (`bert_tf.interface`).
        train_path: training data (`bert_tf.finetune.data.read_nli` formats).
        output_dir: the run folder (checkpoints, eval results, `classifier/`).
        config: a `bert_tf.finetune.config.TrainConfig`.
        eval_path: evaluation data, or None.
        strategy: a `bert_tf.finetune.config.STRATEGIES` name.
        tpu: the TPU for `strategy="tpu"`.

    Raises:
        BertTfError: bad data, settings or export folder, in one line.
    """
    # The strategy first: multi-worker and TPU setups must precede other TF work.
    from bert_tf.finetune import data, serving, train
    from bert_tf.finetune import strategy as strategies

    distribution = strategies.make_strategy(strategy, tpu)
    train_data = data.read_nli(train_path, config.labels)
    logging.info(
        "%s: %d examples (%s), %d without gold label skipped.",
        train_path,
        len(train_data.examples),
        train_data.format,
        train_data.skipped,
    )
    eval_data = data.read_nli(eval_path, config.labels) if eval_path else None
    result = train.train(
        export_dir, train_data, output_dir, config, eval_data=eval_data, strategy=distribution
    )
    classifier_dir = None
    if train.is_chief(distribution):
        classifier_dir = serving.export_classifier(
            result.packer,
            result.classifier,
            config.labels,
            os.path.join(os.fspath(output_dir), CLASSIFIER_SUBDIR),
            segment_names=config.segment_names,
            overwrite=True,
        )
        logging.info("Exported the classifier to %s.", classifier_dir)
    accuracy = result.evaluations[-1]["accuracy"] if result.evaluations else None
    return FinetuneResult(step=result.step, accuracy=accuracy, classifier_dir=classifier_dir)
