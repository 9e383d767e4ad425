(** The characterization of mixtures whose weights depend on the bids only, in both
    directions, and its corollary for normalized independent weights
    f(b_j) / (lambda + sum_k f(b_k)) (docs/theory.md, section 8). *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base TokenAuction.Box TokenAuction.Mixture.
Open Scope R_scope.

(** Two-token report (u, 1 - u, 0, 0, ...). *)
Definition vec2 (u : R) (t : nat) : R :=
  match t with O => u | S O => 1 - u | _ => 0 end.

Lemma vec2_dist V u : (2 <= V)%nat -> 0 <= u <= 1 -> dist V (vec2 u).
Proof.
  intros HV Hu. split.
  - intros t _. destruct t as [|[|t]]; simpl; lra.
  - replace V with (S (S (V - 2))) by lia. induction (V - 2)%nat as [|m IH].
    + simpl. ring.
    + change (sum (S (S (S m))) (vec2 u)) with (sum (S (S m)) (vec2 u) + vec2 u (S (S m))).
      rewrite IH. change (vec2 u (S (S m))) with 0. ring.
Qed.

(** Party j's weight before and after agent i raises its bid: [w] and [w']. *)
Definition weights n (w : nat -> R) :=
  (forall j, (j < n)%nat -> 0 <= w j) /\ sum n w = 1.

