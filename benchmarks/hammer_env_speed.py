"""Raw stepping speed of the hammer's training environments: the speed limit of training.

Steps the same 16 environments in the same 2 worker processes that
ppo_hammer_bc_kl.py trains with, with random actions (autoresets included),
and prints environment steps per second. Training cannot be faster than this:
the policy between steps, the PPO update and the evaluations take the rest.

    python benchmarks/hammer_env_speed.py --steps 20000
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ppo_hammer_bc_kl as hammer  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="environment steps in all")
    parser.add_argument("--num-envs", type=int, default=hammer.Args.num_envs)
    parser.add_argument("--num-workers", type=int, default=hammer.Args.num_workers)
    options = parser.parse_args()
    if min(options.steps, options.num_envs, options.num_workers) < 1:
        parser.error("--steps, --num-envs and --num-workers must be at least 1")
    args = hammer.Args(num_envs=options.num_envs, num_workers=options.num_workers)
    with hammer.ParallelEnvs(args, args.num_envs) as envs:
        envs.reset()
        rng = np.random.default_rng(0)
        batches = max(1, options.steps // args.num_envs)
        start = time.time()
        for _ in range(batches):
            envs.step(rng.uniform(-1, 1, size=(args.num_envs, 4)))  # every Meta-World task: A = 4
        seconds = time.time() - start
    print(f"raw env stepping: {batches * args.num_envs / seconds:,.0f} steps/s ({args.num_envs} envs in "
          f"{min(args.num_workers, args.num_envs)} worker processes, random actions, autoresets included)")
