# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the policy-gradients reference authors
"""Proximal Policy Optimization (PPO) with GAE on CartPole-v1, in one file.

Vanilla policy gradient takes one gradient step per rollout, then throws the data away. PPO (Schulman et
al. 2017, arXiv:1707.06347) reuses each rollout for several epochs of minibatch steps, and keeps every
step small by clipping the probability ratio pi_new(a|s) / pi_old(a|s) to [1 - eps, 1 + eps]. Advantages
come from generalized advantage estimation (GAE, Schulman et al. 2016, arXiv:1506.02438), which trades
the variance of the full return for the bias of the critic with one knob, lambda.

    python ppo_cartpole.py            # train with the defaults (--help: every argument)
    tensorboard --logdir runs         # watch the curves

Dimensions in the shape comments:
    T  steps per rollout (args.num_steps), N  parallel environments (args.num_envs)
    M  real transitions in a rollout (T * N minus the autoreset rows)
    B  transitions in a minibatch (about M / num_minibatches)
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
    num_envs: int = 32
    """N, environments stepped in parallel (one numpy-vectorised CartPole); 4-256"""
    num_steps: int = 64
    """T, steps per env per rollout, reused for K epochs; 32 x 64 beat 64 x 32 (docs/cartpole.md, defaults)"""
    total_steps: int = 200_000
    """environment steps over the whole run (rounded down to whole rollouts)"""
    learning_rate: float = 5e-3
    """Adam step size (alpha in the paper); 3e-4 to 5e-3: large, as the minibatches are few and large"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over anneal_steps (the PPO paper, sec. 6.1: over the run)"""
    anneal_steps: int | None = None
    """steps over which the learning rate (and clip_coef) reach 0, then stay there; None: total_steps"""
    gamma: float = 0.98
    """discount factor (gamma) in (0, 1]; 0.98 looks ~50 steps ahead and solved sooner than 0.99"""
    gae_lambda: float = 0.95
    """GAE lambda in [0, 1]: 0 is the one-step TD error (biased by V), 1 the return minus V (noisy)"""
    update_epochs: int = 10
    """K, passes over each rollout (PPO paper, Algorithm 1); 3-10. 10 needed about half the steps of 4"""
    num_minibatches: int = 4
    """minibatches per epoch, each of about M / num_minibatches transitions; 1-32"""
    clip_coef: float = 0.15
    """epsilon, clip range of the ratio (PPO paper eq. 7); 0.1-0.3 (why 0.15: docs/cartpole.md, defaults)"""
    anneal_clip: bool = True
    """decay clip_coef linearly to 0 with the learning rate (not in the paper; SB3's zoo does it)"""
    norm_adv: bool = True
    """normalise advantages to mean 0, std 1 per minibatch (not in the paper; frees lr from reward scale)"""
    clip_vloss: bool = False
    """clip the value update like the policy's (CleanRL's default; off: no help here, not in the paper)"""
    vf_coef: float = 0.5
    """c1, weight of the value loss (PPO paper eq. 9)"""
    ent_coef: float = 0.0
    """c2, weight of the entropy bonus (PPO paper eq. 9); 0-0.01"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this (not in the paper; stops rare huge steps)"""
    target_kl: float | None = None
    """stop an update's epochs once the approximate KL of old and new policy exceeds this; None: never"""
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


