"""Draw the eval success curves of several hammer runs in one figure, from the
eval_success.csv each run writes, and print a Markdown table of them.

    python benchmarks/plot_hammer.py docs/hammer_eval_success.png runs/headline/hammer_seed*
"""

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    output, runs = sys.argv[1], [Path(run) for run in sys.argv[2:]]
    figure, axis = plt.subplots(figsize=(7, 4))
    print("| seed | BC success (step 0) | final success | best success | wall-clock | RL steps/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        with open(run / "eval_success.csv") as file:
            rows = [(int(r["step"]), float(r["success"])) for r in csv.DictReader(file)]
        summary = json.loads((run / "summary.json").read_text())
        steps, successes = zip(*rows)
        line, = axis.plot(steps, successes, marker="o", ms=3, label=f"seed {summary['seed']}")
        axis.axhline(successes[0], color=line.get_color(), ls=":", lw=1)
        print(f"| {summary['seed']} | {successes[0]:.2f} | {successes[-1]:.2f} | {max(successes):.2f} "
              f"| {summary['wall_seconds'] / 60:.1f} min | {summary['rl_steps_per_second']:,.0f} |")
    axis.set(xlabel="environment steps (RL phase)", ylabel="eval success (50 episodes, mean action)",
             ylim=(-0.02, 1.02), title="Meta-World hammer: BC (step 0, dotted), then PPO + reverse KL")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
