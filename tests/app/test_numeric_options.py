"""Numeric options (time limits, budgets, tolerances, seeds, sampling parameters) are
finite and in range, or the command is a usage error (exit 2) naming the option and the
value; the Python API refuses the same values (properties.config.number).

Planted bugs seen failing (reverted): the old checks (``x <= 0`` / ``x < 0``, which NaN
passes): ``check linear --timeout nan`` was REFUTED (every call "timed out"), ``audit RUN
--identity-tol nan`` was CLEAN (no comparison fails against NaN), ``audit RUN --tol nan``
DIVERGED, ``check linear --timeout inf`` an internal error (exit 3), ``demo --seeds -3`` an
internal error."""

import math

import pytest

from mechanism.errors import InvalidInput
from tests.helpers.recording import record, run_cli


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("numeric") / "run", n=2, steps=3)


MECH = "tests/helpers/third_party.py:CorrectLinear"


@pytest.mark.parametrize("argv,option", [
    (("check", "linear", "--timeout", "nan"), "--timeout"),
    (("check", "linear", "--timeout", "inf"), "--timeout"),
    (("check", "linear", "--timeout", "0"), "--timeout"),
    (("check", "linear", "--budget", "nan"), "--budget"),
    (("check", "linear", "--budget=-inf"), "--budget"),
    (("audit", "--mechanism", MECH, "--timeout", "nan"), "--timeout"),
    (("audit", "--mechanism", MECH, "--budget", "nan"), "--budget"),
    (("audit", "--mechanism", MECH, "--max-examples", "0"), "--max-examples"),
    (("audit", "--mechanism", MECH, "--seed", "-1"), "--seed"),
    (("audit", "--mechanism", MECH, "--max-examples", str(10 ** 20)), "--max-examples"),
    (("check", "linear", "--seed", "-1"), "--seed"),
    (("check", "linear", "--max-examples", str(10 ** 20)), "--max-examples"),
    (("check", "linear", "log_linear", "--workers", str(10 ** 6)), "--workers"),
    (("audit", "tests", "--workers", str(10 ** 6)), "--workers"),
    (("demo", "--synthetic", "--seeds", "-3"), "seeds"),
    (("demo", "--synthetic", "--temperature", "nan"), "temperature"),
    (("demo", "--synthetic", "--top-p", "2"), "top_p"),
])
def test_a_bad_number_is_a_usage_error_naming_it(capsys, argv, option):
    rc, text = run_cli(capsys, *argv)
    assert rc == 2 and option in text and "internal error" not in text, text


@pytest.mark.parametrize("option", ["--tol", "--identity-tol"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_bad_tolerance_is_a_usage_error_never_a_verdict(capsys, run, option, value):
    rc, text = run_cli(capsys, "audit", run, "--quiet", f"{option}={value}")
    assert rc == 2 and option in text and "CLEAN" not in text and "DIVERGED" not in text, text


def test_the_python_api_refuses_the_same_values(run):
    from properties import check
    from properties.audit.implementation import audit_mechanism
    from properties.audit.replay import audit_run
    from tests.helpers.third_party import CorrectLinear
    for call, words in ((lambda: check("linear", seed=-1), "seed must be an integer"),
                        (lambda: check("linear", max_examples=2.5), "max_examples must be"),
                        (lambda: audit_mechanism(CorrectLinear(), seed=-1), "seed must be"),
                        (lambda: check("linear", seed=True), "seed must be")):
        with pytest.raises(InvalidInput, match=words):
            call()
    for call in (lambda: check("linear", timeout=math.nan),
                 lambda: check("linear", budget_s=math.inf),
                 lambda: audit_run(run, tol=math.nan),
                 lambda: audit_run(run, identity_tol=math.inf),
                 lambda: audit_mechanism(CorrectLinear(), timeout=math.nan)):
        with pytest.raises(InvalidInput, match="finite number"):
            call()


def test_good_numbers_still_run(capsys, run):
    rc, text = run_cli(capsys, "audit", run, "--quiet", "--tol", "0", "--identity-tol", "1e-6")
    assert rc == 0 and "CLEAN" in text, text


@pytest.mark.parametrize("content,words", [(None, "over 1048576 bytes"),
                                           (b"\xff\xfe[tool]", "not UTF-8 text")])
def test_a_configuration_that_is_not_a_small_text_file_is_a_usage_error(capsys, tmp_path,
                                                                       content, words):
    """``--config /dev/zero`` read without end; a non-UTF-8 file was an internal error
    (planted: ``Path.read_text``)."""
    path = "/dev/zero" if content is None else tmp_path / "pyproject.toml"
    if content is not None:
        path.write_bytes(content)
    for argv in (("check", "linear"), ("demo", "--synthetic")):
        rc, text = run_cli(capsys, *argv, "--config", path)
        assert rc == 2 and words in text and "internal error" not in text, (argv, text)
