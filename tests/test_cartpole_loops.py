"""The CartPole training loops, checked where the subtle things happen: inside train().

A scripted stand-in for the vector env replaces make_envs: two envs, two rollouts of T = 4 steps, every
observation, reward and episode end written out below in gymnasium 1.x's NEXT_STEP autoreset layout.
Each autoreset row pays 100, a reward the real env never gives (it pays 0), so a loop that lets the row
into the loss shows it at once. The critic is replaced by one whose values are known by hand,
V(s) = s[0], and every observation carries its row's name in s[1], so a test reads which rows the
update received, and with what returns and advantages, and compares them with numbers worked by hand.

The --target-kl stop and the annealing run the real CartPole for a few tiny rollouts: no learning is
asked of them, only that the loop does what its arguments say.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import read_scalars

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole

GARBAGE = 100.0  # reward planted on autoreset rows
# Rows k = 0..7 of the script, k = 4 * (rollout - 1) + t; row 8 is the observation after rollout 2.
#   env 0: episode A k = 0, 1, terminated at 1; k = 2 autoreset row (it stores A's final obs)
#          episode B k = 3, truncated at 3, the last step of rollout 1; k = 4 autoreset row, the first
#          row of rollout 2 (the mark must carry over); B's final obs is also rollout 1's s_T
#          episode C k = 5..7, cut by the end of rollout 2
#   env 1: episode A k = 0..2, truncated at 2; k = 3 autoreset row, the last row of rollout 1
#          episode B k = 4, 5, terminated at 5; k = 6 autoreset row; episode C k = 7, cut by the end
# V of each row's observation (env 0, env 1). The final observations carry planted values: 9 after a
# termination (nothing may bootstrap from it), 10 after a truncation (the truncated step must).
VALUES = [(0, 0), (0, 0), (9, 0), (0, 10), (10, 4), (0, 0), (0, 9), (0, 0), (8, 8)]
REWARDS = [(1, 1), (1, 1), (GARBAGE, 1), (1, GARBAGE), (GARBAGE, 1), (1, 1), (1, GARBAGE), (1, 1)]
TERMINATED = [(0, 0), (1, 0), (0, 0), (0, 0), (0, 0), (0, 1), (0, 0), (0, 0)]
TRUNCATED = [(0, 0), (0, 0), (0, 1), (1, 0), (0, 0), (0, 0), (0, 0), (0, 0)]
AUTORESET_ROWS = {(2, 0), (4, 0), (3, 1), (6, 1)}  # (k, env)


class ScriptedEnvs:
    """Two envs that play the script above whatever the actions: what train() uses of a vector env."""

    single_observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    single_action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.return_queue = []  # no episode statistics: the summary's return is NaN
        self.observations = np.zeros((9, 2, 4), dtype=np.float32)  # (rows, N, O): [V, name, 0, 0]
        self.observations[..., 0] = VALUES
        self.observations[..., 1] = 10 * np.arange(9)[:, None] + np.arange(2)  # row k, env n: 10 k + n

    def reset(self, seed=None):
        self.k = 0
        return self.observations[0].copy(), {}

    def step(self, actions):
        k, self.k = self.k, self.k + 1
        return (self.observations[k + 1].copy(), np.array(REWARDS[k], dtype=np.float64),
                np.array(TERMINATED[k], dtype=bool), np.array(TRUNCATED[k], dtype=bool), {})


class KnownValue(nn.Module):
    """V(s) = s[0] whatever the optimiser does: a critic whose numbers are known by hand."""

    def __init__(self, obs_size, hidden):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # zero gradient: Adam leaves it, and V, alone

    def forward(self, obs):
        return obs[..., 0] + 0 * self.unused


def on_the_script(module, monkeypatch):
    """Point `module` at the scripted envs and the known critic; returns the list where the policy
    network's inputs will be recorded, in the order it sees them."""
    policy_inputs = []

    class RecordingPolicy(module.Policy):
        def __init__(self, *sizes):
            super().__init__(*sizes)
            self.net.register_forward_pre_hook(lambda _, inputs: policy_inputs.append(inputs[0].detach()))

    monkeypatch.setattr(module, "make_envs", lambda env_id, num_envs: ScriptedEnvs())
    monkeypatch.setattr(module, "Policy", RecordingPolicy)
    if hasattr(module, "Value"):
        monkeypatch.setattr(module, "Value", KnownValue)
    monkeypatch.setattr(module, "evaluate", lambda policy, args, run_dir: [0.0])  # would need a real env
    return policy_inputs


