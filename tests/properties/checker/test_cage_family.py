"""``check FILE:NAME`` of a family rule: the worker sends the sealed rule's declaration as
data (proofs/compile/serial_family.py); the checker rebuilds it strictly, proves it for
every n and every V, and runs its generated code in its own process. An unsealed family
(a subclass, a patched method) stays a sampled caged rule and gets no proof; a forged
message is refused."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.helpers.requires import require

require("z3")

from tests.helpers.recording import run_cli

FAMILIES = textwrap.dedent('''
    from proofs.unbounded.families import normalized
    softmax = normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 2.0})
    bump = normalized(lambda b, fn: b / (1 + b * b))

    class Sub(type(softmax)):
        pass
    sub = Sub("sub", "normalized", lambda b, fn: b + 1)

    from proofs.unbounded.families import general, winner_take_all
    squares = general(lambda bids, fn: [b * b + 1 for b in bids])
    wta = winner_take_all()

    patched = normalized(lambda b, fn: b + 1)
    patched.total_weight = lambda b: 1.0
''')

#: The user's file rewrites the worker's sender so that the message it sends is forged.
#: A hostile worker: it forges the family's data, and hides the replaced function from the
#: worker's tamper check (properties/tamper.py: code in the worker's process can defeat an
#: in-process check), so the parent's strict reading of the data is what refuses it.
FORGED = textwrap.dedent('''
    import proofs.compile.serial_family as SF
    import properties.tamper as TM
    from proofs.unbounded.families import normalized
    _real = SF.worker_data
    TM.changed = lambda before: []
    TM.foreign = lambda: []

    def _forge(rule):
        data = _real(rule)
        {forge}
        return data
    SF.worker_data = _forge
    rule = normalized(lambda b, fn: b + 1)
''')


@pytest.fixture
def families(tmp_path, monkeypatch):
    path = tmp_path / "user_families.py"
    path.write_text(FAMILIES)
    import properties.loading as L

    def no_load(*a, **k):
        raise AssertionError("the user's file was loaded in the checker's process")
    monkeypatch.setattr(L, "load_spec", no_load)
    return str(path)


def _findings(out: str, prop: str = "monotone") -> dict:
    js = json.loads(out)
    return {(f["order"], f["engine"]): f for f in js["findings"] if f["property"] == prop}


def test_a_caged_family_rule_is_proved_for_every_n_and_every_V(capsys, families):
    rc, out = run_cli(capsys, "check", f"{families}:softmax", "--property", "monotone:box",
                      "--property", "monotone:segment", "--max-examples", "20", "--json")
    assert rc == 0, out
    rows = _findings(out)
    for order in ("box", "segment"):
        proved = [f for (o, e), f in rows.items() if o == order and e != "hypothesis"]
        assert len(proved) == 1 and proved[0]["verdict"] == "PROVED", rows
        scope = proved[0]["scope"]
        assert scope["unbounded"] is True and scope["max_agents"] is None \
            and scope["max_tokens"] is None and scope["arithmetic"] == "exact reals", scope
        assert "every n and every V" in proved[0]["detail"] and "exp(b / 2)" in proved[0]["detail"]


@pytest.mark.parametrize("name, agents", [("squares", 4), ("wta", None)])
def test_caged_general_and_winner_take_all_families_get_their_proofs(capsys, families, name,
                                                                     agents):
    rc, out = run_cli(capsys, "check", f"{families}:{name}", "--property", "monotone:box",
                      "--max-examples", "20", "--json")
    assert rc == 0, out
    proved = [f for (o, e), f in _findings(out).items() if e != "hypothesis"]
    assert [f["verdict"] for f in proved] == ["PROVED"], proved
    assert proved[0]["scope"]["max_agents"] == agents, proved[0]["scope"]


def test_a_caged_non_monotone_family_is_refuted_with_a_reproduction(capsys, families):
    rc, out = run_cli(capsys, "check", f"{families}:bump", "--property", "monotone:box",
                      "--max-examples", "20")
    assert rc == 1, out
    assert "REFUTED monotone (box)" in out, out
    assert f"load_target('{families}:bump')" in out, out
    assert "ran in a fresh process and failed as expected" in out, out


@pytest.mark.parametrize("name, why", [("sub", "Sub is not the compiled FamilyRule"),
                                       ("patched", "total_weight was replaced")])
def test_an_unsealed_family_in_a_file_is_sampled_and_not_proved(capsys, families, name, why):
    rc, out = run_cli(capsys, "check", f"{families}:{name}", "--property", "monotone:box",
                      "--max-examples", "20", "--json")
    rows = _findings(out)
    assert not any(f["verdict"] == "PROVED" for f in rows.values()), rows
    z3 = rows[("box", "z3")]
    assert z3["verdict"] == "UNKNOWN" and "not sealed" in z3["detail"] and why in z3["detail"], z3
    assert rows[("box", "hypothesis")]["verdict"] == "NOT_REFUTED", rows


@pytest.mark.parametrize("forge, why", [
    ('data["extra"] = 1', "extra"),
    ('data["weight"] = float("nan")', "weight = nan"),
    ('data["params"] = {"T": "nan/1"}', "'nan/1'"),
    ('data["rows"][0] = ["report", 0, 0]', "p0[0] cannot occur"),
    ('data["rows"][0] = ["bid", 3]', "cannot occur"),
    ('data["tree"] = 99', "names no row"),
])
def test_a_forged_worker_message_is_refused(capsys, tmp_path, forge, why):
    path = tmp_path / "forged.py"
    path.write_text(FORGED.replace("{forge}", forge))
    rc, out = run_cli(capsys, "check", f"{path}:rule", "--property", "monotone:box",
                      "--max-examples", "20")
    assert rc == 2, out
    assert "PROVED" not in out and "malformed" in out and why in out, out
