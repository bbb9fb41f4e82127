"""Each CartPole script learns, on a reduced budget (slow: a few seconds to a minute each).

The full claims (every seed, the default budget) are measured by
benchmarks/sweep.py and reported in README.md.
"""

import pytest

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole


@pytest.mark.slow
@pytest.mark.parametrize(
    "module, total_steps, threshold",
    [
        # A random policy scores about 22. Thresholds sit well below what the
        # default run reaches at this budget, well above chance.
        (reinforce_cartpole, 2_000_000, 150),
        (vpg_cartpole, 2_000_000, 200),
        (ppo_cartpole, 200_000, 400),
    ],
    ids=["reinforce", "vpg", "ppo"],
)
def test_learns_cartpole(module, total_steps, threshold, tmp_path):
    args = module.Args(total_steps=total_steps, run_dir=str(tmp_path), seed=1)
    summary = module.train(args)
    assert summary["final_return"] >= threshold


@pytest.mark.slow
def test_ppo_learns_acrobot(tmp_path):
    # Acrobot-v1 pays -1 a step until the tip swings above the bar, for at most 500
    # steps: a random policy scores about -500 (it almost never gets there). The same
    # script, defaults unchanged but the budget, must do clearly better than chance.
    args = ppo_cartpole.Args(env_id="Acrobot-v1", total_steps=300_000, run_dir=str(tmp_path), seed=1)
    summary = ppo_cartpole.train(args)
    assert summary["final_return"] >= -250
