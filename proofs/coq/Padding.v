(** The padding lemmas (docs/theory.md, section 8): a counterexample found at a small
    size is one at every larger size -- tokens of probability 0 appended to p and to
    every outcome, and grid bids that repeat the last outcome and payment.  Applied to
    the three small counterexamples of the converse (each hypothesis dropped in turn),
    for box and segment. *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base TokenAuction.Box TokenAuction.Theorem.
Open Scope R_scope.

(** ** Tokens of probability 0 *)
Definition padv (V : nat) (f : nat -> R) (t : nat) : R := if (t <? V)%nat then f t else 0.

Lemma padv_in V f t : (t < V)%nat -> padv V f t = f t.
Proof. intros H. unfold padv. destruct (Nat.ltb_spec t V); [reflexivity|lia]. Qed.

Lemma padv_out V f t : (V <= t)%nat -> padv V f t = 0.
Proof. intros H. unfold padv. destruct (Nat.ltb_spec t V); [lia|reflexivity]. Qed.

Lemma sum_pad V m f : sum (V + m) (padv V f) = sum V f.
Proof.
  induction m as [|m IH].
  - rewrite Nat.add_0_r. apply sum_ext. intros; apply padv_in; assumption.
  - replace (V + S m)%nat with (S (V + m)) by lia. simpl. rewrite IH, padv_out by lia. ring.
Qed.

Lemma dist_pad V m p : dist V p -> dist (V + m) (padv V p).
Proof.
  intros [H0 H1]. split; [|rewrite sum_pad; assumption].
  intros t _. unfold padv. destruct (t <? V)%nat eqn:E; [apply H0, Nat.ltb_lt, E|lra].
Qed.

Lemma box_pad V m p x y : box (V + m) (padv V p) (padv V x) (padv V y) <-> box V p x y.
Proof.
  split; intros H t Ht.
  - specialize (H t ltac:(lia)). rewrite !padv_in in H by assumption. assumption.
  - destruct (Nat.lt_ge_cases t V).
    + rewrite !padv_in by assumption. apply H; assumption.
    + rewrite !padv_out by assumption. apply btw_refl.
Qed.

Lemma seg_pad V m p x y : seg (V + m) (padv V p) (padv V x) (padv V y) <-> seg V p x y.
Proof.
  split; intros [al [Hal H]]; exists al; split; try assumption; intros t Ht.
  - specialize (H t ltac:(lia)). rewrite !padv_in in H by assumption. assumption.
  - destruct (Nat.lt_ge_cases t V).
    + rewrite !padv_in by assumption. apply H; assumption.
    + rewrite !padv_out by assumption. ring.
Qed.

Lemma TV_pad V m x y : TV (V + m) (padv V x) (padv V y) = TV V x y.
Proof.
  unfold TV. f_equal.
  replace (sum (V + m) (fun t => Rabs (padv V x t - padv V y t)))
    with (sum (V + m) (padv V (fun t => Rabs (x t - y t)))).
  - apply sum_pad.
  - apply sum_ext. intros t _. destruct (Nat.lt_ge_cases t V).
    + rewrite !padv_in by assumption. reflexivity.
    + rewrite !padv_out by assumption. replace (0 - 0) with 0 by ring.
      symmetry; apply Rabs_R0.
Qed.

(** Transport of MON, CA and PM along a map of outcomes that preserves the relation. *)
Section Transport.
Variables (P P' : rel) (Q Q' : nat -> nat -> R) (K : nat).
Hypothesis Ht : forall j k, P' (Q' k) (Q' j) <-> P (Q k) (Q j).

Lemma MON_transport : MON P' K Q' <-> MON P K Q.
Proof. split; intros H j k Hjk Hk; apply Ht, H; assumption. Qed.

Lemma CA_transport : CA P' K Q' <-> CA P K Q.
Proof.
  split; intros H j k Hjk Hk; destruct (H j k Hjk Hk) as [H1|H1];
    [left|right|left|right]; apply Ht; assumption.
Qed.

Lemma PM_transport Z : PM P' K Q' Z <-> PM P K Q Z.
Proof.
  assert (Hs : forall j k, strict P' (Q' k) (Q' j) <-> strict P (Q k) (Q j)).
  { intros j k. unfold strict. split; intros [H1 H2]; split;
      try (apply Ht; assumption); intros H3; apply H2, Ht, H3. }
  split; intros H j k Hj Hk Hne; rewrite <- (H j k Hj Hk Hne); [apply iff_sym|]; apply Hs.
Qed.
End Transport.

(** ** Grid bids that repeat the last outcome and payment *)
Definition clamp (K k : nat) : nat := Nat.min k K.
Definition padg {A : Type} (K : nat) (f : nat -> A) (k : nat) : A := f (clamp K k).

Lemma CA_pad (P : rel) K m Q : (forall x, P x x) -> CA P K Q -> CA P (K + m) (padg K Q).
Proof.
  intros Hr H j k Hjk Hk. unfold padg, clamp.
  destruct (Nat.eq_dec (Nat.min j K) (Nat.min k K)) as [->|Hne]; [left; apply Hr|].
  apply H; lia.
Qed.

Lemma PM_pad (P : rel) K m Q Z : PM P K Q Z -> PM P (K + m) (padg K Q) (padg K Z).
Proof.
  intros H j k Hj Hk Hne. unfold padg, clamp.
  destruct (Nat.eq_dec (Nat.min j K) (Nat.min k K)) as [Heq|Hne'].
  - rewrite Heq. unfold strict. split; [intros [H1 H2]; contradiction|lra].
  - apply H; lia.
Qed.

Lemma Znd_pad K m Z : Znd K Z -> Znd (K + m) (padg K Z).
Proof.
  intros H k Hk. unfold padg, clamp. destruct (Nat.lt_ge_cases k K).
  - rewrite Nat.min_l, Nat.min_l by lia. apply H; assumption.
  - rewrite Nat.min_r, Nat.min_r by lia. lra.
Qed.

Lemma notMON_pad (P : rel) K m Q : ~ MON P K Q -> ~ MON P (K + m) (padg K Q).
Proof.
  intros Hn Hm. apply Hn. intros j k Hjk Hk. specialize (Hm j k Hjk ltac:(lia)).
  unfold padg, clamp in Hm. rewrite Nat.min_l, Nat.min_l in Hm by lia. assumption.
Qed.

(** ** The small counterexamples of the converse (grid bids s_0 = 0 < s_1: K = 1) *)
Definition e (i : nat) (t : nat) : R := if Nat.eq_dec t i then 1 else 0.

(** Q(s_0) = p = e0, Q(s_1) = e1: MON fails, CA holds (Q(s_0) is the top). *)
Definition Qtop (k : nat) : nat -> R := if Nat.eq_dec k 0 then e 0 else e 1.
(** Q(s_0) = e1, Q(s_1) = e2, p = e0: incomparable. *)
Definition Qinc (k : nat) : nat -> R := if Nat.eq_dec k 0 then e 1 else e 2.
Definition Z0 (k : nat) : R := 0.
Definition Zdown (k : nat) : R := if Nat.eq_dec k 0 then 1 else 0.

Lemma not_box_e V i j : (i < V)%nat -> i <> j -> ~ box V (e i) (e j) (e i).
Proof.
  intros Hi Hij H. specialize (H i Hi). unfold e, btw in H.
  destruct (Nat.eq_dec i j); [congruence|]. destruct (Nat.eq_dec i i); [|congruence]. lra.
Qed.

Lemma top_seg V p x : seg V p p x.
Proof. exists 1. split; [lra|]. intros; ring. Qed.

(** One lemma per order: the facts of the three instances (K = 1). *)
Section Instances.
Variable P : nat -> (nat -> R) -> rel.   (* the order: V tokens, the agent's p *)
Hypothesis P_box : forall V p x y, P V p x y -> box V p x y.
Hypothesis P_top : forall V p x, P V p p x.

Lemma inst_notMON_top V : (2 <= V)%nat -> ~ MON (P V (e 0)) 1 Qtop.
Proof.
  intros HV H. specialize (H 0%nat 1%nat ltac:(lia) ltac:(lia)). apply P_box in H.
  unfold Qtop in H. simpl in H. apply (not_box_e V 0 1); [lia|lia|]. intros t Ht.
  specialize (H t Ht). unfold btw in *. unfold e in *. destruct (Nat.eq_dec t 0), (Nat.eq_dec t 1); lra.
Qed.

Lemma inst_CA_top V : CA (P V (e 0)) 1 Qtop.
Proof.
  intros j k Hjk Hk. replace j with 0%nat by lia. replace k with 1%nat by lia.
  right. unfold Qtop. simpl. apply P_top.
Qed.

Lemma inst_notMON_inc V : (3 <= V)%nat -> ~ MON (P V (e 0)) 1 Qinc.
Proof.
  intros HV H. specialize (H 0%nat 1%nat ltac:(lia) ltac:(lia)). apply P_box in H.
  unfold Qinc in H. simpl in H. specialize (H 2%nat ltac:(lia)). unfold btw, e in H. simpl in H. lra.
Qed.

Lemma inst_PM_inc V : (3 <= V)%nat -> PM (P V (e 0)) 1 Qinc Z0.
Proof.
  intros HV j k Hj Hk Hne. unfold Z0. split; [|lra]. intros [H _]. exfalso.
  apply P_box in H. unfold Qinc in H.
  destruct (Nat.eq_dec k 0), (Nat.eq_dec j 0); try lia.
  - specialize (H 1%nat ltac:(lia)). unfold btw, e in H. simpl in H. lra.
  - specialize (H 2%nat ltac:(lia)). unfold btw, e in H. simpl in H. lra.
Qed.

Lemma inst_PM_top_down V : (2 <= V)%nat -> PM (P V (e 0)) 1 Qtop Zdown.
Proof.
  intros HV j k Hj Hk Hne. unfold Zdown, strict.
  destruct (Nat.eq_dec k 0) as [->|Hk0]; destruct (Nat.eq_dec j 0) as [->|Hj0]; try lia.
  - replace j with 1%nat by lia. unfold Qtop. simpl. split; [lra|]. intros _. split; [apply P_top|].
    intros H. apply P_box in H. apply (not_box_e V 0 1); [lia|lia|]. intros t Ht.
    specialize (H t Ht). unfold btw, e in *. destruct (Nat.eq_dec t 0), (Nat.eq_dec t 1); lra.
  - replace k with 1%nat by lia. unfold Qtop. simpl. split; [|lra]. intros [H _].
    apply P_box in H. exfalso. apply (not_box_e V 0 1); [lia|lia|]. intros t Ht.
    specialize (H t Ht). unfold btw, e in *. destruct (Nat.eq_dec t 0), (Nat.eq_dec t 1); lra.
Qed.

Lemma inst_Znd_Z0 : Znd 1 Z0.
Proof. intros k _. unfold Z0. lra. Qed.
End Instances.

(** ** Each hypothesis of the converse is needed, at every size from the small one on *)

Lemma P_pad_box V0 m p (Q : nat -> nat -> R) j k :
  box (V0 + m) (padv V0 p) (padv V0 (Q k)) (padv V0 (Q j)) <-> box V0 p (Q k) (Q j).
Proof. apply box_pad. Qed.

Lemma P_pad_seg V0 m p (Q : nat -> nat -> R) j k :
  seg (V0 + m) (padv V0 p) (padv V0 (Q k)) (padv V0 (Q j)) <-> seg V0 p (Q k) (Q j).
Proof. apply seg_pad. Qed.

Ltac padded_instance V0 Qs Zs :=
  exists (padv V0 (e 0)), (fun k => padv V0 (padg 1 Qs k)), (padg 1 Zs).

Theorem box_converse_needs_CA m1 m2 : exists p Q Z,
  PM (box (3 + m1) p) (1 + m2) Q Z /\ Znd (1 + m2) Z /\ ~ MON (box (3 + m1) p) (1 + m2) Q.
Proof.
  padded_instance 3%nat Qinc Z0.
  assert (Ht := fun j k => P_pad_box 3 m1 (e 0) (padg 1 Qinc) j k).
  split; [|split].
  - apply (PM_transport _ _ _ _ _ Ht), PM_pad, (inst_PM_inc box); [auto|lia].
  - apply Znd_pad, inst_Znd_Z0.
  - rewrite (MON_transport _ _ _ _ _ Ht). apply notMON_pad, (inst_notMON_inc box); [auto|lia].
Qed.

Theorem box_converse_needs_PM m1 m2 : exists p Q Z,
  CA (box (2 + m1) p) (1 + m2) Q /\ Znd (1 + m2) Z /\ ~ MON (box (2 + m1) p) (1 + m2) Q.
Proof.
  padded_instance 2%nat Qtop Z0.
  assert (Ht := fun j k => P_pad_box 2 m1 (e 0) (padg 1 Qtop) j k).
  split; [|split].
  - apply (CA_transport _ _ _ _ _ Ht), CA_pad; [apply box_refl|].
    apply (inst_CA_top box). intros ? ? ? t _; apply btw_top.
  - apply Znd_pad, inst_Znd_Z0.
  - rewrite (MON_transport _ _ _ _ _ Ht). apply notMON_pad, (inst_notMON_top box); [auto|lia].
Qed.

Theorem box_converse_needs_Znd m1 m2 : exists p Q Z,
  CA (box (2 + m1) p) (1 + m2) Q /\ PM (box (2 + m1) p) (1 + m2) Q Z /\
  ~ MON (box (2 + m1) p) (1 + m2) Q.
Proof.
  padded_instance 2%nat Qtop Zdown.
  assert (Ht := fun j k => P_pad_box 2 m1 (e 0) (padg 1 Qtop) j k).
  split; [|split].
  - apply (CA_transport _ _ _ _ _ Ht), CA_pad; [apply box_refl|].
    apply (inst_CA_top box). intros ? ? ? t _; apply btw_top.
  - apply (PM_transport _ _ _ _ _ Ht), PM_pad, (inst_PM_top_down box); [auto|intros ? ? ? t _; apply btw_top|lia].
  - rewrite (MON_transport _ _ _ _ _ Ht). apply notMON_pad, (inst_notMON_top box); [auto|lia].
Qed.

Theorem seg_converse_needs_CA m1 m2 : exists p Q Z,
  PM (seg (3 + m1) p) (1 + m2) Q Z /\ Znd (1 + m2) Z /\ ~ MON (seg (3 + m1) p) (1 + m2) Q.
Proof.
  padded_instance 3%nat Qinc Z0.
  assert (Ht := fun j k => P_pad_seg 3 m1 (e 0) (padg 1 Qinc) j k).
  split; [|split].
  - apply (PM_transport _ _ _ _ _ Ht), PM_pad, (inst_PM_inc seg); [apply seg_box|lia].
  - apply Znd_pad, inst_Znd_Z0.
  - rewrite (MON_transport _ _ _ _ _ Ht). apply notMON_pad, (inst_notMON_inc seg); [apply seg_box|lia].
Qed.

Theorem seg_converse_needs_PM m1 m2 : exists p Q Z,
  CA (seg (2 + m1) p) (1 + m2) Q /\ Znd (1 + m2) Z /\ ~ MON (seg (2 + m1) p) (1 + m2) Q.
Proof.
  padded_instance 2%nat Qtop Z0.
  assert (Ht := fun j k => P_pad_seg 2 m1 (e 0) (padg 1 Qtop) j k).
  split; [|split].
  - apply (CA_transport _ _ _ _ _ Ht), CA_pad; [apply seg_refl|].
    apply (inst_CA_top seg). apply top_seg.
  - apply Znd_pad, inst_Znd_Z0.
  - rewrite (MON_transport _ _ _ _ _ Ht). apply notMON_pad, (inst_notMON_top seg); [apply seg_box|lia].
Qed.

Theorem seg_converse_needs_Znd m1 m2 : exists p Q Z,
  CA (seg (2 + m1) p) (1 + m2) Q /\ PM (seg (2 + m1) p) (1 + m2) Q Z /\
  ~ MON (seg (2 + m1) p) (1 + m2) Q.
Proof.
  padded_instance 2%nat Qtop Zdown.
  assert (Ht := fun j k => P_pad_seg 2 m1 (e 0) (padg 1 Qtop) j k).
  split; [|split].
  - apply (CA_transport _ _ _ _ _ Ht), CA_pad; [apply seg_refl|].
    apply (inst_CA_top seg). apply top_seg.
  - apply (PM_transport _ _ _ _ _ Ht), PM_pad, (inst_PM_top_down seg); [apply seg_box|apply top_seg|lia].
  - rewrite (MON_transport _ _ _ _ _ Ht). apply notMON_pad, (inst_notMON_top seg); [apply seg_box|lia].
Qed.
