(** Winner-take-all as a 0/1 mixture, ties and zero bids included (docs/theory.md,
    sections 2 and 8), against a specification written here from the rule's prose
    definition: the highest positive bidder's distribution, ties to the lowest index;
    with no positive bid, the reference. n agents 0..n-1; party n is the reference. *)
Require Import Reals Lra Psatz Arith Lia.
Require Import TokenAuction.Base TokenAuction.Box TokenAuction.Mixture
  TokenAuction.Characterization.
Open Scope R_scope.

(** Agent i wins at the bids b. *)
Definition wins (n : nat) (b : nat -> R) (i : nat) : Prop :=
  (i < n)%nat /\ 0 < b i /\ (forall j, (j < n)%nat -> b j <= b i) /\
  (forall j, (j < i)%nat -> b j < b i).

Definition none_positive (n : nat) (b : nat -> R) : Prop :=
  forall j, (j < n)%nat -> b j <= 0.

(** The 0/1 weights of winner-take-all (agents 0..n-1, reference n). *)
Definition wta_weights (n : nat) (b : nat -> R) (w : nat -> R) : Prop :=
  (forall j, (j < n)%nat -> (wins n b j -> w j = 1) /\ (~ wins n b j -> w j = 0)) /\
  (none_positive n b -> w n = 1) /\ (~ none_positive n b -> w n = 0).

Lemma wins_unique n b i j : wins n b i -> wins n b j -> i = j.
Proof.
  intros [Hi [_ [Hmi Hti]]] [Hj [_ [Hmj Htj]]].
  assert (b i <= b j) by (apply Hmj; assumption). assert (b j <= b i) by (apply Hmi; assumption).
  destruct (Nat.lt_total i j) as [Hlt|[Heq|Hgt]]; [|assumption|].
  - specialize (Htj i Hlt). lra.
  - specialize (Hti j Hgt). lra.
Qed.

Lemma wins_dec n b i : wins n b i \/ ~ wins n b i.
Proof.
  unfold wins. destruct (Nat.lt_ge_cases i n); [|right; lia].
  destruct (Rlt_dec 0 (b i)); [|right; tauto].
  destruct (finite_forall_dec n (fun j => b j <= b i)) as [H1|H1];
    [intros; apply Rle_or_not| |right; tauto].
  destruct (finite_forall_dec i (fun j => b j < b i)) as [H2|H2];
    [intros j; destruct (Rlt_dec (b j) (b i)); tauto| left; tauto | right; tauto].
Qed.

(** Lemma [wta_win]: a winner still wins after raising its bid. *)
Lemma wta_win n i b b' : raise n i b b' -> wins n b i -> wins n b' i.
Proof.
  intros [Hi [Hlt Ho]] [_ [Hp [Hm Ht]]]. split; [assumption|]. split; [lra|]. split.
  - intros j Hj. destruct (Nat.eq_dec j i) as [->|Hne]; [lra|].
    rewrite Ho by assumption. specialize (Hm j Hj). lra.
  - intros j Hj. rewrite Ho by lia. specialize (Ht j Hj). lra.
Qed.

(** Lemma [wta_others]: while i loses at both bids, every other agent wins at b iff it
    wins at b' (ties included). *)
Lemma wta_others n i b b' j : raise n i b b' -> (forall l, (l < n)%nat -> 0 <= b l) ->
  ~ wins n b' i -> j <> i -> (wins n b j <-> wins n b' j).
