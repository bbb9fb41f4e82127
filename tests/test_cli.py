"""The CartPole scripts as a user runs them: from the command line."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import read_scalars, run_script

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole

SCRIPTS = ["reinforce_cartpole.py", "vpg_cartpole.py", "ppo_cartpole.py"]
MODULES = [reinforce_cartpole, vpg_cartpole, ppo_cartpole]
IDS = ["reinforce", "vpg", "ppo"]
TINY = ["--num-envs", "8", "--num-steps", "32", "--total-steps", "2048"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_smoke_run_writes_tensorboard(script, tmp_path):
    result = run_script(script, *TINY, "--run-dir", str(tmp_path / "smoke"))
    assert result.returncode == 0, result.stderr
    run_path = tmp_path / "smoke"
    assert list(run_path.glob("events.out.tfevents.*")), "no TensorBoard event file"
    scalars = read_scalars(run_path)
    for tag in ["charts/episodic_return", "charts/episodic_length", "losses/policy_loss",
                "losses/entropy", "charts/SPS"]:
        assert tag in scalars, f"{tag} not logged"
    # two actions: the entropy is at most ln 2, and a policy after 2,048 steps is still close to uniform
    assert all(0.5 < entropy <= np.log(2) + 1e-6 for _, entropy in scalars["losses/entropy"])
    assert [step for step, _ in scalars["charts/SPS"]] == list(range(256, 2049, 256))  # one point per rollout
    assert "steps/s" in result.stdout  # the console shows progress
    assert "evaluation (most likely action): mean return" in result.stdout
    assert not list(run_path.glob("*.mp4")) and not (run_path / "model.pt").exists()  # only when asked


def test_ppo_logs_its_diagnostics(tmp_path):
    result = run_script("ppo_cartpole.py", *TINY, "--run-dir", str(tmp_path / "p"), "--target-kl", "0.01")
    assert result.returncode == 0, result.stderr
    scalars = read_scalars(tmp_path / "p")
    for tag in ["losses/value_loss", "losses/old_approx_kl", "losses/approx_kl", "losses/clipfrac",
                "losses/explained_variance", "charts/learning_rate", "charts/update_epochs"]:
        assert tag in scalars, f"{tag} not logged"


def test_ppo_first_minibatch_has_ratio_one(tmp_path):
    # One epoch of one minibatch: the diagnostics are computed before the only Adam step, when pi_new is
    # still pi_old, so by definition the ratio is 1: no KL, nothing clipped. This holds only if the
    # update's log pi(a|s) (log_softmax, gather) equals the one recorded for the rollout.
    ppo_cartpole.train(ppo_cartpole.Args(num_envs=8, num_steps=32, total_steps=1024, update_epochs=1,
                                         num_minibatches=1, run_dir=str(tmp_path)))
    scalars = read_scalars(tmp_path)
    for tag in ["losses/approx_kl", "losses/old_approx_kl"]:
        assert all(abs(kl) < 1e-6 for _, kl in scalars[tag]), tag
    assert all(fraction == 0 for _, fraction in scalars["losses/clipfrac"])


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_same_seed_same_numbers(module, tmp_path):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        module.train(module.Args(num_envs=8, num_steps=32, total_steps=4096, seed=seed,
                                 run_dir=str(tmp_path / name)))
        runs.append(read_scalars(tmp_path / name))
    for tag in ["charts/episodic_return", "losses/policy_loss"]:
        assert runs[0][tag] == runs[1][tag], f"{tag} differs between two runs with seed 3"
    assert runs[2]["losses/policy_loss"] != runs[0]["losses/policy_loss"]


def evaluate_by_hand(policy, seed: int) -> float:
    """The final evaluation written again, as the README describes it (20 episodes, the most likely
    action) and seeded as evaluate() documents (seed + 10,000 + episode): the mean of the returns."""
    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(20):
        observation, _ = env.reset(seed=seed + 10_000 + episode)
        returns.append(0.0)
        done = False
        while not done:
            with torch.no_grad():
                action = int(policy.net(torch.as_tensor(observation)).argmax())
            observation, reward, terminated, truncated, _ = env.step(action)
            returns[-1] += float(reward)
            done = terminated or truncated
    return float(np.mean(returns))


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_summary_json(module, tmp_path, monkeypatch):
    # A "solved" level that an untrained policy reaches (CartPole's own is 475; random play averages
    # ~22), so steps_to_solve is set; every figure is checked against the TensorBoard file, read back.
    monkeypatch.setattr(gym.spec("CartPole-v1"), "reward_threshold", 15.0)
    policies = []  # the policy train() builds, kept to evaluate it again once the run is over

    class KeptPolicy(module.Policy):
        def __init__(self, *sizes):
            super().__init__(*sizes)
            policies.append(self)

    monkeypatch.setattr(module, "Policy", KeptPolicy)
    summary = module.train(module.Args(num_envs=32, num_steps=32, total_steps=8192, run_dir=str(tmp_path)))
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["script"] == module.__name__ and summary["seed"] == 1 and summary["total_steps"] == 8192
    assert summary["run_dir"] == str(tmp_path) and summary["wall_seconds"] > 0
    scalars = read_scalars(tmp_path)
    returns, rollout_ends = scalars["charts/episodic_return"], scalars["charts/SPS"]
    # "solved": the first rollout end at which the mean of the last 100 returns (100 of them) reaches it
    last_100 = {step: [r for s, r in returns if s <= step][-100:] for step, _ in rollout_ends}
    solved = [(step, sps) for step, sps in rollout_ends if len(last_100[step]) == 100
              and np.mean(last_100[step]) >= 15.0]
    assert summary["steps_to_solve"] == solved[0][0] > 256 * 4  # 100 episodes need 2,000+ steps
    # seconds since the start: SPS = steps / seconds at every rollout end, so the solving rollout's
    # seconds are step / SPS there; the summary's clock reads it a moment later, before the next one's
    seconds = [step / sps for step, sps in rollout_ends] + [summary["wall_seconds"]]
    at = [step for step, _ in rollout_ends].index(solved[0][0])
    assert seconds[at] * (1 - 1e-6) <= summary["seconds_to_solve"] <= seconds[at + 1] * (1 + 1e-6)
    assert summary["final_return"] == pytest.approx(np.mean([r for _, r in returns][-100:]))
    # does it hold: the lowest last-100 mean at the rollout ends from the solving one on
    lowest = min(np.mean(last_100[step]) for step, _ in rollout_ends if step >= solved[0][0])
    assert summary["lowest_after_solve"] == pytest.approx(lowest)
    assert summary["steps_per_second"] == pytest.approx(rollout_ends[-1][1], rel=1e-6)
    assert summary["eval_mean_return"] == evaluate_by_hand(policies[0], seed=1)


BAD_ARGS = [
    (["--num-envs", "0"], "--num-envs"),
    (["--num-envs", "-3"], "--num-envs"),
    (["--num-steps", "0"], "--num-steps"),
    (["--total-steps", "100"], "--total-steps"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate", "-1e-3"], "--learning-rate"),
    (["--gamma", "0"], "--gamma"),
    (["--gamma", "1.5"], "--gamma"),
    (["--hidden-size", "0"], "--hidden-size"),  # ran to the end before, learning nothing
    (["--seed", "-1"], "--seed"),  # numpy's unnamed error before, after the run directory was made
    (["--seed", "99999999999999999999"], "--seed"),  # torch's "Overflow when unpacking long long" before
    (["--env-id", "Nope-v0"], "--env-id Nope-v0"),  # gymnasium's error, without the flag, before
]
VPG_BAD_ARGS = [
    (["--value-steps", "-1"], "--value-steps"),
]
PPO_BAD_ARGS = [
    (["--num-minibatches", "0"], "--num-minibatches"),
    (["--update-epochs", "0"], "--update-epochs"),
    (["--clip-coef", "0"], "--clip-coef"),
    (["--anneal-steps", "0"], "--anneal-steps"),
    (["--gae-lambda", "1.5"], "--gae-lambda"),
    (["--gae-lambda", "-0.1"], "--gae-lambda"),
    (["--target-kl", "-1"], "--target-kl"),
    (["--max-grad-norm", "0"], "--max-grad-norm"),  # every gradient scaled to 0: nothing learnt
    (["--max-grad-norm", "-1"], "--max-grad-norm"),  # every gradient flipped: the loss climbs
    (["--vf-coef", "-1"], "--vf-coef"),  # the critic pushed away from the returns
]


@pytest.mark.parametrize("module", MODULES, ids=IDS)
@pytest.mark.parametrize("argv, flag", BAD_ARGS)
def test_bad_arguments_are_named(module, argv, flag):
    import tyro

    args = tyro.cli(module.Args, args=argv)
    with pytest.raises(ValueError, match=flag):
        module.validate(args)
    module.validate(tyro.cli(module.Args, args=[]))  # the defaults pass


@pytest.mark.parametrize("module, argv, flag", [(vpg_cartpole, *case) for case in VPG_BAD_ARGS]
                         + [(ppo_cartpole, *case) for case in PPO_BAD_ARGS])
def test_own_bad_arguments_are_named(module, argv, flag):
    import tyro

    args = tyro.cli(module.Args, args=argv)
    with pytest.raises(ValueError, match=flag):
        module.validate(args)


@pytest.mark.parametrize("module, argv", [
    (reinforce_cartpole, ["--seed", "0", "--hidden-size", "1"]),
    (vpg_cartpole, ["--value-steps", "0"]),  # documented: the joint step only
    (ppo_cartpole, ["--target-kl", "0", "--vf-coef", "0"]),  # 0: one epoch per update; no critic loss
])
def test_the_edges_of_the_ranges_pass(module, argv):
    import tyro

    module.validate(tyro.cli(module.Args, args=argv))


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_a_run_dir_that_cannot_take_a_new_run_is_named(module, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    (tmp_path / "logged").mkdir()  # a run under way or stopped: its TensorBoard file, no summary yet
    (tmp_path / "logged" / "events.out.tfevents.1796600000.host.123.0").write_bytes(b"")
    (tmp_path / "finished").mkdir()
    (tmp_path / "finished" / "summary.json").write_text("{}")
    for run_dir, expected in [("a_file", "--run-dir"), ("a_file/run", "--run-dir"),
                              ("logged", "--run-dir .*logged already holds a run"),
                              ("finished", "--run-dir .*finished already holds a run")]:
        with pytest.raises(ValueError, match=expected):
            module.validate(module.Args(run_dir=str(tmp_path / run_dir)))
    # taken: a new path, an empty directory, and one holding only what benchmarks/sweep.py writes first
    (tmp_path / "empty").mkdir()
    (tmp_path / "swept").mkdir()
    (tmp_path / "swept" / "stdout.log").write_text("")
    for run_dir in ["new/run", "empty", "swept"]:
        module.validate(module.Args(run_dir=str(tmp_path / run_dir)))


@pytest.mark.parametrize("script, argv, expected", [
    ("reinforce_cartpole.py", ["--num-envs", "0"], "--num-envs"),
    ("vpg_cartpole.py", ["--gamma", "2"], "--gamma"),
    ("ppo_cartpole.py", ["--num-minibatches", "0"], "--num-minibatches"),
    # 16 minibatches of 16 transitions: some of 1 (a NaN std) or 0; was "not finite; lower --learning-rate"
    ("ppo_cartpole.py", ["--num-envs", "2", "--num-steps", "8", "--total-steps", "16",
                         "--num-minibatches", "16"],
     "--num-minibatches must be 1 to a quarter of --num-envs x --num-steps, not 16"),
    # a continuous action space: refused with one line that names the argument and the space
    ("ppo_cartpole.py", ["--env-id", "Pendulum-v1"], "--env-id Pendulum-v1: the action space Box(-2.0, 2.0"),
    ("reinforce_cartpole.py", ["--env-id", "Pendulum-v1"], "action space Box"),
    *[(script, ["--env-id", "Nope-v0"], "--env-id Nope-v0: gymnasium has no such environment")
      for script in SCRIPTS],
    *[(script, ["--seed", "99999999999999999999"], "--seed must be in [0, 2**31)") for script in SCRIPTS],
    *[(script, ["--hidden-size", "0"], "--hidden-size") for script in SCRIPTS],
    *[(script, ["--seed", "-1"], "--seed") for script in SCRIPTS],
    ("vpg_cartpole.py", ["--value-steps", "-1"], "--value-steps"),
    ("ppo_cartpole.py", ["--target-kl", "-1"], "--target-kl"),
])
def test_bad_input_on_the_command_line(script, argv, expected, tmp_path):
    result = run_script(script, *argv, "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir()), "a run directory was created before the error"


def files_and_times(directory):
    """{name: (size, modification time in ns)} of every file under `directory`."""
    return {str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(directory.rglob("*"))}


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_run_dir_in_a_file_is_refused(script, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    for run_dir in [tmp_path / "a_file", tmp_path / "a_file" / "run"]:  # a traceback each, before
        result = run_script(script, *TINY, "--run-dir", str(run_dir))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: --run-dir") and len(result.stderr.strip().splitlines()) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["a_file"]
    assert (tmp_path / "a_file").read_text() == "not a directory"


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_a_finished_run_is_not_run_over(module, tmp_path):
    # Before: the second run added its own TensorBoard file beside the first's and wrote over summary.json.
    run_dir = tmp_path / "run"
    module.train(module.Args(num_envs=8, num_steps=32, total_steps=1024, run_dir=str(run_dir),
                             save_model=True))
    before = files_and_times(run_dir)
    assert {"summary.json", "model.pt"} <= set(before) and any(".tfevents." in name for name in before)
    result = run_script(f"{module.__name__}.py", *TINY, "--run-dir", str(run_dir), "--save-model")
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: --run-dir {run_dir} already holds a run: choose another --run-dir\n"
    assert files_and_times(run_dir) == before, "a file of the finished run was changed or added"


def test_ppo_runs_acrobot_with_its_sizes(tmp_path):
    # Acrobot: 6 observations, 3 actions, episodes of up to 500 steps. 2 envs x 1,024 steps
    # see at least two episodes end each.
    result = run_script("ppo_cartpole.py", "--env-id", "Acrobot-v1", "--num-envs", "2", "--num-steps", "64",
                        "--total-steps", "2048", "--run-dir", str(tmp_path / "a"), "--save-model")
    assert result.returncode == 0, result.stderr
    scalars = read_scalars(tmp_path / "a")
    returns, lengths = scalars["charts/episodic_return"], scalars["charts/episodic_length"]
    assert len(returns) >= 4 and [step for step, _ in returns] == [step for step, _ in lengths]
    # Acrobot pays -1 a step, 0 on the step that reaches the goal: an episode that reached it in l
    # steps returns -(l - 1); one cut at 500 steps returns -500 (-499 if the goal came on step 500)
    for (_, episode_return), (_, length) in zip(returns, lengths):
        assert episode_return in ((-500, -499) if length == 500 else (-(length - 1),))
    saved = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    assert saved["args"]["env_id"] == "Acrobot-v1"
    assert saved["policy"]["net.0.weight"].shape == (128, 6)  # sizes come from the env
    assert saved["policy"]["net.2.weight"].shape == (3, 128)
    assert saved["value"]["net.0.weight"].shape == (128, 6)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_documents_every_argument(script):
    result = run_script(script, "--help")
    assert result.returncode == 0
    for flag in ["--env-id", "--seed", "--num-envs", "--num-steps", "--total-steps", "--learning-rate",
                 "--gamma", "--hidden-size", "--run-dir", "--capture-video", "--save-model"]:
        assert flag in result.stdout
