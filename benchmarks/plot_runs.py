"""Plot the rolling 100-episode mean return of groups of runs (one line per
seed, one colour per group), and optionally how many epochs each update ran.

    python benchmarks/plot_runs.py out.png "clip 0.1=runs/sweeps/ppo_clip/clip-coef=0.1/seed*[0-9]" \\
        "no clip=runs/sweeps/ppo_clip/clip-coef=1000000/seed*[0-9]"
    python benchmarks/plot_runs.py out.png --epochs "kl 0.01=runs/sweeps/ppo_kl/target-kl=0.01/seed*[0-9]"

(seed*[0-9]: the run directories of benchmarks/sweep.py, not an earlier attempt kept as seed<N>.unfinished)
"""

import argparse
import glob
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(run: str, tag: str) -> tuple[np.ndarray, np.ndarray]:
    accumulator = EventAccumulator(run, size_guidance={"scalars": 0})
    accumulator.Reload()
    events = accumulator.Scalars(tag)
    return np.array([e.step for e in events]), np.array([e.value for e in events])


def rolling_mean(values: np.ndarray, window: int = 100) -> np.ndarray:
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.maximum(0, np.arange(1, len(values) + 1) - window)]) / counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("groups", nargs="+", help='"label=glob of run directories"')
    parser.add_argument("--epochs", action="store_true", help="add a panel: epochs run per update")
    parser.add_argument("--title", default="")
    options = parser.parse_args()

    panels = 2 if options.epochs else 1
    figure, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4), squeeze=False)
    for colour, group in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], options.groups):
        label, pattern = group.split("=", 1)
        runs = sorted(glob.glob(pattern))
        if not runs:
            sys.exit(f"no run matches {pattern}")
        for i, run in enumerate(runs):
            steps, returns = scalars(run, "charts/episodic_return")
            axes[0, 0].plot(steps, rolling_mean(returns), color=colour, alpha=0.8,
                            label=f"{label} ({len(runs)} seeds)" if i == 0 else None)
            if options.epochs:
                steps, epochs = scalars(run, "charts/update_epochs")
                # mean epochs over the last 20 updates: how often the stop fires, smoothed
                axes[0, 1].plot(steps, rolling_mean(epochs, 20), color=colour, alpha=0.8,
                                label=label if i == 0 else None)
                print(f"  {run}: stopped early in {np.mean(epochs < epochs.max()):.0%} of "
                      f"{len(epochs)} updates, mean {epochs.mean():.2f} epochs")
        print(f"{label}: {len(runs)} runs from {Path(runs[0]).parent}")
    axes[0, 0].axhline(475, color="grey", ls="--", lw=0.8)
    axes[0, 0].set(xlabel="environment steps", ylabel="mean return, last 100 episodes",
                   ylim=(0, 520), title=options.title)
    axes[0, 0].legend(loc="lower right")
    if options.epochs:
        axes[0, 1].set(xlabel="environment steps", ylabel="epochs run per update (mean of 20)",
                       title="approximate-KL early stopping")
        axes[0, 1].legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(options.output, dpi=100)
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main()