def train_on_script(module, tmp_path, **overrides):
    """Both rollouts of the script, gamma = 0.5."""
    module.train(module.Args(num_envs=2, num_steps=4, total_steps=16, gamma=0.5, run_dir=str(tmp_path),
                             **overrides))


def by_row(obs, numbers):
    """{(k, env): number} for a batch: the rows named by its observations, one number each."""
    rows = [divmod(name, 10) for name in obs[:, 1].long().tolist()]
    assert len(set(rows)) == len(rows), "a row entered the batch twice"
    return dict(zip(rows, numbers.tolist()))


def test_the_script_puts_an_autoreset_row_after_every_episode_end():
    ends = {(k + 1, n) for k in range(8) for n in range(2) if TERMINATED[k][n] or TRUNCATED[k][n]}
    assert ends == AUTORESET_ROWS
    assert {(k, n) for k in range(8) for n in range(2) if REWARDS[k][n] == GARBAGE} == AUTORESET_ROWS


def test_reinforce_loop_keeps_autoreset_rows_out_of_the_loss(monkeypatch, tmp_path):
    policy_inputs = on_the_script(reinforce_cartpole, monkeypatch)
    received = []
    original = reinforce_cartpole.reinforce_loss

    def recording_loss(log_probs, returns):
        received.append(by_row(policy_inputs[-1], returns))  # the policy's last input: the batch b_obs
        return original(log_probs, returns)

    monkeypatch.setattr(reinforce_cartpole, "reinforce_loss", recording_loss)
    train_on_script(reinforce_cartpole, tmp_path)
    # Reward-to-go by hand, gamma = 0.5, backward; no critic, so a truncation ends the sum as a
    # termination does, and so does the end of the rollout. The autoreset rows are absent.
    # rollout 1, env 0: k3 truncated: 1; k1 terminated: 1; k0: 1 + .5 * 1 = 1.5
    #            env 1: k2 truncated: 1; k1: 1.5; k0: 1.75
    # rollout 2, env 0: k7: 1; k6: 1.5; k5: 1.75
    #            env 1: k7: 1; k5 terminated: 1; k4: 1.5
    assert received == [
        pytest.approx({(0, 0): 1.5, (1, 0): 1, (3, 0): 1, (0, 1): 1.75, (1, 1): 1.5, (2, 1): 1}),
        pytest.approx({(5, 0): 1.75, (6, 0): 1.5, (7, 0): 1, (4, 1): 1.5, (5, 1): 1, (7, 1): 1}),
    ]


def test_vpg_loop_masks_autoreset_rows_and_bootstraps_truncation(monkeypatch, tmp_path):
    policy_inputs = on_the_script(vpg_cartpole, monkeypatch)
    received = []
    original = vpg_cartpole.vpg_loss

    def recording_loss(log_probs, returns, values):
        batch = policy_inputs[-1]  # the policy's last input: the batch b_obs
        received.append((by_row(batch, returns), by_row(batch, values)))
        return original(log_probs, returns, values)

    monkeypatch.setattr(vpg_cartpole, "vpg_loss", recording_loss)
    train_on_script(vpg_cartpole, tmp_path)
    # Returns by hand, gamma = 0.5, backward from R_T = V(s_T); a truncated step bootstraps from
    # V(final obs), the value of the autoreset row after it; a terminated one does not (V = 9 unused).
    # rollout 1, env 0: k3 truncated: 1 + .5 * V(k4) = 1 + 5 = 6; k1 terminated: 1; k0: 1.5
    #            env 1: k2 truncated: 1 + .5 * V(k3) = 6; k1: 1 + 3 = 4; k0: 1 + 2 = 3
    # rollout 2, env 0: k7: 1 + .5 * V(k8) = 5; k6: 1 + 2.5 = 3.5; k5: 1 + 1.75 = 2.75
    #            env 1: k7: 5; k5 terminated: 1; k4: 1.5
    assert [returns for returns, _ in received] == [
        pytest.approx({(0, 0): 1.5, (1, 0): 1, (3, 0): 6, (0, 1): 3, (1, 1): 4, (2, 1): 6}),
        pytest.approx({(5, 0): 2.75, (6, 0): 3.5, (7, 0): 5, (4, 1): 1.5, (5, 1): 1, (7, 1): 5}),
    ]
    # the baseline V(s) of the same rows: 0 but for k4 of env 1
    assert [values for _, values in received] == [
        {(0, 0): 0, (1, 0): 0, (3, 0): 0, (0, 1): 0, (1, 1): 0, (2, 1): 0},
        {(5, 0): 0, (6, 0): 0, (7, 0): 0, (4, 1): 4, (5, 1): 0, (7, 1): 0},
    ]


