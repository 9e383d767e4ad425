"""The top-p normaliser (``block_sum`` in tokenauction/llm/top_p.py): float32 sums of 16
terms, then a float64 sum of the blocks, within the relative error its docstring proves
(< 9e-7 from the blocks, far inside ``DECISION_MARGIN``), on every vocabulary length (a tail
that is not a whole block included) and on the terms that make float32 sums worst: many
equal terms, one large term among tiny ones. No model needed."""

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    not importlib.util.find_spec("torch") or not importlib.util.find_spec("transformers"),
    reason="torch/transformers absent: pip install torch==2.13.0 'tokenauction[llm]'")

#: The bound the module docstring proves for the blocks' float32 rounding: 15 * 2**-24.
BLOCK_BOUND = 15 * 2.0 ** -24


def exact_sums(terms) -> np.ndarray:
    """Row sums of the float32 terms, exactly (math.fsum on their float64 values)."""
    import math
    return np.array([math.fsum(row) for row in terms.double().numpy()])


@pytest.mark.parametrize("vocab", [1, 15, 16, 17, 49152, 49159])
def test_block_sum_is_within_its_bound(vocab):
    """Drawn terms in (0, 1] with the row's largest exactly 1 (as the normaliser's are), for
    vocabularies that are and are not whole blocks. Planted bug: dropping the tail of
    ``vocab % BLOCK`` terms fails vocab 15, 17 and 49159."""
    import torch
    from tokenauction.llm.top_p import BLOCK, block_sum
    assert BLOCK == 16
    rng = np.random.default_rng(vocab)
    raw = rng.exponential(size=(5, vocab)) * rng.choice([1e-3, 1.0, 30.0], size=(5, 1))
    terms = torch.tensor(np.exp(-raw), dtype=torch.float32)
    terms[:, 0] = 1.0
    got = block_sum(terms)
    assert got.dtype == torch.float64 and got.shape == (5,)
    want = exact_sums(terms)
    assert np.all(np.abs(got.numpy() - want) <= BLOCK_BOUND * want)


def test_block_sum_worst_cases():
    """Sums that lose the most in float32: 49152 equal terms just below 1 (a whole-vector
    float32 sum drifts), one 1 among 2**-30 terms (a naive float32 running sum drops them
    all); the float64 block sums keep both within the bound, and all-zero rows stay 0."""
    import torch
    from tokenauction.llm.top_p import block_sum
    equal = torch.full((1, 49152), 1 - 2.0 ** -24, dtype=torch.float32)
    spike = torch.full((1, 49152), 2.0 ** -30, dtype=torch.float32)
    spike[0, 0] = 1.0
    zeros = torch.zeros((1, 40), dtype=torch.float32)
    for terms in (equal, spike):
        want = exact_sums(terms)
        assert abs(block_sum(terms).item() - want[0]) <= BLOCK_BOUND * want[0]
    assert block_sum(zeros).item() == 0.0


@pytest.mark.parametrize("vocab", [17, 3001, 49159])
def test_nucleus_with_a_partial_block_equals_the_definition(vocab):
    """nucleus on vocabularies with a tail of ``vocab % 16`` terms: the same kept tokens as
    the float64 definition, values within 1e-13. The tail holds the most likely tokens, so a
    normaliser that left them out would misjudge every row (planted: dropping the tail fails
    all three)."""
    import torch
    from tokenauction.llm.top_p import nucleus, nucleus_float64
    rng = np.random.default_rng(vocab)
    logits = rng.normal(size=(6, vocab)) * rng.choice([0.5, 2.0, 6.0], size=(6, 1))
    logits[:, -(vocab % 16):] += 12.0
    logits = torch.tensor(logits, dtype=torch.float32)
    fast, want = nucleus(logits).numpy(), nucleus_float64(logits).numpy()
    np.testing.assert_array_equal(fast > 0, want > 0)
    np.testing.assert_allclose(fast, want, rtol=1e-13, atol=0)
