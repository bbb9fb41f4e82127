"""The yardstick: Stable-Baselines3 PPO with rl-baselines3-zoo's tuned CartPole-v1 settings,
measured the way ppo_cartpole.py measures itself. Prints one Markdown row per seed, and with --out
writes each seed's summary.json as ours does, with the same keys where they mean the same
(DIR/seed<N>/summary.json: what benchmarks/make_docs.py reads).

    python benchmarks/sb3_cartpole.py --seeds 1 2 3 4 5
    python benchmarks/sb3_cartpole.py --seeds 1 --out benchmarks/results/vs_sb3/sb3

It needs SB3, which the project does not depend on: run it from its own virtual environment
(docs/cartpole.md, section "SB3-zoo"). Run on a quiet machine: the seconds are wall-clock.

"Solved" as ours: at the end of a rollout, the mean of the last 100 episode returns (SB3's own
ep_info_buffer, filled by its Monitor wrapper) is at least 475. Seconds count from the start of
training to the end of the update that follows that rollout, as ours do (ours logs SPS after it).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

# rl-baselines3-zoo, hyperparams/ppo.yml, "CartPole-v1" (marked "Tuned" there). The zoo's
# "lin_X" is a linear schedule from X at the start to 0 at n_timesteps; the policy is SB3's
# default MlpPolicy (64-64 tanh, separate actor and critic), no observation normalisation.
ZOO = dict(n_envs=8, n_timesteps=100_000, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
           n_epochs=20, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2)  # the last two "lin_"
THRESHOLD = 475.0  # CartPole-v1's reward_threshold


def linear(initial: float):
    """The zoo's linear_schedule: SB3 passes progress_remaining, 1 at the start and 0 at the end."""
    return lambda progress_remaining: progress_remaining * initial


class SolveMeter(BaseCallback):
    """The last-100 mean at the end of every rollout; steps and seconds to the first >= 475."""

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()
        self.means = []  # (steps, mean of the last 100 returns), one per rollout
        self.steps_to_solve = self.seconds_to_solve = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:  # called before that rollout's update
        returns = [episode["r"] for episode in self.model.ep_info_buffer]  # deque of the last 100
        if len(returns) == 100:
            self.means.append((self.model.num_timesteps, float(np.mean(returns))))

    def _on_rollout_start(self) -> None:  # the previous rollout's update is done: time it as ours
        self._check_solved()

    def _on_training_end(self) -> None:
        self._check_solved()

    def _check_solved(self) -> None:
        if self.steps_to_solve is None and self.means and self.means[-1][1] >= THRESHOLD:
            self.steps_to_solve, self.seconds_to_solve = self.means[-1][0], time.perf_counter() - self.start


def run(seed: int, total_steps: int) -> dict:
    env = make_vec_env("CartPole-v1", n_envs=ZOO["n_envs"], seed=seed)  # DummyVecEnv of Monitor-wrapped envs
    model = PPO("MlpPolicy", env, n_steps=ZOO["n_steps"], batch_size=ZOO["batch_size"], gamma=ZOO["gamma"],
                gae_lambda=ZOO["gae_lambda"], n_epochs=ZOO["n_epochs"], ent_coef=ZOO["ent_coef"],
                learning_rate=linear(ZOO["learning_rate"]), clip_range=linear(ZOO["clip_range"]),
                seed=seed, device="cpu", verbose=0)
    meter = SolveMeter()
    started = time.perf_counter()
    model.learn(total_timesteps=total_steps, callback=meter)
    wall_seconds = time.perf_counter() - started
    solved_at = [i for i, (steps, _) in enumerate(meter.means) if steps == meter.steps_to_solve]
    return {  # ppo_cartpole.py's keys where they mean the same; wall_seconds: training alone
        "script": "sb3_cartpole",
        "seed": seed,
        "total_steps": model.num_timesteps,
        "wall_seconds": wall_seconds,
        "steps_per_second": model.num_timesteps / wall_seconds,
        "final_return": meter.means[-1][1] if meter.means else float("nan"),
        "steps_to_solve": meter.steps_to_solve,
        "seconds_to_solve": meter.seconds_to_solve,
        "lowest_after_solve": min(mean for _, mean in meter.means[solved_at[0]:]) if solved_at else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--total-steps", type=int, default=ZOO["n_timesteps"],
                        help="the zoo's n_timesteps; the schedules decay to 0 over it")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="1 as ours (fastest for networks this small); 0 keeps torch's default")
    parser.add_argument("--out", type=Path, help="write DIR/seed<N>/summary.json for each seed")
    options = parser.parse_args()
    done = [options.out / f"seed{seed}" for seed in options.seeds
            if options.out and (options.out / f"seed{seed}" / "summary.json").exists()]
    if done:  # as ours refuses a --run-dir that holds a run: a run's numbers are never overwritten
        sys.exit(f"error: {', '.join(map(str, done))}: already a run's summary.json; choose another --out")
    if options.torch_threads > 0:
        torch.set_num_threads(options.torch_threads)

    def fmt(value, spec):
        return "never" if value is None else format(value, spec)

    print("| seed | final mean return (last 100) | lowest after solving | steps to solve "
          "| seconds to solve | steps/s | training seconds |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for seed in options.seeds:
        row = run(seed, options.total_steps)
        print(f"| {seed} | {row['final_return']:.1f} | {fmt(row['lowest_after_solve'], '.1f')} "
              f"| {fmt(row['steps_to_solve'], ',')} | {fmt(row['seconds_to_solve'], '.1f')} "
              f"| {row['steps_per_second']:,.0f} | {row['wall_seconds']:.1f} |", flush=True)
        if options.out:
            (options.out / f"seed{seed}").mkdir(parents=True, exist_ok=True)
            (options.out / f"seed{seed}" / "summary.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