@pytest.mark.parametrize("clip_vloss", [False, True])
def test_ppo_loop_masks_autoreset_rows_and_bootstraps_truncation(clip_vloss, monkeypatch, tmp_path):
    policy_inputs = on_the_script(ppo_cartpole, monkeypatch)
    received = []
    original = ppo_cartpole.ppo_loss

    def recording_loss(new_log_probs, old_log_probs, advantages, values, returns, entropy, **kwargs):
        batch = policy_inputs[-1]  # the policy's last input: the minibatch mb_obs
        old_values = kwargs["old_values"]
        received.append({"advantages": by_row(batch, advantages), "returns": by_row(batch, returns),
                         "values": by_row(batch, values),
                         "old_values": None if old_values is None else by_row(batch, old_values)})
        return original(new_log_probs, old_log_probs, advantages, values, returns, entropy, **kwargs)

    monkeypatch.setattr(ppo_cartpole, "ppo_loss", recording_loss)
    # one epoch of one minibatch: the whole rollout reaches the loss once; raw advantages
    train_on_script(ppo_cartpole, tmp_path, gae_lambda=0.5, update_epochs=1, num_minibatches=1,
                    norm_adv=False, clip_vloss=clip_vloss)
    # GAE by hand, gamma = lambda = 0.5 (gamma * lambda = .25), backward; delta = r + .5 V_next - V,
    # V_next = V(final obs) after a truncation, 0 after a termination (V = 9 unused), A restarts at ends.
    # rollout 1, env 0: k3 truncated: delta = 1 + .5 * 10 - 0 = 6, A = 6; k1 terminated: delta = 1, A = 1;
    #                   k0: delta = 1, A = 1 + .25 * 1 = 1.25
    #            env 1: k2 truncated: delta = 1 + .5 * 10 = 6, A = 6; k1: A = 1 + .25 * 6 = 2.5;
    #                   k0: A = 1 + .25 * 2.5 = 1.625
    # rollout 2, env 0: k7: delta = 1 + .5 * 8 = 5, A = 5; k6: A = 1 + 1.25 = 2.25; k5: 1 + .5625 = 1.5625
    #            env 1: k7: A = 5; k5 terminated: A = 1; k4: delta = 1 + .5 * 0 - 4 = -3, A = -3 + .25 = -2.75
    # Returns R = A + V(s): the same, but k4 of env 1: -2.75 + 4 = 1.25.
    advantages = [{(0, 0): 1.25, (1, 0): 1, (3, 0): 6, (0, 1): 1.625, (1, 1): 2.5, (2, 1): 6},
                  {(5, 0): 1.5625, (6, 0): 2.25, (7, 0): 5, (4, 1): -2.75, (5, 1): 1, (7, 1): 5}]
    returns = [advantages[0], {**advantages[1], (4, 1): 1.25}]
    values = [dict.fromkeys(advantages[0], 0), {**dict.fromkeys(advantages[1], 0), (4, 1): 4}]
    assert [r["advantages"] for r in received] == [pytest.approx(a) for a in advantages]
    assert [r["returns"] for r in received] == [pytest.approx(r) for r in returns]
    assert [r["values"] for r in received] == values
    # --clip-vloss hands the loss the rollout-time V of the same rows (here V does not move)
    assert [r["old_values"] for r in received] == (values if clip_vloss else [None, None])