# ==== Math: advantages and losses ============================================
def compute_gae(rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                values: torch.Tensor, gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimates and return targets, backward through each env.

    rewards (T, N) float; terminated, truncated (T, N) bool, true on the step an episode ends; values
    (T + 1, N), V of every stored observation plus V of the observation after the rollout. Returns
    (advantages, returns), (T, N) each. No advantage flows across an episode end. Rows that follow an
    episode end (autoreset rows) get meaningless numbers: the caller drops them.
    """
    advantages = torch.zeros_like(rewards)  # (T, N)
    next_advantage = torch.zeros_like(values[-1])  # (N,) A_T = 0: nothing past the rollout
    for t in reversed(range(rewards.shape[0])):
        # values[t + 1] is V of the next observation. If the episode ended at step t, the next row is the
        # autoreset row, whose stored observation is the final one (NEXT_STEP autoreset): V(final obs),
        # the bootstrap a truncated episode needs. A terminated episode has no future: 0.
        next_value = torch.where(terminated[t], 0.0, values[t + 1])
        # GAE paper eq. 10: delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)
        delta = rewards[t] + gamma * next_value - values[t]
        # GAE paper eq. 16, restarted at every episode end: A_t = delta_t + gamma * lambda * A_{t+1}
        next_advantage = torch.where(terminated[t] | truncated[t], 0.0, next_advantage)
        next_advantage = delta + gamma * gae_lambda * next_advantage
        advantages[t] = next_advantage
    returns = advantages + values[:-1]  # the value target: R_t = A_t + V(s_t)
    return advantages, returns


def ppo_loss(new_log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
             values: torch.Tensor, returns: torch.Tensor, entropy: torch.Tensor, *, clip_coef: float,
             vf_coef: float, ent_coef: float,
             old_values: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped objective (PPO paper eq. 9), as a loss to minimise.

    Inputs: the same shape (B,) (any works). Returns the total loss and its parts. old_values: clip V too.
    """
    log_ratio = new_log_probs - old_log_probs
    ratio = log_ratio.exp()  # r = pi_new(a|s) / pi_old(a|s)
    # PPO paper eq. 7: L = min(r * A, clip(r, 1 - eps, 1 + eps) * A); we minimise -L
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef) * advantages
    policy_loss = -torch.min(unclipped, clipped).mean()
    value_loss = ((values - returns) ** 2).mean()  # (V(s) - R)^2
    if old_values is not None:
        # Value clipping (PPO2 code, not the paper): V may move at most clip_coef
        # from its rollout-time estimate; keep the worse of the two errors.
        values_clipped = old_values + torch.clamp(values - old_values, -clip_coef, clip_coef)
        value_loss = torch.max((values - returns) ** 2, (values_clipped - returns) ** 2).mean()
    entropy_bonus = entropy.mean()
    total = policy_loss + vf_coef * value_loss - ent_coef * entropy_bonus  # PPO paper eq. 9
    with torch.no_grad():  # diagnostics (CleanRL's names), no gradient
        parts = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy_bonus,
                 "old_approx_kl": (-log_ratio).mean(),  # naive KL(old || new) estimate
                 "approx_kl": ((ratio - 1) - log_ratio).mean(),  # unbiased, always >= 0 (Schulman's k3)
                 "clipfrac": ((ratio - 1).abs() > clip_coef).float().mean()}
    return total, parts


