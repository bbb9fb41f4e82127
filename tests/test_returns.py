"""Returns and advantages against examples worked by hand, and GAE against a
deliberately naive second implementation.

Every example uses the NEXT_STEP autoreset layout of gymnasium 1.x: the step
that ends an episode carries terminated/truncated, and the row after it is the
autoreset row (not a transition). Its reward is set to 100 here, a value the
real env never gives, so any leak of it into a real step's number shows.
"""

import torch

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole

GARBAGE = 100.0  # reward planted on autoreset rows


def column(*values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)[:, None]  # (T, 1)


def two_envs():
    """T = 6, N = 2, gamma = 0.5.

    env 0: episode ends by termination at t = 2; t = 3 is the autoreset row;
           a new episode runs t = 4, 5 and is cut by the end of the rollout.
    env 1: episode ends by truncation (time limit) at t = 1; t = 2 is the
           autoreset row; a new episode runs t = 3..5, cut by the rollout end.
    """
    rewards = torch.tensor([[1, 1], [1, 1], [1, GARBAGE], [GARBAGE, 1], [1, 1], [1, 1]])
    terminated = torch.zeros(6, 2, dtype=torch.bool)
    truncated = torch.zeros(6, 2, dtype=torch.bool)
    terminated[2, 0] = True
    truncated[1, 1] = True
    valid = torch.ones(6, 2, dtype=torch.bool)
    valid[3, 0] = valid[2, 1] = False
    return rewards, terminated, truncated, valid


def test_reinforce_rewards_to_go_by_hand():
    rewards, terminated, truncated, valid = two_envs()
    returns = reinforce_cartpole.discounted_returns(rewards, terminated, truncated, gamma=0.5)
    # env 0, backward: t5 = 1; t4 = 1 + .5 * 1 = 1.5; t2 terminated = 1; t1 = 1.5; t0 = 1.75
    # env 1: t5 = 1; t4 = 1.5; t3 = 1.75; t1 truncated, no critic: = 1; t0 = 1.5
    expected = torch.tensor([[1.75, 1.5], [1.5, 1.0], [1.0, 0], [0, 1.75], [1.5, 1.5], [1.0, 1.0]])
    torch.testing.assert_close(returns[valid], expected[valid])


def test_vpg_bootstraps_truncation_and_rollout_end_by_hand():
    rewards, terminated, truncated, valid = two_envs()
    # values (T + 1, N): V of each stored obs, then V of the obs after the rollout.
    # env 1's row 2 is its autoreset row: it stores the final obs of the
    # truncated episode, so V = 3 there is V(final obs).
    values = torch.tensor([[0.1, 1], [0.2, 2], [0.3, 3], [0.4, 4], [0.5, 5], [0.6, 6], [0.7, 7]])
    returns = vpg_cartpole.discounted_returns(rewards, terminated, truncated, values, gamma=0.5)
    # env 0: t5 = 1 + .5 * V(s_T) = 1 + .35 = 1.35; t4 = 1 + .675 = 1.675;
    #        t2 terminated: 1 (no bootstrap); t1 = 1.5; t0 = 1.75
    # env 1: t5 = 1 + .5 * 7 = 4.5; t4 = 3.25; t3 = 2.625;
    #        t1 truncated: 1 + .5 * V(final obs) = 1 + 1.5 = 2.5; t0 = 1 + 1.25 = 2.25
    expected = torch.tensor(
        [[1.75, 2.25], [1.5, 2.5], [1.0, 0], [0, 2.625], [1.675, 3.25], [1.35, 4.5]]
    )
    torch.testing.assert_close(returns[valid], expected[valid])


def one_env_gae_example():
    """T = 7, N = 1, gamma = 0.5, lambda = 0.5.

    t0, t1: episode A, terminated at t1.    t2: autoreset row.
    t3, t4: episode B, truncated at t4.     t5: autoreset row (stores B's final obs).
    t6:     episode C, cut by the rollout end; V(s_7) = 8 bootstraps it.
    """
    rewards = column(1, 1, GARBAGE, 1, 1, GARBAGE, 1)
    terminated = column(0, 1, 0, 0, 0, 0, 0, dtype=torch.bool)
    truncated = column(0, 0, 0, 0, 1, 0, 0, dtype=torch.bool)
    values = column(1, 2, 3, 4, 5, 6, 7, 8)  # (T + 1, 1)
    valid = column(1, 1, 0, 1, 1, 0, 1, dtype=torch.bool)
    return rewards, terminated, truncated, values, valid


