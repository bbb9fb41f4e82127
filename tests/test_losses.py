"""Each loss pinned to the course notebook's known numbers.

The fixture and the expected values (-0.2369, 0.0618, 0.9314) come from the
course notebook this progression is based on, not from running these scripts;
the other numbers are worked by hand in the comments beside them.
"""

import pytest
import torch
import torch.nn as nn
from torch.distributions import Categorical

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole


def test_reinforce_loss_matches_notebook(cartpole_fixture):
    _, _, _, _, log_probs, returns = cartpole_fixture
    loss = reinforce_cartpole.reinforce_loss(log_probs, returns)
    assert loss.item() == pytest.approx(-0.2369, abs=1e-4)


def test_vpg_loss_matches_notebook(cartpole_fixture):
    states, _, _, _, log_probs, returns = cartpole_fixture
    torch.manual_seed(0)
    nn.Linear(4, 1)  # the notebook creates the policy first: keep the draw order
    value = nn.Linear(4, 1)
    values = value(states).squeeze(-1)  # (10, 5)
    loss = vpg_cartpole.vpg_loss(log_probs, returns, values)
    assert loss.item() == pytest.approx(0.0618, abs=1e-4)


def test_vpg_policy_term_does_not_train_the_value_network(cartpole_fixture):
    _, _, _, _, log_probs, returns = cartpole_fixture
    values = torch.rand(10, 5, requires_grad=True)
    vpg_cartpole.vpg_loss(log_probs, returns, values).backward()
    # Only the squared error reaches V: d/dV mean((R - V)^2) = 2 (V - R) / 50.
    # Were the advantage not detached, -log_probs / 50 would be added here.
    torch.testing.assert_close(values.grad, 2 * (values.detach() - returns) / 50)


def ppo_fixture():
    torch.manual_seed(0)
    states = torch.rand(10, 5, 4)
    actions = torch.randint(0, 1, (10, 5))
    torch.rand(10, 5)  # rewards
    torch.randint(0, 2, (10, 5))  # not_dones
    log_probs = torch.rand(10, 5)
    returns = 2 * torch.rand(10, 5) - 1
    torch.manual_seed(0)
    policy = nn.Linear(4, 1)
    value = nn.Linear(4, 1)
    dist = Categorical(logits=policy(states))
    values = value(states).squeeze(-1)
    return dist.log_prob(actions), log_probs, returns, values, dist.entropy()


def test_ppo_loss_matches_notebook():
    new_log_probs, old_log_probs, returns, values, entropy = ppo_fixture()
    advantages = (returns - values).detach()
    total, _ = ppo_cartpole.ppo_loss(
        new_log_probs, old_log_probs, advantages, values, returns, entropy,
        clip_coef=0.1, vf_coef=1.0, ent_coef=0.0,
    )
    assert total.item() == pytest.approx(0.9314, abs=1e-4)


def test_ppo_clipping_by_hand():
    # Four samples worked by hand with eps = 0.2: ratio r, advantage A.
    #   r = 1.5, A = +1: min(1.5, 1.2) = 1.2      (clipped: no reward for going further)
    #   r = 1.5, A = -1: min(-1.5, -1.2) = -1.5   (unclipped: a bad move is always penalised)
    #   r = 0.5, A = +1: min(0.5, 0.8) = 0.5      (unclipped)
    #   r = 0.5, A = -1: min(-0.5, -0.8) = -0.8   (clipped)
    # policy loss = -mean(1.2, -1.5, 0.5, -0.8) = 0.15; clipfrac = 4/4 outside 1 +- 0.2
    ratio = torch.tensor([1.5, 1.5, 0.5, 0.5])
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    old = torch.zeros(4)
    zeros = torch.zeros(4)
    total, parts = ppo_cartpole.ppo_loss(
        ratio.log(), old, advantages, zeros, zeros, zeros, clip_coef=0.2, vf_coef=1.0, ent_coef=0.0
    )
    assert total.item() == pytest.approx(0.15, abs=1e-6)
    assert parts["clipfrac"].item() == pytest.approx(1.0)
    # value and entropy terms: vf_coef * mean((V - R)^2) - ent_coef * mean(H)
    values, returns, entropy = torch.tensor([1.0, 0, 0, 0]), torch.tensor([0.0, 0, 0, 2]), torch.ones(4)
    total2, parts2 = ppo_cartpole.ppo_loss(
        ratio.log(), old, advantages, values, returns, entropy, clip_coef=0.2, vf_coef=0.5, ent_coef=0.1
    )
    # value loss = (1 + 4) / 4 = 1.25; total = 0.15 + 0.5 * 1.25 - 0.1 * 1 = 0.675
    assert parts2["value_loss"].item() == pytest.approx(1.25)
    assert total2.item() == pytest.approx(0.675, abs=1e-6)


