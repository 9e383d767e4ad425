"""Fixtures of the app's tests: the default model, loaded once per test process."""

import pytest


@pytest.fixture(scope="session")
def loaded():
    """SmolLM2-135M-Instruct on the CPU in float32, with small-batch linears (the default)."""
    from tokenauction.llm.agents import load_model
    return load_model(device="cpu")


@pytest.fixture(scope="session")
def stock():
    """The same model with transformers' stock linear layers (the oracles' forward)."""
    from tokenauction.llm.agents import load_model
    return load_model(device="cpu", small_batch=False)