def test_gae_by_hand():
    rewards, terminated, truncated, values, valid = one_env_gae_example()
    advantages, returns = ppo_cartpole.compute_gae(
        rewards, terminated, truncated, values, gamma=0.5, gae_lambda=0.5
    )
    # delta_t = r_t + gamma * V_next - V_t, gamma * lambda = 0.25
    # t6: delta = 1 + .5 * 8 - 7 = -2                    A = -2
    # t4: truncated, V_next = V(final obs) = V[5] = 6: delta = 1 + 3 - 5 = -1;  A = -1
    # t3: delta = 1 + .5 * 5 - 4 = -0.5                   A = -0.5 + .25 * -1 = -0.75
    # t1: terminated, V_next = 0: delta = 1 - 2 = -1      A = -1
    # t0: delta = 1 + .5 * 2 - 1 = 1                      A = 1 + .25 * -1 = 0.75
    expected_advantages = column(0.75, -1, 0, -0.75, -1, 0, -2)
    torch.testing.assert_close(advantages[valid], expected_advantages[valid])
    # returns = advantages + values: 1.75, 1, 3.25, 4, 5
    torch.testing.assert_close(returns[valid], column(1.75, 1, 0, 3.25, 4, 0, 5)[valid])


def test_gae_with_lambda_one_equals_vpg_returns():
    # lambda = 1: A + V is the bootstrapped discounted return of vpg_cartpole.
    rewards, terminated, truncated, valid = two_envs()
    values = torch.rand(7, 2)
    _, returns = ppo_cartpole.compute_gae(rewards, terminated, truncated, values, 0.9, 1.0)
    expected = vpg_cartpole.discounted_returns(rewards, terminated, truncated, values, 0.9)
    torch.testing.assert_close(returns[valid], expected[valid])


def naive_gae(rewards, terminated, truncated, values, valid, gamma, lam):
    """A_t = sum_k (gamma lambda)^k delta_{t+k} over the rest of t's episode,
    written directly, one env and one step at a time."""
    T, N = rewards.shape
    advantages = torch.zeros(T, N)
    for n in range(N):
        for t in range(T):
            if not valid[t, n]:
                continue
            total, weight = 0.0, 1.0
            for k in range(t, T):
                if terminated[k, n]:
                    next_value = 0.0
                else:  # next stored obs, or the final obs in the autoreset row, or s_T
                    next_value = values[k + 1, n].item()
                delta = rewards[k, n].item() + gamma * next_value - values[k, n].item()
                total += weight * delta
                weight *= gamma * lam
                if terminated[k, n] or truncated[k, n]:
                    break  # the episode is over: nothing of the next one counts
            advantages[t, n] = total
    return advantages


def test_gae_matches_naive_implementation_on_random_episodes():
    generator = torch.Generator().manual_seed(123)
    T, N = 40, 6
    for _ in range(5):
        rewards = torch.rand(T, N, generator=generator)
        ends = torch.rand(T, N, generator=generator) < 0.15
        is_truncation = torch.rand(T, N, generator=generator) < 0.5
        terminated, truncated = ends & ~is_truncation, ends & is_truncation
        valid = torch.ones(T, N, dtype=torch.bool)
        valid[1:] = ~ends[:-1]  # the row after an end is the autoreset row
        terminated &= valid  # an autoreset row cannot itself end an episode
        truncated &= valid
        valid[1:] = ~(terminated | truncated)[:-1]
        rewards[~valid] = GARBAGE
        values = torch.randn(T + 1, N, generator=generator)
        advantages, returns = ppo_cartpole.compute_gae(rewards, terminated, truncated, values, 0.97, 0.9)
        expected = naive_gae(rewards, terminated, truncated, values, valid, 0.97, 0.9)
        torch.testing.assert_close(advantages[valid], expected[valid], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(returns[valid], (expected + values[:-1])[valid], rtol=1e-5, atol=1e-5)
