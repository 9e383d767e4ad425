(** The n-free mixture step (docs/theory.md, section 8): for a mixture
    q = sum_j w_j x_j over ANY finite family of parties 0..n-1 (weights summing to 1),
    if raising agent i's bid scales every other weight by one common c, then
    q' - x_i = c (q - x_i) on every token; with 0 <= c <= 1, q' ⪰ q for box and
    segment on every V.  Proved by induction over the parties ([distrib]). *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base TokenAuction.Box.
Open Scope R_scope.

(** The mixture of the reports x (x j t: party j's probability of token t). *)
Definition mix (n : nat) (w : nat -> R) (x : nat -> nat -> R) (t : nat) : R :=
  sum n (fun j => w j * x j t).

(** Lemma [distrib], the step of the induction over the parties: scaling every weight
    by c scales the weighted mass by c (base: 0 = c 0). *)
Lemma distrib n (w : nat -> R) (x : nat -> nat -> R) c t :
  sum n (fun j => (c * w j) * x j t) = c * sum n (fun j => w j * x j t).
Proof.
  induction n as [|n IH]; simpl; [ring|]. rewrite IH. ring.
Qed.

(** Lemma [agg]: with weights summing to 1, q - a = sum_j w_j (x_j - a). *)
Lemma mix_dev n w x a t : sum n w = 1 ->
  mix n w x t - a = sum n (fun j => w j * (x j t - a)).
Proof.
  intros H. unfold mix.
  replace (sum n (fun j => w j * (x j t - a)))
    with (sum n (fun j => w j * x j t) - sum n (fun j => a * w j)).
  - rewrite sum_scal, H. ring.
  - rewrite <- sum_minus. apply sum_ext. intros; ring.
Qed.

(** The n-free mixture step: every other weight scaled by one c gives
    q' - x_i = c (q - x_i), for every number of parties n. *)
Theorem mixture_step n (w w' : nat -> R) (x : nat -> nat -> R) i c t :
  (i < n)%nat -> sum n w = 1 -> sum n w' = 1 ->
  (forall j, (j < n)%nat -> j <> i -> w' j = c * w j) ->
  mix n w' x t - x i t = c * (mix n w x t - x i t).
Proof.
  intros Hi Hw Hw' Hs. rewrite (mix_dev n w' x), (mix_dev n w x) by assumption.
  rewrite <- sum_scal. apply sum_ext. intros j Hj.
  destruct (Nat.eq_dec j i) as [->|Hne].
  - replace (x i t - x i t) with 0 by ring. ring.
  - rewrite Hs by assumption. ring.
Qed.

(** MON (box) of the mixture step, every n and every V. *)
Theorem mixture_mon_box n V (w w' : nat -> R) (x : nat -> nat -> R) i c :
  (i < n)%nat -> sum n w = 1 -> sum n w' = 1 -> 0 <= c -> c <= 1 ->
  (forall j, (j < n)%nat -> j <> i -> w' j = c * w j) ->
  box V (x i) (mix n w' x) (mix n w x).
Proof.
  intros. apply (box_scale_lift V (x i) (mix n w' x) (mix n w x) c); try assumption.
  intros t _. apply mixture_step; assumption.
Qed.

(** MON (segment) of the mixture step, every n and every V: q' = c q + (1 - c) x_i. *)
Theorem mixture_mon_seg n V (w w' : nat -> R) (x : nat -> nat -> R) i c :
  (i < n)%nat -> sum n w = 1 -> sum n w' = 1 -> 0 <= c -> c <= 1 ->
  (forall j, (j < n)%nat -> j <> i -> w' j = c * w j) ->
  seg V (x i) (mix n w' x) (mix n w x).
Proof.
  intros. apply (seg_scale_lift V (x i) (mix n w' x) (mix n w x) c); try assumption.
  intros t _. apply mixture_step; assumption.
Qed.

(** CA for a positive common factor (lemma [ca_either]): with c > 0 one of q, q' is
    between the other and x_i, on every token and every V. *)
Theorem mixture_ca_box n V (w w' : nat -> R) (x : nat -> nat -> R) i c :
  (i < n)%nat -> sum n w = 1 -> sum n w' = 1 -> 0 < c ->
  (forall j, (j < n)%nat -> j <> i -> w' j = c * w j) ->
  box V (x i) (mix n w' x) (mix n w x) \/ box V (x i) (mix n w x) (mix n w' x).
Proof.
  intros Hi Hw Hw' Hc Hs. destruct (Rle_dec c 1).
  - left. apply (mixture_mon_box n V w w' x i c); try assumption; lra.
  - right. apply (box_scale_lift V (x i) (mix n w x) (mix n w' x) (/ c)).
    + left; apply Rinv_0_lt_compat; assumption.
    + rewrite <- Rinv_1. apply Rinv_le_contravar; lra.
    + intros t _. rewrite (mixture_step n w w' x i c t) by assumption.
      field. lra.
Qed.

(** Smoothing (1 - eps) p + eps / V maps distributions to distributions, so a property
    proved for every report holds for the smoothed reports. *)
Theorem smooth_dist V (p : nat -> R) eps : (0 < V)%nat -> 0 <= eps <= 1 -> dist V p ->
  dist V (fun t => (1 - eps) * p t + eps / INR V).
Proof.
  intros HV He [H0 H1]. assert (HVr : 0 < INR V) by (apply lt_0_INR; assumption). split.
  - intros t Ht. specialize (H0 t Ht).
    assert (0 <= eps / INR V) by (unfold Rdiv; apply Rmult_le_pos; [lra|left; apply Rinv_0_lt_compat; lra]).
    nra.
  - rewrite sum_plus, sum_scal, H1.
    assert (Hc : forall n, sum n (fun _ => eps / INR V) = INR n * (eps / INR V)).
    { induction n as [|n IH]; simpl sum; [simpl; ring|]. rewrite IH, S_INR. ring. }
    rewrite Hc. field. lra.
Qed.
