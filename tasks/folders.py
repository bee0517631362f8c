"""Which task folders an export writes, and the module that serves each.

`bert-tf-export` asks `build_task_module` for the folder of a checkpoint's
head (`bert_tf.tasks.heads.TaskHead`); every task has one.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tf_keras

from bert_tf.tasks import heads
from bert_tf.tasks.classifier import ClassifierModule
from bert_tf.tasks.multiple_choice import MultipleChoiceModule
from bert_tf.tasks.question_answerer import QuestionAnswererModule, Windows
from bert_tf.tasks.task_module import TaskModule
from bert_tf.tasks.token_classifier import TokenClassifierModule


def build_task_module(
    head: heads.TaskHead,
    preprocessor: tf.Module,
    task_model: tf_keras.Model,
    seq_length: int,
    vocab: Sequence[str],
    windows: Windows | None = None,
) -> TaskModule:
    """The string-in module of `head.task`'s folder (one of `heads.TASKS`).

    Args:
        head: the task and its labels.
        preprocessor: the export's preprocessing module.
        task_model: `bert_tf.tasks.heads.build_task_model` of the head, loaded.
        seq_length: the packed length (the export's `default_seq_length`).
        vocab: the wordpiece strings in id order.
        windows: `question_answerer/`'s windows (its own length, not `seq_length`).
    """
    if head.task == heads.CLASSIFIER:
        return ClassifierModule(preprocessor, task_model, head.labels, seq_length)
    if head.task == heads.TOKEN_CLASSIFIER:
        return TokenClassifierModule(preprocessor, task_model, head.labels, seq_length, vocab)
    if head.task == heads.QUESTION_ANSWERER:
        return QuestionAnswererModule(preprocessor, task_model, windows or Windows())
    if head.task == heads.MULTIPLE_CHOICE:
        return MultipleChoiceModule(preprocessor, task_model, seq_length)
    raise ValueError(f"no folder for task {head.task!r}; tasks: {', '.join(heads.TASKS)}")
