"""Run a CartPole script on several seeds, one after another, and print a
Markdown table of what each run reached (the table in README.md comes from here).

    python benchmarks/cartpole_seeds.py ppo_cartpole.py --seeds 1 2 3 4 5
    python benchmarks/cartpole_seeds.py ppo_cartpole.py --seeds 1 2 -- --clip-coef 100

Runs go to runs/bench/<script>__seed<S>. Run on a quiet machine: the
seconds are wall-clock and another busy process halves them.

Everything in the table is read back from each run's TensorBoard file: the
episode returns in the order they were logged, and one charts/SPS point at
the end of every rollout (SPS = steps / seconds since training started).
"Solved" is the script's own test: at the end of a rollout, the mean of the
last 100 returns is at least the env's reward_threshold (475 for CartPole-v1).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parent.parent


def measure(run_dir: Path, threshold: float | None) -> dict:
    """Steps and seconds to solve, the lowest last-100 mean after that, the final mean, steps/s."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    episodes = [(e.step, e.value) for e in accumulator.Scalars("charts/episodic_return")]
    rollout_ends = [(e.step, e.value) for e in accumulator.Scalars("charts/SPS")]
    means = []  # (step, seconds, mean of the last 100 returns) at the end of every rollout
    for step, steps_per_second in rollout_ends:
        last_100 = [value for episode_step, value in episodes if episode_step <= step][-100:]
        if len(last_100) == 100:
            means.append((step, step / steps_per_second, float(np.mean(last_100))))
    solved = [i for i, (_, _, mean) in enumerate(means) if threshold is not None and mean >= threshold]
    first = solved[0] if solved else None
    return {
        "solved_step": means[first][0] if solved else None,
        "solved_seconds": means[first][1] if solved else None,
        "lowest_after_solved": min(mean for _, _, mean in means[first:]) if solved else None,
        "final_mean_return_100": float(np.mean([value for _, value in episodes[-100:]])),
        "steps_per_second": rollout_ends[-1][1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", help="e.g. ppo_cartpole.py")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--run-dir", default="runs/bench")
    parser.add_argument("--tag", default="", help="suffix for the run names")
    options, extra = parser.parse_known_args()  # the rest goes to the script
    options.extra = [a for a in extra if a != "--"]
    extra = options.extra
    env_id = extra[extra.index("--env-id") + 1] if "--env-id" in extra else "CartPole-v1"
    threshold = gym.spec(env_id).reward_threshold  # None: the table says "never"

    stem = Path(options.script).stem
    rows = []
    for seed in options.seeds:
        run_dir = ROOT / options.run_dir / f"{stem}{options.tag}__seed{seed}"
        if run_dir.exists():  # its old event file would be read back along with the new one
            sys.exit(f"{run_dir} exists: remove it, or pick another --tag")
        command = [sys.executable, str(ROOT / options.script), "--seed", str(seed),
                   "--run-dir", str(run_dir), *options.extra]
        started = time.time()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        process_seconds = time.time() - started  # includes interpreter start and imports
        rows.append({"seed": seed, **measure(run_dir, threshold), "process_seconds": process_seconds})
        print(f"seed {seed} done in {process_seconds:.1f} s", file=sys.stderr)

    def fmt(value, spec):
        return "never" if value is None else format(value, spec)

    print(f"\n{stem} {' '.join(options.extra)}\n")
    print("| seed | final mean return (last 100) | lowest after solving | steps to solve "
          "| seconds to solve | steps/s | wall seconds |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['seed']} | {row['final_mean_return_100']:.1f} "
              f"| {fmt(row['lowest_after_solved'], '.1f')} "
              f"| {fmt(row['solved_step'], ',')} "
              f"| {fmt(row['solved_seconds'], '.1f')} | {row['steps_per_second']:,.0f} "
              f"| {row['process_seconds']:.1f} |")


if __name__ == "__main__":
    main()
