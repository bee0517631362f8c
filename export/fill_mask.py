r"""Predict the `[MASK]` words of a text with an exported masked-LM head (`bert-tf-fill-mask`).

Needs an export made with `--with_mlm` (it calls `encoder.mlm`). Each literal
`[MASK]` in the text becomes the mask token; the rest is tokenized by the
export's own `preprocess/`.

Examples:

  bert-tf-export --checkpoint=uncased_L-12_H-768_A-12 --output_dir=exports/bert --with_mlm
  bert-tf-fill-mask exports/bert "Hello I'm a [MASK] model."
  bert-tf-fill-mask exports/bert "Paris is the [MASK] of [MASK]." --top_k=3

`fill_mask(export_dir, text, top_k=5)` -> per mask, a list of
`(token, probability)` from most to least likely.
"""

from __future__ import annotations

import os

from bert_tf import interface
from bert_tf.interface import ExportDirError

MASK = interface.SPECIAL_TOKENS["mask_id"]


def _vocab_tokens(preprocess) -> list[str]:
    from bert_tf.preprocess import load_vocab

    return load_vocab(preprocess.tokenize.vocab_file.asset_path.numpy().decode())


class MaskFiller:
    """An export's `preprocess/` and `encoder.mlm`, loaded once for many texts."""

    def __init__(self, export_dir: os.PathLike | str):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)

        layout = interface.check_export_dir(export_dir)
        path = layout.root
        self._encoder = tf.saved_model.load(os.fspath(layout.encoder_dir))
        if not hasattr(self._encoder, interface.MLM_ENDPOINT):
            raise ExportDirError(
                f"{path}: the encoder has no masked-LM head (mlm): re-export with --with_mlm"
            )
        self._preprocess = tf.saved_model.load(os.fspath(layout.preprocess_dir))
        special = self._preprocess.tokenize.get_special_tokens_dict()
        self._special = {k: int(v) for k, v in special.items()}
        if self._special["mask_id"] < 0:
            raise ExportDirError(f"{path}: the vocab has no {MASK} token")
        self._vocab = _vocab_tokens(self._preprocess)

    def _ids(self, text: str) -> tuple[list[int], list[int]]:
        import tensorflow as tf

        pieces = text.split(MASK)
        if len(pieces) == 1:
            raise ExportDirError(f"the text has no {MASK}: {text!r}")
        tokens = self._preprocess.tokenize(tf.constant(pieces))
        ids, positions = [self._special["start_of_sequence_id"]], []
        for index, piece_ids in enumerate(tokens.merge_dims(1, 2).to_list()):
            ids += piece_ids
            if index < len(pieces) - 1:
                positions.append(len(ids))
                ids.append(self._special["mask_id"])
        ids.append(self._special["end_of_segment_id"])
        return ids, positions

    def __call__(self, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """Per `[MASK]` in `text`, the `top_k` most likely tokens and their probabilities."""
        import tensorflow as tf

        ids, positions = self._ids(text)
        inputs = {
            "input_word_ids": tf.constant([ids], tf.int32),
            "input_mask": tf.ones([1, len(ids)], tf.int32),
            "input_type_ids": tf.zeros([1, len(ids)], tf.int32),
            "masked_lm_positions": tf.constant([positions], tf.int32),
        }
        logits = self._encoder.mlm(inputs, training=False)["mlm_logits"][0]
        probs, best = tf.math.top_k(tf.nn.softmax(logits, axis=-1), k=top_k)
        return [
            [(self._vocab[int(i)], float(p)) for i, p in zip(ids_row, prob_row)]
            for ids_row, prob_row in zip(best.numpy(), probs.numpy())
        ]


def fill_mask(
    export_dir: os.PathLike | str, text: str, top_k: int = 5
) -> list[list[tuple[str, float]]]:
    """Per `[MASK]` in `text`, the `top_k` most likely tokens with their probabilities.

    Raises:
        ExportDirError: not an export, no `mlm` (export without
            `--with_mlm`), or no `[MASK]` in `text`.
    """
    return MaskFiller(export_dir)(text, top_k)


def format_predictions(text: str, predictions: list[list[tuple[str, float]]]) -> str:
    """The text with each mask filled by its best guess, then every mask's top-k table."""
    pieces = text.split(MASK)
    filled = pieces[0] + "".join(
        options[0][0] + piece for options, piece in zip(predictions, pieces[1:])
    )
    lines = [filled]
    for index, options in enumerate(predictions, 1):
        lines.append(f"[MASK] {index}:")
        lines += [f"  {prob:6.1%}  {token}" for token, prob in options]
    return "\n".join(lines)
