"""Whether a compiled rule is exactly what it claims to be (docs/theory.md section 8): only
then is its evaluation the code generated from its proved tree."""

from __future__ import annotations


def originals(cls, methods) -> dict:
    """The class's methods as they are at import (what :func:`seal_reason` compares with)."""
    return {m: getattr(cls, m) for m in methods}


def seal_reason(rule, cls, original: dict, bound) -> str | None:
    """None when ``rule`` is exactly a ``cls`` with none of ``original``'s methods replaced
    (on the object or the class) and each ``(attribute, method)`` of ``bound`` the rule's
    own method; else the reason (then the rule gets no proof)."""
    if type(rule) is not cls:
        return (f"{type(rule).__name__} is not the compiled {cls.__name__} (a subclass or "
                "another class may evaluate differently)")
    for m in original:
        if m in vars(rule):
            return f"the rule's {m} was replaced on the object"
        if getattr(cls, m) is not original[m]:
            return f"{cls.__name__}.{m} was replaced"
    for attr, method in bound:
        fn = getattr(rule, attr)
        if getattr(fn, "__func__", None) is not original[method] or fn.__self__ is not rule:
            return f"the rule's {attr} is not the generated code"
    return None
