"""The `embedding/` SavedModel: strings `[batch]` in, float32 `[batch, dim]` sentence vectors out.

One graph holds the whole sentence-transformers pipeline: the prompt (when
one is named) prepended to each text, tokenization (the export's tf-text
tokenizer), truncation to `max_seq_length`, the texts sorted by length and run
in chunks of about `CHUNK_TOKENS` padded tokens (each `[CLS] ... [SEP]` packed
and padded to its own longest text), the encoder's last layer, then
`EmbeddingHead` (pooling, Dense layers, Normalize; `bert_tf.embedding.pooling`),
the vectors back in input order. Its root object:

- `__call__(texts, prompt_name=None)`: string `[batch]` -> float32
  `[batch, dim]`; `prompt_name` is None (the default prompt, if any) or one of
  the export's prompt names. What `hub.load(path)(texts)` and
  `hub.KerasLayer(path)` call.
- `serving_default` (signature and attribute): `text` -> `{"embedding": [batch, dim]}`,
  for TF Serving and `keras.layers.TFSMLayer(path, call_endpoint="serving_default")`;
  one more signature and attribute `prompt_<name>` per prompt.
- `pack(texts, prompt_name=None)`: the encoder inputs it builds (for checks).

Example:

    import tensorflow as tf, tensorflow_text  # noqa: F401 (registers tf-text ops)
    model = tf.saved_model.load("exports/all-MiniLM-L6-v2/embedding")
    vectors = model(tf.constant(["A man is eating food."]))  # [1, 384]
"""

from __future__ import annotations

import os
import re

import tensorflow as tf

from bert_tf import interface
from bert_tf.embedding.pooling import EmbeddingHead

_STRINGS_SPEC = tf.TensorSpec([None], tf.string)

# Padded tokens per encoder run inside one call (see `EmbeddingModel._embed`);
# bench/experiments/embedding_chunks.py measures the choice.
CHUNK_TOKENS = 512


def prompt_signature(name: str) -> str:
    """The signature (and attribute) name of prompt `name`: `prompt_<name>`, made a Python name.

    >>> prompt_signature("query"), prompt_signature("Retrieval-query")
    ('prompt_query', 'prompt_Retrieval_query')
    """
    return interface.PROMPT_SIGNATURE_PREFIX + re.sub(r"\W", "_", name)


