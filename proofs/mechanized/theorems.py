"""Which Coq theorem of ``proofs/coq/`` checks which ARGUED step and which unbounded claim
(docs/theory.md section 10, where each statement stands next to its mathematical form).

:func:`mark` turns an ARGUED step of a lemma chain into COQ-CHECKED, naming its theorems,
only when :func:`proofs.mechanized.coq.status` built or verified them; otherwise the step
stays ARGUED and says why. Steps about the code rather than the mathematics (the
family's rule *is* a mixture) have no theorem and stay ARGUED.
"""

from __future__ import annotations

COQ_CHECKED = "COQ-CHECKED"

_GRID = ("Theorem.box_mon_implies_ca", "Theorem.box_grid_second_price_witness",
         "Theorem.box_converse", "Theorem.seg_mon_implies_ca",
         "Theorem.seg_grid_second_price_witness", "Theorem.seg_converse", "Theorem.znd_pairs")

#: ARGUED step id -> the Coq theorems (module.name under TokenAuction) that prove it
STEPS: dict[str, tuple[str, ...]] = {
    "v_free_box": ("Box.box_lift", "Box.box_scale_lift"),
    "v_free_segment": ("Box.seg_qf_iff", "Box.seg_scale_lift"),
    "characterization": ("Characterization.characterization",
                         "Characterization.mon_only_if_scaled",
                         "Characterization.scales_mon_seg"),
    "reference_party": ("Normalized.normalized_mon_iff",),
    "smoothing": ("Mixture.smooth_dist",),
    "wta_others": ("WTA.wta_others", "WTA.wta_scale"),
    "pairs_to_grid": _GRID,
    "z_zero": ("Theorem.box_grid_second_price_witness",),
    "tokens_sum": ("Theorem.G_diff", "Theorem.TV_zero"),
}

#: solver-PROVED lemmas whose statement Coq proves too (shown as "also Coq")
ALSO: dict[str, tuple[str, ...]] = {
    "between": ("Box.between_scale",), "seg_pair": ("Box.seg_pair",),
    "seg_global": ("Box.seg_qf_iff",), "distrib": ("Mixture.distrib",),
    "agg": ("Mixture.mix_dev", "Mixture.mixture_step"), "ca_either": ("Mixture.mixture_ca_box",),
    "nec_rise": ("Characterization.nec_rise",), "nec_shape": ("Characterization.nec_shape",),
    "norm_scale": ("Normalized.normalized_scales",),
    "norm_nec": ("Normalized.normalized_mon_only_if",),
    "wta_win": ("WTA.wta_win",), "wta_scale": ("WTA.wta_scale",),
    "PT1": ("Theorem.PT1",), "PT2": ("Theorem.PT2",), "PT3": ("Theorem.TV_zero",),
    "sum_pos": ("Base.sum_zero_iff",), "z_step": ("Theorem.z_step", "Theorem.z_invariant"),
    "pair_pm": ("Theorem.witness_box",), "s1_alpha": ("Theorem.s1",),
    "znd_trans": ("Theorem.znd_pairs",), "converse_pair": ("Theorem.converse_pair",),
    "mon_ca": ("Theorem.mon_implies_ca",),
}

#: steps that stay ARGUED on purpose: they state a fact about our code, not mathematics
NOT_MATHEMATICS = {
    "mixture_form": "a statement about the family's construction (its rule is a mixture), "
                    "not a mathematical step",
    "code_tie": "a statement about the code (the family rule is the rule)",
}

_MIX = ("Mixture.distrib", "Mixture.mixture_step")
_NORM_BOX = ("Normalized.normalized_mon_if",) + _MIX + ("Mixture.mixture_mon_box",)
_NORM_SEG = ("Normalized.normalized_mon_seg_if",) + _MIX + ("Mixture.mixture_mon_seg",)
_WTA_BOX = ("WTA.wta_scale", "WTA.wta_mon_box")
_WTA_SEG = ("WTA.wta_scale", "WTA.wta_mon_seg")


def _claims() -> dict[str, tuple[str, ...]]:
    out = {"unbounded.characterization": ("Characterization.characterization",
                                          "Characterization.scales_mon_seg"),
           "unbounded.overbid.mon_box": ("Normalized.normalized_mon_only_if",)}
    for o, norm, wta in (("box", _NORM_BOX, _WTA_BOX), ("segment", _NORM_SEG, _WTA_SEG)):
        short = "box" if o == "box" else "seg"
        for fam in ("linear", "linear_ref"):
            out[f"unbounded.{fam}.mon_{o}"] = norm
            out[f"unbounded.{fam}.ca_{o}"] = norm + ("Theorem.mon_implies_ca",)
        out[f"unbounded.wta.mon_{o}"] = wta
        out[f"unbounded.wta.ca_{o}"] = wta + ("Theorem.mon_implies_ca",)
        out[f"unbounded.softmax.mon_{o}"] = norm
        out[f"unbounded.power.mon_{o}"] = norm
        out[f"unbounded.theorem.{o}.mon_implies_ca"] = (f"Theorem.{short}_mon_implies_ca",)
        out[f"unbounded.theorem.{o}.grid_second_price_witness"] = (
            f"Theorem.{short}_grid_second_price_witness",)
        out[f"unbounded.theorem.{o}.converse"] = (f"Theorem.{short}_converse",)
        for h in ("CA", "PM", "Znd"):
            out[f"unbounded.theorem.{o}.converse_without_{h}"] = (
                f"Padding.{short}_converse_needs_{h}",)
    return out


CLAIMS: dict[str, tuple[str, ...]] = _claims()


def all_theorems() -> tuple[str, ...]:
    names = {t for table in (STEPS, ALSO, CLAIMS) for ts in table.values() for t in ts}
    return tuple(sorted(names))


def mark(step):
    """An ARGUED step becomes COQ-CHECKED when its theorems checked, else says why not; a
    solver-PROVED lemma that Coq proves too names those theorems (its verdict stays)."""
    from proofs.mechanized.coq import status
    if step.verdict != "ARGUED":
        if step.id in ALSO and status().checked:
            step.statement += " [also Coq: " + ", ".join(f"TokenAuction.{n}"
                                                       for n in ALSO[step.id]) + "]"
        return step
    if step.id in NOT_MATHEMATICS:
        step.statement += f" [not mechanized: {NOT_MATHEMATICS[step.id]}]"
        return step
    names = STEPS.get(step.id)
    if names is None:
        return step
    st = status()
    cited = ", ".join(f"TokenAuction.{n}" for n in names)
    if st.checked:
        step.verdict, step.engine = COQ_CHECKED, "coq"
        step.statement += f" [Coq: {cited}]"
    else:
        step.statement += f" [Coq not checked ({st.reason.splitlines()[0]}): {cited}]"
    return step


def claim_info(claim_id: str) -> dict | None:
    """For ``prove --json``: the Coq theorems of an unbounded claim and whether they checked."""
    names = CLAIMS.get(claim_id)
    if names is None:
        return None
    from proofs.mechanized.coq import status
    st = status()
    return {"theorems": [f"TokenAuction.{n}" for n in names], "checked": st.checked,
            "reason": st.reason.splitlines()[0] if st.reason else ""}


def coq_note() -> str:
    """Why ARGUED steps remain in a chain (for its summary)."""
    from proofs.mechanized.coq import status
    st = status()
    if st.checked:
        return "those not mechanized state facts about the code"
    return "Coq not checked: " + st.reason.splitlines()[0]