Proof.
  intros Hr Hb0 Hl Hji. destruct Hr as [Hi [Hlt Ho]]. split.
  - intros [Hj [Hp [Hm Ht]]].
    assert (Hge : b' i <= b j).
    { destruct (Rle_dec (b' i) (b j)) as [|Hgt]; [assumption|exfalso]. apply Hl.
      split; [assumption|]. split; [lra|]. split.
      - intros l Hl'. destruct (Nat.eq_dec l i) as [->|Hne]; [lra|].
        rewrite Ho by assumption. specialize (Hm l Hl'). lra.
      - intros l Hl'. rewrite Ho by lia. specialize (Hm l ltac:(lia)). lra. }
    split; [assumption|]. rewrite (Ho j Hji). split; [assumption|]. split.
    + intros l Hl'. destruct (Nat.eq_dec l i) as [->|Hne]; [assumption|].
      rewrite Ho by assumption. apply Hm; assumption.
    + intros l Hl'. destruct (Nat.eq_dec l i) as [->|Hne].
      * destruct (Req_or_not (b' i) (b j)) as [Heq|Hne]; [|lra]. exfalso. apply Hl.
        split; [assumption|]. split; [lra|]. split.
        -- intros l Hl''. destruct (Nat.eq_dec l i) as [->|Hne']; [lra|].
           rewrite Ho by assumption. specialize (Hm l Hl''). lra.
        -- intros l Hl''. rewrite Ho by lia. specialize (Ht l ltac:(lia)). lra.
      * rewrite Ho by assumption. apply Ht; assumption.
  - intros [Hj [Hp [Hm Ht]]]. rewrite (Ho j Hji) in Hp, Hm, Ht.
    split; [assumption|]. split; [assumption|]. split.
    + intros l Hl'. destruct (Nat.eq_dec l i) as [->|Hne].
      * specialize (Hm i Hi). lra.
      * specialize (Hm l Hl'). rewrite Ho in Hm by assumption. assumption.
    + intros l Hl'. destruct (Nat.eq_dec l i) as [->|Hne].
      * specialize (Hm i Hi). lra.
      * specialize (Ht l Hl'). rewrite Ho in Ht by assumption. assumption.
Qed.

(** A highest bidder with the lowest index among the tied ones exists. *)
Lemma argmax n b : (0 < n)%nat -> exists i, (i < n)%nat /\
  (forall j, (j < n)%nat -> b j <= b i) /\ (forall j, (j < i)%nat -> b j < b i).
Proof.
  induction n as [|n IH]; intros Hn; [lia|].
  destruct (Nat.eq_dec n 0) as [->|Hn0].
  - exists 0%nat. split; [lia|]. split; [intros j Hj; replace j with 0%nat by lia; lra|lia].
  - destruct (IH ltac:(lia)) as [i [Hi [Hm Ht]]].
    destruct (Rlt_dec (b i) (b n)) as [Hlt|Hge].
    + exists n. split; [lia|]. split.
      * intros j Hj. destruct (Nat.eq_dec j n) as [->|Hne]; [lra|].
        specialize (Hm j ltac:(lia)). lra.
      * intros j Hj. specialize (Hm j Hj). lra.
    + exists i. split; [lia|]. split; [|assumption].
      intros j Hj. destruct (Nat.eq_dec j n) as [->|Hne]; [lra|]. apply Hm; lia.
Qed.

Lemma wta_sum n b w : (forall j, (j < n)%nat -> 0 <= b j) -> wta_weights n b w ->
  sum (S n) w = 1.
Proof.
  intros Hb [Hw [Hn Hp]].
  destruct (finite_choice n (fun j => 0 < b j)) as [[j0 [Hj0 Hpos]]|Hnone].
  - intros j; destruct (Rlt_dec 0 (b j)); tauto.
  - destruct (argmax n b ltac:(lia)) as [i [Hi [Hm Ht]]].
    assert (Hwin : wins n b i) by (split; [assumption|]; split; [specialize (Hm j0 Hj0); lra|tauto]).
    assert (Hz : forall j, (j < S n)%nat -> j <> i -> w j = 0).
    { intros j Hj Hne. destruct (Nat.eq_dec j n) as [->|Hjn].
      - apply Hp. intros Hnp. specialize (Hnp j0 Hj0). lra.
      - apply (Hw j ltac:(lia)). intros Hj'. apply Hne, (wins_unique n b j i); assumption. }
    rewrite (sum_single (S n) w i ltac:(lia) Hz).
    apply (Hw i Hi); assumption.
  - assert (Hnp : none_positive n b) by (intros j Hj; specialize (Hnone j Hj); lra).
    simpl. rewrite sum_zero; [rewrite (Hn Hnp); ring|].
    intros j Hj. apply (Hw j Hj). intros [_ [Hpj _]]. apply (Hnone j Hj), Hpj.
Qed.

Lemma wta_weights_nonneg n b w : wta_weights n b w -> forall j, (j < S n)%nat -> 0 <= w j.
Proof.
  intros [Hw [Hn Hp]] j Hj. destruct (Nat.eq_dec j n) as [->|Hne].
  - destruct (finite_forall_dec n (fun l => b l <= 0)) as [H|H];
      [intros; apply Rle_or_not| rewrite (Hn H); lra| rewrite (Hp H); lra].
  - destruct (wins_dec n b j) as [H|H];
      [rewrite (proj1 (Hw j ltac:(lia)) H) | rewrite (proj2 (Hw j ltac:(lia)) H)]; lra.
Qed.

(** Lemma [wta_scale]: raising agent i's bid scales every other party's 0/1 weight by
    one common c in {0, 1}: c = 0 when i wins at the higher bid, else 1. *)
Theorem wta_scale n i b b' w w' : raise n i b b' -> (forall j, (j < n)%nat -> 0 <= b j) ->
  wta_weights n b w -> wta_weights n b' w' ->
  exists c, (c = 0 \/ c = 1) /\ forall j, (j < S n)%nat -> j <> i -> w' j = c * w j.
Proof.
  intros Hr Hb Hw Hw'. destruct Hw as [Hw [Hn Hp]]. destruct Hw' as [Hw' [Hn' Hp']].
  assert (Hr' := Hr). destruct Hr' as [Hi [Hlt Ho]].
  assert (Hnot' : ~ none_positive n b') by (intros H; specialize (H i Hi); specialize (Hb i Hi); lra).
  destruct (wins_dec n b' i) as [Hwin|Hlose].
  - exists 0. split; [left; reflexivity|]. intros j Hj Hji.
    destruct (Nat.eq_dec j n) as [->|Hjn]; [rewrite (Hp' Hnot'); ring|].
    rewrite (proj2 (Hw' j ltac:(lia))); [ring|].
    intros Hj'. apply Hji, (wins_unique n b' j i); assumption.
  - exists 1. split; [right; reflexivity|]. intros j Hj Hji.
    destruct (Nat.eq_dec j n) as [->|Hjn].
    + rewrite (Hp' Hnot'). rewrite Hp; [ring|]. intros Hnp. apply Hlose.
      split; [assumption|]. split; [specialize (Hb i Hi); lra|]. split.
      * intros l Hl. destruct (Nat.eq_dec l i) as [->|Hne]; [lra|].
        rewrite Ho by assumption. specialize (Hnp l Hl). specialize (Hb i Hi). lra.
      * intros l Hl. rewrite Ho by lia. specialize (Hnp l ltac:(lia)). specialize (Hb i Hi). lra.
    + assert (Hiff := wta_others n i b b' j Hr Hb Hlose Hji).
      destruct (wins_dec n b j) as [H|H].
      * rewrite (proj1 (Hw j ltac:(lia)) H), (proj1 (Hw' j ltac:(lia)) (proj1 Hiff H)). ring.
      * rewrite (proj2 (Hw j ltac:(lia)) H), (proj2 (Hw' j ltac:(lia))); [ring|].
        intros H'. apply H, Hiff, H'.
Qed.

(** The 0/1 weights before and after, as the mixture step needs them. *)
Lemma wta_step n i b b' w w' : raise n i b b' -> (forall j, (j < n)%nat -> 0 <= b j) ->
  wta_weights n b w -> wta_weights n b' w' ->
  exists c, 0 <= c <= 1 /\ (forall j, (j < S n)%nat -> j <> i -> w' j = c * w j) /\
    sum (S n) w = 1 /\ sum (S n) w' = 1.
Proof.
  intros Hr Hb Hw Hw'.
  assert (Hb' : forall j, (j < n)%nat -> 0 <= b' j).
  { intros j Hj. destruct Hr as [Hi [Hlt Ho]]. destruct (Nat.eq_dec j i) as [->|Hne].
    - specialize (Hb i Hi). lra.
    - rewrite Ho by assumption. apply Hb, Hj. }
  destruct (wta_scale n i b b' w w' Hr Hb Hw Hw') as [c [Hc Hs]].
  exists c. split; [destruct Hc; lra|]. split; [assumption|].
  split; [apply (wta_sum n b)|apply (wta_sum n b')]; assumption.
Qed.

(** Winner-take-all is MON for box and segment, every n and every V. *)
Theorem wta_mon_box n V i b b' w w' (x : nat -> nat -> R) :
  raise n i b b' -> (forall j, (j < n)%nat -> 0 <= b j) ->
  wta_weights n b w -> wta_weights n b' w' ->
  box V (x i) (mix (S n) w' x) (mix (S n) w x).
Proof.
  intros Hr Hb Hw Hw'. destruct (wta_step n i b b' w w' Hr Hb Hw Hw') as [c [Hc [Hs [H1 H2]]]].
  apply (mixture_mon_box (S n) V w w' x i c); try assumption; try lra. destruct Hr; lia.
Qed.

Theorem wta_mon_seg n V i b b' w w' (x : nat -> nat -> R) :
  raise n i b b' -> (forall j, (j < n)%nat -> 0 <= b j) ->
  wta_weights n b w -> wta_weights n b' w' ->
  seg V (x i) (mix (S n) w' x) (mix (S n) w x).
Proof.
  intros Hr Hb Hw Hw'. destruct (wta_step n i b b' w w' Hr Hb Hw Hw') as [c [Hc [Hs [H1 H2]]]].
  apply (mixture_mon_seg (S n) V w w' x i c); try assumption; try lra. destruct Hr; lia.
Qed.
