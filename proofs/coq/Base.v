(** Shared definitions for the token-auction development (docs/theory.md, section 10):
    betweenness on one token, finite sums over 0..n-1, distributions on V tokens,
    the box and segment orders.  Vectors (distributions, weights, reports) are
    functions [nat -> R] read on the first V (or n) indices. *)
Require Import Reals Lra Psatz Arith Lia.
Open Scope R_scope.

(** [btw x y z]: y lies between x and z (on one token). *)
Definition btw (x y z : R) : Prop := (x <= y /\ y <= z) \/ (z <= y /\ y <= x).

(** [sum n f] = f 0 + ... + f (n-1). *)
Fixpoint sum (n : nat) (f : nat -> R) : R :=
  match n with O => 0 | S m => sum m f + f m end.

(** [dist V p]: p is a probability distribution on the tokens 0..V-1. *)
Definition dist (V : nat) (p : nat -> R) : Prop :=
  (forall t, (t < V)%nat -> 0 <= p t) /\ sum V p = 1.

(** [box V p x y]: for the agent with distribution p, x is weakly preferred to y
    (x ⪰ y): on every token x lies between y and p. *)
Definition box (V : nat) (p x y : nat -> R) : Prop :=
  forall t, (t < V)%nat -> btw (y t) (x t) (p t).

(** [seg V p x y]: x lies on the segment from y to p (x ⪰ y for the segment order). *)
Definition seg (V : nat) (p x y : nat -> R) : Prop :=
  exists alpha, 0 <= alpha <= 1 /\
    forall t, (t < V)%nat -> x t = y t + alpha * (p t - y t).

(** ** Finite sums *)

Lemma sum_ext n f g : (forall j, (j < n)%nat -> f j = g j) -> sum n f = sum n g.
Proof.
  induction n as [|n IH]; simpl; intros H; [reflexivity|].
  rewrite IH by (intros; apply H; lia). rewrite H by lia. reflexivity.
Qed.

Lemma sum_scal n c f : sum n (fun j => c * f j) = c * sum n f.
Proof. induction n as [|n IH]; simpl; [ring|]. rewrite IH; ring. Qed.

Lemma sum_plus n f g : sum n (fun j => f j + g j) = sum n f + sum n g.
Proof. induction n as [|n IH]; simpl; [ring|]. rewrite IH; ring. Qed.

Lemma sum_minus n f g : sum n (fun j => f j - g j) = sum n f - sum n g.
Proof. induction n as [|n IH]; simpl; [ring|]. rewrite IH; ring. Qed.

Lemma sum_zero n f : (forall j, (j < n)%nat -> f j = 0) -> sum n f = 0.
Proof.
  induction n as [|n IH]; simpl; intros H; [reflexivity|].
  rewrite IH by (intros; apply H; lia). rewrite H by lia. ring.
Qed.

Lemma sum_nonneg n f : (forall j, (j < n)%nat -> 0 <= f j) -> 0 <= sum n f.
Proof.
  induction n as [|n IH]; simpl; intros H; [lra|].
  assert (0 <= sum n f) by (apply IH; intros; apply H; lia).
  assert (0 <= f n) by (apply H; lia). lra.
Qed.

Lemma sum_ge_term n f i : (forall j, (j < n)%nat -> 0 <= f j) -> (i < n)%nat ->
  f i <= sum n f.
Proof.
  induction n as [|n IH]; simpl; intros H Hi; [lia|].
  assert (0 <= sum n f) by (apply sum_nonneg; intros; apply H; lia).
  destruct (Nat.eq_dec i n) as [->|Hne]; [lra|].
  assert (f i <= sum n f) by (apply IH; [intros; apply H; lia | lia]).
  assert (0 <= f n) by (apply H; lia). lra.
Qed.

(** A sum of non-negative terms is zero iff every term is. *)
Lemma sum_zero_iff n f : (forall j, (j < n)%nat -> 0 <= f j) ->
  (sum n f = 0 <-> forall j, (j < n)%nat -> f j = 0).
Proof.
  intros H; split; [|apply sum_zero].
  intros Hs j Hj.
  assert (f j <= sum n f) by (apply sum_ge_term; assumption).
  assert (0 <= f j) by (apply H; assumption). lra.
