"""mechanism.records: the strict reader. The nesting depth it refuses beyond MAX_DEPTH
against a plain recursive definition; numbers out of float64 range; duplicate keys named."""

import json

import numpy as np
import pytest

from mechanism import InvalidInput
from mechanism.records import MAX_DEPTH, _depth, canonical, parse_line


def depth(x) -> int:
    if isinstance(x, dict):
        return 1 + max((depth(v) for v in x.values()), default=0)
    if isinstance(x, list):
        return 1 + max((depth(v) for v in x), default=0)
    return 0


def random_value(rng, d):
    kind = int(rng.integers(0, 4 if d < 7 else 1))
    if kind == 0:
        return float(rng.standard_normal()) if rng.random() < 0.5 else int(rng.integers(9))
    if kind in (1, 2):
        return [random_value(rng, d + 1) for _ in range(int(rng.integers(0, 4)))]
    return {f"k{j}": random_value(rng, d + 1) for j in range(int(rng.integers(0, 4)))}


def test_depth_equals_the_recursive_definition():
    rng = np.random.default_rng(3)
    for _ in range(500):
        rec = {"a": random_value(rng, 1), "b": random_value(rng, 1)}
        want = depth(rec)
        for limit in (2, MAX_DEPTH, 9):
            got = _depth(rec, limit)
            assert (got > limit) == (want > limit) and (want > limit or got == want)


@pytest.mark.parametrize("extra", [0, 1])
def test_parse_line_refuses_only_what_is_too_deep(extra):
    inner = 0
    for _ in range(MAX_DEPTH - 1 + extra):
        inner = [inner]
    line = canonical({"x": inner}) + b"\n"
    if extra:
        with pytest.raises(InvalidInput, match="nested deeper"):
            parse_line(line, "t.jsonl:2")
    else:
        assert parse_line(line, "t.jsonl:2") == json.loads(line)


@pytest.mark.parametrize("line, says", [
    (b'{"a":1e400}\n', "out of float64 range"),
    (b'{"a":[-1E999]}\n', "out of float64 range"),
    (b'{"a":1,"a":2}\n', "duplicate key 'a'"),
    (b'{"a":{"b":1,"b":1}}\n', "duplicate key 'b'"),
    (b'{"b":1,"a":2}\n', "not in canonical JSON form"),
    (b'{"a":NaN}\n', "NaN is not JSON"),
])
def test_bad_lines_are_invalid_input_naming_the_line(line, says):
    with pytest.raises(InvalidInput, match=says) as exc:
        parse_line(line, "t.jsonl:7")
    assert exc.value.value == 7 and "t.jsonl:7" in str(exc.value)

