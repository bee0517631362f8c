"""The docstring examples of the preprocess modules run and hold."""

import doctest

import pytest
import tensorflow as tf

from bert_tf.preprocess import normalize, packing, tokenizer


@pytest.mark.parametrize("module", [normalize, packing, tokenizer])
def test_doctests(module):
    result = doctest.testmod(module, extraglobs={"tf": tf})
    assert result.attempted > 0 and result.failed == 0
