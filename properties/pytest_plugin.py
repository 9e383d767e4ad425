"""The older name of the pytest plugin, for ``-p properties.pytest_plugin``: the plugin lives
in :mod:`tokenauction.pytest_plugin` (importing it imports nothing heavy)."""

from tokenauction.pytest_plugin import (ENTRY_POINT, assert_rule_properties,  # noqa: F401
                                        pytest_configure, pytest_plugin_registered,
                                        pytest_runtest_call, run_marker)