# ==== Training loop ==========================================================
def train(args: Args) -> dict:
    """Train a policy and a value network with `args`; returns (and writes) its summary."""
    validate(args)
    torch.manual_seed(args.seed)  # the environments are seeded at their first reset
    torch.set_num_threads(1)  # one CPU thread is fastest for networks this small (measured)
    envs = make_envs(args.env_id, args.num_envs)  # first: a refused env leaves no run directory
    writer = SummaryWriter(args.run_dir or f"runs/ppo__{args.env_id}__{args.seed}__{int(time.time())}")
    T, N = args.num_steps, args.num_envs
    O, A = envs.single_observation_space.shape[0], envs.single_action_space.n  # sizes from the env
    policy = Policy(O, A, args.hidden_size)
    value = Value(O, args.hidden_size)
    parameters = [*policy.parameters(), *value.parameters()]
    # eps 1e-5 instead of 1e-8: the PPO reference code's value. fused: one kernel for all
    # parameters instead of a loop over them (the update is ~15% faster here, measured)
    optimizer = torch.optim.Adam(parameters, lr=args.learning_rate, eps=1e-5, fused=True)

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
        remaining = max(0.0, 1 - global_step / (args.anneal_steps or args.total_steps))  # 1, then down to 0
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = args.learning_rate * remaining
        clip_coef = args.clip_coef * remaining if args.anneal_clip else args.clip_coef

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

        # ---- Advantages (GAE) and return targets.
        with torch.no_grad():  # bootstrap targets are constants, not trained through
            values = value(torch.cat([obs, next_obs[None]]))  # (T + 1, N)
            log_probs = policy(obs).log_prob(actions)  # (T, N) log pi_old(a|s): the policy that acted
        advantages, returns = compute_gae(rewards, terminated, truncated, values, args.gamma, args.gae_lambda)
        # Keep only the real transitions: autoreset rows enter no loss term.
        b_obs, b_actions, b_log_probs = obs[valid], actions[valid], log_probs[valid]  # (M, O), (M,), (M,)
        b_advantages, b_returns, b_values = advantages[valid], returns[valid], values[:-1][valid]  # (M,)

        # ---- Several epochs of shuffled minibatches over the rollout.
        for epoch in range(1, args.update_epochs + 1):
            epochs_run = epoch  # fewer than update_epochs when the KL stop fires
            for mb in torch.tensor_split(torch.randperm(len(b_obs)), args.num_minibatches):  # (B,)
                mb_obs = b_obs[mb]  # (B, O)
                # log pi by log_softmax, not a Categorical: faster (docs/cartpole.md, Where the time goes)
                log_pi = policy.net(mb_obs).log_softmax(-1)  # (B, A)
                new_log_probs = log_pi.gather(-1, b_actions[mb, None]).squeeze(-1)  # (B,) log pi(a|s)
                entropy = -(log_pi.exp() * log_pi).sum(-1)  # (B,) H = -sum_a pi(a|s) log pi(a|s)
                mb_advantages = b_advantages[mb]  # (B,)
                if args.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                loss, parts = ppo_loss(
                    new_log_probs, b_log_probs[mb], mb_advantages, value(mb_obs), b_returns[mb], entropy,
                    clip_coef=clip_coef, vf_coef=args.vf_coef, ent_coef=args.ent_coef,
                    old_values=b_values[mb] if args.clip_vloss else None,
                )
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(parameters, args.max_grad_norm)
                optimizer.step()
            if args.target_kl is not None and parts["approx_kl"] > args.target_kl:
                break  # the policy moved far enough from the one that collected the data
        if not (loss.isfinite() and policy.net(b_obs).isfinite().all()):  # NaN loss, or overflowing logits
            raise FloatingPointError(f"step {global_step}: loss or logits not finite; lower --learning-rate")

        # ---- Logging: CleanRL's tags, and a progress line every 5% of the run.
        steps_per_second = global_step / (time.time() - start_time)
        for name, number in parts.items():
            writer.add_scalar(f"losses/{name}", number.item(), global_step)
        explained_variance = 1 - (b_returns - b_values).var() / b_returns.var()  # 1 perfect, <= 0 useless
        writer.add_scalar("losses/explained_variance", explained_variance.item(), global_step)
        writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
        writer.add_scalar("charts/update_epochs", epochs_run, global_step)
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
    summary = {"script": "ppo_cartpole", "seed": args.seed, "total_steps": global_step,
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
        (0 <= args.gae_lambda <= 1, f"--gae-lambda must be in [0, 1] (got {args.gae_lambda})"),
        (args.update_epochs >= 1, f"--update-epochs must be at least 1 (got {args.update_epochs})"),
        (1 <= args.num_minibatches <= args.num_envs * args.num_steps // 4,  # a few transitions in each
         f"--num-minibatches must be 1 to a quarter of --num-envs x --num-steps, not {args.num_minibatches}"),
        (args.clip_coef > 0, f"--clip-coef must be > 0 (got {args.clip_coef})"),
        (args.anneal_steps is None or args.anneal_steps > 0, "--anneal-steps must be > 0, or None"),
        (args.vf_coef >= 0, f"--vf-coef must be >= 0 (got {args.vf_coef})"),
        (args.max_grad_norm > 0, f"--max-grad-norm must be > 0 (got {args.max_grad_norm})"),
        (args.target_kl is None or args.target_kl >= 0, "--target-kl must be >= 0, or None"),
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
