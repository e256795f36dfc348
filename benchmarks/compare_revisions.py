"""Did a change move a benchmark? Run one benchmark at two git revisions, interleaved, and report ratios.

Absolute timings on a shared machine drift with its load; runs of A and B taken in turns see the
same load, so the ratio B/A of each pair is the figure to trust. Each revision is checked out in a
temporary git worktree and its own copy of the benchmark runs there (the benchmark and the code it
measures come from the same revision).

    python benchmarks/compare_revisions.py --rounds 3 --metric results.0.steady_samples_per_s \\
        0784edc HEAD -- benchmarks/data_loader.py --workers 0 --batches 4

Options come before the two revisions; everything after ``--`` is the benchmark's command line.

The benchmark must accept ``--out PATH`` (or the flag given by ``--out-flag``) and write JSON there;
``--metric`` is a dotted path into that JSON (list items by index); write ``--out-flag=--output``
(with ``=``) for a flag that itself starts with dashes. Writes
benchmarks/results/compare_<benchmark>.json with every run and the median ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_metric(document: object, dotted: str) -> float:
    """``document`` at ``dotted`` (``a.0.b``: key ``a``, item 0, key ``b``) as a float."""
    value = document
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return float(value)


def run_once(tree: Path, script: str, args: list[str], out_flag: str, metric: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, str(tree / script), *args, out_flag, str(out)], cwd=tree, check=True)
        return read_metric(json.loads(out.read_text()), metric)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="git revision A")
    parser.add_argument("after", help="git revision B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--metric", required=True, help="dotted path to a number in the benchmark's JSON")
    parser.add_argument("--out-flag", default="--out")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS...] (script relative to the repo)")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the benchmark after --, e.g. -- benchmarks/data_loader.py --workers 0")
    script, bench_args = command[0], command[1:]

    runs: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for label, rev in (("before", args.before), ("after", args.after)):
            tree = Path(tmp) / label
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
            trees[label] = tree
        try:
            for round_ in range(args.rounds):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for label in order:
                    value = run_once(trees[label], script, bench_args, args.out_flag, args.metric)
                    runs[label].append(value)
                    print(f"round {round_ + 1} {label:6s} {args.metric} = {value:.4g}", flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)

    ratios = [b / a for a, b in zip(runs["before"], runs["after"])]
    summary = {
        "benchmark": script,
        "arguments": bench_args,
        "metric": args.metric,
        "before": args.before,
        "after": args.after,
        "runs": runs,
        "ratios_after_over_before": ratios,
        "median_ratio": statistics.median(ratios),
        "note": "rounds alternate the order of A and B; each ratio pairs the runs of one round",
    }
    name = Path(script).stem
    out = ROOT / "benchmarks" / "results" / f"compare_{name}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{args.metric}: after/before per round {', '.join(f'{r:.3f}' for r in ratios)}; median {summary['median_ratio']:.3f}"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
