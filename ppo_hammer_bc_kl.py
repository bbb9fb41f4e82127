# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the policy-gradients reference authors
"""Behaviour cloning, then PPO anchored to the cloned policy, on the Meta-World hammer.

A simulated Sawyer arm (Meta-World `hammer-v3`, MuJoCo) must pick up a hammer and drive a nail. The reward
here is sparse: 1.0 on the step the nail goes in, 0 otherwise, and the episode ends there. PPO from
scratch would have to find it by chance (docs/hammer.md, ablation), so the script works in two phases:

1. Behaviour cloning (BC). Meta-World's scripted expert plays a few episodes; the actor is trained to
   maximise the log-likelihood of its actions, then evaluated before any RL: the success curve starts there.
2. PPO (Schulman et al. 2017, arXiv:1707.06347) with GAE (Schulman et al. 2016, arXiv:1506.02438) on the
   sparse reward, plus a penalty on the reverse KL divergence KL(pi || pi_ref) to a frozen copy of the BC
   policy, so the policy improves where the reward says so without forgetting the demos.

    python ppo_hammer_bc_kl.py --total-steps 1000000   # the whole experiment (--help: every argument)
    tensorboard --logdir runs                          # watch the curves

Dimensions in the shape comments:
    T  steps per rollout (args.num_steps)      N  parallel environments (args.num_envs)
    M  real transitions in a rollout (T * N minus the autoreset rows)    n  one worker's environments
    B  transitions in a minibatch (args.minibatch_size; the last one may be smaller)    D  demo transitions
    O  observation size (39 for Meta-World)    A  action size (4: x, y, z hand motion, gripper)
"""

import contextlib
import copy
import csv
import json
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.utils.tensorboard import SummaryWriter

try:  # the task's import (see Environment); MuJoCo's library can fail to load too: say what to install
    import metaworld  # noqa: F401  (importing registers the "Meta-World/..." gymnasium envs)
    from metaworld.policies import ENV_POLICY_MAP  # task name -> scripted expert policy class
except Exception as error:
    sys.exit(f"error: Meta-World could not be imported ({error}); pip install -r requirements.txt")

SCRIPT = Path(__file__).stem
LOG_2PI = float(np.log(2 * np.pi))
HELDOUT_SEED_OFFSET = 1000  # a last evaluation runs on the placements of seed + this, never trained on
OBS_STD_FLOOR = 0.2  # smallest std used to standardise an observation feature (see Standardize)


# ==== Arguments ================================================================
@dataclass
class Args:
    seed: int = 1
    """seeds NumPy, PyTorch, the demos, the envs and the task's 50 placements (of hammer, nail, goal...)"""
    env_name: str = "hammer-v3"
    """Meta-World task; any MT1 task with a scripted expert, one set of defaults (docs/hammer.md, MT10)"""
    max_episode_steps: int | None = None
    """H, the time limit; default: twice the longest demo, at most 500 (docs/hammer.md, time limit)"""
    guarded_success: bool = True
    """hammer-v3 only: a success needs Meta-World's own guard too, else PPO pushes the nail by hand"""
    total_steps: int = 1_000_000
    """environment steps of the RL phase (rounded down to whole rollouts; eval and demos not counted)"""
    num_envs: int = 16
    """N, training environments stepped in parallel; 8-32"""
    num_workers: int = 2
    """worker processes stepping the environments, num_envs / num_workers each; one per CPU core"""
    update_threads: int = 1
    """threads of the update; 2: 1.1x faster on idle cores, ~15x slower beside busy ones (docs/hammer.md)"""
    num_steps: int = 256
    """T, steps per environment in one rollout, which is then reused for several epochs"""
    learning_rate: float = 1e-4
    """PPO's Adam step size (alpha); floored std: 1e-4 beat 3e-5 (docs/hammer.md, std floor); 3e-5 to 3e-4"""
    anneal_lr: bool = True
    """alpha falls linearly to 0 over the run (CleanRL): late updates eroded a solved task (docs/hammer.md)"""
    gamma: float = 0.995
    """discount factor in (0, 1]; ~200 steps ahead: 0.99 flipped window-close late (docs/hammer.md, MT10)"""
    gae_lambda: float = 0.95
    """GAE lambda in [0, 1]: 0 the TD error (biased by V), 1 the return minus V (high variance); 0.9-0.99"""
    update_epochs: int = 10
    """K, passes over each rollout (PPO paper, Algorithm 1); 3-10"""
    minibatch_size: int = 512
    """B, transitions per minibatch; at most num_envs * num_steps; 64-1024"""
    clip_coef: float = 0.2
    """epsilon, the clip range of the probability ratio (PPO paper eq. 7); 0.1-0.3"""
    value_coef: float = 0.5
    """c1, weight of the value loss mean((V - R)^2) (PPO paper eq. 9); 0.25-1"""
    entropy_coef: float = 0.0
    """c2, weight of the entropy bonus (PPO paper eq. 9); 0-0.01"""
    reverse_kl_coef: float = 0.01
    """beta, weight of KL(pi || pi_ref), the pull to the BC policy; 0.1 held back weak BCs (docs/hammer.md)"""
    max_grad_norm: float = 1.0
    """clip the global gradient norm to this before each Adam step (not in the paper); 0.5-1"""
    min_std: float = 0.2
    """floor on the actor's std for RL, in the actor and the BC reference alike: BC's own std
    (~0.02) barely explores and makes every move a huge KL (docs/hammer.md, std floor); 0.1-0.3"""
    hidden_size: int = 256
    """width of the two hidden layers of the actor and of the critic"""
    num_demos: int = 10
    """successful expert episodes to clone; 5 cover too few of the 50 placements (docs/hammer.md, MT10)"""
    demos: str | None = None
    """an .npz of demos to clone instead of the expert's (its format: docs/hammer.md, demos from a file)"""
    demo_noise: float = 0.1
    """std of noise on the expert's *executed* action (labels stay clean): states off its path; 0-0.3"""
    bc_steps: int = 3000
    """Adam steps of behaviour cloning (about 10 s); 0: none (PPO from scratch if --reverse-kl-coef 0 too)"""
    bc_batch_size: int = 256
    """demo transitions per BC step, drawn at random"""
    bc_learning_rate: float = 1e-3
    """Adam step size of behaviour cloning"""
    eval_every: int = 50_000
    """evaluate every this many env steps (and at 0 and the end), then write RUN_DIR/checkpoint.pt"""
    eval_episodes: int = 50
    """episodes per evaluation, mean action; episode k starts from placement k mod 50"""
    demo_cache_dir: str = "demos"
    """demonstrations are cached here as .npz, keyed by everything that shapes them"""
    run_dir: str | None = None
    """this run's logs, checkpoints and eval curve; default runs/<script>__seed<seed>__<time>. Its best.pt:
    the best evaluation's actor (a tie: the shorter mean episode, then the later policy)"""
    resume: str | None = None
    """continue a run (its dir or checkpoint); a larger --total-steps extends it (and raises the step size)"""
    eval_only: bool = False
    """with --resume: evaluate the saved policy and exit (to film it: benchmarks/hammer_video.py)"""