class EmbeddingModel(tf.Module):
    """The root object of `embedding/`; see the module docstring.

    Args:
        tokenize: the export's `preprocess.tokenize` (strings -> ragged wordpiece ids).
        special_tokens: `get_special_tokens_dict()` of it (python ints).
        encoder: the tf_keras encoder (dict in, dict out).
        head: the `EmbeddingHead` (its stack names the prompts and `max_seq_length`).
        max_seq_length: tokens per text, `[CLS]` and `[SEP]` included.
        chunk_tokens: padded tokens per encoder run within one call (texts sorted by
            length; a text longer than this runs alone).
    """

    def __init__(
        self,
        tokenize,
        special_tokens,
        encoder,
        head: EmbeddingHead,
        max_seq_length,
        chunk_tokens: int = CHUNK_TOKENS,
    ):
        super().__init__(name="embedding")
        self.chunk_tokens = int(chunk_tokens)
        self.tokenize = tokenize
        self.head = head
        self.encoder_variables = list(encoder.variables)
        self.max_seq_length = int(max_seq_length)
        self._cls = int(special_tokens["start_of_sequence_id"])
        self._sep = int(special_tokens["end_of_segment_id"])
        self._pad = int(special_tokens["padding_id"])
        stack = head.stack
        self._prompts = dict(stack.prompts)
        # [CLS] plus the prompt's wordpieces: what sentence-transformers excludes from
        # pooling; an empty prompt is no prompt to it (nothing prepended, nothing excluded).
        self._prompt_lengths = {
            name: 1 + int(tf.size(tokenize(tf.constant([text])).flat_values)) if text else 0
            for name, text in self._prompts.items()
        }

        @tf.function(input_signature=[interface.encoder_input_spec()], autograph=False)
        def encode(inputs):
            return encoder(inputs, training=False)[interface.SEQUENCE_OUTPUT]

        self.encode = encode
        self._traced = False
        self.serving_default = self._signature(None)
        for name in self._prompts:
            setattr(self, prompt_signature(name), self._signature(name))

    def _prompt(self, prompt_name: str | None) -> str | None:
        if prompt_name is None:
            prompt_name = self.head.stack.default_prompt_name
        if prompt_name is not None and prompt_name not in self._prompts:
            raise ValueError(
                f"prompt_name: expected one of {', '.join(self._prompts) or 'none'}, "
                f"found {prompt_name!r}"
            )
        return prompt_name

    def _pieces(self, texts, prompt_name) -> tf.RaggedTensor:
        """Each text's wordpiece ids (prompt prepended), truncated for `[CLS]` and `[SEP]`."""
        name = self._prompt(prompt_name)
        if name is not None and self._prompts[name]:
            texts = tf.strings.join([self._prompts[name], texts])
        return self.tokenize(texts).merge_dims(1, 2)[:, : self.max_seq_length - 2]

    def _pack_pieces(self, pieces: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """`[CLS] pieces [SEP]`, padded to the longest row: the int32 encoder inputs."""
        rows = pieces.nrows()
        ends = [
            tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.constant(token, pieces.dtype)))
            for token in (self._cls, self._sep)
        ]
        ids = tf.concat([ends[0], pieces, ends[1]], axis=1)
        word_ids = ids.to_tensor(default_value=self._pad)
        mask = tf.ones_like(ids).to_tensor(default_value=0)
        return {
            interface.INPUT_WORD_IDS: word_ids,
            interface.INPUT_MASK: mask,
            interface.INPUT_TYPE_IDS: tf.zeros_like(word_ids),
        }

    def _pack(self, texts, prompt_name):
        return self._pack_pieces(self._pieces(texts, prompt_name))

    def _embed(self, texts, prompt_name):
        # A request mixes short and long texts, and one padded batch costs what its
        # longest text costs for every row. So the rows are sorted by length and run in
        # chunks of about `chunk_tokens` padded tokens, each padded to its own longest
        # (few rows of long texts, many of short ones): what `bert_tf.embed` does across
        # a corpus, here within one call. Padding is masked out, so the vectors are those
        # of one padded batch, to float rounding.
        pieces = self._pieces(texts, prompt_name)
        name = self._prompt(prompt_name)
        prompt_length = 0 if name is None else self._prompt_lengths[name]
        lengths = tf.cast(pieces.row_lengths(), tf.int32) + 2  # [CLS] and [SEP]
        order = tf.argsort(lengths, direction="DESCENDING", stable=True)
        pieces = tf.gather(pieces, order)
        longest = tf.gather(lengths, order)  # a chunk's first row is its longest
        rows = tf.shape(order)[0]

        def chunk(index, start, vectors):
            end = tf.minimum(rows, start + tf.maximum(1, self.chunk_tokens // longest[start]))
            inputs = self._pack_pieces(pieces[start:end])
            sequence = self.encode(inputs)
            pooled = self.head(sequence, inputs[interface.INPUT_MASK], prompt_length)
            return index + 1, end, vectors.write(index, pooled)

        chunks = tf.TensorArray(
            tf.float32,
            size=0,
            dynamic_size=True,
            infer_shape=False,
            element_shape=[None, self.head.stack.output_dimension],
        )
        _, _, chunks = tf.while_loop(
            lambda index, start, _: start < rows,
            chunk,
            (tf.constant(0), tf.constant(0), chunks),
            parallel_iterations=1,
        )
        return tf.gather(chunks.concat(), tf.math.invert_permutation(order))

    @tf.function(autograph=False)
    def __call__(self, texts, prompt_name=None):
        """string `[batch]` -> float32 `[batch, dim]`."""
        return self._embed(texts, prompt_name)

    @tf.function(autograph=False)
    def pack(self, texts, prompt_name=None):
        """string `[batch]` -> the int32 `[batch, longest]` encoder inputs."""
        return self._pack(texts, prompt_name)

    def _signature(self, prompt_name):
        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.string, name=interface.EMBEDDING_INPUT)]
        )
        def signature(text):
            # Calls the traced `__call__`: one graph per prompt in the SavedModel, not two.
            return {interface.EMBEDDING_OUTPUT: self.__call__(text, prompt_name=prompt_name)}

        return signature

    def prompt_names(self) -> tuple[str | None, ...]:
        """None (the default) and every prompt name: the values `__call__` is saved for."""
        return (None, *self._prompts)

    def trace_for_saving(self) -> None:
        """Traces `__call__` and `pack` for every prompt name (once: calls then reuse them)."""
        if self._traced:
            return
        self._traced = True
        for name in self.prompt_names():
            self.__call__.get_concrete_function(_STRINGS_SPEC, prompt_name=name)
            self.pack.get_concrete_function(_STRINGS_SPEC, prompt_name=name)

    @property
    def signatures(self) -> dict:
        """The signatures to pass to `tf.saved_model.save`."""
        out = {interface.SERVING_SIGNATURE: self.serving_default.get_concrete_function()}
        for name in self._prompts:
            out[prompt_signature(name)] = getattr(
                self, prompt_signature(name)
            ).get_concrete_function()
        return out


def save_embedding(model: EmbeddingModel, path: os.PathLike | str) -> None:
    """Writes the `embedding/` SavedModel of `model` to `path`."""
    model.trace_for_saving()
    tf.saved_model.save(model, os.fspath(path), signatures=model.signatures)
