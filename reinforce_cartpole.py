"""REINFORCE on CartPole-v1, in one file.

The simplest policy-gradient method (Williams, 1992): run the policy, compute
for every step the discounted sum of the rewards that followed it (the
reward-to-go R_t), and push up log pi(a_t|s_t) in proportion to R_t.

    python reinforce_cartpole.py            # train with the defaults
    python reinforce_cartpole.py --help     # every argument, documented
    tensorboard --logdir runs               # watch the curves

Dimensions in the shape comments:
    T  steps per rollout (args.num_steps)
    N  parallel environments (args.num_envs)
    M  real transitions in a rollout (T * N minus the autoreset rows)
    O  observation size (4 for CartPole)
    A  number of actions (2 for CartPole)
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.distributions import Categorical
from torch.utils.tensorboard import SummaryWriter

SOLVED_RETURN = 475.0  # CartPole-v1's own "solved" threshold (gymnasium's reward_threshold)


# ==============================================================================
# Arguments
# ==============================================================================
@dataclass
class Args:
    seed: int = 1
    """seed for Python, NumPy, PyTorch and the environments: the same seed and
    arguments give the same numbers"""
    num_envs: int = 64
    """N, environments stepped in parallel (one numpy-vectorised CartPole); 8-256"""
    num_steps: int = 256
    """T, steps per environment in one rollout; one gradient step per rollout
    of T * N transitions"""
    total_steps: int = 10_000_000
    """environment steps over the whole run (rounded down to whole rollouts)"""
    learning_rate: float = 1e-3
    """Adam step size (alpha in the paper); 1e-4 to 3e-3"""
    gamma: float = 0.99
    """discount factor (gamma) in (0, 1]; 0.99 looks about 100 steps ahead"""
    hidden_size: int = 128
    """width of the policy's single hidden layer"""
    run_dir: str = "runs"
    """TensorBoard logs go to RUN_DIR/RUN_NAME/"""
    run_name: str | None = None
    """name of this run; default: <script>__seed<seed>__<unix time>"""
    torch_threads: int = 1
    """CPU threads for PyTorch; 1 is fastest for networks this small"""


def validate(args: Args) -> None:
    """Stop at once, naming the argument, before anything is built."""
    if args.num_envs < 1:
        raise ValueError(f"--num-envs must be at least 1 (got {args.num_envs})")
    if args.num_steps < 1:
        raise ValueError(f"--num-steps must be at least 1 (got {args.num_steps})")
    if args.total_steps < args.num_envs * args.num_steps:
        raise ValueError(
            f"--total-steps ({args.total_steps}) is smaller than one rollout "
            f"(--num-envs x --num-steps = {args.num_envs * args.num_steps}); raise it"
        )
    if not args.learning_rate > 0:
        raise ValueError(f"--learning-rate must be > 0 (got {args.learning_rate})")
    if not 0 < args.gamma <= 1:
        raise ValueError(f"--gamma must be in (0, 1] (got {args.gamma})")
    if args.hidden_size < 1:
        raise ValueError(f"--hidden-size must be at least 1 (got {args.hidden_size})")
    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be at least 1 (got {args.torch_threads})")


# ==============================================================================
# Environment
# ==============================================================================
def make_envs(num_envs: int) -> gym.vector.VectorEnv:
    """N CartPoles stepped as one numpy array (far faster than N separate envs).

    Gymnasium 1.x autoresets in NEXT_STEP mode: the step that ends an episode
    returns the true final observation with terminated/truncated set, and the
    *next* step of that env ignores its action and returns the first
    observation of a new episode with reward 0. That row is not a transition;
    the training loop marks it invalid and keeps it out of the loss.
    """
    envs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    # adds info["episode"]["r"/"l"] and the mask info["_episode"] when episodes end
    return gym.wrappers.vector.RecordEpisodeStatistics(envs)


# ==============================================================================
# Networks
# ==============================================================================
class Policy(nn.Module):
    """pi(a|s): observation -> hidden ReLU layer -> one logit per action."""

    def __init__(self, obs_size: int, num_actions: int, hidden_size: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, num_actions),
        )

    def forward(self, obs: torch.Tensor) -> Categorical:
        return Categorical(logits=self.net(obs))  # batch shape (..., ), one draw per obs


# ==============================================================================
# Math: returns and losses
# ==============================================================================
def discounted_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """Reward-to-go of every step, computed backward through each env's rollout.

    rewards (T, N) float; terminated, truncated (T, N) bool, true on the step
    an episode ends. R_t = r_t + gamma * R_{t+1}, restarted at every episode end.
    """
    returns = torch.zeros_like(rewards)  # (T, N)
    future = torch.zeros_like(rewards[0])  # (N,) no critic: nothing is known past the rollout
    for t in reversed(range(rewards.shape[0])):
        # Truncation ends the sum too: without a critic there is nothing to
        # bootstrap the cut-off rest of the episode from.
        future = torch.where(truncated[t], 0.0, future)
        # Termination is a real end: nothing follows it.
        future = torch.where(terminated[t], 0.0, future)
        future = rewards[t] + gamma * future  # R_t = r_t + gamma * R_{t+1}
        returns[t] = future
    return returns


