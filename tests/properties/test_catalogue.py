"""The catalogue is the one registry: what each engine decides derives from its declarations
(theory §1-6), and the lists elsewhere agree with it."""

from __future__ import annotations

import pytest

from mechanism.valuations import MODEL_DEPENDENT
from properties.catalogue import (CATALOGUE, DETERMINISM, VALUE_MODEL_PROPERTIES, Property,
                                  ids_with)
from properties.checker.rule_checks import POINTWISE


def test_searches_and_engines_derive_from_the_declarations():
    assert set(POINTWISE) == set(ids_with(search="pointwise"))
    assert DETERMINISM == ("deterministic", "payment_deterministic")
    assert set(ids_with(engine="proof")) == {"monotone", "consistent"}
    assert ids_with(engine="definition") == ("consistent",)
    assert set(ids_with(search="payment")) == {p.id for p in CATALOGUE.values()
                                               if p.kind == "payment"} - set(DETERMINISM)
    assert VALUE_MODEL_PROPERTIES == MODEL_DEPENDENT
    for p in CATALOGUE.values():
        assert p.spec.startswith("theory §") and len(p.orders) == (6 if p.per_order else 1)


def test_the_prover_covers_the_properties_declared_proved():
    rule_level = pytest.importorskip("proofs.bounded.rule_level")
    assert set(ids_with(engine="proof")) <= set(rule_level.PROPERTIES)


@pytest.mark.parametrize("bad", [
    dict(kind="auction"), dict(engines=("oracle",)), dict(engines=("sampled",), search=None),
    dict(engines=("determinism",), search="path"), dict(search="nowhere")])
def test_an_inconsistent_declaration_is_refused(bad):
    fields = dict(id="x", kind="rule", per_order=False, spec="theory §1", summary="s",
                  engines=("sampled",), search="pointwise")
    with pytest.raises(ValueError, match="inconsistent catalogue entry"):
        Property(**{**fields, **bad})


def test_check_routes_each_key_by_its_declaration(monkeypatch):
    """A property declared with no proof engine is never sent to the prover."""
    import dataclasses

    from mechanism import get_rule
    from properties import check
    from properties.checker import proving
    calls = []
    monkeypatch.setattr(proving, "prove", lambda t, key, *a: calls.append(key))
    check(get_rule("linear"), ["monotone:box"], max_examples=5, run_reproductions=False)
    assert calls == [("monotone", "box")]
    calls.clear()
    monkeypatch.setitem(CATALOGUE, "monotone",
                        dataclasses.replace(CATALOGUE["monotone"], engines=("sampled",)))
    check(get_rule("linear"), ["monotone:box"], max_examples=5, run_reproductions=False)
    assert calls == []

