"""Where ppo_cartpole.py's time goes, call by call, with its default arguments: the costs that
docs/cartpole.md states in "Where the time goes" and "Why the update takes log-probabilities from
log_softmax". Wall-clock: run it on a quiet machine.

    python benchmarks/ppo_cartpole_timing.py
    python benchmarks/ppo_cartpole_timing.py --rollouts 37   # the phases of a run that solves in 37

Each cost is per call, over --calls calls, in each of --passes passes (printed as the range over the
passes); the two ways of taking the update's log-probabilities run interleaved, pass by pass. No
training: random observations and returns, the networks as initialised, and the script's own networks,
environments, GAE and loss (imported). The phases of a run are these costs times its calls: per
rollout, 64 steps of the 32 envs, one GAE and update_epochs x num_minibatches = 40 minibatch steps.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the scripts live at the repository root
import ppo_cartpole  # noqa: E402


def per_call(work, calls: int) -> float:
    """Seconds per call of work(), over `calls` calls after one that warms up."""
    work()
    start = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=800, help="calls per pass (default 800)")
    parser.add_argument("--passes", type=int, default=2, help="passes; their range is printed (default 2)")
    parser.add_argument("--rollouts", type=int, default=37,
                        help="rollouts of the run whose phases are printed (37: seed 1 solves in 37)")
    options = parser.parse_args()
    args = ppo_cartpole.Args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # as train()
    T, N = args.num_steps, args.num_envs
    B = T * N // args.num_minibatches  # a minibatch, about M / num_minibatches
    envs = ppo_cartpole.make_envs(args.env_id, N)
    O, A = envs.single_observation_space.shape[0], envs.single_action_space.n
    policy, value = ppo_cartpole.Policy(O, A, args.hidden_size), ppo_cartpole.Value(O, args.hidden_size)
    parameters = [*policy.parameters(), *value.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=args.learning_rate, eps=1e-5, fused=True)  # as train()
    rng = np.random.default_rng(args.seed)
    next_obs = torch.as_tensor(envs.reset(seed=args.seed)[0], dtype=torch.float32)  # (N, O)

    def act():  # the policy's forward pass and sample, as the rollout takes it
        with torch.no_grad():
            return policy(next_obs).sample()  # (N,)

    def step_envs():  # the numpy CartPole and its episode statistics, random actions
        envs.step(rng.integers(0, A, N))

    def rollout_step():  # the two, with the tensor conversions between them
        nonlocal next_obs
        next_obs = torch.as_tensor(envs.step(act().numpy())[0], dtype=torch.float32)

    rewards, values = torch.ones(T, N), torch.randn(T + 1, N)  # (T, N), (T + 1, N)
    terminated, truncated = torch.rand(T, N) < 0.02, torch.zeros(T, N, dtype=torch.bool)  # (T, N)

    def gae():
        ppo_cartpole.compute_gae(rewards, terminated, truncated, values, args.gamma, args.gae_lambda)

    mb_obs, mb_actions = torch.randn(B, O), torch.randint(0, A, (B,))  # (B, O), (B,)
    mb_old_log_probs, mb_advantages, mb_returns = torch.full((B,), -np.log(A)), torch.randn(B), torch.randn(B)

    def minibatch_step(categorical: bool):  # one step of the update, as train() takes it
        if categorical:  # as before: log pi, its log-probability and entropy through a Categorical
            distribution = policy(mb_obs)
            new_log_probs, entropy = distribution.log_prob(mb_actions), distribution.entropy()  # (B,)
        else:
            log_pi = policy.net(mb_obs).log_softmax(-1)  # (B, A)
            new_log_probs = log_pi.gather(-1, mb_actions[:, None]).squeeze(-1)  # (B,)
            entropy = -(log_pi.exp() * log_pi).sum(-1)  # (B,)
        advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
        loss, _ = ppo_cartpole.ppo_loss(new_log_probs, mb_old_log_probs, advantages, value(mb_obs),
                                        mb_returns, entropy, clip_coef=args.clip_coef, vf_coef=args.vf_coef,
                                        ent_coef=args.ent_coef)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, args.max_grad_norm)
        optimizer.step()

    def bare_step():  # forward, backward, gradient clipping and Adam alone: no loss to speak of
        loss = policy.net(mb_obs).sum() + value(mb_obs).sum()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, args.max_grad_norm)
        optimizer.step()

    logits = torch.randn(N, A)  # (N, A)
    works = {"act": act, "envs": step_envs, "rollout step": rollout_step, "gae": gae,
             "log_softmax step": lambda: minibatch_step(categorical=False),
             "Categorical step": lambda: minibatch_step(categorical=True), "bare step": bare_step,
             "Categorical": lambda: Categorical(logits=logits, validate_args=False),
             "log_softmax": lambda: logits.log_softmax(-1)}
    passes = {name: [] for name in works}
    for _ in range(options.passes):  # each pass times every call in turn: the variants interleave
        for name, work in works.items():
            passes[name].append(per_call(work, options.calls))

    def ms(name: str, scale: float = 1000, digits: int = 2) -> str:  # the range over passes, in ms (or us)
        low, high = (f"{scale * x:.{digits}f}" for x in (min(passes[name]), max(passes[name])))
        return low if low == high else f"{low}-{high}"

    def total(name: str, calls: int) -> str:  # seconds of `calls` calls, at the mean of the passes
        return f"{calls * sum(passes[name]) / len(passes[name]):.2f}"

    update_steps = args.update_epochs * args.num_minibatches
    print(f"rollout step of {N} envs: {ms('rollout step')} ms; the policy's forward pass and sample "
          f"{ms('act')} ms, the envs with their episode statistics {ms('envs')} ms")
    print(f"GAE over a rollout of {T} x {N}: {ms('gae')} ms")
    print(f"minibatch step of {B} samples: {ms('log_softmax step')} ms by log_softmax (the script), "
          f"{ms('Categorical step')} ms by a Categorical; forward, backward, gradient clipping and Adam "
          f"alone {ms('bare step')} ms")
    print(f"{N} x {A} logits: a Categorical built in {ms('Categorical', 1e6, 1)} us, "
          f"log_softmax {ms('log_softmax', 1e6, 1)} us")
    rollouts = options.rollouts
    print(f"{rollouts} rollouts: {T} rollout steps each {total('rollout step', rollouts * T)} s, "
          f"GAE {total('gae', rollouts)} s, {update_steps} minibatch steps each "
          f"{total('log_softmax step', rollouts * update_steps)} s")

if __name__ == "__main__":
    main()
