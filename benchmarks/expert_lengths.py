"""How many steps Meta-World's scripted expert needs on each task: the data for a time limit.

Plays the expert of each task (clipped to [-1, 1], with N(0, noise^2) on the executed action,
as ppo_hammer_bc_kl.py's demonstrations do) for a few episodes with a 500-step limit, and
prints the sorted episode lengths; a failed episode shows as minus its length.

    python benchmarks/expert_lengths.py                       # the MT10 tasks and the hammer
    python benchmarks/expert_lengths.py --tasks peg-insert-side-v3 --episodes 30
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ppo_hammer_bc_kl as hammer  # noqa: E402

MT10 = ["reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-open-v3", "drawer-close-v3",
        "button-press-topdown-v3", "peg-insert-side-v3", "window-open-v3", "window-close-v3"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=[*MT10, "hammer-v3"])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--noise", type=float, default=hammer.Args.demo_noise)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    for task in options.tasks:
        if task not in hammer.ENV_POLICY_MAP:
            parser.error(f"--tasks: {task!r} has no scripted expert")
        args = hammer.Args(env_name=task, seed=options.seed, max_episode_steps=500)  # Meta-World's own limit
        env = hammer.make_env(args, env_seed=5)
        expert, rng, lengths = hammer.ENV_POLICY_MAP[task](), np.random.default_rng(0), []
        for _ in range(options.episodes):
            obs, steps, done = env.reset()[0], 0, False
            while not done:
                with warnings.catch_warnings():  # "Constant(s) may be too high": clipped here
                    warnings.simplefilter("ignore")
                    action = np.clip(expert.get_action(obs), -1, 1)
                noisy = np.clip(action + options.noise * rng.standard_normal(4), -1, 1)
                obs, reward, terminated, truncated, _ = env.step(noisy)
                steps, done = steps + 1, terminated or truncated
            lengths.append(steps if reward > 0 else -steps)
        env.close()
        print(f"{task}: {sorted(lengths)}", flush=True)
