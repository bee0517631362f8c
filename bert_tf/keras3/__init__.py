"""Keras 3 layers over an export folder: fine-tune, save and serve the pair in Keras 3.

`tensorflow_hub.KerasLayer` works with Keras 2 (`tf_keras`) only, and
`keras.layers.TFSMLayer` cannot fine-tune our exports with Adam or AdamW (see
docs/keras3.md). These two layers can:

- `PreprocessLayer(path, seq_length=None)`: 1-3 string tensors -> the encoder
  inputs dict, through the export's `tokenize` and `bert_pack_inputs`.
- `EncoderLayer(path, trainable=True, endpoint=None)`: the encoder inputs dict
  -> `pooled_output`, `sequence_output`, `encoder_outputs`, `default`, on the
  restored SavedModel's own variables and functions.

Both are registered serializable (package "bert_tf"): `model.save("m.keras")`
and `keras.models.load_model("m.keras")` round-trip without `custom_objects`
once this module is imported; the `.keras` file holds the weights and the
export's path (the export must stay where it was, or be given the same
relative path).

Needs Keras 3 (`pip install bert-tf[keras3]`); `import bert_tf` does not import
this module, nor Keras 3.

Examples:

    import keras
    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    preprocess = PreprocessLayer("exports/all-MiniLM-L6-v2/preprocess", seq_length=64)
    encoder = EncoderLayer("exports/all-MiniLM-L6-v2/encoder", trainable=True)
    premise = keras.Input(shape=(), dtype="string")
    hypothesis = keras.Input(shape=(), dtype="string")
    outputs = encoder(preprocess([premise, hypothesis]))
    logits = keras.layers.Dense(3)(outputs["pooled_output"])
    model = keras.Model([premise, hypothesis], logits)
"""

from bert_tf.keras3.encoder_layer import EncoderLayer
from bert_tf.keras3.loading import LayerArgumentError
from bert_tf.keras3.preprocess_layer import PreprocessLayer

__all__ = ["EncoderLayer", "LayerArgumentError", "PreprocessLayer"]
