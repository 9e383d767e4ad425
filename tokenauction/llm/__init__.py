"""The LLM adapter: each agent's next-token distribution from a real model.

``load_model`` (``tokenauction.llm.model``) loads SmolLM2-135M-Instruct from its PyPI package
(or a local folder), and ``LLMAgents`` (``tokenauction.llm.agents``) is the provider the
auction calls each step, all agents in one batch. torch and transformers are imported lazily.
"""

from tokenauction.llm.agents import LLMAgents, chat_token_ids, nucleus
from tokenauction.llm.model import LoadedModel, load_model

__all__ = ["LLMAgents", "LoadedModel", "chat_token_ids", "load_model", "nucleus"]
