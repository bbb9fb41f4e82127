"""Draw the eval success curves of several hammer runs in one figure, from the
eval_success.csv each run writes, and print a Markdown table of them.

    python benchmarks/plot_hammer.py docs/hammer_eval_success.png runs/kl/hammer_seed*

To compare settings, give each group of runs a name; groups get their own
line style, seeds their own colour:

    python benchmarks/plot_hammer.py docs/hammer_kl_estimators.png \\
        --group "exact KL (default)" runs/kl/hammer_seed* \\
        --group "sampled KL" runs/headline/hammer_seed*

With --panels each group gets its own panel (one per task, for example):

    python benchmarks/plot_hammer.py docs/mt10_eval_success.png --panels \
        --group reach-v3 runs/mt10/env-name=reach-v3/seed* --group push-v3 runs/mt10/env-name=push-v3/seed*
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
    parser.add_argument("--panels", action="store_true", help="one panel per group, titled by its name")
    args = parser.parse_args()
    groups = ([("", args.runs)] if args.runs else []) + [
        (name, [Path(run) for run in runs]) for name, *runs in args.group]
    if not groups or not all(runs for _, runs in groups):
        parser.error("give run directories, directly or after each --group NAME")
    for run in (run for _, runs in groups for run in runs):
        if not (run / "eval_success.csv").exists() or not (run / "summary.json").exists():
            parser.error(f"{run}: not a finished run (no eval_success.csv and summary.json); "
                         "a group name with spaces needs quotes")

    columns = min(len(groups), 5) if args.panels else 1
    lines = -(-len(groups) // columns) if args.panels else 1  # rows of panels
    size = (3.2 * columns, 2.6 * lines) if args.panels else (7, 4)
    figure, axes = plt.subplots(lines, columns, figsize=size, squeeze=False, sharex=True, sharey=True)
    named = any(name for name, _ in groups)
    print(("| setting " if named else "") + "| seed | BC (step 0) | 100k | 300k | final | best "
          "| first step >= 0.9 | wall-clock | RL steps/s |")
    print(("|---" if named else "") + "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for index, (name, runs) in enumerate(groups):
        style = "-" if args.panels else LINE_STYLES[index % len(LINE_STYLES)]
        axis = axes.flat[index] if args.panels else axes[0, 0]
        if args.panels:
            axis.set_title(name, fontsize="medium")
        for colour, run in enumerate(runs):
            with open(run / "eval_success.csv") as file:
                rows = [(int(r["step"]), float(r["success"])) for r in csv.DictReader(file)]
            summary = json.loads((run / "summary.json").read_text())
            steps, successes = zip(*rows)
            seed = f"seed {summary['seed']}"
            label = seed if args.panels or not name else f"{name}, {seed}"
            axis.plot(steps, successes, ls=style, marker="o", ms=3, color=f"C{colour}", label=label)
            if style == LINE_STYLES[0]:  # the BC level, once per seed
                axis.axhline(successes[0], color=f"C{colour}", ls=":", lw=1)
            at = {mark: next((f"{s:.2f}" for step, s in rows if step >= mark), "-")  # first eval from there
                  for mark in (100_000, 300_000)}
            first = next((f"{step / 1000:.0f}k" if step else "0 (BC)" for step, s in rows if s >= 0.9),
                         "never")
            print((f"| {name} " if named else "")
                  + f"| {summary['seed']} | {successes[0]:.2f} | {at[100_000]} | {at[300_000]} "
                  f"| {successes[-1]:.2f} | {max(successes):.2f} | {first} "
                  f"| {summary['wall_seconds'] / 60:.1f} min | {summary['steps_per_second']:,.0f} |")
    if args.panels:
        for axis in axes.flat[len(groups):]:
            axis.set_visible(False)
        for axis in axes[:, 0]:
            axis.set_ylabel("eval success")
        for column in range(columns):  # the lowest panel of each column gets the x axis
            bottom = axes.flat[max(i for i in range(column, len(groups), columns))]
            bottom.tick_params(labelbottom=True)
            bottom.set_xlabel("env steps (RL)")
        axes[0, 0].set_ylim(-0.02, 1.02)
        axes[0, 0].xaxis.set_major_formatter(lambda x, _: f"{x / 1000:.0f}k")  # shared by all panels
        axes[0, 0].legend(loc="lower right", fontsize="x-small")
        figure.suptitle("BC (step 0, dotted), then PPO + reverse KL, per task")
        figure.tight_layout()
    else:
        axis = axes[0, 0]
        axis.set(xlabel="environment steps (RL phase)", ylabel="eval success (50 episodes, mean action)",
                 ylim=(-0.02, 1.02), title="Meta-World hammer: BC (step 0, dotted), then PPO + reverse KL")
        axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")  # outside the curves
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=100, bbox_inches="tight")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
