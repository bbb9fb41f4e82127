# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the policy-gradients reference authors
"""Vanilla policy gradient (REINFORCE with a learned baseline) on CartPole-v1.

REINFORCE pushes up log pi(a_t|s_t) in proportion to the reward-to-go R_t.
Here a value network V(s) learns to predict R_t, and the policy is pushed by
the advantage R_t - V(s_t) instead: same expected gradient, far less variance
(Sutton & Barto, 2nd ed., sec. 13.4). With a critic, an episode cut short by
the time limit or by the end of the rollout no longer has to pretend it ended:
its return is bootstrapped from V of the last observation.

    python vpg_cartpole.py            # train with the defaults (--help: every argument)
    tensorboard --logdir runs         # watch the curves

Dimensions in the shape comments:
    T  steps per rollout (args.num_steps), N  parallel environments (args.num_envs)
    M  real transitions in a rollout (T * N minus the autoreset rows)
    O  observation size, A  number of actions (4 and 2 for CartPole)
"""

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.distributions import Categorical
from torch.utils.tensorboard import SummaryWriter


# ==== Arguments ==============================================================
@dataclass
class Args:
    env_id: str = "CartPole-v1"
    """gymnasium environment: any with discrete actions and a flat Box observation"""
    seed: int = 1
    """seed of PyTorch and the environments: the same seed and arguments give the same numbers"""
    num_envs: int = 64
    """N, environments stepped in parallel (one numpy-vectorised CartPole); 8-256"""
    num_steps: int = 256
    """T, steps per environment in one rollout; one gradient step per rollout of T * N transitions"""
    total_steps: int = 6_000_000
    """environment steps over the whole run (rounded down to whole rollouts)"""
    learning_rate: float = 1e-3
    """Adam step size (alpha in the paper); 1e-4 to 3e-3"""
    gamma: float = 0.99
    """discount factor (gamma) in (0, 1]; 0.99 looks about 100 steps ahead"""
    value_steps: int = 10
    """extra Adam steps on the value loss alone after each joint step, on the same rollout. One step per
    rollout leaves V far behind returns of ~100 (value loss still ~1,000 after 5M steps, measured) and the
    baseline barely helps; Spinning Up's VPG fits V with 80 steps per epoch. 0: the joint step only"""
    hidden_size: int = 128
    """width of the single hidden layer of the policy and of the value network"""
    run_dir: str | None = None
    """TensorBoard logs, summary.json, video, model; default runs/<algorithm>__<env id>__<seed>__<time>"""
    capture_video: bool = False
    """film the first episode of the final evaluation as RUN_DIR/eval.mp4"""
    save_model: bool = False
    """save the weights and these arguments as RUN_DIR/model.pt (README, Copy a script: how to load it)"""


# ==== Environment ============================================================
def make_envs(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """N copies of the environment, stepped as one; gymnasium 1.x autoresets them in NEXT_STEP mode.

    The step that ends an episode returns its true final observation; the *next* step of that env ignores
    its action and returns a new episode's first observation, reward 0: no transition, train() masks it out.
    """
    envs = gym.make_vec(env_id, num_envs=num_envs)  # CartPole: numpy-vectorised; any other: SyncVectorEnv
    observation_space, action_space = envs.single_observation_space, envs.single_action_space
    if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1):
        raise ValueError(f"--env-id {env_id}: the observation space {observation_space} is not a flat Box")
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ValueError(f"--env-id {env_id}: the action space {action_space} is not Discrete")
    # info["episode"]["r"/"l"] and its mask info["_episode"] as episodes end; envs.return_queue: the last 100
    return gym.wrappers.vector.RecordEpisodeStatistics(envs)


# ==== Networks ===============================================================
class Policy(nn.Module):
    """pi(a|s): observation -> hidden ReLU layer -> one logit per action."""
    def __init__(self, obs_size: int, num_actions: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_size, hidden), nn.ReLU(), nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> Categorical:
        return Categorical(logits=self.net(obs), validate_args=False)  # (...,); train() checks the logits