Qed.

Lemma sum_single n f i : (i < n)%nat ->
  (forall j, (j < n)%nat -> j <> i -> f j = 0) -> sum n f = f i.
Proof.
  induction n as [|n IH]; simpl; intros Hi H; [lia|].
  destruct (Nat.eq_dec i n) as [->|Hne].
  - rewrite sum_zero by (intros; apply H; lia). ring.
  - rewrite IH by (intros; try apply H; lia). rewrite (H n) by lia. ring.
Qed.

Lemma sum_two n f i k : (i < n)%nat -> (k < n)%nat -> i <> k ->
  (forall j, (j < n)%nat -> j <> i -> j <> k -> f j = 0) -> sum n f = f i + f k.
Proof.
  induction n as [|n IH]; simpl; intros Hi Hk Hik H; [lia|].
  destruct (Nat.eq_dec i n) as [->|Hi'].
  - rewrite (sum_single n f k) by (intros; try apply H; lia). ring.
  - destruct (Nat.eq_dec k n) as [->|Hk'].
    + rewrite (sum_single n f i) by (intros; try apply H; lia). ring.
    + rewrite IH by (intros; try apply H; lia). rewrite (H n) by lia. ring.
Qed.

(** Two vectors that differ at one index: their sums differ by that difference. *)
Lemma sum_update n f g i : (i < n)%nat ->
  (forall j, (j < n)%nat -> j <> i -> g j = f j) -> sum n g - sum n f = g i - f i.
Proof.
  intros Hi H. rewrite <- sum_minus.
  apply (sum_single n (fun j => g j - f j) i); [assumption|].
  intros j Hj Hne. rewrite H by assumption. ring.
Qed.

(** ** Finite case analysis (no axiom beyond the reals': decidability comes from the
    order of R). *)

Lemma finite_choice n (P : nat -> Prop) : (forall j, P j \/ ~ P j) ->
  (exists j, (j < n)%nat /\ P j) \/ (forall j, (j < n)%nat -> ~ P j).
Proof.
  intros Hd. induction n as [|n IH].
  - right; intros; lia.
  - destruct IH as [[j [Hj HP]]|Hn].
    + left; exists j; split; [lia|assumption].
    + destruct (Hd n) as [HP|HnP].
      * left; exists n; split; [lia|assumption].
      * right; intros j Hj. destruct (Nat.eq_dec j n) as [->|]; [assumption|].
        apply Hn; lia.
Qed.

Lemma finite_forall_dec n (P : nat -> Prop) : (forall j, P j \/ ~ P j) ->
  (forall j, (j < n)%nat -> P j) \/ ~ (forall j, (j < n)%nat -> P j).
Proof.
  intros Hd. destruct (finite_choice n (fun j => ~ P j)) as [[j [Hj HP]]|H].
  - intros j; destruct (Hd j); [right|left]; tauto.
  - right; intros Hall; apply HP, Hall, Hj.
  - left; intros j Hj. destruct (Hd j); [assumption|]. exfalso; apply (H j Hj); assumption.
Qed.

Lemma Rle_or_not (x y : R) : x <= y \/ ~ x <= y.
Proof. destruct (Rle_dec x y); tauto. Qed.

Lemma Req_or_not (x y : R) : x = y \/ x <> y.
Proof. destruct (Req_dec x y); tauto. Qed.

Lemma btw_dec x y z : btw x y z \/ ~ btw x y z.
Proof.
  unfold btw. destruct (Rle_dec x y), (Rle_dec y z), (Rle_dec z y), (Rle_dec y x);
    first [left; lra | right; intros [[? ?]|[? ?]]; lra].
Qed.

Lemma box_dec V p x y : box V p x y \/ ~ box V p x y.
Proof. apply finite_forall_dec. intros t. apply btw_dec. Qed.

(** Betweenness facts used everywhere. *)
Lemma btw_refl x z : btw x x z.
Proof. unfold btw; lra. Qed.

Lemma btw_top x z : btw x z z.
Proof. unfold btw; lra. Qed.

Lemma box_refl V p x : box V p x x.
Proof. intros t _; apply btw_refl. Qed.