(** box-MON of agent i for every report profile on V tokens. *)
Definition mon_all_reports n V (w w' : nat -> R) i :=
  forall x : nat -> nat -> R, (forall j, (j < n)%nat -> dist V (x j)) ->
    box V (x i) (mix n w' x) (mix n w x).

Definition scaled n (w w' : nat -> R) i :=
  exists c, 0 <= c <= 1 /\ forall j, (j < n)%nat -> j <> i -> w' j = c * w j.

(** 'only if', lemma [nec_rise]: agent i at token 1, party j at token 0, the rest at
    token 1; MON at token 0 forbids j's weight to rise. *)
Lemma nec_rise n V w w' i j : (2 <= V)%nat -> weights n w -> weights n w' ->
  (i < n)%nat -> (j < n)%nat -> j <> i -> mon_all_reports n V w w' i -> w' j <= w j.
Proof.
  intros HV [Hw0 Hw1] [Hw0' Hw1'] Hi Hj Hji Hmon.
  set (x := fun l => if Nat.eq_dec l j then vec2 1 else vec2 0).
  assert (Hd : forall l, (l < n)%nat -> dist V (x l)).
  { intros l _. unfold x. destruct (Nat.eq_dec l j); apply vec2_dist; first [lia|lra]. }
  specialize (Hmon x Hd 0%nat ltac:(lia)).
  assert (Hm : forall v, (forall l, (l < n)%nat -> 0 <= v l) -> mix n v x 0%nat = v j).
  { intros v _. unfold mix. rewrite (sum_single n _ j Hj).
    - unfold x. destruct (Nat.eq_dec j j) as [_|]; [simpl; ring|congruence].
    - intros l _ Hl. unfold x. destruct (Nat.eq_dec l j); [congruence|]. simpl. ring. }
  rewrite (Hm w Hw0), (Hm w' Hw0') in Hmon. unfold x in Hmon.
  destruct (Nat.eq_dec i j) as [|_]; [congruence|]. simpl in Hmon.
  specialize (Hw0 j Hj). unfold btw in Hmon. lra.
Qed.

(** 'only if', lemma [nec_shape]: agent i at (1/2, 1/2), party j at
    (1/2 + w_k/2, ...), party k at (1/2 - w_j/2, ...), the rest at (1/2, 1/2): q = 1/2 on
    token 0, so MON forces q' = 1/2 there, i.e. w'_j w_k = w'_k w_j. *)
Lemma nec_shape n V w w' i j k : (2 <= V)%nat -> weights n w -> weights n w' ->
  (i < n)%nat -> (j < n)%nat -> (k < n)%nat -> j <> i -> k <> i -> j <> k ->
  mon_all_reports n V w w' i -> w' j * w k = w' k * w j.
Proof.
  intros HV [Hw0 Hw1] [Hw0' Hw1'] Hi Hj Hk Hji Hki Hjk Hmon.
  assert (Hwj : w j <= 1) by (rewrite <- Hw1; apply sum_ge_term; assumption).
  assert (Hwk : w k <= 1) by (rewrite <- Hw1; apply sum_ge_term; assumption).
  assert (Hj0 := Hw0 j Hj). assert (Hk0 := Hw0 k Hk).
  set (x := fun l => if Nat.eq_dec l j then vec2 (/2 + w k / 2)
                     else if Nat.eq_dec l k then vec2 (/2 - w j / 2) else vec2 (/2)).
  assert (Hd : forall l, (l < n)%nat -> dist V (x l)).
  { intros l _. unfold x. destruct (Nat.eq_dec l j); [|destruct (Nat.eq_dec l k)];
      apply vec2_dist; first [lia|lra]. }
  specialize (Hmon x Hd 0%nat ltac:(lia)).
  assert (Hxi : x i = vec2 (/2)).
  { unfold x. destruct (Nat.eq_dec i j); [congruence|].
    destruct (Nat.eq_dec i k); [congruence|]. reflexivity. }
  assert (Hm : forall v, sum n v = 1 ->
            mix n v x 0%nat - /2 = v j * (w k / 2) - v k * (w j / 2)).
  { intros v Hv. rewrite (mix_dev n v x (/2) 0%nat Hv).
    rewrite (sum_two n _ j k Hj Hk Hjk).
    - unfold x. destruct (Nat.eq_dec j j) as [_|]; [|congruence].
      destruct (Nat.eq_dec k j) as [|_]; [congruence|].
      destruct (Nat.eq_dec k k) as [_|]; [|congruence]. simpl. ring.
    - intros l _ Hl1 Hl2. unfold x.
      destruct (Nat.eq_dec l j); [congruence|]. destruct (Nat.eq_dec l k); [congruence|].
      simpl. ring. }
  assert (H1 := Hm w Hw1). assert (H2 := Hm w' Hw1').
  rewrite Hxi in Hmon. simpl in Hmon. unfold btw in Hmon. nra.
Qed.

(** The characterization, 'only if': box-MON for all reports on V >= 2 tokens forces
    one common factor c in [0, 1] on every other party's weight. *)
Theorem mon_only_if_scaled n V w w' i : (2 <= V)%nat -> (i < n)%nat ->
  weights n w -> weights n w' -> mon_all_reports n V w w' i -> scaled n w w' i.
Proof.
  intros HV Hi Hw Hw' Hmon.
  assert (Hle : forall j, (j < n)%nat -> j <> i -> w' j <= w j)
    by (intros j Hj Hji; apply (nec_rise n V w w' i j); assumption).
  assert (Hsh : forall j k, (j < n)%nat -> (k < n)%nat -> j <> i -> k <> i -> j <> k ->
                            w' j * w k = w' k * w j)
    by (intros j k Hj Hk Hji Hki Hjk; apply (nec_shape n V w w' i j k); assumption).
  destruct Hw as [Hw0 _]. destruct Hw' as [Hw0' _].
  destruct (finite_choice n (fun l => l <> i /\ 0 < w l)) as [[l [Hl [Hli Hpos]]]|Hnone].
  - intros l. destruct (Nat.eq_dec l i); [right; tauto|].
    destruct (Rlt_dec 0 (w l)); [left|right]; tauto.
  - exists (w' l / w l). split.
    + assert (0 <= w' l) by (apply Hw0'; assumption).
      assert (w' l <= w l) by (apply Hle; assumption).
      split; [unfold Rdiv; apply Rmult_le_pos; [lra|left; apply Rinv_0_lt_compat; lra]|].
      apply (Rmult_le_reg_r (w l)); [assumption|]. field_simplify; lra.
    + intros j Hj Hji. destruct (Nat.eq_dec j l) as [->|Hjl].
      * field. lra.
      * assert (Hs := Hsh j l Hj Hl Hji Hli Hjl).
        apply (Rmult_eq_reg_r (w l)); [|lra]. field_simplify; [|lra]. lra.
  - exists 0. split; [lra|]. intros j Hj Hji.
    assert (w j = 0).
    { assert (0 <= w j) by (apply Hw0; assumption).
      destruct (Rlt_dec 0 (w j)); [exfalso; apply (Hnone j Hj); tauto | lra]. }
    assert (w' j <= w j) by (apply Hle; assumption).
    assert (0 <= w' j) by (apply Hw0'; assumption). nra.
Qed.

(** The characterization, 'if' (box and segment, every V). *)
Theorem scaled_mon_box n V w w' i x : (i < n)%nat -> weights n w -> weights n w' ->
  scaled n w w' i -> box V (x i) (mix n w' x) (mix n w x).
Proof.
  intros Hi [_ Hw] [_ Hw'] [c [Hc Hs]].
  apply (mixture_mon_box n V w w' x i c); try assumption; lra.
Qed.

Theorem scaled_mon_seg n V w w' i x : (i < n)%nat -> weights n w -> weights n w' ->
  scaled n w w' i -> seg V (x i) (mix n w' x) (mix n w x).
Proof.
  intros Hi [_ Hw] [_ Hw'] [c [Hc Hs]].
  apply (mixture_mon_seg n V w w' x i c); try assumption; lra.
Qed.

(** ** Bid-only weights: the characterization in both directions.
    [W b] is the weight vector of the n parties at the bid profile b; [Adm] says which
    profiles are allowed (e.g. bids >= 0 and a positive normalizer). *)

Definition raise n i (b b' : nat -> R) :=
  (i < n)%nat /\ b i < b' i /\ forall j, j <> i -> b' j = b j.

Definition valid n (Adm : (nat -> R) -> Prop) (W : (nat -> R) -> nat -> R) :=
  forall b, Adm b -> weights n (W b).

Definition MON_box n V Adm W := forall i b b', Adm b -> Adm b' -> raise n i b b' ->
  mon_all_reports n V (W b) (W b') i.

Definition MON_seg n V Adm W := forall i b b' x, Adm b -> Adm b' -> raise n i b b' ->
  seg V (x i) (mix n (W b') x) (mix n (W b) x).

Definition scales n Adm W := forall i b b', Adm b -> Adm b' -> raise n i b b' ->
  scaled n (W b) (W b') i.

Theorem characterization n V Adm W : (2 <= V)%nat -> valid n Adm W ->
  (MON_box n V Adm W <-> scales n Adm W).
Proof.
  intros HV Hv. split.
  - intros Hmon i b b' Hb Hb' Hr. apply mon_only_if_scaled with V; try assumption.
    + apply Hr. + apply Hv, Hb. + apply Hv, Hb'. + apply Hmon; assumption.
  - intros Hs i b b' Hb Hb' Hr x _. apply scaled_mon_box.
    + apply Hr. + apply Hv, Hb. + apply Hv, Hb'. + apply Hs; assumption.
Qed.

Theorem scales_mon_seg n V Adm W : valid n Adm W -> scales n Adm W -> MON_seg n V Adm W.
Proof.
  intros Hv Hs i b b' x Hb Hb' Hr. apply scaled_mon_seg.
  + apply Hr. + apply Hv, Hb. + apply Hv, Hb'. + apply Hs; assumption.
Qed.
