"""``[tool.tokenauction]`` in ``pyproject.toml``: a project's defaults for ``check`` and
``audit`` (docs/ci.md). Flags given on the command line win over it.

    [tool.tokenauction]
    properties = ["normalized", "monotone:box"]   # check: the properties judged
    orders = ["box", "segment"]                    # per-order properties: the orders
    max_examples = 200                             # sampled examples per property group
    budget = 60.0                                  # wall-clock budget of the sampling, seconds
    seed = 0
    timeout = 5.0                                  # per-call limit for the target's code
    strict = true                                  # UNKNOWN, thin evidence, missing engine fail
    min_valid = 20                                 # what thin evidence means under strict
    ignore = [{property = "monotone", order = "kl_forward", reason = "not claimed by this rule"}]

The file is the nearest ``pyproject.toml`` from the working folder upwards (stopping at the
first one found), or the one ``--config PATH`` names; a file without the table gives no
defaults. An unknown key or a value of the wrong type is a usage error naming it.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from pathlib import Path

from mechanism.errors import InvalidInput
from mechanism.records import open_binary

#: key -> the types it accepts (a list's items are strings)
KEYS = {"properties": list, "orders": list, "max_examples": int, "budget": (int, float),
        "seed": int, "timeout": (int, float), "strict": bool, "min_valid": int,
        "ignore": list}


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _check(key, value, where) -> None:
    if key not in KEYS:
        raise InvalidInput(f"unknown key {key!r} in [tool.tokenauction] of {where}; known: "
                           f"{', '.join(KEYS)}", value=key)
    want = KEYS[key]
    if isinstance(value, bool) and want is not bool:
        raise InvalidInput(f"[tool.tokenauction] {key} in {where} must be "
                           f"{getattr(want, '__name__', 'a number')}, not {value!r}", value=value)
    if not isinstance(value, want):
        raise InvalidInput(f"[tool.tokenauction] {key} in {where} has the wrong type "
                           f"({type(value).__name__}: {value!r})", value=value)
    if key in ("properties", "orders") and not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"[tool.tokenauction] {key} in {where} must be a list of strings, "
                           f"got {value!r}", value=value)


#: the ranges of the integer options (:func:`integer`)
SEED_RANGE = (0, 2 ** 64 - 1)
MAX_EXAMPLES_RANGE = (1, 10 ** 9)
WORKERS_RANGE = (1, 512)


def integer(name: str, value, limits: tuple[int, int]) -> int:
    """``value`` when it is an int (not a bool) within ``limits`` (both ends included), else
    InvalidInput naming ``name``, the value and the range: the one check of an integer
    option (``--seed``, ``--max-examples``, ``--workers``) for the CLIs and the
    configuration (a seed of -1 reached numpy's seeding as an internal error; 10**20
    examples ran until killed)."""
    low, high = limits
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and \
            low <= value <= high:
        return int(value)
    raise InvalidInput(f"{name} must be an integer from {low} to {high}, got {value!r}",
                       value=value)


def number(name: str, value, *, positive: bool = True, none_ok: bool = False):
    """``value`` as a float when it is a finite number ``> 0`` (``>= 0`` with
    ``positive=False``; None passes with ``none_ok``), else InvalidInput naming ``name``,
    the value and the fix. The one check of a numeric option (a time limit, a budget, a
    tolerance) for the CLIs, the configuration and the Python API: NaN passes every
    ``<= 0`` test and made a tolerance accept anything and a time limit fail every call."""
    if value is None and none_ok:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    x = float(value) if ok else float("nan")
    if ok and math.isfinite(x) and (x > 0 if positive else x >= 0):
        return x
    want = "a finite number > 0" if positive else "a finite number >= 0"
    raise InvalidInput(f"{name} must be {want}, got {value!r}", value=value)


#: the largest configuration file read (``--config /dev/zero`` read without end)
MAX_CONFIG_BYTES = 1 << 20


def read_small(path, what: str, limit: int, text: bool = False):
    """The bytes (``text``: the UTF-8 text) of a file the user names that is small by nature
    (a configuration, a key, a signature), reading at most ``limit + 1`` bytes: a larger
    file, ``/dev/zero`` or a FIFO that never ends is refused before more is read. Every
    failure is InvalidInput naming ``what``, the path and the reason: the one reader of
    such files for the CLIs."""
    try:
        with open_binary(path) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot be read ({exc.strerror or exc})",
                           value=str(path)) from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is over {limit} bytes; such a file is far smaller",
                           value=str(path))
    if not text:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} {path} is not UTF-8 text ({exc})", value=str(path)) from None


def load(path: str | None = None, start: Path | None = None) -> tuple[dict, Path | None]:
    """The ``[tool.tokenauction]`` table (validated) and the file it came from."""
    where = Path(path) if path else find_pyproject(start)
    if where is None:
        return {}, None
    try:
        data = tomllib.loads(read_small(where, "the configuration", MAX_CONFIG_BYTES, text=True))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{where} is not valid TOML: {exc}", value=str(where))
    table = data.get("tool", {}).get("tokenauction", {})
    if not isinstance(table, dict):
        raise InvalidInput(f"[tool.tokenauction] in {where} must be a table", value=table)
    for key, value in table.items():
        _check(key, value, where)
    return dict(table), where


def apply(args, table: dict, names: dict) -> None:
    """Fill every option of ``args`` the user did not give (None) from ``table``:
    ``names`` maps a configuration key to the ``args`` attribute it sets."""
    for key, attr in names.items():
        if key in table and getattr(args, attr, None) is None:
            setattr(args, attr, table[key])
