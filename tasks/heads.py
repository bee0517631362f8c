"""Task heads: detect the task of a fine-tuned checkpoint, build its model, load its head.

One declarative name table per source format and task (`HEAD_RULES`), matched
by `bert_tf.checkpoints.tables` like the encoder's: every head weight must be
found with the shape the task and label count need, or the load fails before
any weight is assigned.

| task | Hugging Face (`architectures`) | weights | google-research TF1 |
| --- | --- | --- | --- |
| `classifier` | `BertForSequenceClassification` | `classifier.{weight,bias}` `[labels, hidden]` | `run_classifier.py`: `output_weights` `[labels, hidden]`, `output_bias` |
| `token_classifier` | `BertForTokenClassification` | `classifier.{weight,bias}` `[labels, hidden]` | (none) |
| `question_answerer` | `BertForQuestionAnswering` | `qa_outputs.{weight,bias}` `[2, hidden]` | `run_squad.py`: `cls/squad/output_weights` `[2, hidden]`, `cls/squad/output_bias` |
| `multiple_choice` | `BertForMultipleChoice` | `classifier.{weight,bias}` `[1, hidden]` | (none) |

The head reads `pooled_output` (classifier, multiple choice) or
`sequence_output` (token classifier, question answerer). Hugging Face's
`BertForTokenClassification` and `BertForQuestionAnswering` have no pooler;
for those tasks the pooler is loaded when present (google's `run_squad.py`
saves one) and otherwise keeps its zero start, logged as missing (the
encoder's `pooled_output`, which the head does not read, is then all zeros).

>>> detect_task({"output_weights": (3, 8), "output_bias": (3,)}, "google")
'classifier'
>>> detect_task({"classifier.weight": (9, 8)}, "huggingface", ["BertForTokenClassification"])
'token_classifier'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import tensorflow as tf
import tf_keras

from bert_tf import interface, layers
from bert_tf.checkpoints import FORMATS, tables
from bert_tf.checkpoints.files import CheckpointFiles
from bert_tf.checkpoints.report import LoadReport
from bert_tf.checkpoints.targets import OPTIONAL, Slot, model_slots
from bert_tf.config import BertConfig
from bert_tf.encoder import BertEncoder, encoder_inputs
from bert_tf.errors import CheckpointError

CLASSIFIER = interface.CLASSIFIER_DIR
TOKEN_CLASSIFIER = interface.TOKEN_CLASSIFIER_DIR
QUESTION_ANSWERER = interface.QUESTION_ANSWERER_DIR
MULTIPLE_CHOICE = interface.MULTIPLE_CHOICE_DIR
TASKS = interface.TASK_DIRS

# Hugging Face `architectures` -> task.
HF_ARCHITECTURES = {
    "BertForSequenceClassification": CLASSIFIER,
    "BertForTokenClassification": TOKEN_CLASSIFIER,
    "BertForQuestionAnswering": QUESTION_ANSWERER,
    "BertForMultipleChoice": MULTIPLE_CHOICE,
}

# Tasks whose head reads `sequence_output` (HF builds them without a pooler).
SEQUENCE_TASKS = (TOKEN_CLASSIFIER, QUESTION_ANSWERER)


def _hf_linear(source: str) -> tuple[tables.Rule, ...]:
    return (
        tables.Rule("task/kernel", (f"{source}.weight",), transpose=True),
        tables.Rule("task/bias", (f"{source}.bias",)),
    )


def _google_output(scope: str) -> tuple[tables.Rule, ...]:
    # run_classifier / run_squad store `output_weights` as [labels, hidden].
    return (
        tables.Rule("task/kernel", (f"{scope}output_weights",), transpose=True),
        tables.Rule("task/bias", (f"{scope}output_bias",)),
    )


# (format, task) -> the head's rows of the name table.
HEAD_RULES: dict[tuple[str, str], tuple[tables.Rule, ...]] = {
    ("huggingface", CLASSIFIER): _hf_linear("classifier"),
    ("huggingface", TOKEN_CLASSIFIER): _hf_linear("classifier"),
    ("huggingface", MULTIPLE_CHOICE): _hf_linear("classifier"),
    ("huggingface", QUESTION_ANSWERER): _hf_linear("qa_outputs"),
    ("google", CLASSIFIER): _google_output(""),
    ("google", QUESTION_ANSWERER): _google_output("cls/squad/"),
}


def _head_names(fmt: str, task: str) -> tuple[str, ...]:
    return tuple(source for rule in HEAD_RULES[(fmt, task)] for source in rule.sources)


def detect_task(
    shapes: Mapping[str, tuple[int, ...]],
    fmt: str,
    architectures: Sequence[str] | None = None,
    task: str | None = None,
) -> str:
    """The task a checkpoint holds: `task` if given, else from `architectures` and names.

    Args:
        shapes: the checkpoint's variable names -> shapes.
        fmt: "google" or "huggingface".
        architectures: the HF `config.json` `architectures`, if any.
        task: the `--task` the user chose, or None.

    Raises:
        CheckpointError: an unknown `task`, a `task` this format has no head
            for, no task head in the checkpoint, or several possible tasks.
    """
    canonical = {FORMATS[fmt].canonical_name(name) for name in shapes}
    if task is not None:
        if task not in TASKS:
            raise CheckpointError(f"--task: expected one of {', '.join(TASKS)}, found {task!r}")
        if (fmt, task) not in HEAD_RULES:
            raise CheckpointError(f"--task={task}: {fmt} checkpoints have no {task} head")
        return task
    known = [HF_ARCHITECTURES[a] for a in architectures or () if a in HF_ARCHITECTURES]
    if len(set(known)) == 1:
        return known[0]
    candidates = [t for (f, t) in HEAD_RULES if f == fmt and set(_head_names(f, t)) <= canonical]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CheckpointError(
            f"no task head in this {fmt} checkpoint (looked for "
            f"{', '.join(sorted({n for (f, t) in HEAD_RULES if f == fmt for n in _head_names(f, t)}))})"
        )
    raise CheckpointError(
        f"the {fmt} checkpoint's head fits several tasks ({', '.join(candidates)}) and "
        f"config.json names none in `architectures`: pass --task"
    )


def find_task(
    shapes: Mapping[str, tuple[int, ...]],
    fmt: str,
    architectures: Sequence[str] | None = None,
    task: str | None = None,
) -> str | None:
    """As `detect_task`, but None (not an error) for a checkpoint with no task head."""
    if task is None:
        canonical = {FORMATS[fmt].canonical_name(name) for name in shapes}
        known = [a for a in architectures or () if a in HF_ARCHITECTURES]
        heads_present = [
            t for (f, t) in HEAD_RULES if f == fmt and set(_head_names(f, t)) <= canonical
        ]
        if not known and not heads_present:
            return None
    return detect_task(shapes, fmt, architectures, task)


@dataclasses.dataclass(frozen=True)
class TaskHead:
    """A task and its label names.

    Attributes:
        task: one of `TASKS`.
        labels: label names in logit order (`classifier`, `token_classifier`);
            `("start", "end")` for `question_answerer`; `()` for `multiple_choice`.
    """

    task: str
    labels: tuple[str, ...]

    @property
    def num_outputs(self) -> int:
        """The head's Dense width: labels, 2 (start, end) or 1 (a choice's score)."""
        if self.task == QUESTION_ANSWERER:
            return 2
        if self.task == MULTIPLE_CHOICE:
            return 1
        return len(self.labels)


def labels_for(
    task: str,
    shapes: Mapping[str, tuple[int, ...]],
    fmt: str,
    id2label: Mapping[str, str] | None = None,
    labels: Sequence[str] | None = None,
) -> TaskHead:
    """The `TaskHead` of a checkpoint: labels from `labels` (`--labels`), `id2label`, or the shape.

    A TF1 `run_classifier` checkpoint carries no label names: without
    `--labels` they are `LABEL_0` ... as transformers names them.
    """
    if task == QUESTION_ANSWERER:
        return TaskHead(task, ("start", "end"))
    if task == MULTIPLE_CHOICE:
        return TaskHead(task, ())
    if labels:
        return TaskHead(task, tuple(labels))
    if id2label:
        return TaskHead(task, tuple(id2label[k] for k in sorted(id2label, key=int)))
    by_canonical = {FORMATS[fmt].canonical_name(n): n for n in shapes}
    kernel = HEAD_RULES[(fmt, task)][0].sources[0]
    count = shapes[by_canonical[kernel]][0] if kernel in by_canonical else 0
    return TaskHead(task, tuple(f"LABEL_{i}" for i in range(count)))


def build_task_model(encoder: BertEncoder, config: BertConfig, head: TaskHead) -> tf_keras.Model:
    """The encoder plus the task's Dense head (layer name `task`), float32 logits.

    Returns:
        A `tf_keras.Model` from the encoder's dict inputs (int32 `[batch, seq]`;
        for `multiple_choice`, `[batch * choices, seq]`) to `logits`:
        `[batch, labels]` (classifier), `[batch, seq, labels]` (token
        classifier), `[batch, seq, 2]` (question answerer: start, end) or
        `[batch * choices, 1]` (multiple choice).
    """
    inputs = encoder_inputs()
    outputs = encoder(inputs)
    source = outputs["sequence_output" if head.task in SEQUENCE_TASKS else "pooled_output"]
    dense = tf_keras.layers.Dense(
        head.num_outputs,
        kernel_initializer=layers.initializer(config.initializer_range),
        dtype="float32",
        name="task",
    )
    logits = dense(tf.cast(source, tf.float32))
    return tf_keras.Model(inputs, {"logits": logits}, name=f"{encoder.name}_{head.task}")


def task_slots(encoder: BertEncoder, task_model: tf_keras.Model, task: str) -> dict[str, Slot]:
    """The encoder's slots plus `task/kernel`, `task/bias` (the pooler optional for sequence tasks)."""
    slots = model_slots(encoder)
    if task in SEQUENCE_TASKS:
        # HF's BertForTokenClassification / BertForQuestionAnswering have no pooler;
        # run_squad.py's checkpoints do. Loaded when present, else it stays zero.
        slots = {
            k: dataclasses.replace(v, group=OPTIONAL) if k.startswith("pooler/") else v
            for k, v in slots.items()
        }
    dense = task_model.get_layer("task")
    slots["task/kernel"] = Slot(dense.kernel, tuple(dense.kernel.shape), "task")
    slots["task/bias"] = Slot(dense.bias, tuple(dense.bias.shape), "task")
    return slots


def load_task_checkpoint(
    files: CheckpointFiles, reader, encoder: BertEncoder, task_model: tf_keras.Model, task: str
) -> LoadReport:
    """Fills the encoder and the task head from `files` (read by `reader`).

    Raises:
        CheckpointError: as `bert_tf.checkpoints.load_checkpoint`, and a
            missing or mis-shaped head (for example a `--labels` count that
            differs from the checkpoint's).
    """
    fmt = FORMATS[files.format]
    with_head = dataclasses.replace(fmt, rules=fmt.rules + HEAD_RULES[(files.format, task)])
    slots = task_slots(encoder, task_model, task)
    return tables.load(reader, with_head, slots, num_layers=len(encoder.transformer_layers))
