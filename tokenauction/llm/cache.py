"""A KV cache that grows in place: each decode step writes one position, nothing is copied.

transformers' ``DynamicLayer`` appends by ``torch.cat``, so every step of a generation copies
the whole cache of every layer (an 8-agent SmolLM2 step: 30 layers x keys and values). A
:class:`GrowingLayer` keeps keys and values in buffers with room for more positions (the
capacity doubles when full) and hands attention a view of the filled part; the values it
returns are the same tensors ``DynamicLayer`` would return, only stored with a longer stride.
Anything that replaces ``keys``/``values`` from outside (``batch_select_indices``,
``batch_repeat_interleave``, ``reorder_cache``, ``crop``: inherited, they make new tensors) is
noticed at the next ``update``, which copies the new tensors into fresh buffers.
"""

from __future__ import annotations

from tokenauction.llm.model import require_torch

#: Positions of room a fresh buffer gets beyond what it must hold (then doubling).
MIN_ROOM = 32


def growing_cache(config):
    """A ``transformers.DynamicCache`` for ``config`` whose full-attention layers are
    :class:`GrowingLayer` (other layer kinds, e.g. sliding windows, are left as they are)."""
    _, transformers = require_torch()
    cache = transformers.DynamicCache(config=config)
    layer = _growing_layer_class()
    cache.layers = [layer() if type(old) is transformers.cache_utils.DynamicLayer else old
                    for old in cache.layers]
    return cache


def _growing_layer_class():
    global _GROWING_LAYER
    if _GROWING_LAYER is None:
        torch, transformers = require_torch()

        class GrowingLayer(transformers.cache_utils.DynamicLayer):
            """``DynamicLayer`` whose keys and values are views of buffers with spare room."""

            def update(self, key_states, value_states, *args, **kwargs):
                if not self.is_initialized:
                    self.lazy_initialization(key_states, value_states)
                new = key_states.shape[-2]
                if not self._own_views() or self.keys.shape[-2] + new > self._key_buffer.shape[-2]:
                    self._rebuffer(key_states, value_states)
                length = self.keys.shape[-2]
                end = length + new
                self._key_buffer[:, :, length:end] = key_states
                self._value_buffer[:, :, length:end] = value_states
                self.keys = self._key_buffer[:, :, :end]
                self.values = self._value_buffer[:, :, :end]
                return self.keys, self.values

            def _own_views(self) -> bool:
                """Are ``keys``/``values`` still the views this layer made of its buffers?"""
                keys, buffer = self.keys, getattr(self, "_key_buffer", None)
                return (buffer is not None and keys.ndim == 4
                        and keys.data_ptr() == buffer.data_ptr()
                        and self.values.data_ptr() == self._value_buffer.data_ptr()
                        and keys.shape[:2] == buffer.shape[:2] and keys.stride() == buffer.stride()
                        and self.values.stride() == self._value_buffer.stride())

            def _rebuffer(self, key_states, value_states) -> None:
                """Copy the filled part (none if nothing is cached yet) into buffers with room
                for the incoming states and as many positions again (at least MIN_ROOM)."""
                filled = self.keys.ndim == 4 and self.keys.shape[-2] > 0
                length = self.keys.shape[-2] if filled else 0
                need = length + key_states.shape[-2]
                room = need + max(MIN_ROOM, need)
                for name, old, incoming in (("_key_buffer", self.keys, key_states),
                                            ("_value_buffer", self.values, value_states)):
                    shape = (*incoming.shape[:-2], room, incoming.shape[-1])
                    buffer = torch.empty(shape, dtype=incoming.dtype, device=incoming.device)
                    if filled:
                        buffer[:, :, :length] = old
                    setattr(self, name, buffer)
                self.keys = self._key_buffer[:, :, :length]
                self.values = self._value_buffer[:, :, :length]

        _GROWING_LAYER = GrowingLayer
    return _GROWING_LAYER


_GROWING_LAYER = None