# ---- PPO's --target-kl stop and the annealing, on the real CartPole (4-8 tiny rollouts)
@pytest.mark.parametrize("target_kl", [0.0, 0.005, None])
def test_ppo_target_kl_stops_the_epochs(target_kl, monkeypatch, tmp_path):
    rollouts = []  # per rollout: the approx_kl of every minibatch, in order
    original_gae, original_loss = ppo_cartpole.compute_gae, ppo_cartpole.ppo_loss

    def recording_gae(*args, **kwargs):
        rollouts.append([])  # once per rollout, before its epochs
        return original_gae(*args, **kwargs)

    def recording_loss(*args, **kwargs):
        total, parts = original_loss(*args, **kwargs)
        rollouts[-1].append(parts["approx_kl"].item())
        return total, parts

    monkeypatch.setattr(ppo_cartpole, "compute_gae", recording_gae)
    monkeypatch.setattr(ppo_cartpole, "ppo_loss", recording_loss)
    ppo_cartpole.train(ppo_cartpole.Args(num_envs=8, num_steps=32, total_steps=1024, update_epochs=10,
                                         num_minibatches=4, target_kl=target_kl, run_dir=str(tmp_path)))
    epochs_run = []
    for kls in rollouts:
        assert len(kls) % 4 == 0  # whole epochs of 4 minibatches
        epochs = len(kls) // 4
        epoch_kls = kls[3::4]  # each epoch's last minibatch: what the stop compares
        # the rule: stop after the first epoch whose KL exceeds target_kl, else run all 10
        limit = float("inf") if target_kl is None else target_kl
        assert all(kl <= limit for kl in epoch_kls[:-1])
        assert epochs == 10 or epoch_kls[-1] > limit
        epochs_run.append(epochs)
    assert len(epochs_run) == 4
    assert [e for _, e in read_scalars(tmp_path)["charts/update_epochs"]] == epochs_run  # logged as run
    if target_kl == 0.0:  # the policy moves in the first minibatch steps: every update stops after one epoch
        assert epochs_run == [1, 1, 1, 1]
    if target_kl == 0.005:  # in between: some updates stop early, some run all their epochs
        assert min(epochs_run) < 10 == max(epochs_run)
    if target_kl is None:
        assert epochs_run == [10, 10, 10, 10]


@pytest.mark.parametrize("anneal", [True, False])
def test_ppo_learning_rate_and_clip_reach_zero_at_anneal_steps(anneal, monkeypatch, tmp_path):
    clip_coefs = []  # the clip_coef each update used
    original = ppo_cartpole.ppo_loss

    def recording_loss(*args, clip_coef, **kwargs):
        clip_coefs.append(clip_coef)
        return original(*args, clip_coef=clip_coef, **kwargs)

    monkeypatch.setattr(ppo_cartpole, "ppo_loss", recording_loss)
    ppo_cartpole.train(ppo_cartpole.Args(num_envs=8, num_steps=32, total_steps=2048, anneal_steps=1024,
                                         anneal_lr=anneal, anneal_clip=anneal, update_epochs=1,
                                         num_minibatches=1, run_dir=str(tmp_path)))
    # 8 rollouts of 256 steps; rollout i starts at step 256 (i - 1) and runs with the fraction
    # max(0, 1 - 256 (i - 1) / 1024) left: 1, .75, .5, .25, then 0 from step 1,024 on
    remaining = [1, 0.75, 0.5, 0.25, 0, 0, 0, 0] if anneal else [1] * 8
    learning_rates = read_scalars(tmp_path)["charts/learning_rate"]
    assert [step for step, _ in learning_rates] == list(range(256, 2049, 256))
    assert [lr for _, lr in learning_rates] == pytest.approx([5e-3 * f for f in remaining])  # the default
    assert clip_coefs == pytest.approx([0.15 * f for f in remaining])  # the default clip_coef