# ==== Environment ==============================================================
# The task: all that knows Meta-World is here and in its import; replace it for yours (README, own task).
TASKS = sorted(ENV_POLICY_MAP)  # the --env-name values: Meta-World's tasks with a scripted expert
OBS_SIZE, ACTION_SIZE = 39, 4  # every task's observation and action sizes (what --demos must match)
MAX_PATH_LENGTH = 500  # the task's own time limit, within which the demos are made (--max-episode-steps)


class SparseSuccessReward(gym.Wrapper):
    """Reward 1.0 on the step the task succeeds (Meta-World's info["success"]), else 0. guarded=True (the
    hammer's) also needs Meta-World's guard, its shaped reward above 5: the hammer held, its head at the nail;
    info["success"] alone is the nail pushed in, by the bare hand too ("could be hacked easily"; PPO does)."""

    def __init__(self, env: gym.Env, guarded: bool):
        super().__init__(env)
        self.guarded = guarded

    def step(self, action):  # terminate_on_success (make_env) ends it on info["success"], guarded or not
        obs, dense_reward, terminated, truncated, info = self.env.step(action)
        success = info["success"] and (dense_reward > 5.0 or not self.guarded)  # 5.0: Meta-World's guard
        return obs, float(success), terminated, truncated, info


def make_env(args: Args, env_seed: int, render: bool = False) -> gym.Env:
    """One env of the task: its reward the success (SparseSuccessReward), where it ends (terminated);
    truncated at args.max_episode_steps; info["success"] as the env has it. args.seed fixes the task's 50
    placements, the same in every env; env_seed, which one each reset draws; render: RGB frames (video)."""
    env = gym.make("Meta-World/MT1", env_name=args.env_name, seed=args.seed,
                   max_episode_steps=args.max_episode_steps or MAX_PATH_LENGTH, terminate_on_success=True,
                   disable_env_checker=True,  # its warnings are about Meta-World's observation bounds
                   **(dict(render_mode="rgb_array", camera_name="corner", width=256, height=256)  # video
                      if render else {}))
    env.unwrapped.seed(env_seed)  # reset() ignores its seed argument: seed the env itself
    walk_home_once(env.unwrapped)  # the same episodes, resets ~2x faster
    return SparseSuccessReward(env, guarded=args.guarded_success and args.env_name == "hammer-v3")


def walk_home_once(base: gym.Env) -> None:
    """Meta-World's reset() walks the arm home (250 physics steps), then MujocoEnv.reset() wipes the physics
    and walks it again: skip the first walk, the same episodes on all 50 tasks (docs/hammer.md, Speed)."""
    reset_hand = base._reset_hand
    base._reset_hand = lambda steps=50: reset_hand(steps if base.data.time == 0 else 0)


def reset_to_placement(env: gym.Env, placement: int) -> np.ndarray:
    """Reset to the placement-th of the task's 50 placements (eval episode k: k mod 50); the first obs."""
    env.get_wrapper_attr("toggle_sample_tasks_on_reset")(False)
    placements = env.get_wrapper_attr("tasks")
    env.unwrapped.set_task(placements[placement % len(placements)])
    return env.reset()[0]


def scripted_expert(args: Args, obs: np.ndarray) -> np.ndarray:
    """The task's scripted expert: its action (A,) in [-1, 1] in observation obs (O,); makes the demos."""
    with warnings.catch_warnings():  # "Constant(s) may be too high": we clip
        warnings.simplefilter("ignore")
        return np.clip(ENV_POLICY_MAP[args.env_name]().get_action(obs), -1.0, 1.0)  # a stateless policy


# ==== Demonstrations ===========================================================
def generate_demos(args: Args) -> dict[str, np.ndarray]:
    """Play the scripted expert until num_demos episodes succeed, and keep those: obs (D, O), its actions
    (D, A) as labels, episode_lengths (num_demos,). Noise on the executed actions shows recovery."""
    rng = np.random.default_rng(args.seed)
    env = make_env(args, env_seed=args.seed + 10_000)  # + 10_000: not a training env's seed
    transitions, lengths, attempts = [], [], 0  # (obs, expert action) of the successful episodes
    while len(lengths) < args.num_demos:
        attempts += 1
        if attempts > 10 * args.num_demos:
            raise ValueError(f"the scripted expert succeeded in only {len(lengths)} of {attempts - 1} "
                             f"episodes; lower --demo-noise or raise --max-episode-steps")
        obs, episode, done = env.reset()[0], [], False
        while not done:
            action = scripted_expert(args, obs)
            episode.append((obs, action))
            noise = args.demo_noise * rng.standard_normal(action.shape)
            obs, reward, terminated, truncated, _ = env.step(np.clip(action + noise, -1.0, 1.0))
            done = terminated or truncated
        if reward > 0:  # success; a failed episode is not a demonstration
            transitions += episode
            lengths.append(len(episode))
    env.close()
    all_obs, all_actions = zip(*transitions)
    return {"obs": np.array(all_obs, dtype=np.float32),  # (D, O)
            "actions": np.array(all_actions, dtype=np.float32),  # (D, A)
            "episode_lengths": np.array(lengths)}  # (num_demos,)


def load_demos(path: str | Path, name: str = "--demos") -> dict[str, np.ndarray]:
    """Demos from an .npz (--demos, the cache): obs (D, O) and actions (D, A), floats in [-1, 1], the
    episodes' transitions back to back, and episode_lengths (E,), ints summing to D. Else one line."""
    try:
        with np.load(path) as file:
            obs, actions = (file[key].astype(np.float32) for key in ("obs", "actions"))
            lengths = file["episode_lengths"].astype(int)
    except Exception as error:  # missing, not an .npz, an array missing (KeyError) or not numbers
        raise ValueError(f"{name} {path}: not an .npz of obs, actions, episode_lengths ({error})") from None
    for wrong, problem in [  # each check is safe on any array, whatever the others find
        (obs.size == 0, "no transitions"),
        (obs.shape[1:] != (OBS_SIZE,) or actions.shape != obs.shape[:1] + (ACTION_SIZE,),
         f"obs {obs.shape}, actions {actions.shape}: the task's are (D, {OBS_SIZE}), (D, {ACTION_SIZE})"),
        (lengths.ndim != 1 or (lengths < 1).any() or obs.shape[:1] != (lengths.sum(),),
         "episode_lengths must be positive and sum to D"),
        (not np.isfinite(obs).all() or not (np.abs(actions) <= 1).all(), "NaN, inf, or actions beyond ±1"),
    ]:
        if wrong:
            raise ValueError(f"{name} {path}: {problem}")
    return {"obs": obs, "actions": actions, "episode_lengths": lengths}


