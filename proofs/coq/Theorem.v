(** The theorem of docs/theory.md section 5 on ANY finite grid 0 = s_0 < s_1 < ... < s_K
    and ANY finite vocabulary: MON => CA; MON => the grid second-price payment
    Z(s_k) = sum_{l=1..k} s_l (G(s_l) - G(s_{l-1})), G(s) = TV(Q(0), Q(s)), has Z(0) = 0,
    Z non-decreasing and PM; CA + PM + Z non-decreasing => MON.  For the box order, then
    for the segment order by its reduction to box. *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base TokenAuction.Box.
Open Scope R_scope.

(** [pref x y]: "x is weakly preferred to y". *)
Definition rel := (nat -> R) -> (nat -> R) -> Prop.

Definition grid (K : nat) (s : nat -> R) : Prop :=
  s 0%nat = 0 /\ forall k, (k < K)%nat -> s k < s (S k).

(** Q k: the outcome at the grid bid s_k, k = 0..K; Z k: the payment there. *)
Definition MON (pref : rel) (K : nat) (Q : nat -> nat -> R) : Prop :=
  forall j k, (j < k)%nat -> (k <= K)%nat -> pref (Q k) (Q j).

Definition CA (pref : rel) (K : nat) (Q : nat -> nat -> R) : Prop :=
  forall j k, (j < k)%nat -> (k <= K)%nat -> pref (Q k) (Q j) \/ pref (Q j) (Q k).

Definition strict (pref : rel) (x y : nat -> R) : Prop := pref x y /\ ~ pref y x.

(** PM: a strictly better outcome costs strictly more, and paying strictly more buys a
    strictly better outcome (every ordered pair of distinct grid bids). *)
Definition PM (pref : rel) (K : nat) (Q : nat -> nat -> R) (Z : nat -> R) : Prop :=
  forall j k, (j <= K)%nat -> (k <= K)%nat -> j <> k ->
    (strict pref (Q k) (Q j) <-> Z j < Z k).

Definition Znd (K : nat) (Z : nat -> R) : Prop := forall k, (k < K)%nat -> Z k <= Z (S k).

Definition TV (V : nat) (x y : nat -> R) : R := / 2 * sum V (fun t => Rabs (x t - y t)).

Definition G (V : nat) (Q : nat -> nat -> R) (k : nat) : R := TV V (Q k) (Q 0%nat).

(** The grid second-price payment. *)
Fixpoint Zsp (V : nat) (s : nat -> R) (Q : nat -> nat -> R) (k : nat) : R :=
  match k with
  | O => 0
  | S l => Zsp V s Q l + s (S l) * (G V Q (S l) - G V Q l)
  end.

(** ** (a) MON => CA, any relation *)
Theorem mon_implies_ca (pref : rel) K Q : MON pref K Q -> CA pref K Q.
Proof. intros H j k Hjk Hk. left. apply H; assumption. Qed.

(** ** (c) CA + PM + Z non-decreasing => MON, any decidable relation *)

Lemma znd_pairs K Z : Znd K Z -> forall j k, (j <= k)%nat -> (k <= K)%nat -> Z j <= Z k.
Proof.
  intros H j k Hjk Hk. induction k as [|k IH].
  - replace j with 0%nat by lia. lra.
  - destruct (Nat.eq_dec j (S k)) as [->|Hne]; [lra|].
    assert (Z j <= Z k) by (apply IH; lia). assert (Z k <= Z (S k)) by (apply H; lia). lra.
Qed.

(** Lemma [converse_pair]: one pair, propositional. *)
Lemma converse_pair (A B : Prop) (zj zk : R) :
  (A \/ ~ A) -> (A \/ B) -> (B /\ ~ A <-> zk < zj) -> zj <= zk -> A.
Proof.
  intros. repeat match goal with H : _ <-> _ |- _ => destruct H end.
  match goal with H : A \/ ~ A |- _ => destruct H as [?|HnA] end; [assumption|].
  exfalso. match goal with H : A \/ B |- _ => destruct H end; [contradiction|].
  match goal with H : B /\ ~ A -> _ < _ |- _ =>
    assert (zk < zj) by (apply H; split; assumption) end. lra.
Qed.

Theorem converse (pref : rel) K Q Z : (forall x y, pref x y \/ ~ pref x y) ->
  CA pref K Q -> PM pref K Q Z -> Znd K Z -> MON pref K Q.
Proof.
  intros Hdec HCA HPM HZ j k Hjk Hk.
  apply (converse_pair (pref (Q k) (Q j)) (pref (Q j) (Q k)) (Z j) (Z k)).
  - apply Hdec.
  - apply HCA; assumption.
  - apply (HPM k j); lia.
  - apply (znd_pairs K Z HZ); lia.
Qed.

(** ** (b) MON => the grid second-price payment is a PM witness (box) *)

Lemma grid_nonneg K s : grid K s -> forall k, (k <= K)%nat -> 0 <= s k.
Proof.
  intros [H0 Hs] k. induction k as [|k IH]; intros Hk; [lra|].
  assert (0 <= s k) by (apply IH; lia). assert (s k < s (S k)) by (apply Hs; lia). lra.
Qed.

Lemma grid_pos K s : grid K s -> forall k, (1 <= k)%nat -> (k <= K)%nat -> 0 < s k.
Proof.
  intros Hg k H1 Hk. destruct k as [|k]; [lia|].
  assert (0 <= s k) by (apply (grid_nonneg K s Hg); lia).
  assert (s k < s (S k)) by (apply (proj2 Hg); lia). lra.
Qed.

(** Lemma PT1: G adds up along MON. *)
Lemma PT1 (a b c p : R) : btw a b p -> btw b c p -> btw a c p ->
  Rabs (c - a) = Rabs (b - a) + Rabs (c - b).
Proof.
  unfold btw. intros H1 H2 H3.
  unfold Rabs; repeat destruct Rcase_abs;
    destruct H1 as [[? ?]|[? ?]]; destruct H2 as [[? ?]|[? ?]]; lra.
Qed.

(** Lemma PT2: given c between b and p, b is between c and p iff b = c. *)
Lemma PT2 (b c p : R) : btw b c p -> (btw c b p <-> b = c).
Proof. unfold btw. intros H. split; [intros H'|intros ->]; lra. Qed.

Lemma box_antisym V p x y : box V p x y -> (box V p y x <-> forall t, (t < V)%nat -> x t = y t).
Proof.
  intros H. split.
  - intros H' t Ht. symmetry. apply (PT2 (y t) (x t) (p t)); [apply H | apply H']; assumption.
  - intros Heq t Ht. rewrite (Heq t Ht). apply btw_refl.
Qed.

Lemma TV_nonneg V x y : 0 <= TV V x y.
Proof.
  unfold TV. apply Rmult_le_pos; [lra|]. apply sum_nonneg. intros; apply Rabs_pos.
Qed.

Lemma TV_zero V x y : TV V x y = 0 <-> forall t, (t < V)%nat -> x t = y t.
Proof.
  unfold TV. split.
  - intros H t Ht.
    assert (Hs : sum V (fun t => Rabs (x t - y t)) = 0) by lra.
    assert (Hz := proj1 (sum_zero_iff V (fun t => Rabs (x t - y t))
                           (fun j _ => Rabs_pos _)) Hs t Ht). simpl in Hz.
    destruct (Req_or_not (x t) (y t)) as [|Hne]; [assumption|].
    exfalso. revert Hz. apply Rabs_no_R0. lra.
  - intros H. rewrite sum_zero; [ring|]. intros t Ht. rewrite (H t Ht).
    replace (y t - y t) with 0 by ring. apply Rabs_R0.
Qed.

Section Witness.
Variables (V K : nat) (p : nat -> R) (s : nat -> R) (Q : nat -> nat -> R).
Hypothesis Hgrid : grid K s.
Hypothesis Hmon : MON (box V p) K Q.

Lemma mon_le j k : (j <= k)%nat -> (k <= K)%nat -> box V p (Q k) (Q j).
Proof.
  intros Hjk Hk. destruct (Nat.eq_dec j k) as [->|Hne]; [apply box_refl|].
  apply Hmon; lia.
Qed.

(** The per-token lemmas summed over the tokens: G(s_k) - G(s_j) = TV(Q_j, Q_k). *)
Lemma G_diff j k : (j <= k)%nat -> (k <= K)%nat -> G V Q k - G V Q j = TV V (Q k) (Q j).
Proof.
  intros Hjk Hk. unfold G, TV. rewrite <- Rmult_minus_distr_l, <- sum_minus.
  f_equal. apply sum_ext. intros t Ht.
  rewrite (PT1 (Q 0%nat t) (Q j t) (Q k t) (p t)).
  - ring.
  - apply (mon_le 0 j); [lia|lia|assumption].
  - apply (mon_le j k); assumption.
  - apply (mon_le 0 k); [lia|lia|assumption].
Qed.

(** Lemma [z_step]: the step of the induction over the grid bids l = j+1..k. *)
Lemma z_step (A D sl d : R) : 0 <= A -> 0 <= D -> (0 < A <-> 0 < D) -> 0 < sl -> 0 <= d ->
  0 <= A + sl * d /\ 0 <= D + d /\ (0 < A + sl * d <-> 0 < D + d).
Proof.
  intros ? ? [HAD HDA]. intros.
  split; [nra|]. split; [lra|]. split; intros.
  - destruct (Rlt_dec 0 A); [assert (0 < D) by (apply HAD; assumption); lra|].
    destruct (Rlt_dec 0 d); [lra|]. assert (A = 0) by lra. assert (d = 0) by lra.
    subst. nra.
  - destruct (Rlt_dec 0 D); [assert (0 < A) by (apply HDA; assumption); nra|].
    assert (0 < d) by lra. nra.
Qed.

Lemma z_invariant j : forall m, (j + m <= K)%nat ->
  0 <= Zsp V s Q (j + m) - Zsp V s Q j /\ 0 <= G V Q (j + m) - G V Q j /\
  (0 < Zsp V s Q (j + m) - Zsp V s Q j <-> 0 < G V Q (j + m) - G V Q j).
Proof.
  induction m as [|m IH]; intros Hm.
  - rewrite Nat.add_0_r. split; [lra|split; [lra|split; lra]].
  - destruct (IH ltac:(lia)) as [HA [HD HAD]].
    replace (j + S m)%nat with (S (j + m)) by lia. simpl Zsp.
    assert (Hs : 0 < s (S (j + m))) by (apply (grid_pos K s Hgrid); lia).
    assert (Hd : 0 <= G V Q (S (j + m)) - G V Q (j + m)).
    { rewrite G_diff by lia. apply TV_nonneg. }
    destruct (z_step _ _ _ _ HA HD HAD Hs Hd) as [H1 [H2 H3]].
    replace (Zsp V s Q (j + m) + s (S (j + m)) * (G V Q (S (j + m)) - G V Q (j + m))
             - Zsp V s Q j)
      with (Zsp V s Q (j + m) - Zsp V s Q j
            + s (S (j + m)) * (G V Q (S (j + m)) - G V Q (j + m))) by ring.
    replace (G V Q (S (j + m)) - G V Q j)
      with (G V Q (j + m) - G V Q j + (G V Q (S (j + m)) - G V Q (j + m))) by ring.
    split; [assumption|split; assumption].
Qed.

Lemma z_pair j k : (j <= k)%nat -> (k <= K)%nat ->
  Zsp V s Q j <= Zsp V s Q k /\ (Zsp V s Q j < Zsp V s Q k <-> G V Q j < G V Q k).
Proof.
  intros Hjk Hk. destruct (z_invariant j (k - j) ltac:(lia)) as [HA [_ HAD]].
  replace (j + (k - j))%nat with k in * by lia. split; [lra|].
  split; intros; [apply Rminus_gt_0_lt, HAD; lra | apply Rminus_gt_0_lt, HAD; lra].
Qed.

Lemma strict_up j k : (j < k)%nat -> (k <= K)%nat ->
  (strict (box V p) (Q k) (Q j) <-> G V Q j < G V Q k).
Proof.
  intros Hjk Hk. unfold strict.
  assert (Hb : box V p (Q k) (Q j)) by (apply Hmon; assumption).
  rewrite (box_antisym V p (Q k) (Q j) Hb).
  assert (Hg := G_diff j k ltac:(lia) Hk).
  split.
  - intros [_ Hne]. assert (0 <= TV V (Q k) (Q j)) by apply TV_nonneg.
    destruct (Req_or_not (TV V (Q k) (Q j)) 0) as [H0|H0].
    + exfalso. apply Hne. apply TV_zero, H0.
    + lra.
  - intros Hlt. split; [assumption|]. intros Heq. apply TV_zero in Heq. lra.
Qed.

Theorem witness_box :
  Zsp V s Q 0 = 0 /\ Znd K (Zsp V s Q) /\ PM (box V p) K Q (Zsp V s Q).
Proof.
  split; [reflexivity|split].
  - intros k Hk. apply (z_pair k (S k)); lia.
  - intros j k Hj Hk Hne. destruct (Nat.lt_ge_cases j k) as [Hjk|Hkj].
    + rewrite (strict_up j k Hjk Hk). apply iff_sym, (z_pair j k); lia.
    + assert (Hkj' : (k < j)%nat) by lia. split.
      * intros [_ Hn]. exfalso. apply Hn, Hmon; assumption.
      * intros Hlt. destruct (z_pair k j ltac:(lia) Hj). lra.
Qed.

End Witness.

(** The three statements for the box order, every V, every grid. *)
Theorem box_mon_implies_ca V p K Q : MON (box V p) K Q -> CA (box V p) K Q.
Proof. apply mon_implies_ca. Qed.

Theorem box_grid_second_price_witness V p K s Q : grid K s -> MON (box V p) K Q ->
  Zsp V s Q 0 = 0 /\ Znd K (Zsp V s Q) /\ PM (box V p) K Q (Zsp V s Q).
Proof. apply witness_box. Qed.

Theorem box_converse V p K Q Z :
  CA (box V p) K Q -> PM (box V p) K Q Z -> Znd K Z -> MON (box V p) K Q.
Proof. apply converse. intros; apply box_dec. Qed.

(** ** The segment order, by reduction to box *)

(** Lemma [s1_alpha]: given seg(x, y), seg(y, x) iff box(y, x). *)
Lemma s1 V p x y : seg V p x y -> (seg V p y x <-> box V p y x).
Proof.
  intros H. split; [apply seg_box|]. intros Hb.
  assert (Heq : forall t, (t < V)%nat -> x t = y t)
    by (apply (box_antisym V p x y (seg_box V p x y H)), Hb).
  exists 0. split; [lra|]. intros t Ht. rewrite (Heq t Ht). ring.
Qed.

Lemma seg_mon_box V p K Q : MON (seg V p) K Q -> MON (box V p) K Q.
Proof. intros H j k Hjk Hk. apply seg_box, H; assumption. Qed.

Lemma seg_pm_iff V p K Q Z : MON (seg V p) K Q ->
  (PM (seg V p) K Q Z <-> PM (box V p) K Q Z).
Proof.
  intros Hmon.
  assert (Hst : forall j k, (j <= K)%nat -> (k <= K)%nat -> j <> k ->
            (strict (seg V p) (Q k) (Q j) <-> strict (box V p) (Q k) (Q j))).
  { intros j k Hj Hk Hne. unfold strict. destruct (Nat.lt_ge_cases j k) as [Hjk|Hkj].
    - assert (Hs := Hmon j k Hjk Hk). rewrite (s1 V p (Q k) (Q j) Hs).
      split; intros [_ Hn]; split; try assumption; apply seg_box, Hs.
    - assert (Hs := Hmon k j ltac:(lia) Hj).
      split; intros [_ Hn]; exfalso; apply Hn; [assumption|apply seg_box, Hs]. }
  split; intros H j k Hj Hk Hne; rewrite <- (H j k Hj Hk Hne); [symmetry|]; apply Hst; assumption.
Qed.

Theorem seg_mon_implies_ca V p K Q : MON (seg V p) K Q -> CA (seg V p) K Q.
Proof. apply mon_implies_ca. Qed.

Theorem seg_grid_second_price_witness V p K s Q : grid K s -> MON (seg V p) K Q ->
  Zsp V s Q 0 = 0 /\ Znd K (Zsp V s Q) /\ PM (seg V p) K Q (Zsp V s Q).
Proof.
  intros Hg Hmon. destruct (witness_box V K p s Q Hg (seg_mon_box V p K Q Hmon)) as [H0 [H1 H2]].
  split; [assumption|split; [assumption|]]. apply seg_pm_iff; assumption.
Qed.

Theorem seg_converse V p K Q Z :
  CA (seg V p) K Q -> PM (seg V p) K Q Z -> Znd K Z -> MON (seg V p) K Q.
Proof. apply converse. intros; apply seg_dec. Qed.