class Value(nn.Module):
    """V(s): observation -> hidden ReLU layer -> one number, the expected return."""
    def __init__(self, obs_size: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_size, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)  # (...,)


# ==== Math: returns and losses ===============================================
def discounted_returns(rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                       values: torch.Tensor, gamma: float) -> torch.Tensor:
    """Rewards-to-go R_t = r_t + gamma * R_{t+1}, backward through each env, restarted at every episode end.

    rewards (T, N) float; terminated, truncated (T, N) bool, true on the step an episode ends; values
    (T + 1, N), V of every stored observation plus V of the observation after the rollout. Bootstrapped
    from V where an episode was cut short: by the time limit, or by the end of the rollout.
    """
    returns = torch.zeros_like(rewards)  # (T, N)
    # The end of the rollout cuts every unfinished episode: bootstrap R_T = V(s_T).
    future = values[-1]  # (N,)
    for t in reversed(range(rewards.shape[0])):
        # Truncation cut the episode, it did not end: bootstrap from V(final obs). Under NEXT_STEP
        # autoreset the final obs is stored in the next row (the autoreset row): its value is values[t + 1].
        future = torch.where(truncated[t], values[t + 1], future)
        future = torch.where(terminated[t], 0.0, future)  # termination is a real end: nothing follows
        future = rewards[t] + gamma * future  # R_t = r_t + gamma * R_{t+1}
        returns[t] = future
    return returns