def load_or_generate_demos(args: Args) -> dict[str, np.ndarray]:
    """--demos, or the expert's demos from the on-disk cache, or freshly generated (and then cached)."""
    if args.demos:
        return load_demos(args.demos)
    path = Path(args.demo_cache_dir) / (
        f"{args.env_name}__demos{args.num_demos}__noise{args.demo_noise:g}__seed{args.seed}"
        f"__H{args.max_episode_steps or MAX_PATH_LENGTH}__guarded{int(args.guarded_success)}.npz")
    if path.exists():
        try:
            return load_demos(path, "cached demos")
        except ValueError as error:  # a truncated or foreign file: make the demos again
            print(f"{error}; regenerating")
    demos = generate_demos(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **demos)
    print(f"[demos] {args.num_demos} expert successes, {len(demos['obs'])} transitions, cached in {path}")
    return demos


# ==== Networks =================================================================
class TruncatedNormal:
    """A diagonal normal, its samples clamped to [low, high] with the gradient of the identity; log_prob() and
    entropy() are the normal's, summed over actions, not renormalised for it (DrQ-v2's "truncated normal")."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, low: float = -1.0, high: float = 1.0):
        self.mean, self.std, self.low, self.high = mean, std, low, high  # (..., A) each

    def sample(self, noise: torch.Tensor | None = None) -> torch.Tensor:  # noise: N(0, 1) draws (..., A)
        x = self.mean + self.std * (torch.randn_like(self.mean) if noise is None else noise)  # (..., A)
        clamped = x.clamp(self.low, self.high)
        return x + (clamped - x).detach()  # value of the clamp, gradient of the identity

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        # log N(a; mu, sigma) = -(a - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2
        z = (actions - self.mean) / self.std
        return (-0.5 * z**2 - self.std.log() - 0.5 * LOG_2PI).sum(-1)  # (...,)

    def entropy(self) -> torch.Tensor:
        # H[N(mu, sigma)] = 1/2 + log(2 pi)/2 + log sigma, per dimension
        return (0.5 + 0.5 * LOG_2PI + self.std.log()).sum(-1)  # (...,)


class Standardize(nn.Module):
    """(obs - mean) / std, the demos' statistics, saved with the weights, never trained. Not in the paper:
    raw coordinates barely resolve 50 placements (BC 2-42% raw, 50-72%: docs/hammer.md, decisions). Its std
    is floored at OBS_STD_FLOOR: features the demos hold constant would blow up (0.01: BC 16-58%)."""

    def __init__(self, obs_size: int, mean: torch.Tensor | None, std: torch.Tensor | None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(obs_size) if mean is None else mean.clone())  # (O,)
        self.register_buffer("std", torch.ones(obs_size) if std is None else std.clone())  # (O,)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.mean) / self.std


class Actor(nn.Module):
    """pi(a|s): two ReLU layers, then a tanh mean head and a log-std head on the same features. In RL the
    std sits at its floor almost everywhere: BC leaves it ~0.02, and no gradient passes the clamp (README)."""

    def __init__(self, obs_size: int, action_size: int, hidden_size: int,
                 obs_mean: torch.Tensor | None = None, obs_std: torch.Tensor | None = None):
        super().__init__()
        self.min_std = 1e-5  # the std's floor; raised to args.min_std after BC (see train)
        self.trunk = nn.Sequential(Standardize(obs_size, obs_mean, obs_std),
                                   nn.Linear(obs_size, hidden_size), nn.ReLU(),
                                   nn.Linear(hidden_size, hidden_size), nn.ReLU())
        self.mean_head = nn.Linear(hidden_size, action_size)
        self.log_std_head = nn.Linear(hidden_size, action_size)

    def forward(self, obs: torch.Tensor) -> TruncatedNormal:
        features = self.trunk(obs)  # (..., hidden)
        mean = torch.tanh(self.mean_head(features))  # (..., A), inside the action box
        # No gradient outside [floor, 1]; capped before exp(), whose inf would make it 0 * inf = NaN (tested)
        std = self.log_std_head(features).clamp(max=0.0).exp().clamp(min=self.min_std)  # (..., A)
        return TruncatedNormal(mean, std)


class Critic(nn.Module):
    """V(s) (not Q(s, a): PPO needs state values): two (Linear, LayerNorm, ReLU) layers."""

    def __init__(self, obs_size: int, hidden_size: int,
                 obs_mean: torch.Tensor | None = None, obs_std: torch.Tensor | None = None):
        super().__init__()
        self.net = nn.Sequential(Standardize(obs_size, obs_mean, obs_std),
                                 nn.Linear(obs_size, hidden_size), nn.LayerNorm(hidden_size), nn.ReLU(),
                                 nn.Linear(hidden_size, hidden_size), nn.LayerNorm(hidden_size), nn.ReLU(),
                                 nn.Linear(hidden_size, 1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)  # (...,)


# ==== Math: advantages and losses ==============================================
def compute_gae(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor,
                truncated: torch.Tensor, valid: torch.Tensor, gamma: float, gae_lambda: float,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation, backward through each env's rollout.

    rewards (T, N); values (T + 1, N): V of every stored observation plus V of the observation after the
    rollout; terminated, truncated (T, N) bool, true on the step an episode ends; valid (T, N) bool, false on
    autoreset rows. Returns (advantages, returns), each (T, N), zero on invalid rows. Under NEXT_STEP
    autoreset the row after an episode end stores the final observation, so values[t + 1] is V(next state) in
    every case: a normal step, a truncation (the bootstrap it needs), and the rollout's last step (values[T]:
    V of the obs it returned).
    """
    advantages = torch.zeros_like(rewards)  # (T, N)
    next_advantage = torch.zeros_like(rewards[0])  # (N,) A_{t+1}
    for t in reversed(range(rewards.shape[0])):
        # Termination is a real end, no value after it; truncation only cuts it: keep gamma * V(final obs).
        next_value = torch.where(terminated[t], 0.0, values[t + 1])  # (N,)
        delta = rewards[t] + gamma * next_value - values[t]  # GAE paper eq. 10: TD error
        # No advantage flows across an episode boundary (termination or truncation).
        next_advantage = torch.where(terminated[t] | truncated[t], 0.0, next_advantage)
        # GAE paper eq. 16, recursively: A_t = delta_t + gamma * lambda * A_{t+1}
        advantage = delta + gamma * gae_lambda * next_advantage
        advantages[t] = torch.where(valid[t], advantage, 0.0)  # an autoreset row gets none
        next_advantage = advantages[t]
    returns = torch.where(valid, advantages + values[:-1], 0.0)  # (T, N) targets for V
    return advantages, returns


