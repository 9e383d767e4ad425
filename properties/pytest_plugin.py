"""pytest plugin, registered as the ``pytest11`` entry point ``tokenauction`` (installing
tokenauction enables it; ``-p no:tokenauction`` turns it off). Enabling it explicitly with
``-p properties.pytest_plugin`` (for example where entry points are disabled with
``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``) is harmless: the plugin is then registered once.

* fixture ``assert_rule_properties``: :func:`properties.assert_properties`;
* marker ``@pytest.mark.rule_properties(target, ["monotone:box", ...], **check_kwargs)``:
  the test fails with the shrunk counterexample when a listed property is REFUTED,
  before the test body runs.
"""

from __future__ import annotations

import sys

import pytest

from .assertions import assert_properties

#: The name of the ``pytest11`` entry point (pyproject.toml) that auto-loads this module.
ENTRY_POINT = "tokenauction"


def pytest_plugin_registered(plugin, manager):
    """With ``-p properties.pytest_plugin`` this module is registered under its module name
    before pytest loads entry points; the entry point would register the same module a
    second time under ``tokenauction`` ("Plugin already registered under a different
    name"). Block that second registration."""
    if plugin is sys.modules[__name__] and manager.get_name(plugin) != ENTRY_POINT \
            and manager.get_plugin(ENTRY_POINT) is None:
        manager.set_blocked(ENTRY_POINT)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "rule_properties(target, properties, **kwargs): assert that target has "
                   "the listed properties (tokenauction property suite)")


@pytest.fixture
def assert_rule_properties():
    """The one-line helper: ``assert_rule_properties(my_rule, ["monotone:box"])``."""
    return assert_properties


def run_marker(item) -> None:
    marker = item.get_closest_marker("rule_properties")
    if marker is None:
        return
    target, *rest = marker.args
    props = rest[0] if rest else None
    assert_properties(target, props, **marker.kwargs)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    run_marker(item)
