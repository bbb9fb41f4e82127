"""The second yardstick: CleanRL's ppo.py, measured from its TensorBoard log the way docs/cartpole.md
says (section "CleanRL"). Writes the run's summary.json with ppo_cartpole.py's keys where they mean the
same, for benchmarks/make_docs.py.

    python benchmarks/cleanrl_summary.py ../cleanrl/runs/CartPole-v1__ppo__1__1712345678 --seed 1 \\
        --out benchmarks/results/vs_cleanrl/cleanrl/seed1

CleanRL logs charts/episodic_return once per episode, at the global step where it ended, and
charts/SPS once per update. "Solved" as ours: the mean of the last 100 episode returns is at least 475;
here it is taken after every episode (ours: at the end of every rollout). Seconds count from the log's
first event (written as ppo.py starts, before its environments are made) to the wall time of the
episode that solved; wall_seconds to its last event; steps_per_second is CleanRL's own last SPS.
It needs only tensorboard, which the project's requirements have.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

THRESHOLD = 475.0  # CartPole-v1's reward_threshold
WINDOW = 100  # episodes in the mean, as ours (gymnasium's RecordEpisodeStatistics keeps the last 100)


def measure(episodes: list[tuple[int, float, float]], start: float, end: float, sps: list[tuple[int, float]],
            seed: int) -> dict:
    """The summary of one run. episodes: (global step, wall time, return) of each episode in order; start
    and end: the wall times of the log's first and last events; sps: (global step, SPS) of each update."""
    steps = np.array([step for step, _, _ in episodes])
    walls = np.array([wall for _, wall, _ in episodes])
    returns = np.array([value for _, _, value in episodes], dtype=float)
    sums = np.cumsum(np.insert(returns, 0, 0.0))
    means = (sums[WINDOW:] - sums[:-WINDOW]) / WINDOW  # (episodes - 99,) the mean after episode 100, 101, ...
    solved = np.flatnonzero(means >= THRESHOLD)
    first = solved[0] if len(solved) else None  # index into means; its episode is first + WINDOW - 1
    return {
        "script": "cleanrl_ppo",
        "seed": seed,
        "total_steps": sps[-1][0],
        "wall_seconds": end - start,
        "steps_per_second": sps[-1][1],
        "final_return": float(means[-1]) if len(means) else float("nan"),
        "steps_to_solve": None if first is None else int(steps[first + WINDOW - 1]),
        "seconds_to_solve": None if first is None else float(walls[first + WINDOW - 1] - start),
        "lowest_after_solve": None if first is None else float(means[first:].min()),
    }


def read(run_dir: Path) -> tuple[list[tuple[int, float, float]], float, float, list[tuple[int, float]]]:
    """measure()'s inputs from the one TensorBoard events file in `run_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(run_dir.glob("events.out.tfevents.*"))
    if len(files) != 1:
        sys.exit(f"error: {run_dir}: {len(files)} TensorBoard event files; expected the one of a single run")
    accumulator = EventAccumulator(str(files[0]), size_guidance={"scalars": 0})  # 0: keep every event
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    if "charts/episodic_return" not in tags or "charts/SPS" not in tags:
        sys.exit(f"error: {run_dir}: no charts/episodic_return or charts/SPS (not a finished CleanRL run?)")
    episodes = [(e.step, e.wall_time, e.value) for e in accumulator.Scalars("charts/episodic_return")]
    end = max(e.wall_time for tag in tags for e in accumulator.Scalars(tag))
    sps = [(e.step, e.value) for e in accumulator.Scalars("charts/SPS")]
    return episodes, accumulator.FirstEventTimestamp(), end, sps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="the run's directory of TensorBoard events (runs/<name>)")
    parser.add_argument("--seed", type=int, required=True, help="the --seed the run was started with")
    parser.add_argument("--out", type=Path, required=True, help="write OUT/summary.json")
    options = parser.parse_args()
    if (options.out / "summary.json").exists():  # a run's numbers are never overwritten
        sys.exit(f"error: {options.out / 'summary.json'} exists; choose another --out")
    summary = measure(*read(options.run_dir), seed=options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
