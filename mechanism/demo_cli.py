"""``tokenauction demo``: the main job. Until the LLM demo lands it runs the synthetic one."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--synthetic", action="store_true",
                   help="use the built-in synthetic provider instead of the LLM")
    p.add_argument("--rule", default="linear", help="aggregation rule (default: linear)")
    p.add_argument("--bids", type=float, nargs="+", default=[1.0, 2.0], help="one bid per agent")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=12)


def main(args) -> int:
    from . import demo_synthetic

    return demo_synthetic.run(args.rule, args.bids, args.seed, args.max_tokens)