def test_ppo_approx_kl_by_hand():
    # What --target-kl compares: Schulman's k3 estimate of KL(old || new), mean((r - 1) - log r),
    # and the naive one, mean(-log r), with r = pi_new(a|s) / pi_old(a|s).
    # pi_old = 0.25, 0.5 and pi_new = 0.5, 0.25: r = 2, 0.5, log r = ln 2, -ln 2
    #   k3 = ((2 - 1 - ln 2) + (0.5 - 1 + ln 2)) / 2 = (1 - 0.5) / 2 = 0.25;  naive = (-ln 2 + ln 2) / 2 = 0
    old = torch.tensor([0.25, 0.5]).log()
    new = torch.tensor([0.5, 0.25]).log()
    zeros = torch.zeros(2)
    _, parts = ppo_cartpole.ppo_loss(new, old, zeros, zeros, zeros, zeros, clip_coef=0.2, vf_coef=1.0,
                                     ent_coef=0.0)
    assert parts["approx_kl"].item() == pytest.approx(0.25, abs=1e-6)
    assert parts["old_approx_kl"].item() == pytest.approx(0.0, abs=1e-6)
    # log r = 1, 0 (r = e, 1): k3 = ((e - 1 - 1) + (1 - 1 - 0)) / 2 = (e - 2) / 2 = 0.359141;
    # naive = (-1 - 0) / 2 = -0.5 (it can go negative; k3 cannot)
    _, parts = ppo_cartpole.ppo_loss(torch.tensor([1.0, 0.0]), zeros, zeros, zeros, zeros, zeros,
                                     clip_coef=0.2, vf_coef=1.0, ent_coef=0.0)
    assert parts["approx_kl"].item() == pytest.approx(0.359141, abs=1e-6)
    assert parts["old_approx_kl"].item() == pytest.approx(-0.5, abs=1e-6)


def test_ppo_value_clipping_by_hand():
    # --clip-vloss with eps = 0.2, rollout-time V_old = 0, return R = 1 for three samples;
    # V_clip = V_old + clip(V - V_old, -0.2, 0.2), and the loss keeps the worse (max) of the two errors:
    #   V = 1:   (V - R)^2 = 0,    V_clip = 0.2:  (0.2 - 1)^2 = 0.64    max 0.64  (min would be 0)
    #   V = 0.1: (V - R)^2 = 0.81, V_clip = 0.1:  0.81                  max 0.81
    #   V = -1:  (V - R)^2 = 4,    V_clip = -0.2: (-0.2 - 1)^2 = 1.44   max 4     (min would be 1.44)
    # value loss = (0.64 + 0.81 + 4) / 3 = 1.816667 (with min: 0.75; unclipped: 4.81 / 3 = 1.603333)
    values, returns, zeros = torch.tensor([1.0, 0.1, -1.0]), torch.ones(3), torch.zeros(3)
    _, clipped = ppo_cartpole.ppo_loss(zeros, zeros, zeros, values, returns, zeros, clip_coef=0.2,
                                       vf_coef=1.0, ent_coef=0.0, old_values=zeros)
    assert clipped["value_loss"].item() == pytest.approx(1.816667, abs=1e-6)
    _, unclipped = ppo_cartpole.ppo_loss(zeros, zeros, zeros, values, returns, zeros, clip_coef=0.2,
                                         vf_coef=1.0, ent_coef=0.0)
    assert unclipped["value_loss"].item() == pytest.approx(1.603333, abs=1e-6)
