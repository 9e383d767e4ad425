"""pytest plugin, registered as the ``pytest11`` entry point ``tokenauction`` (installing
tokenauction enables it; ``-p no:tokenauction`` turns it off; ``-p tokenauction.pytest_plugin``
or its older name ``-p properties.pytest_plugin`` enables it where entry points are disabled,
and is then registered once).

* fixture ``assert_rule_properties``: :func:`properties.assert_properties`;
* marker ``@pytest.mark.rule_properties(target, ["monotone:box", ...], **check_kwargs)``:
  the test fails with the shrunk counterexample when a listed property is REFUTED,
  before the test body runs.

It is loaded into every pytest run of the environment, other projects' too, so it imports
nothing but pytest and the standard library, and no hook of it can raise: when this install
cannot run the property suite (a core dependency missing, a shadowed ``mechanism``, ``proofs``
or ``properties``), it disables itself with one warning line and the run goes on.
"""

from __future__ import annotations

import importlib.util

import pytest

#: The name of the ``pytest11`` entry point (pyproject.toml) that auto-loads this module.
ENTRY_POINT = "tokenauction"
#: The module names under which this plugin may be registered explicitly with ``-p``.
MODULES = ("tokenauction.pytest_plugin", "properties.pytest_plugin")
_STATE = {"disabled": None}  #: why the plugin is off in this run (None: on)


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def why_disabled() -> str | None:
    """None when the property suite can run here, else the reason and its fix (one line).
    Only looks modules up; imports none."""
    try:
        from tokenauction import environment
        for mod in environment.CORE:
            if not _present(mod):
                return f"{mod} is not installed: {environment.install_hint(mod)}"
        problems = environment.shadowed()
        return problems[0] if problems else None
    except Exception as exc:  # never let a diagnosis break someone's test run
        return f"cannot inspect the installation ({type(exc).__name__}: {exc})"


def pytest_plugin_registered(plugin, manager):
    """With ``-p MODULE`` this module is registered under its module name before pytest
    loads entry points; the entry point would register the same plugin a second time under
    ``tokenauction`` ("Plugin already registered under a different name"). Block that
    second registration."""
    try:
        if getattr(plugin, "__name__", None) in MODULES \
                and manager.get_name(plugin) != ENTRY_POINT \
                and manager.get_plugin(ENTRY_POINT) is None:
            manager.set_blocked(ENTRY_POINT)
    except Exception:
        pass


def pytest_configure(config):
    try:
        config.addinivalue_line(
            "markers", "rule_properties(target, properties, **kwargs): assert that target has "
                       "the listed properties (tokenauction property suite)")
        _STATE["disabled"] = why_disabled()
        if _STATE["disabled"]:
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"tokenauction plugin disabled: {_STATE['disabled']}"), stacklevel=2)
    except Exception as exc:
        _STATE["disabled"] = f"{type(exc).__name__}: {exc}"


def _assert_properties():
    if _STATE["disabled"]:
        pytest.fail(f"tokenauction plugin disabled: {_STATE['disabled']}", pytrace=False)
    from properties.assertions import assert_properties
    return assert_properties


@pytest.fixture
def assert_rule_properties():
    """The one-line helper: ``assert_rule_properties(my_rule, ["monotone:box"])``."""
    return _assert_properties()


def run_marker(item) -> None:
    marker = item.get_closest_marker("rule_properties")
    if marker is None:
        return
    target, *rest = marker.args
    props = rest[0] if rest else None
    _assert_properties()(target, props, **marker.kwargs)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    run_marker(item)