def ppo_kl_loss(new_log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                values: torch.Tensor, returns: torch.Tensor, entropy: torch.Tensor, reverse_kl: torch.Tensor,
                *, clip_coef: float, value_coef: float, entropy_coef: float, reverse_kl_coef: float,
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped PPO loss plus a reverse-KL penalty toward the reference policy.

    All inputs (B,), for the same actions a (sampled by the old policy): log pi_new(a|s), log pi_old(a|s),
    advantages, V(s), returns, entropy of pi_new(.|s), and KL(pi_new(.|s) || pi_ref(.|s)) (gaussian_kl).
    total = policy_loss + c1 * value_loss - c2 * entropy + beta * mean(reverse_kl)
    Returns (total, parts); the parts, for logging, use CleanRL's definitions.
    """
    log_ratio = new_log_probs - old_log_probs
    ratio = log_ratio.exp()  # r = pi_new(a|s) / pi_old(a|s)
    # PPO paper eq. 7: L = min(r * A, clip(r, 1 - eps, 1 + eps) * A), maximised
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantages
    policy_loss = -torch.min(unclipped, clipped).mean()
    value_loss = ((values - returns) ** 2).mean()  # PPO paper eq. 9, (V - V_targ)^2
    entropy_mean = entropy.mean()
    # The exact KL at each state, not a sampled estimate from pi_old's actions (docs/hammer.md, exact KL)
    reverse_kl = reverse_kl.mean()
    total = (policy_loss + value_coef * value_loss - entropy_coef * entropy_mean
             + reverse_kl_coef * reverse_kl)
    with torch.no_grad():
        parts = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy_mean,
                 "reverse_kl": reverse_kl, "old_approx_kl": (-log_ratio).mean(),  # KL(old || new), naive
                 "approx_kl": ((ratio - 1) - log_ratio).mean(),  # the same, unbiased and >= 0
                 "clipfrac": ((ratio - 1).abs() > clip_coef).float().mean()}
    return total, {key: value.detach() for key, value in parts.items()}


def gaussian_kl(p: TruncatedNormal, q: TruncatedNormal) -> torch.Tensor:
    """KL(p || q) between the underlying diagonal normals, summed over actions: (...,).

    Per dimension: log(sigma_q / sigma_p) + (sigma_p^2 + (mu_p - mu_q)^2) / (2 sigma_q^2) - 1/2.
    Like log_prob(), it ignores the clamp to [-1, 1].
    """
    variance_ratio = (p.std / q.std) ** 2  # (..., A)
    mean_term = ((p.mean - q.mean) / q.std) ** 2  # (..., A)
    return 0.5 * (variance_ratio + mean_term - 1 - variance_ratio.log()).sum(-1)


def bc_loss(dist: TruncatedNormal, expert_actions: torch.Tensor) -> torch.Tensor:
    """Behaviour cloning: minus the mean log-likelihood of the expert's actions (B, A) under dist (B,).
    Maximising it fits the mean to the expert and shrinks the std to the remaining error."""
    return -dist.log_prob(expert_actions).mean()


# ==== Training loop ============================================================
def behaviour_cloning(actor: Actor, demos: dict[str, np.ndarray], args: Args,
                      writer: SummaryWriter | None = None) -> float:
    """Fit the actor to the demos for args.bc_steps Adam steps; prints and returns the final BC loss."""
    start_time = time.time()
    demo_obs, demo_actions = torch.as_tensor(demos["obs"]), torch.as_tensor(demos["actions"])  # (D, O/A)
    optimizer = torch.optim.Adam(actor.parameters(), lr=args.bc_learning_rate)
    for step in range(1, args.bc_steps + 1):
        batch = torch.randint(len(demo_obs), (args.bc_batch_size,))  # (B,) drawn with replacement
        loss = bc_loss(actor(demo_obs[batch]), demo_actions[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if writer is not None and (step % 100 == 0 or step == args.bc_steps):
            writer.add_scalar("bc/bc_loss", loss.item(), step)  # x axis: BC steps, not env steps
    with torch.no_grad():
        final_loss = bc_loss(actor(demo_obs), demo_actions).item()
    print(f"[bc]   {len(demo_obs)} demo transitions, {args.bc_steps} steps: BC loss {final_loss:.3f} "
          f"({time.time() - start_time:.0f} s); time limit {args.max_episode_steps} steps")
    return final_loss


def collect_rollout(envs: list[gym.Env], actor: Actor, noise: torch.Tensor,
                    state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """T steps of a worker's n envs with the policy and gymnasium's NEXT_STEP autoreset. noise (T, n, A):
    the N(0, 1) draws to sample with; state: next_obs (n, O), next_is_reset (n,), kept across rollouts.
    Returns obs, actions (T, n, O/A) and log_probs, rewards, terminated, truncated, valid (T, n)."""
    (T, n, A), O = noise.shape, state["next_obs"].shape[1]
    obs, actions = torch.zeros(T, n, O), torch.zeros(T, n, A)  # (T, n, O), (T, n, A)
    log_probs, rewards = torch.zeros(T, n), torch.zeros(T, n)  # (T, n) each; log pi_old(a|s) as it acts
    terminated = torch.zeros(T, n, dtype=torch.bool)  # (T, n) the episode really ended (success)
    truncated = torch.zeros(T, n, dtype=torch.bool)  # (T, n) cut by the time limit
    valid = torch.zeros(T, n, dtype=torch.bool)  # (T, n) False on autoreset rows
    for t in range(T):
        obs[t] = state["next_obs"]
        valid[t] = ~state["next_is_reset"]  # the row after an episode end is not a transition
        with torch.no_grad():
            dist = actor(obs[t])
            actions[t] = dist.sample(noise[t])  # (n, A), in [-1, 1]
            log_probs[t] = dist.log_prob(actions[t])
        # NEXT_STEP autoreset, as in gymnasium's vector envs: the step after an episode end ignores
        # the action and starts a new episode (reward 0, not done). Not a transition. Each env gives
        # (obs, reward, terminated, truncated), joined: next_obs (n, O), the other three (n,) each.
        steps = [(env.reset()[0], 0.0, False, False) if is_reset else env.step(action)[:4]
                 for env, action, is_reset in zip(envs, actions[t].numpy(), state["next_is_reset"].tolist())]
        next_obs, rewards[t], terminated[t], truncated[t] = (torch.tensor(np.array(x)) for x in zip(*steps))
        state["next_obs"], state["next_is_reset"] = next_obs.float(), terminated[t] | truncated[t]
    return obs, actions, log_probs, rewards, terminated, truncated, valid


def run_eval_episode(env: gym.Env, actor: nn.Module, placement: int) -> tuple[bool, bool, int]:
    """One mean-action episode from the placement-th placement: (success, unguarded success, length)."""
    obs, length = reset_to_placement(env, placement), 0
    while True:  # the time limit guarantees an end
        with torch.no_grad():
            action = actor(torch.as_tensor(obs, dtype=torch.float32)).mean  # (A,)
        obs, reward, terminated, truncated, info = env.step(action.numpy())
        length += 1
        if terminated or truncated:
            return reward > 0, bool(info["success"]), length


def make_reference_policy(actor: Actor) -> Actor:
    """pi_ref: a frozen copy of the actor (right after BC): no gradients, never updated."""
    return copy.deepcopy(actor).requires_grad_(False).eval()


def ppo_update(actor: Actor, critic: Critic, ref_actor: Actor, optimizer: torch.optim.Optimizer,
               batch: dict[str, torch.Tensor], args: Args, step: int = 0) -> dict[str, float]:
    """K epochs of shuffled minibatches over one rollout's real transitions: obs (M, O), actions (M, A),
    the old log_probs, normalised advantages and returns (M,). Returns the mean loss parts, to log."""
    with torch.no_grad():  # the reference is a fixed target: no gradient through it
        ref_dist = ref_actor(batch["obs"])  # mean, std (M, A)
    parameters = [*actor.parameters(), *critic.parameters()]
    M, logged = len(batch["obs"]), {}
    for _ in range(args.update_epochs):
        permutation = torch.randperm(M)  # (M,)
        for start in range(0, M, args.minibatch_size):
            mb = permutation[start:start + args.minibatch_size]  # (B,)
            dist = actor(batch["obs"][mb])
            loss, parts = ppo_kl_loss(
                dist.log_prob(batch["actions"][mb]), batch["log_probs"][mb], batch["advantages"][mb],
                critic(batch["obs"][mb]), batch["returns"][mb], dist.entropy(),
                gaussian_kl(dist, TruncatedNormal(ref_dist.mean[mb], ref_dist.std[mb])),  # (B,) to pi_ref
                clip_coef=args.clip_coef, value_coef=args.value_coef, entropy_coef=args.entropy_coef,
                reverse_kl_coef=args.reverse_kl_coef)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(parameters, args.max_grad_norm)  # before clipping
            if not torch.isfinite(loss + grad_norm):  # NaN or inf: stop before the step spoils the networks
                raise FloatingPointError(f"the loss or its gradient is not finite at step {step:,}; stopped "
                                         f"(try a lower --learning-rate)")  # RunFiles says what is kept
            optimizer.step()  # one Adam step per minibatch (PPO paper, Algorithm 1; CleanRL)
            for key, value in parts.items():  # mean over all epochs, weighted by minibatch size
                logged[key] = logged.get(key, 0.0) + value.item() * len(mb) / (M * args.update_epochs)
    return logged


def train(args: Args) -> dict:
    """BC, then PPO with the KL penalty (or go on with args.resume); args passed validate(). The summary."""
    args, checkpoint = open_checkpoint(args)  # the run to continue, checked against args; None: a new run
    if checkpoint is None:
        demos = load_or_generate_demos(args)  # first: the default time limit comes from them
        if args.max_episode_steps is None:  # twice the expert's longest demo: time for BC to fumble, retry
            longest = int(demos["episode_lengths"].max())
            args = replace(args, max_episode_steps=min(MAX_PATH_LENGTH, 2 * longest))
    T, N = args.num_steps, args.num_envs
    num_iterations = args.total_steps // (T * N)
    if (checkpoint and checkpoint["iteration"] >= num_iterations  # finished (without its summary.json, which
            and Path(args.run_dir, "summary.json").exists()):  # is written below): say so, change no file
        print(f"{args.run_dir} is finished at step {checkpoint['global_step']:,}: a larger --total-steps "
              f"continues it")
        return {"script": SCRIPT, "total_steps": checkpoint["global_step"], "finished": True}
    np.random.seed(args.seed)  # seeding: NumPy and PyTorch here; the demos and every env from args.seed too
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # the networks are small: one thread (BC runs beside the workers' start-up)
    run = RunFiles(args, checkpoint)  # TensorBoard, console, best.pt, checkpoint.pt, eval curve, summary
    envs = ParallelEnvs(args, N)  # started first: the workers load while BC trains

    # ---- Phase 1: behaviour cloning on the scripted expert's demos (a resumed run loads its networks).
    if checkpoint is None:
        demo_obs = torch.as_tensor(demos["obs"])  # (D, O)
        O, A = demo_obs.shape[1], demos["actions"].shape[1]
        obs_mean, obs_std = demo_obs.mean(0), demo_obs.std(0).clamp_min(OBS_STD_FLOOR)  # (O,) each
    else:
        O, A, obs_mean, obs_std = checkpoint["obs_size"], checkpoint["action_size"], None, None  # saved
    actor = Actor(O, A, args.hidden_size, obs_mean, obs_std)
    critic = Critic(O, args.hidden_size, obs_mean, obs_std)
    if checkpoint is None:
        behaviour_cloning(actor, demos, args, run.writer)
    actor.min_std = max(args.min_std, 1e-5)  # exploration for RL (see Actor); the reference gets the same
    ref_actor = make_reference_policy(actor)
    nets = {"actor": actor, "critic": critic, "reference": ref_actor}  # what a checkpoint saves

    # ---- Phase 2: PPO with the reverse-KL penalty toward ref_actor.
    torch.set_num_threads(args.update_threads)  # the workers wait during each update: 1 is the safe choice
    optimizer = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=args.learning_rate,
                                 eps=1e-5, foreach=True)  # foreach: the same numbers, a faster step
    global_step, start_iteration, next_eval = run.restore(nets, optimizer)  # 0, 0, eval_every: a new run
    with envs, run:
        if checkpoint is None:
            run.evaluate(envs, actor, global_step)  # step 0: the BC policy, before any RL
        rl_start, start_step = time.time(), global_step

        for iteration in range(start_iteration + 1, num_iterations + 1):
            # ---- Collect a rollout of T steps in each of the N envs (collect_rollout, in the workers).
            iteration_start = time.time()
            noise = torch.randn(T, N, A)  # (T, N, A) drawn here, not in the workers: one seed, one curve
            obs, actions, log_probs, rewards, terminated, truncated, valid, next_obs = envs.rollout(
                actor, noise)  # (T, N, ...) each, as named in collect_rollout; next_obs (N, O)
            ended_successes = (rewards[terminated | truncated] > 0).tolist()  # the return is the success
            global_step += T * N
            rollout_seconds = time.time() - iteration_start

            # ---- Advantages (GAE) on the whole rollout, then keep the real transitions.
            with torch.no_grad():  # bootstrap targets are constants, not trained through
                values = critic(torch.cat([obs, next_obs[None]]))  # (T + 1, N)
            advantages, returns = compute_gae(rewards, values, terminated, truncated, valid,
                                              args.gamma, args.gae_lambda)  # (T, N) each
            b_advantages = advantages[valid]  # (M,)
            # Normalised over the rollout (not in the paper): the step size ignores how rare reward is.
            b_advantages = (b_advantages - b_advantages.mean()) / (b_advantages.std() + 1e-8)
            batch = {"obs": obs[valid], "actions": actions[valid],  # (M, O), (M, A)
                     "log_probs": log_probs[valid], "advantages": b_advantages,  # (M,), (M,)
                     "returns": returns[valid]}  # (M,)
            with torch.no_grad():  # the std this rollout explored with, for the log
                actor_std = actor(batch["obs"]).std.mean().item()
            update_start = time.time()
            fraction = 1 - (iteration - 1) / num_iterations if args.anneal_lr else 1.0  # 1 ... 1 / iterations
            optimizer.param_groups[0]["lr"] = learning_rate = fraction * args.learning_rate
            logged = ppo_update(actor, critic, ref_actor, optimizer, batch, args, global_step)

            # ---- Logging, with CleanRL's tags where one exists.
            scalars = {**{f"losses/{key}": value for key, value in logged.items()},
                       "charts/SPS": (global_step - start_step) / (time.time() - rl_start),  # evals in
                       "charts/actor_std": actor_std, "charts/learning_rate": learning_rate}
            b_returns, b_values = returns[valid], values[:-1][valid]  # (M,), (M,)
            if b_returns.var() > 0:  # undefined while every return is the same (no success yet)
                scalars["losses/explained_variance"] = 1 - ((b_returns - b_values).var()
                                                            / b_returns.var()).item()
            if ended_successes:
                scalars["charts/episodic_return"] = np.mean(ended_successes)
            run.log(global_step, num_iterations * T * N, scalars, len(ended_successes), f"rollout "
                    f"{rollout_seconds:.1f} s, update {time.time() - update_start:.1f} s")

            # ---- Evaluate and checkpoint: on schedule and at the end; checkpoint when asked to stop.
            evaluating = global_step >= next_eval or iteration == num_iterations
            if evaluating:
                run.evaluate(envs, actor, global_step)
                next_eval = (global_step // args.eval_every + 1) * args.eval_every
            if evaluating or run.signal_number:
                run.save("checkpoint.pt", global_step, nets, iteration=iteration, next_eval=next_eval,
                         optimizer=optimizer.state_dict())
            if run.signal_number:
                break
        steps_per_second = (global_step - start_step) / (time.time() - rl_start) or None  # None: no step
        # Placements never trained on: another seed's 50 (the same task, objects and goals elsewhere).
        heldout = None if run.signal_number else envs.evaluate(
            actor, args.eval_episodes, args.seed + HELDOUT_SEED_OFFSET)[0]
    return run.finish(global_step, steps_per_second, heldout)


# ==== Plumbing: env workers, argument checks, checkpoints, eval from a file, run files, signals ====
def env_worker(conn, env_seeds: list[int], eval_seed: int, args: Args) -> None:
    """A worker process: whole rollouts of its envs (collect_rollout), not a pipe round trip per step
    (docs/hammer.md, Speed). Commands: rollout (actor, noise), evaluate (actor, placements, seed), close."""
    torch.set_num_threads(1)  # one core per worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the main process decides
    envs = [make_env(args, env_seed) for env_seed in env_seeds]
    eval_envs = {seed: make_env(replace(args, seed=seed), eval_seed)  # by the seed of their 50 placements
                 for seed in (args.seed, args.seed + HELDOUT_SEED_OFFSET)}  # trained on, never trained on
    try:
        state = {"next_obs": torch.as_tensor(np.stack([env.reset()[0] for env in envs]), dtype=torch.float32),
                 "next_is_reset": torch.zeros(len(envs), dtype=torch.bool)}  # (n, O), (n,)
        for command, data in iter(conn.recv, ("close", None)):
            if command == "rollout":  # data: (actor, noise)
                conn.send((collect_rollout(envs, *data, state), state["next_obs"]))
            elif command == "evaluate":  # data: (actor, placements, placements_seed)
                conn.send([run_eval_episode(eval_envs[data[2]], data[0], index) for index in data[1]])
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        for env in [*envs, *eval_envs.values()]:
            env.close()


class ParallelEnvs(contextlib.AbstractContextManager):
    """N envs in worker processes that step (collect_rollout) and evaluate, each seeded from args.seed."""

    def __init__(self, args: Args, num_envs: int):
        num_workers = min(args.num_workers, num_envs)
        env_seeds = np.random.SeedSequence(args.seed).generate_state(num_envs + num_workers).tolist()
        self.rows = [slice(int(r[0]), int(r[-1]) + 1)  # each worker's envs
                     for r in np.array_split(range(num_envs), num_workers)]
        context = mp.get_context("spawn")  # clean interpreters: safe with PyTorch's threads, any OS
        self.conns, self.processes = [], []
        for w, rows in enumerate(self.rows):
            parent_conn, child_conn = context.Pipe()
            self.processes.append(context.Process(target=env_worker, daemon=True, args=(  # daemon: dies too
                child_conn, env_seeds[rows], env_seeds[num_envs + w], args)))
            self.processes[-1].start()
            child_conn.close()  # only the worker holds its end: if it dies, recv() fails, not hangs
            self.conns.append(parent_conn)

    def _ask(self, messages: list) -> list:
        for conn, message in zip(self.conns, messages):  # all workers at once...
            conn.send(message)
        replies = [conn.recv() for conn in self.conns]  # ...then we collect
        for reply in replies:
            if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[0], str):
                raise RuntimeError(f"an environment worker failed:\n{reply[1]}")  # ("error", traceback)
        return replies

    def rollout(self, actor: nn.Module, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """collect_rollout in all workers at once, on their noise (T, n, A): (T, N, ...) each, next_obs."""
        replies = self._ask([("rollout", (actor, noise[:, rows])) for rows in self.rows])
        return (*(torch.cat(parts, dim=1) for parts in zip(*(rollout for rollout, _ in replies))),
                torch.cat([next_obs for _, next_obs in replies]))

    def evaluate(self, actor: nn.Module, num_episodes: int, seed: int) -> tuple[float, float, float]:
        """Mean-action episodes from placements 0..num_episodes-1 of the 50 that `seed` draws (args.seed's:
        those trained on): success, unguarded success, mean length."""
        w = len(self.conns)  # each worker gets a pickled copy of the actor, and every w-th placement
        replies = self._ask([("evaluate", (actor, list(range(i, num_episodes, w)), seed)) for i in range(w)])
        return tuple(float(np.mean(column)) for column in zip(*sum(replies, [])))

    def __exit__(self, *exc_info):
        for conn, process in zip(self.conns, self.processes):
            with contextlib.suppress(OSError):  # the worker may already be gone
                conn.send(("close", None))
            process.join(timeout=5)
            process.terminate()  # if it has not exited by then (a no-op if it has)


def validate(args: Args) -> None:
    """Stop at once, naming the argument, before anything is built or written."""
    rollout, run_dir = args.num_envs * args.num_steps, Path(args.run_dir or "")
    for names, holds, need in [
        (("num_envs", "num_workers", "update_threads", "num_steps", "update_epochs", "minibatch_size",
          "hidden_size", "num_demos", "bc_batch_size", "eval_every", "eval_episodes"),
         lambda v: v >= 1, ">= 1"),
        (("learning_rate", "bc_learning_rate", "clip_coef", "max_grad_norm"), lambda v: v > 0, "> 0"),
        (("value_coef", "entropy_coef", "reverse_kl_coef", "demo_noise"), lambda v: v >= 0, ">= 0"),
        (("seed", "bc_steps"), lambda v: 0 <= v < 2**31, "in [0, 2**31)"),  # seeds: NumPy's < 2**32, + 10_000
        (("num_steps",), lambda v: v >= 4, ">= 4"),  # 2 real transitions or more: the advantages have a std
        (("gamma",), lambda v: 0 < v <= 1, "in (0, 1]"),
        (("gae_lambda",), lambda v: 0 <= v <= 1, "in [0, 1]"),
        (("min_std",), lambda v: 0 <= v < 1, "in [0, 1)"),
        (("max_episode_steps",), lambda v: v is None or 1 <= v <= MAX_PATH_LENGTH, f"1 to {MAX_PATH_LENGTH}"),
    ]:
        for name in names:
            if not holds(getattr(args, name)):
                raise ValueError(f"--{name.replace('_', '-')} must be {need} (got {getattr(args, name)})")
    for holds, message in [
        (args.num_workers <= args.num_envs, f"--num-workers ({args.num_workers}) must not exceed "
                                            f"--num-envs ({args.num_envs}): each worker needs an env"),
        (args.total_steps >= rollout, f"--total-steps ({args.total_steps}) must be at least one "
                                      f"rollout, --num-envs x --num-steps = {rollout}"),
        (args.minibatch_size <= rollout, f"--minibatch-size ({args.minibatch_size}) must be at most "
                                         f"the rollout, --num-envs x --num-steps = {rollout}"),
        (args.env_name in TASKS, f"--env-name {args.env_name!r} is not a task; one of: {', '.join(TASKS)}"),
        *[(not any(part.exists() and not part.is_dir() for part in [Path(path), *Path(path).parents]),
           f"--{flag} {path} is a file or inside one: name a directory")  # it cannot become a directory
          for flag, path in [("run-dir", run_dir), ("demo-cache-dir", args.demo_cache_dir)]],
        (not args.eval_only or args.resume is not None, "--eval-only needs --resume PATH"),
        # A run is never overwritten; one stopped before its first checkpoint (only logs) starts over.
        (args.resume is not None or args.run_dir is None or not any(
            (run_dir / name).exists() for name in ("checkpoint.pt", "summary.json")),
         f"--run-dir {run_dir} already holds a run: continue it with --resume {run_dir}, "
         f"or choose another --run-dir"),
    ]:
        if not holds:
            raise ValueError(message)


def open_checkpoint(args: Args) -> tuple[Args, dict | None]:
    """--resume: the run's arguments and checkpoint. A longer --total-steps goes on (the step size's decay
    stretched to the new length); any other argument that differs from the run's is refused, naming it."""
    if args.resume is None:
        return args, None
    checkpoint = load_checkpoint(args.resume)
    if "optimizer" not in checkpoint:
        raise ValueError(f"--resume: {args.resume} holds only a policy; evaluate it with --eval-only")
    saved = replace(checkpoint["args"], resume=args.resume, total_steps=args.total_steps)  # may change
    changed = [f"--{name.replace('_', '-')} {getattr(args, name)} (the run has {getattr(saved, name)})"
               for name in asdict(args) if getattr(args, name) != getattr(saved, name)]
    if changed:
        raise ValueError(f"--resume continues {saved.run_dir} with its own arguments: drop "
                         f"{', '.join(changed)}")
    return saved, checkpoint


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint of this script: a file, or a run directory's checkpoint.pt (a pickle, it holds RNG
    states: load only files you trust). Its "args" as Args (unknown names dropped), run_dir its directory."""
    path = Path(path) / "checkpoint.pt" if Path(path).is_dir() else Path(path)
    try:
        state = torch.load(path, weights_only=False)
    except Exception as error:  # none: a run stopped before its first checkpoint starts over with its command
        why = error if path.exists() else "there is none: start the run again with the command that began it"
        raise ValueError(f"--resume: cannot read {path} as a checkpoint ({why})") from None
    if (written_by := isinstance(state, dict) and state.get("script")) != SCRIPT:
        raise ValueError(f"--resume: {path} was written by {written_by or 'something else'}, not by {SCRIPT}")
    names = {field.name for field in fields(Args)}
    args = Args(**{**{k: v for k, v in state["args"].items() if k in names}, "run_dir": str(path.parent)})
    return {**state, "args": args, "run_dir": path.parent}


def evaluate_checkpoint(args: Args) -> dict:
    """--eval-only: the saved policy's success rate with a 95% confidence interval."""
    state = load_checkpoint(args.resume)  # checkpoint.pt or best.pt
    saved = replace(state["args"], resume=None, eval_only=False)
    actor = Actor(state["obs_size"], state["action_size"], saved.hidden_size)
    actor.load_state_dict(state["nets"]["actor"])  # same shape: built from the saved arguments
    with ParallelEnvs(saved, num_envs=saved.num_workers) as envs:
        rate, _, _ = envs.evaluate(actor, args.eval_episodes, saved.seed)
    n, z = args.eval_episodes, 1.96  # Wilson score interval (95%): sensible even at 0% or 100% success
    centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    print(f"{n} episodes from step {state['global_step']:,}: success {rate:.2f} "
          f"(95% CI {centre - half:.2f}-{centre + half:.2f})")
    return {"success": float(rate), "ci95": [float(centre - half), float(centre + half)]}