def reinforce_loss(log_probs: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """REINFORCE (Williams 1992): loss = -mean(log pi(a|s) * R); its gradient is the policy-gradient
    estimate -E[grad log pi(a|s) * R]. Real transitions only, same shapes."""
    return -(log_probs * returns).mean()


def vpg_loss(log_probs: torch.Tensor, returns: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Policy gradient with a learned baseline, plus the baseline's regression.

    loss = -mean(log pi(a|s) * (R - V(s))) + mean((R - V(s))^2)
    The advantage is detached: the policy term must not move V; V learns only from its squared error.
    """
    advantages = (returns - values).detach()  # A = R - V(s)
    return reinforce_loss(log_probs, advantages) + value_loss(values, returns)


def value_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """The baseline's regression: mean((R - V(s))^2)."""
    return ((returns - values) ** 2).mean()


# ==== Training loop ==========================================================
def train(args: Args) -> dict:
    """Train a policy and a value network with `args`; returns (and writes) its summary."""
    validate(args)
    torch.manual_seed(args.seed)  # the environments are seeded at their first reset
    torch.set_num_threads(1)  # one CPU thread is fastest for networks this small (measured)
    envs = make_envs(args.env_id, args.num_envs)  # first: a refused env leaves no run directory
    writer = SummaryWriter(args.run_dir or f"runs/vpg__{args.env_id}__{args.seed}__{int(time.time())}")
    T, N = args.num_steps, args.num_envs
    O, A = envs.single_observation_space.shape[0], envs.single_action_space.n  # sizes from the env
    policy = Policy(O, A, args.hidden_size)
    value = Value(O, args.hidden_size)
    optimizer = torch.optim.Adam([*policy.parameters(), *value.parameters()], lr=args.learning_rate)

    obs = torch.zeros(T, N, O)  # (T, N, O) rollout storage, reused every iteration
    actions = torch.zeros(T, N, dtype=torch.long)  # (T, N)
    rewards = torch.zeros(T, N)  # (T, N)
    terminated = torch.zeros(T, N, dtype=torch.bool)  # (T, N) episode really ended
    truncated = torch.zeros(T, N, dtype=torch.bool)  # (T, N) episode cut by the time limit
    valid = torch.zeros(T, N, dtype=torch.bool)  # (T, N) False on autoreset rows

    next_obs = torch.as_tensor(envs.reset(seed=args.seed)[0], dtype=torch.float32)  # (N, O)
    next_is_reset = torch.zeros(N, dtype=torch.bool)  # (N,) next step is an autoreset row
    num_iterations = args.total_steps // (T * N)
    threshold = gym.spec(args.env_id).reward_threshold  # the env's own "solved" level, or None
    global_step, start_time, steps_to_solve, seconds_to_solve, after_solve = 0, time.time(), None, None, []

    for iteration in range(1, num_iterations + 1):
        # ---- Collect a rollout of T steps in each of the N envs.
        for t in range(T):
            obs[t] = next_obs
            valid[t] = ~next_is_reset  # the row after an episode end is not a transition
            with torch.no_grad():
                actions[t] = policy(next_obs).sample()  # (N,)
            next_obs_np, reward, term, trunc, info = envs.step(actions[t].numpy())
            next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32)
            rewards[t], terminated[t], truncated[t] = map(torch.as_tensor, (reward, term, trunc))  # (N,) each
            next_is_reset = terminated[t] | truncated[t]
            global_step += N
            for i in np.flatnonzero(info.get("_episode", [])):
                writer.add_scalar("charts/episodic_return", info["episode"]["r"][i], global_step)
                writer.add_scalar("charts/episodic_length", info["episode"]["l"][i], global_step)

        # ---- Rewards-to-go, then one gradient step on the real transitions.
        with torch.no_grad():  # bootstrap targets are constants, not trained through
            values = value(torch.cat([obs, next_obs[None]]))  # (T + 1, N)
        returns = discounted_returns(rewards, terminated, truncated, values, args.gamma)  # (T, N)
        b_obs, b_actions, b_returns = obs[valid], actions[valid], returns[valid]  # (M, O), (M,), (M,)
        dist = policy(b_obs)
        b_values = value(b_obs)  # (M,)
        loss = vpg_loss(dist.log_prob(b_actions), b_returns, b_values)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for _ in range(args.value_steps):  # fit V further to the same return targets
            optimizer.zero_grad(set_to_none=True)  # the policy gets no gradient: Adam skips it
            value_loss(value(b_obs), b_returns).backward()
            optimizer.step()
        if not (loss.isfinite() and policy.net(b_obs).isfinite().all()):  # NaN loss, or overflowing logits
            raise FloatingPointError(f"step {global_step}: loss or logits not finite; lower --learning-rate")

        # ---- Logging: CleanRL's tags, and a progress line every 5% of the run.
        steps_per_second = global_step / (time.time() - start_time)
        critic_loss = value_loss(b_values, b_returns).item()  # before the extra value steps
        writer.add_scalar("losses/policy_loss", loss.item() - critic_loss, global_step)
        writer.add_scalar("losses/value_loss", critic_loss, global_step)
        writer.add_scalar("losses/entropy", dist.entropy().mean().item(), global_step)
        writer.add_scalar("charts/SPS", steps_per_second, global_step)
        mean_return = float(np.mean(envs.return_queue)) if envs.return_queue else float("nan")
        solved = threshold is not None and len(envs.return_queue) == 100 and mean_return >= threshold
        if solved and steps_to_solve is None:  # the first rollout to end solved: the summary reports it
            steps_to_solve, seconds_to_solve = global_step, time.time() - start_time
        after_solve += [mean_return] if steps_to_solve else []  # the summary reports the lowest: holds?
        if iteration % max(1, num_iterations // 20) == 0:
            print(f"step {global_step:>9,}/{num_iterations * T * N:,} | return (last 100) {mean_return:6.1f}"
                  f"{' (solved)' if solved else ''} | {steps_per_second:8,.0f} steps/s", flush=True)

    eval_returns = evaluate(policy, args, writer.log_dir)
    print(f"evaluation (most likely action): mean return {np.mean(eval_returns):.1f}, in {writer.log_dir}")
    if args.save_model:  # weights and plain arguments: loads with torch.load(path, weights_only=True)
        torch.save({"policy": policy.state_dict(), "value": value.state_dict(), "args": asdict(args)},
                   f"{writer.log_dir}/model.pt")
    writer.close()
    summary = {"script": "vpg_cartpole", "seed": args.seed, "total_steps": global_step,
               "wall_seconds": time.time() - start_time, "steps_per_second": steps_per_second,
               "run_dir": writer.log_dir, "final_return": mean_return, "steps_to_solve": steps_to_solve,
               "seconds_to_solve": seconds_to_solve, "eval_mean_return": float(np.mean(eval_returns)),
               "lowest_after_solve": min(after_solve, default=None)}
    Path(writer.log_dir, "summary.json").write_text(json.dumps(summary, indent=2))  # for benchmarks/sweep.py
    return summary


# ==== Plumbing: argument checks, evaluation and video ========================
def validate(args: Args) -> None:
    """Stop at once, naming the argument, on what would fail deep inside torch, learn nothing or mix runs."""
    run_dir = Path(args.run_dir or "runs")  # the default is a new directory inside runs/
    for holds, message in [
        (0 <= args.seed < 2**31, f"--seed must be in [0, 2**31) (got {args.seed})"),  # NumPy's: < 2**32
        (args.env_id in gym.registry, f"--env-id {args.env_id}: gymnasium has no such environment"),
        (args.num_envs >= 1 and args.num_steps >= 1, "--num-envs and --num-steps must be at least 1"),
        (args.total_steps >= args.num_envs * args.num_steps, "--total-steps < --num-envs x --num-steps"),
        (args.learning_rate > 0, f"--learning-rate must be > 0 (got {args.learning_rate})"),
        (0 < args.gamma <= 1, f"--gamma must be in (0, 1] (got {args.gamma})"),
        (args.value_steps >= 0, f"--value-steps must be >= 0 (got {args.value_steps})"),
        (args.hidden_size >= 1, f"--hidden-size must be at least 1 (got {args.hidden_size})"),
        (not any(path.is_file() for path in [run_dir, *run_dir.parents]), "--run-dir is a file or in one"),
        (not args.run_dir or not [*run_dir.glob("events.out.tfevents.*"), *run_dir.glob("summary.json")],
         f"--run-dir {run_dir} already holds a run: choose another --run-dir"),
    ]:
        if not holds:
            raise ValueError(message)


@torch.no_grad()
def evaluate(policy: Policy, args: Args, run_dir: str, num_episodes: int = 20) -> list[float]:
    """Returns of episodes with the most likely action; with --capture-video, the first is filmed."""
    env = gym.make(args.env_id, render_mode="rgb_array" if args.capture_video else None)
    episode_returns, frames = [], []
    for episode in range(num_episodes):
        observation, _ = env.reset(seed=args.seed + 10_000 + episode)  # + 10_000: not the training seeds
        episode_returns.append(0.0)
        terminated = truncated = False
        while not (terminated or truncated):
            if args.capture_video and episode == 0:
                frames.append(env.render())  # (H, W, 3) uint8
            action = policy(torch.as_tensor(observation, dtype=torch.float32)).probs.argmax().item()
            observation, reward, terminated, truncated, _ = env.step(action)
            episode_returns[-1] += float(reward)
    if args.capture_video:  # macro_block_size=1: frames of any size, no padding to multiples of 16
        import imageio.v2 as imageio  # only needed for --capture-video
        imageio.mimwrite(f"{run_dir}/eval.mp4", frames, fps=env.metadata["render_fps"], macro_block_size=1)
    env.close()
    return episode_returns


# ==== Main ===================================================================
if __name__ == "__main__":
    try:
        train(tyro.cli(Args))
    except (ValueError, FloatingPointError, gym.error.Error) as error:  # bad input, or a run that diverged
        print(f"error: {error}", file=sys.stderr)  # one line, no traceback
        sys.exit(1 if isinstance(error, FloatingPointError) else 2)
