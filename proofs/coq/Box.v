(** The per-token box lemma and its lift to every finite vocabulary (V-free); the
    pairwise segment lemma and the common-alpha lift (docs/theory.md, section 8). *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base.
Open Scope R_scope.

(** Lemma [between]: one token, all reals.  q' - a = c (q - a) with 0 <= c <= 1
    puts q' between q and a. *)
Lemma between_scale (a q q' c : R) :
  0 <= c -> c <= 1 -> q' - a = c * (q - a) -> btw q q' a.
Proof.
  intros. unfold btw. destruct (Rle_dec q a); [left|right]; split; nra.
Qed.

(** V-free lift, in general: any one-token statement that implies betweenness, holding
    on every token, gives the box order on every vocabulary size V. *)
Theorem box_lift (P : R -> R -> R -> Prop) :
  (forall a q q', P a q q' -> btw q q' a) ->
  forall V (p x y : nat -> R), (forall t, (t < V)%nat -> P (p t) (y t) (x t)) ->
  box V p x y.
Proof. intros Hone V p x y H t Ht. apply Hone, H, Ht. Qed.

(** The per-token box lemma lifted: if every token moves as x - p = c (y - p),
    0 <= c <= 1, then x ⪰ y (box) for every V. *)
Theorem box_scale_lift V (p x y : nat -> R) (c : R) :
  0 <= c -> c <= 1 -> (forall t, (t < V)%nat -> x t - p t = c * (y t - p t)) ->
  box V p x y.
Proof.
  intros H0 H1 H. apply (box_lift (fun a q q' => q' - a = c * (q - a))).
  - intros a q q' Hq. apply (between_scale a q q' c); assumption.
  - exact H.
Qed.

(** The same scaling gives the segment order directly, alpha = 1 - c, every V. *)
Theorem seg_scale_lift V (p x y : nat -> R) (c : R) :
  0 <= c -> c <= 1 -> (forall t, (t < V)%nat -> x t - p t = c * (y t - p t)) ->
  seg V p x y.
Proof.
  intros H0 H1 H. exists (1 - c). split; [lra|].
  intros t Ht. specialize (H t Ht). lra.
Qed.

(** Lemma [seg_pair]: two tokens t, u moved by one common c have a vanishing cross
    product. *)
Lemma seg_pair (at_ au qt qu c : R) :
  let q't := at_ + c * (qt - at_) in let q'u := au + c * (qu - au) in
  (q't - qt) * (au - qu) - (q'u - qu) * (at_ - qt) = 0.
Proof. simpl. ring. Qed.

(** The quantifier-free segment form used by the solvers: box plus a vanishing cross
    product on every pair of tokens. *)
Definition seg_qf (V : nat) (p x y : nat -> R) : Prop :=
  box V p x y /\
  forall t u, (t < V)%nat -> (u < V)%nat ->
    (x t - y t) * (p u - y u) = (x u - y u) * (p t - y t).

(** Lemma [seg_global]: the pairwise form gives ONE common alpha for all tokens, and
    conversely; for every V. *)
Theorem seg_qf_iff V (p x y : nat -> R) : seg_qf V p x y <-> seg V p x y.
Proof.
  split.
  - intros [Hb Hc].
    destruct (finite_choice V (fun t => p t <> y t)) as [[t0 [Ht0 Hne]]|Hall].
    + intros j. destruct (Req_or_not (p j) (y j)); tauto.
    + set (d := p t0 - y t0). assert (Hd : d <> 0) by (unfold d; lra).
      exists ((x t0 - y t0) / d).
      assert (Ha : (x t0 - y t0) / d * d = x t0 - y t0) by (field; assumption).
      split.
      * specialize (Hb t0 Ht0). unfold btw in Hb.
        generalize ((x t0 - y t0) / d) Ha. intros al Hal.
        assert (Hdd : d = p t0 - y t0) by reflexivity. clearbody d.
        destruct (Rlt_dec 0 d) as [Hpos|Hneg].
        -- split; destruct Hb as [[? ?]|[? ?]]; nra.
        -- assert (d < 0) by lra. split; destruct Hb as [[? ?]|[? ?]]; nra.
      * intros u Hu. specialize (Hc t0 u Ht0 Hu). fold d in Hc.
        apply (Rmult_eq_reg_r d); [|assumption].
        unfold Rdiv. field_simplify; [|assumption]. lra.
    + exists 0. split; [lra|]. intros t Ht.
      assert (Hpt : p t = y t) by (destruct (Req_or_not (p t) (y t)); [assumption|];
                                   exfalso; apply (Hall t Ht); assumption).
      specialize (Hb t Ht). unfold btw in Hb. rewrite Hpt in Hb. lra.
  - intros [al [Hal H]]. split.
    + intros t Ht. specialize (H t Ht). unfold btw.
      destruct (Rle_dec (y t) (p t)); [left|right]; split; nra.
    + intros t u Ht Hu. rewrite (H t Ht), (H u Hu). ring.
Qed.

Lemma seg_box V p x y : seg V p x y -> box V p x y.
Proof. intros H. apply seg_qf_iff in H. apply H. Qed.

Lemma seg_refl V p x : seg V p x x.
Proof. exists 0. split; [lra|]. intros; ring. Qed.

Lemma seg_dec V p x y : seg V p x y \/ ~ seg V p x y.
Proof.
  destruct (box_dec V p x y) as [Hb|Hb].
  - destruct (finite_forall_dec V (fun t => forall u, (u < V)%nat ->
        (x t - y t) * (p u - y u) = (x u - y u) * (p t - y t))) as [Hc|Hc].
    + intros t. apply finite_forall_dec. intros u. apply Req_or_not.
    + left. apply seg_qf_iff. split; [assumption|]. intros t u Ht Hu. apply Hc; assumption.
    + right. intros Hs. apply seg_qf_iff in Hs. destruct Hs as [_ Hs].
      apply Hc. intros t Ht u Hu. apply Hs; assumption.
  - right. intros Hs. apply Hb, seg_box, Hs.
Qed.
