"""Our side of the name tables: every model variable under a stable slot name.

Slot names do not depend on Keras' variable naming; they are reached through
the layers' public attributes:

| slot | variable |
| --- | --- |
| `embeddings/{word,position,type}_embeddings` | `[rows, hidden]` tables |
| `embeddings/layer_norm/{gamma,beta}` | `[hidden]` |
| `layer_{i}/attention/{query,key,value}/kernel` | `[hidden, heads, head_size]` |
| `layer_{i}/attention/{query,key,value}/bias` | `[heads, 1, head_size]` |
| `layer_{i}/attention/output/kernel`, `.../bias` | `[heads, head_size, hidden]`, `[hidden]` |
| `layer_{i}/attention/layer_norm/{gamma,beta}` | `[hidden]` |
| `layer_{i}/intermediate/{kernel,bias}` | `[hidden, intermediate]`, `[intermediate]` |
| `layer_{i}/output/{kernel,bias}` | `[intermediate, hidden]`, `[hidden]` |
| `layer_{i}/output/layer_norm/{gamma,beta}` | `[hidden]` |
| `pooler/{kernel,bias}` | `[hidden, hidden]`, `[hidden]` |
| `mlm/transform/{kernel,bias}`, `mlm/layer_norm/{gamma,beta}`, `mlm/output_bias` | masked-LM head |
| `nsp/{kernel,bias}` | `[hidden, 2]`, `[2]` |

Each slot also has a `flat_shape`: the variable's shape with the head axes
merged (`[hidden, heads, head_size]` -> `[hidden, hidden]`), which is how
every checkpoint format stores it (up to a transpose).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tf_keras

# `task`: a fine-tuned task head (`bert_tf.tasks.heads`), slots `task/kernel`, `task/bias`.
GROUPS = ("encoder", "mlm", "nsp", "task")
# The group of slots loaded when present and left at their start otherwise.
OPTIONAL = "optional"


@dataclasses.dataclass(frozen=True)
class Slot:
    """One model variable and how checkpoints store it.

    Attributes:
        variable: the model's variable.
        flat_shape: its shape as stored in a checkpoint (head axes merged).
        group: one of `GROUPS`, or `OPTIONAL` (missing is no error:
            the pooler of a task model whose head does not read it).
    """

    variable: tf.Variable
    flat_shape: tuple[int, ...]
    group: str

    @property
    def name(self) -> str:
        """The Keras variable name, without the `:0`."""
        return self.variable.name.split(":")[0]


def model_slots(
    encoder, mlm_model: tf_keras.Model | None = None, nsp_model: tf_keras.Model | None = None
) -> dict[str, Slot]:
    """Slot name -> `Slot` for the encoder and the heads that are given."""
    slots: dict[str, Slot] = {}

    def add(name, variable, group="encoder", flat_shape=None):
        slots[name] = Slot(variable, tuple(flat_shape or variable.shape), group)

    def dense(prefix, layer, group="encoder"):
        add(f"{prefix}/kernel", layer.kernel, group)
        add(f"{prefix}/bias", layer.bias, group)

    def layer_norm(prefix, layer, group="encoder"):
        add(f"{prefix}/gamma", layer.gamma, group)
        add(f"{prefix}/beta", layer.beta, group)

    emb = encoder.embeddings
    add("embeddings/word_embeddings", emb.word_embeddings)
    add("embeddings/position_embeddings", emb.position_embeddings)
    add("embeddings/type_embeddings", emb.type_embeddings)
    layer_norm("embeddings/layer_norm", emb.layer_norm)
    for i, block in enumerate(encoder.transformer_layers):
        hidden = block.hidden_size
        for part in ("query", "key", "value"):
            projection = getattr(block, part)
            add(
                f"layer_{i}/attention/{part}/kernel", projection.kernel, flat_shape=(hidden, hidden)
            )
            add(f"layer_{i}/attention/{part}/bias", projection.bias, flat_shape=(hidden,))
        add(
            f"layer_{i}/attention/output/kernel",
            block.attention_output.kernel,
            flat_shape=(hidden, hidden),
        )
        add(f"layer_{i}/attention/output/bias", block.attention_output.bias)
        layer_norm(f"layer_{i}/attention/layer_norm", block.attention_layer_norm)
        dense(f"layer_{i}/intermediate", block.intermediate)
        dense(f"layer_{i}/output", block.output_dense)
        layer_norm(f"layer_{i}/output/layer_norm", block.output_layer_norm)
    dense("pooler", encoder.pooler.dense)
    if mlm_model is not None:
        head = mlm_model.get_layer("mlm")
        dense("mlm/transform", head.transform, "mlm")
        layer_norm("mlm/layer_norm", head.layer_norm, "mlm")
        add("mlm/output_bias", head.output_bias, "mlm")
    if nsp_model is not None:
        dense("nsp", nsp_model.get_layer("nsp"), "nsp")
    return slots