def reinforce_loss(log_probs: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """REINFORCE (Williams 1992): loss = -mean(log pi(a|s) * R).

    Its gradient is the policy-gradient estimate -E[grad log pi(a|s) * R].
    Pass only real transitions (autoreset rows removed); any matching shapes.
    """
    return -(log_probs * returns).mean()


# ==============================================================================
# Training loop
# ==============================================================================
def train(args: Args) -> dict:
    """Train a policy with `args`; returns a summary of the run."""
    validate(args)
    run_name = args.run_name or f"{Path(__file__).stem}__seed{args.seed}__{int(time.time())}"
    run_path = Path(args.run_dir) / run_name
    writer = SummaryWriter(str(run_path))
    writer.add_text(
        "hyperparameters",
        "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()),
    )

    # Seeding: Python, NumPy and PyTorch here; the environments at their first reset.
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.torch_threads)

    envs = make_envs(args.num_envs)
    T, N = args.num_steps, args.num_envs
    O = envs.single_observation_space.shape[0]
    A = envs.single_action_space.n
    policy = Policy(O, A, args.hidden_size)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.learning_rate)

    # Rollout storage, reused every iteration.
    obs = torch.zeros(T, N, O)  # (T, N, O)
    actions = torch.zeros(T, N, dtype=torch.long)  # (T, N)
    rewards = torch.zeros(T, N)  # (T, N)
    terminated = torch.zeros(T, N, dtype=torch.bool)  # (T, N) episode really ended
    truncated = torch.zeros(T, N, dtype=torch.bool)  # (T, N) episode cut by the time limit
    valid = torch.zeros(T, N, dtype=torch.bool)  # (T, N) False on autoreset rows

    next_obs = torch.as_tensor(envs.reset(seed=args.seed)[0])  # (N, O)
    next_is_reset = torch.zeros(N, dtype=torch.bool)  # (N,) next step is an autoreset row
    recent_returns: deque[float] = deque(maxlen=100)  # last 100 episodic returns
    num_iterations = args.total_steps // (T * N)
    global_step, solved_step, solved_seconds = 0, None, None
    start_time = last_print = time.time()

    for iteration in range(1, num_iterations + 1):
        # ---- Collect a rollout of T steps in each of the N envs.
        for t in range(T):
            obs[t] = next_obs
            valid[t] = ~next_is_reset  # the row after an episode end is not a transition
            with torch.no_grad():
                action = policy(next_obs).sample()  # (N,)
            actions[t] = action
            next_obs_np, reward, term, trunc, info = envs.step(action.numpy())
            next_obs = torch.as_tensor(next_obs_np)
            rewards[t] = torch.as_tensor(reward)
            terminated[t] = torch.as_tensor(term)
            truncated[t] = torch.as_tensor(trunc)
            next_is_reset = terminated[t] | truncated[t]
            global_step += N
            for i in np.flatnonzero(info.get("_episode", [])):
                episodic_return = float(info["episode"]["r"][i])
                recent_returns.append(episodic_return)
                writer.add_scalar("charts/episodic_return", episodic_return, global_step)
                writer.add_scalar("charts/episodic_length", info["episode"]["l"][i], global_step)

        # ---- Rewards-to-go, then one gradient step on the real transitions.
        returns = discounted_returns(rewards, terminated, truncated, args.gamma)  # (T, N)
        b_obs, b_actions, b_returns = obs[valid], actions[valid], returns[valid]  # (M, O), (M,), (M,)
        dist = policy(b_obs)
        log_probs = dist.log_prob(b_actions)  # (M,)
        loss = reinforce_loss(log_probs, b_returns)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        # ---- Logging.
        elapsed = time.time() - start_time
        mean_return = float(np.mean(recent_returns)) if recent_returns else float("nan")
        if solved_step is None and len(recent_returns) == 100 and mean_return >= SOLVED_RETURN:
            solved_step, solved_seconds = global_step, elapsed
        writer.add_scalar("losses/policy_loss", loss.item(), global_step)
        writer.add_scalar("losses/entropy", dist.entropy().mean().item(), global_step)
        writer.add_scalar("charts/SPS", global_step / elapsed, global_step)
        if time.time() - last_print > 2 or iteration == num_iterations:
            last_print = time.time()
            left = elapsed / global_step * (num_iterations * T * N - global_step)
            print(
                f"step {global_step:>9,}/{num_iterations * T * N:,} | "
                f"return (last 100) {mean_return:6.1f} | "
                f"{global_step / elapsed:8,.0f} steps/s | {left:4.0f} s left"
            )

    envs.close()
    writer.close()
    summary = {
        "script": Path(__file__).stem,
        "seed": args.seed,
        "total_steps": global_step,
        "final_mean_return_100": float(np.mean(recent_returns)) if recent_returns else None,
        "solved_step": solved_step,
        "solved_seconds": solved_seconds,
        "wall_seconds": time.time() - start_time,
        "steps_per_second": global_step / (time.time() - start_time),
        "run_path": str(run_path),
    }
    (run_path / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"done: {json.dumps(summary)}")
    return summary


# ==============================================================================
# Main
# ==============================================================================
def main() -> None:
    args = tyro.cli(Args)
    try:
        validate(args)
    except ValueError as error:  # bad input: a one-line message, no traceback
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    train(args)


if __name__ == "__main__":
    main()
