"""Raw stepping speed of the hammer's training environments: the speed limit of training.

Steps the same 16 environments split over the same 2 worker processes that
ppo_hammer_bc_kl.py trains with, each process on its own with random actions
(resets included) and no policy, and prints environment steps per second.
Training cannot be faster than this: the policy, the PPO update and the
evaluations take the rest (docs/hammer.md, Speed).

    python benchmarks/hammer_env_speed.py --steps 20000
"""

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ppo_hammer_bc_kl as hammer  # noqa: E402


def step_envs(args: hammer.Args, env_seeds: list[int], steps: int) -> float:
    """Step these envs `steps` times each with random actions; returns the seconds it took."""
    envs = [hammer.make_env(args, seed) for seed in env_seeds]
    for env in envs:
        env.reset()
    rng = np.random.default_rng(env_seeds[0])
    start = time.time()
    for _ in range(steps):
        for env in envs:
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, size=4))  # every task: A = 4
            if terminated or truncated:
                env.reset()
    return time.time() - start


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="environment steps in all")
    parser.add_argument("--num-envs", type=int, default=hammer.Args.num_envs)
    parser.add_argument("--num-workers", type=int, default=hammer.Args.num_workers)
    options = parser.parse_args()
    if min(options.steps, options.num_envs, options.num_workers) < 1:
        parser.error("--steps, --num-envs and --num-workers must be at least 1")
    workers = min(options.num_workers, options.num_envs)
    args, steps = hammer.Args(), max(1, options.steps // options.num_envs)  # steps per env
    seeds = [part.tolist() for part in np.array_split(np.arange(options.num_envs) + 1, workers)]
    with mp.get_context("spawn").Pool(workers) as pool:  # the processes start before the clock does
        seconds = max(pool.starmap(step_envs, [(args, part, steps) for part in seeds]))
    print(f"raw env stepping: {steps * options.num_envs / seconds:,.0f} steps/s ({options.num_envs} envs in "
          f"{workers} worker processes, random actions, resets included)")
