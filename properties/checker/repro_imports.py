"""The import lines of a printed reproduction: how it binds ``rule`` / ``payment``.

The string the user passed wins (``load_target('my_rule.py:f')``, loaded again the same
way); else a registry name (``get_rule('linear')``); else an importable ``module.qualname``.
An object with none of these (a lambda, a closure, a module loaded from a file path) gets a
placeholder line marked :data:`NOT_RUNNABLE`, and its finding says the reproduction could
not be run (:mod:`properties.checker.reproduce`), never a broken ``import``.
"""

from __future__ import annotations

from mechanism import payments as PAY
from mechanism import rules as R

from properties.protocol import label, origin

#: Marks a reproduction line that cannot run as printed (the object has no importable name).
NOT_RUNNABLE = "not runnable as printed"


def import_lines(obj, spec: str | None, var: str) -> list[str]:
    """Python lines that bind ``var`` to ``obj`` in a paste-able reproduction: the string
    the user passed when there is one (loaded again by :func:`properties.load_target`),
    else a registry name, else an importable ``module.qualname``; otherwise a placeholder
    line (such a reproduction is marked not runnable)."""
    if spec is not None:
        return ["from properties import load_target",
                f"{var} = load_target({spec!r})"]
    if isinstance(obj, R.Rule) and obj.name in R.RULES:
        lines = ["from mechanism import get_rule", f"{var} = get_rule({obj.name!r}"
                 + (f", epsilon={obj.epsilon!r})" if obj.epsilon else ")")]
        if obj.reference is not None:
            lines.append(f"{var} = {var}.with_reference(np.array({obj.reference.tolist()!r}), "
                         f"{obj.weight!r})")
        return lines
    if isinstance(obj, PAY.PaymentRule) and obj.name in PAY.PAYMENT_RULES:
        return ["from mechanism import get_payment_rule",
                f"{var} = get_payment_rule({obj.name!r})"]
    mod, qual = origin(obj)
    if isinstance(obj, R.Rule) and obj.generic is not None and obj._numpy_fn is None:
        inner = import_lines(obj.generic, None, "_generic")
        if NOT_RUNNABLE not in inner[-1]:
            return ["from mechanism.rules import Rule", *inner,
                    f"{var} = Rule({obj.name!r}, _generic)"]
    if mod and mod != "__main__" and qual and qual.isidentifier() \
            and not mod.startswith("_tokenauction_user_"):
        return [f"from {mod} import {qual} as {var}"]
    what = f"callable {qual}" if qual else f"{type(obj).__name__} {label(obj)!r}"
    return [f"{var} = ...  # {NOT_RUNNABLE}: the {what} under test has no importable name "
            "(pass it as 'file.py:NAME' or 'package.module:NAME')"]