class RunFiles(contextlib.AbstractContextManager):
    """A run's directory and console: TensorBoard, best.pt, checkpoint.pt, eval curve, summary.json. Inside
    `with`, Ctrl-C or SIGTERM sets signal_number (the loop checkpoints, stops); a second Ctrl-C: at once."""

    def __init__(self, args: Args, checkpoint: dict | None):
        self.args, self.checkpoint, self.start_time = args, checkpoint, time.time()
        self.path = Path(args.run_dir or f"runs/{SCRIPT}__seed{args.seed}__{int(self.start_time)}")
        # purge_step: TensorBoard drops the points logged past the checkpoint (after a crash: no duplicates);
        # without one, 0: all that a start stopped before its first checkpoint logged (validate allows it)
        self.writer = SummaryWriter(self.path, purge_step=checkpoint and checkpoint["global_step"] + 1 or 0)
        self.eval_history = checkpoint["eval_history"] if checkpoint else []  # (step, success, mean length)

    def __enter__(self):
        self.signal_number, self.previous = 0, {number: signal.signal(number, self.handle)
                                                for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def handle(self, number, frame):
        self.signal_number = number
        os.write(2, f"\n{signal.Signals(number).name}: finishing this iteration, then checkpointing (Ctrl-C "
                    "again to quit at once)\n".encode())  # not print(): a handler must not re-enter stdout
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the next Ctrl-C raises

    def __exit__(self, exc_type, error, traceback_):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.writer.close()
        if isinstance(error, FloatingPointError):  # say what a NaN or inf leaves (none: start over)
            error.args = (f"{error}; last good checkpoint: {next(self.path.glob('checkpoint.pt'), 'none')}",)

    def restore(self, nets: dict[str, nn.Module], optimizer: torch.optim.Optimizer) -> tuple[int, int, int]:
        """Load a resumed run's nets, optimizer, RNGs: its (step, iteration, next eval); a new run's start."""
        if self.checkpoint is None:
            return 0, 0, self.args.eval_every
        for name, net in nets.items():
            net.load_state_dict(self.checkpoint["nets"][name])
        optimizer.load_state_dict(self.checkpoint["optimizer"])
        np.random.set_state(self.checkpoint["rng"]["numpy"])
        torch.set_rng_state(self.checkpoint["rng"]["torch"])
        print(f"resumed {self.path} at step {self.checkpoint['global_step']:,}; envs start new episodes")
        return self.checkpoint["global_step"], self.checkpoint["iteration"], self.checkpoint["next_eval"]

    def evaluate(self, envs: "ParallelEnvs", actor: Actor, step: int) -> None:
        """Evaluate and log. best.pt keeps the best policy so far: the highest success, on a tie the
        shorter mean episode (the same success, sooner), on a full tie the later policy (README)."""
        eval_start = time.time()
        success, unguarded, length = envs.evaluate(actor, self.args.eval_episodes, self.args.seed)
        if all((success, -length) >= (s, -l) for _, s, l in self.eval_history):
            self.save("best.pt", step, {"actor": actor}, eval_success=success)
        self.eval_history.append((step, success, length))
        for tag, value in [("episode_success", success), ("unguarded_success", unguarded),  # no guard
                           ("episode_length", length)]:
            self.writer.add_scalar(f"eval/{tag}", value, step)
        print(f"[eval] step {step:>9,} | eval success {success:.2f} (unguarded {unguarded:.2f}) over "
              f"{self.args.eval_episodes} episodes, mean length {length:.0f} ({time.time() - eval_start:.1f} "
              f"s)" + (" <- the BC policy" if step == 0 else ""))

    def log(self, step: int, rl_steps: int, scalars: dict[str, float], episodes: int, seconds: str) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)
        success, sps = scalars.get("charts/episodic_return", float("nan")), scalars["charts/SPS"]
        print(f"[ppo]  step {step:>9,}/{rl_steps:,} | train success {success:.2f} ({episodes} episodes) | "
              f"KL to BC {scalars['losses/reverse_kl']:.3g} | {sps:,.0f} steps/s ({seconds}) | "
              f"{(rl_steps - step) / sps / 60:.1f} min left")

    def save(self, name: str, step: int, nets: dict[str, nn.Module], **state) -> None:
        """best.pt or checkpoint.pt, via a temporary file renamed (atomic): a crash never breaks the last."""
        path, actor = self.path / name, nets["actor"]
        torch.save({"script": SCRIPT, "args": asdict(self.args), "global_step": step,
                    "eval_history": self.eval_history,
                    "obs_size": len(actor.trunk[0].mean), "action_size": actor.mean_head.out_features,
                    "nets": {key: net.state_dict() for key, net in nets.items()},
                    "rng": {"numpy": np.random.get_state(), "torch": torch.get_rng_state()}, **state},
                   path.with_name(name + ".tmp"))
        os.replace(path.with_name(name + ".tmp"), path)

    def finish(self, step: int, steps_per_second: float, heldout: float | None) -> dict:
        """What a run leaves: eval success against env steps as CSV and PNG, and summary.json."""
        if self.signal_number:  # main says how to resume
            return {"script": SCRIPT, "total_steps": step, "interrupted": self.signal_number,
                    "run_dir": str(self.path)}
        with open(self.path / "eval_success.csv", "w", newline="") as file:
            csv.writer(file).writerows([("step", "success", "length"), *self.eval_history])
        import matplotlib.pyplot as plt  # imported here: only this method draws (no display needed)
        steps, successes, _ = zip(*self.eval_history)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(steps, successes, marker="o")  # step 0: the BC policy (dashed), then PPO + reverse KL
        ax.axhline(successes[0], linestyle="--", color="gray")
        ax.set(xlabel="environment steps (RL phase)", ylabel="eval success rate (mean action)",
               ylim=(-0.02, 1.02), title=f"{self.path.name}: BC (dashed), then PPO + reverse KL")
        fig.savefig(self.path / "eval_success.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        summary = {"script": SCRIPT, "seed": self.args.seed, "total_steps": step, "run_dir": str(self.path),
                   "wall_seconds": time.time() - self.start_time,  # of this process (since a resume, if any)
                   "steps_per_second": steps_per_second,  # RL phase, evaluations included
                   "bc_success": successes[0], "final_success": successes[-1], "best_success": max(successes),
                   # the first evaluated step with success >= 0.9 (0: BC already was; None: never)
                   "steps_to_solve": next((s for s, success, _ in self.eval_history if success >= 0.9), None),
                   "heldout_success": heldout}  # the final policy on placements never trained on
        (self.path / "summary.json").write_text(json.dumps(summary, indent=2))
        print(f"done: {json.dumps(summary)}")
        return summary


# ==== Main =====================================================================
if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # progress reaches a pipe (| tee) line by line
    try:
        args = tyro.cli(Args)
        if args.resume:  # the run's arguments are the defaults: a flag given beside them is one chosen
            args = tyro.cli(Args, default=replace(load_checkpoint(args.resume)["args"], resume=args.resume))
        validate(args)
        summary = evaluate_checkpoint(args) if args.eval_only else train(args)
    except (ValueError, FloatingPointError) as error:  # bad input, or a NaN/inf (checkpoint kept)
        print(f"error: {error}", file=sys.stderr)  # one line, no traceback
        sys.exit(1 if isinstance(error, FloatingPointError) else 2)
    except KeyboardInterrupt:  # before the RL phase (no checkpoint: the same command starts over), or a
        sys.exit(130)  # second Ctrl-C: leave at once
    if summary.get("interrupted"):
        print(f"stopped at step {summary['total_steps']:,}; checkpoint saved. Resume with:\n"
              f"  python {SCRIPT}.py --resume {summary['run_dir']}")
        sys.exit(128 + summary["interrupted"])  # 130 for SIGINT, 143 for SIGTERM
