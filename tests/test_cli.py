"""The CartPole scripts as a user runs them: from the command line."""

import json

import pytest
from conftest import read_scalars, run_script

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole

SCRIPTS = ["reinforce_cartpole.py", "vpg_cartpole.py", "ppo_cartpole.py"]
TINY = ["--num-envs", "8", "--num-steps", "32", "--total-steps", "2048"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_smoke_run_writes_tensorboard(script, tmp_path):
    result = run_script(script, *TINY, "--run-dir", str(tmp_path), "--run-name", "smoke")
    assert result.returncode == 0, result.stderr
    run_path = tmp_path / "smoke"
    assert list(run_path.glob("events.out.tfevents.*")), "no TensorBoard event file"
    scalars = read_scalars(run_path)
    for tag in ["charts/episodic_return", "charts/episodic_length", "losses/policy_loss",
                "losses/entropy", "charts/SPS"]:
        assert tag in scalars, f"{tag} not logged"
    summary = json.loads((run_path / "summary.json").read_text())
    assert summary["total_steps"] == 2048
    assert "steps/s" in result.stdout  # the console shows progress


def test_ppo_logs_its_diagnostics(tmp_path):
    result = run_script("ppo_cartpole.py", *TINY, "--run-dir", str(tmp_path), "--run-name", "p",
                        "--target-kl", "0.01")
    assert result.returncode == 0, result.stderr
    scalars = read_scalars(tmp_path / "p")
    for tag in ["losses/value_loss", "losses/old_approx_kl", "losses/approx_kl", "losses/clipfrac",
                "losses/explained_variance", "charts/learning_rate", "charts/update_epochs"]:
        assert tag in scalars, f"{tag} not logged"


@pytest.mark.parametrize("module", [reinforce_cartpole, vpg_cartpole, ppo_cartpole],
                         ids=["reinforce", "vpg", "ppo"])
def test_same_seed_same_numbers(module, tmp_path):
    runs = []
    for name in ("a", "b"):
        args = module.Args(num_envs=8, num_steps=32, total_steps=4096, seed=3,
                           run_dir=str(tmp_path), run_name=name)
        module.train(args)
        runs.append(read_scalars(tmp_path / name))
    for tag in ["charts/episodic_return", "losses/policy_loss"]:
        assert runs[0][tag] == runs[1][tag], f"{tag} differs between two runs with seed 3"
    other = module.Args(num_envs=8, num_steps=32, total_steps=4096, seed=4,
                        run_dir=str(tmp_path), run_name="c")
    module.train(other)
    assert read_scalars(tmp_path / "c")["losses/policy_loss"] != runs[0]["losses/policy_loss"]


BAD_ARGS = [
    (["--num-envs", "0"], "--num-envs"),
    (["--num-envs", "-3"], "--num-envs"),
    (["--num-steps", "0"], "--num-steps"),
    (["--total-steps", "100"], "--total-steps"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate", "-1e-3"], "--learning-rate"),
    (["--gamma", "0"], "--gamma"),
    (["--gamma", "1.5"], "--gamma"),
]
PPO_BAD_ARGS = [
    (["--num-minibatches", "3"], "--num-minibatches"),  # 16 x 128 = 2048 is not divisible by 3
    (["--clip-coef", "0"], "--clip-coef"),
    (["--gae-lambda", "1.5"], "--gae-lambda"),
    (["--gae-lambda", "-0.1"], "--gae-lambda"),
]


@pytest.mark.parametrize("module", [reinforce_cartpole, vpg_cartpole, ppo_cartpole],
                         ids=["reinforce", "vpg", "ppo"])
@pytest.mark.parametrize("argv, flag", BAD_ARGS)
def test_bad_arguments_are_named(module, argv, flag):
    import tyro

    args = tyro.cli(module.Args, args=argv)
    with pytest.raises(ValueError, match=flag):
        module.validate(args)


@pytest.mark.parametrize("argv, flag", PPO_BAD_ARGS)
def test_ppo_bad_arguments_are_named(argv, flag):
    import tyro

    args = tyro.cli(ppo_cartpole.Args, args=argv)
    with pytest.raises(ValueError, match=flag):
        ppo_cartpole.validate(args)


@pytest.mark.parametrize("script, argv, flag", [
    ("reinforce_cartpole.py", ["--num-envs", "0"], "--num-envs"),
    ("vpg_cartpole.py", ["--gamma", "2"], "--gamma"),
    ("ppo_cartpole.py", ["--num-minibatches", "3"], "--num-minibatches"),
])
def test_bad_arguments_on_the_command_line(script, argv, flag, tmp_path):
    result = run_script(script, *argv, "--run-dir", str(tmp_path))
    assert result.returncode == 2
    assert flag in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir()), "a run directory was created before the error"


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_documents_every_argument(script):
    result = run_script(script, "--help")
    assert result.returncode == 0
    for flag in ["--seed", "--num-envs", "--num-steps", "--total-steps", "--learning-rate",
                 "--gamma", "--hidden-size", "--run-dir"]:
        assert flag in result.stdout
