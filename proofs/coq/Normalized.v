(** Corollary of the characterization for normalized independent weights
    w_j = f(b_j) / (lambda + sum_k f(b_k)), a platform reference with weight lambda
    (docs/theory.md, section 8): MON for every n and V iff f is non-decreasing. *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base TokenAuction.Box TokenAuction.Mixture
  TokenAuction.Characterization.
Open Scope R_scope.

Section Normalized.
Variable f : R -> R.
Variable lam : R.
Hypothesis lam_nonneg : 0 <= lam.
Hypothesis f_nonneg : forall x, 0 <= x -> 0 <= f x.

(** n agents 0..n-1 with bids b; party n is the reference, weight lambda, never bids. *)
Definition F (n : nat) (b : nat -> R) (j : nat) : R :=
  if (j <? n)%nat then f (b j) else lam.

Definition total (n : nat) (b : nat -> R) : R := sum (S n) (F n b).

Definition nw (n : nat) (b : nat -> R) (j : nat) : R := / total n b * F n b j.

Definition adm (n : nat) (b : nat -> R) : Prop :=
  (forall j, (j < n)%nat -> 0 <= b j) /\ 0 < total n b.

Definition nondecreasing := forall x y, 0 <= x -> x <= y -> f x <= f y.

Lemma F_nonneg n b j : adm n b -> (j < S n)%nat -> 0 <= F n b j.
Proof.
  intros [Hb _] Hj. unfold F. destruct (Nat.ltb_spec j n).
  - apply f_nonneg, Hb; assumption.
  - assumption.
Qed.

Lemma nw_valid n : valid (S n) (adm n) (nw n).
Proof.
  intros b Hb. split.
  - intros j Hj. unfold nw. apply Rmult_le_pos.
    + left; apply Rinv_0_lt_compat, Hb.
    + apply F_nonneg; assumption.
  - unfold nw. rewrite sum_scal. fold (total n b). field. apply Rgt_not_eq, Hb.
Qed.

Lemma F_others n i b b' j : raise (S n) i b b' -> j <> i -> F n b' j = F n b j.
Proof.
  intros [_ [_ H]] Hji. unfold F. destruct (j <? n)%nat; [rewrite H by assumption|]; reflexivity.
Qed.

Lemma total_diff n i b b' : raise (S n) i b b' -> total n b' - total n b = F n b' i - F n b i.
Proof.
  intros Hr. unfold total. apply sum_update; [apply Hr|].
  intros j _ Hji. apply (F_others n i); assumption.
Qed.

(** 'if': f non-decreasing gives the common factor c = S / S' in [0, 1]. *)
Theorem normalized_scales n : nondecreasing -> scales (S n) (adm n) (nw n).
Proof.
  intros Hf i b b' Hb Hb' Hr. exists (total n b / total n b').
  assert (HS := proj2 Hb). assert (HS' := proj2 Hb').
  assert (HFi : F n b i <= F n b' i).
  { destruct Hr as [Hi [Hlt _]]. unfold F. destruct (Nat.ltb_spec i n).
    - apply Hf; [apply (proj1 Hb); assumption | lra].
    - lra. }
  assert (Hd := total_diff n i b b' Hr). split.
  - split.
    + unfold Rdiv. apply Rmult_le_pos; [lra|left; apply Rinv_0_lt_compat; lra].
    + apply (Rmult_le_reg_r (total n b')); [lra|]. field_simplify; lra.
  - intros j _ Hji. unfold nw. rewrite (F_others n i b b' j Hr Hji). field. lra.
Qed.

Theorem normalized_mon_if n V : (2 <= V)%nat -> nondecreasing ->
  MON_box (S n) V (adm n) (nw n).
Proof.
  intros HV Hf. apply characterization; [assumption|apply nw_valid|].
  apply normalized_scales, Hf.
Qed.

Theorem normalized_mon_seg_if n V : nondecreasing -> MON_seg (S n) V (adm n) (nw n).
Proof. intros Hf. apply scales_mon_seg; [apply nw_valid|apply normalized_scales, Hf]. Qed.

(** 'only if' (lemma [norm_nec]): a decreasing pair f(x) > f(y), x < y, with n >= 2
    agents: everyone bids x, agent 0 raises to y; agent 1's weight rises. *)
Theorem normalized_mon_only_if n V : (2 <= n)%nat -> (2 <= V)%nat ->
  MON_box (S n) V (adm n) (nw n) -> nondecreasing.
Proof.
  intros Hn HV Hmon x y Hx Hxy.
  destruct (Rle_dec (f x) (f y)) as [|Hgt]; [assumption|exfalso].
  assert (Hy : 0 <= f y) by (apply f_nonneg; lra).
  destruct (Req_or_not x y) as [->|Hne]; [lra|].
  set (b := fun _ : nat => x).
  set (b' := fun j : nat => if Nat.eq_dec j 0 then y else x).
  assert (Hr : raise (S n) 0 b b').
  { split; [lia|]. split; [unfold b, b'; simpl; lra|].
    intros j Hj. unfold b, b'. destruct (Nat.eq_dec j 0); [congruence|reflexivity]. }
  assert (HF1 : F n b 1 = f x) by (unfold F, b; destruct (Nat.ltb_spec 1 n); [reflexivity|lia]).
  assert (HF1' : F n b' 1 = f x) by (unfold F, b'; destruct (Nat.ltb_spec 1 n); [reflexivity|lia]).
  assert (HF0 : F n b 0 = f x) by (unfold F, b; destruct (Nat.ltb_spec 0 n); [reflexivity|lia]).
  assert (HF0' : F n b' 0 = f y) by (unfold F, b'; destruct (Nat.ltb_spec 0 n); [reflexivity|lia]).
  assert (Hpos : forall c, (forall j, (j < n)%nat -> 0 <= c j) -> F n c 1 = f x ->
                           f x <= total n c).
  { intros c Hc Hc1. rewrite <- Hc1. apply sum_ge_term; [|lia].
    intros j Hj. unfold F. destruct (Nat.ltb_spec j n); [apply f_nonneg, Hc; lia|lra]. }
  assert (Hadm : adm n b).
  { split; [intros; unfold b; lra|]. assert (f x <= total n b) by (apply Hpos; [intros; unfold b; lra|assumption]). lra. }
  assert (Hadm' : adm n b').
  { assert (Hb0 : forall j, (j < n)%nat -> 0 <= b' j)
      by (intros j _; unfold b'; destruct (Nat.eq_dec j 0); lra).
    split; [assumption|]. assert (f x <= total n b') by (apply Hpos; assumption). lra. }
  destruct (characterization (S n) V (adm n) (nw n) HV (nw_valid n)) as [Hsc _].
  destruct (Hsc Hmon 0%nat b b' Hadm Hadm' Hr) as [c [[Hc0 Hc1] Hs]].
  specialize (Hs 1%nat ltac:(lia) ltac:(lia)). unfold nw in Hs. rewrite HF1, HF1' in Hs.
  assert (Hd := total_diff n 0 b b' Hr). rewrite HF0, HF0' in Hd.
  assert (HS := proj2 Hadm). assert (HS' := proj2 Hadm').
  assert (Hfx : 0 < f x) by lra.
  assert (Hlt : total n b' < total n b) by lra.
  assert (/ total n b < / total n b') by (apply Rinv_lt_contravar; nra).
  assert (0 < / total n b) by (apply Rinv_0_lt_compat; lra).
  assert (0 <= (1 - c) * (/ total n b * f x)) by (apply Rmult_le_pos; nra).
  assert (0 < (/ total n b' - / total n b) * f x) by (apply Rmult_lt_0_compat; lra).
  lra.
Qed.

(** The corollary: MON for every n and V (box) iff f is non-decreasing. *)
Theorem normalized_mon_iff :
  (forall n V, (2 <= V)%nat -> MON_box (S n) V (adm n) (nw n)) <-> nondecreasing.
Proof.
  split.
  - intros H. apply (normalized_mon_only_if 2 2); [lia|lia|apply H; lia].
  - intros Hf n V HV. apply normalized_mon_if; assumption.
Qed.

End Normalized.
