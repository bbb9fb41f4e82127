"""Each CartPole script learns, on a reduced budget (slow: a few seconds to a minute each).

The full claims (every seed, the default budget) are measured by
benchmarks/cartpole_seeds.py and reported in README.md.
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
        (ppo_cartpole, 250_000, 400),
    ],
    ids=["reinforce", "vpg", "ppo"],
)
def test_learns_cartpole(module, total_steps, threshold, tmp_path):
    args = module.Args(total_steps=total_steps, run_dir=str(tmp_path), seed=1)
    summary = module.train(args)
    assert summary["final_mean_return_100"] >= threshold
