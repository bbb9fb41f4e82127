"""Draw the eval success curves of several hammer runs in one figure, from the
eval_success.csv each run writes, and print a Markdown table of them.

    python benchmarks/plot_hammer.py docs/hammer_eval_success.png runs/kl/hammer_seed*

To compare settings, give each group of runs a name; groups get their own
line style, seeds their own colour:

    python benchmarks/plot_hammer.py docs/hammer_kl_estimators.png \\
        --group "exact KL (default)" runs/kl/hammer_seed* \\
        --group "sampled KL" runs/headline/hammer_seed*
"""

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINE_STYLES = ["-", "--", ":", "-."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="the PNG to write")
    parser.add_argument("runs", nargs="*", type=Path, help="run directories (one group, no name)")
    parser.add_argument("--group", nargs="+", action="append", default=[], metavar=("NAME", "RUN"),
                        help="a named group of run directories; repeat for each group")
    args = parser.parse_args()
    groups = ([("", args.runs)] if args.runs else []) + [
        (name, [Path(run) for run in runs]) for name, *runs in args.group]
    if not groups or not all(runs for _, runs in groups):
        parser.error("give run directories, directly or after each --group NAME")

    figure, axis = plt.subplots(figsize=(7, 4))
    named = any(name for name, _ in groups)
    print(("| setting " if named else "") + "| seed | BC (step 0) | 100k | 300k | final | best "
          "| first step >= 0.9 | wall-clock | RL steps/s |")
    print(("|---" if named else "") + "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for style, (name, runs) in zip(LINE_STYLES, groups):
        for colour, run in enumerate(runs):
            with open(run / "eval_success.csv") as file:
                rows = [(int(r["step"]), float(r["success"])) for r in csv.DictReader(file)]
            summary = json.loads((run / "summary.json").read_text())
            steps, successes = zip(*rows)
            label = f"{name}, seed {summary['seed']}" if name else f"seed {summary['seed']}"
            axis.plot(steps, successes, ls=style, marker="o", ms=3, color=f"C{colour}", label=label)
            if style == LINE_STYLES[0]:  # the BC level, once per seed
                axis.axhline(successes[0], color=f"C{colour}", ls=":", lw=1)
            at = {mark: next((f"{s:.2f}" for step, s in rows if step >= mark), "-")  # first eval from there
                  for mark in (100_000, 300_000)}
            first = next((f"{step / 1000:.0f}k" for step, s in rows if s >= 0.9), "never")
            print((f"| {name} " if named else "")
                  + f"| {summary['seed']} | {successes[0]:.2f} | {at[100_000]} | {at[300_000]} "
                  f"| {successes[-1]:.2f} | {max(successes):.2f} | {first} "
                  f"| {summary['wall_seconds'] / 60:.1f} min | {summary['steps_per_second']:,.0f} |")
    axis.set(xlabel="environment steps (RL phase)", ylabel="eval success (50 episodes, mean action)",
             ylim=(-0.02, 1.02), title="Meta-World hammer: BC (step 0, dotted), then PPO + reverse KL")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")  # outside the curves
    figure.savefig(args.output, dpi=100, bbox_inches="tight")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
