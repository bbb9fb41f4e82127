"""Runs that survive: checkpoints, resume, interruption, non-finite values,
evaluation and video from a saved policy (CartPole scripts)."""

import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, read_scalars, run_script

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole

MODULES = [reinforce_cartpole, vpg_cartpole, ppo_cartpole]
IDS = ["reinforce", "vpg", "ppo"]
# the function each script calls exactly once per iteration, between rollout and update
PER_ITERATION = {reinforce_cartpole: "discounted_returns", vpg_cartpole: "discounted_returns",
                 ppo_cartpole: "compute_gae"}
TIMING_TAGS = ("charts/SPS", "perf/")  # wall-clock: legitimately different between runs


def small_args(module, tmp_path, name, **overrides):
    settings = dict(num_envs=8, num_steps=32, total_steps=8 * 32 * 12, seed=5, eval_episodes=2,
                    run_dir=str(tmp_path), run_name=name, checkpoint_every=0)
    return module.Args(**{**settings, **overrides})


def interrupt_at_iteration(monkeypatch, module, iteration, signal_number=signal.SIGINT):
    """Deliver a real signal to this process in the middle of iteration `iteration`."""
    name = PER_ITERATION[module]
    original = getattr(module, name)
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == iteration:
            signal.raise_signal(signal_number)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_stopped_and_resumed_run_logs_the_same_numbers(module, tmp_path, monkeypatch):
    module.train(small_args(module, tmp_path, "straight"))

    interrupt_at_iteration(monkeypatch, module, iteration=5)
    summary = module.train(small_args(module, tmp_path, "stopped"))
    assert summary["interrupted"] == signal.SIGINT
    assert summary["total_steps"] == 5 * 8 * 32  # finished the iteration it was in
    monkeypatch.undo()
    module.train(module.Args(resume=str(tmp_path / "stopped")))

    straight, resumed = read_scalars(tmp_path / "straight"), read_scalars(tmp_path / "stopped")
    tags = [t for t in straight if not t.startswith(TIMING_TAGS)]
    assert set(tags) == {t for t in resumed if not t.startswith(TIMING_TAGS)}
    for tag in tags:
        assert resumed[tag] == straight[tag], f"{tag} differs after resume"


def test_sigterm_also_checkpoints(tmp_path, monkeypatch):
    interrupt_at_iteration(monkeypatch, reinforce_cartpole, 2, signal.SIGTERM)
    summary = reinforce_cartpole.train(small_args(reinforce_cartpole, tmp_path, "term"))
    assert summary["interrupted"] == signal.SIGTERM
    assert (tmp_path / "term" / "checkpoint.pt").exists()


def test_sigint_to_a_running_process(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "ppo_cartpole.py"), "--total-steps", "50000000",
         "--run-dir", str(tmp_path), "--run-name", "live"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert "step" in process.stdout.readline()  # training has started (first progress line)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stdout and "Traceback" not in stderr
    state = ppo_cartpole.load_checkpoint(tmp_path / "live")
    assert state["global_step"] > 0


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    reinforce_cartpole.save_checkpoint(path, {"script": "reinforce_cartpole", "step": 1})

    def crash_mid_write(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a check")  # a partial file, then the machine "dies"
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError):
        reinforce_cartpole.save_checkpoint(path, {"script": "reinforce_cartpole", "step": 2})
    monkeypatch.undo()
    assert reinforce_cartpole.load_checkpoint(path)["step"] == 1  # the old one, intact


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = reinforce_cartpole.reinforce_loss

    def poisoned(log_probs, returns):
        calls["n"] += 1
        loss = original(log_probs, returns)
        return loss * float("nan") if calls["n"] == 6 else loss

    monkeypatch.setattr(reinforce_cartpole, "reinforce_loss", poisoned)
    args = small_args(reinforce_cartpole, tmp_path, "nan", checkpoint_every=8 * 32 * 2)
    with pytest.raises(FloatingPointError, match=r"loss is not finite at step 1,536"):
        reinforce_cartpole.train(args)
    state = reinforce_cartpole.load_checkpoint(tmp_path / "nan")
    assert state["global_step"] == 8 * 32 * 4  # the last good one, before the NaN
    assert all(torch.isfinite(p).all() for p in state["nets"]["policy"].values())


def test_non_finite_exits_nonzero_from_main(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reinforce_cartpole, "reinforce_loss", lambda lp, r: (lp * r).mean() / 0 * 0)
    monkeypatch.setattr(sys, "argv", ["reinforce_cartpole.py", "--num-envs", "8", "--num-steps", "32",
                                      "--total-steps", "2048", "--run-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        reinforce_cartpole.main()
    assert exit_info.value.code == 1
    assert "loss is not finite at step 256" in capsys.readouterr().err


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_an_absurd_learning_rate_stops_as_non_finite(module, tmp_path):
    # Adam moves every weight by ~1e30 in one step: the weights stay finite (float32
    # reaches 3e38) but the logits overflow. That must stop the run like a NaN loss,
    # not as a validation error from deep inside torch.distributions.
    with pytest.raises(FloatingPointError, match=r"not finite at step .*--learning-rate"):
        module.train(small_args(module, tmp_path, "absurd", learning_rate=1e30))


def test_eval_only_reports_a_confidence_interval(tmp_path):
    reinforce_cartpole.train(small_args(reinforce_cartpole, tmp_path, "e"))
    result = run_script("reinforce_cartpole.py", "--eval-only", "--resume", str(tmp_path / "e"),
                        "--eval-episodes", "5")
    assert result.returncode == 0, result.stderr
    assert "5 episodes" in result.stdout and "95% CI" in result.stdout


def test_capture_video_writes_frames(tmp_path):
    import imageio.v2 as imageio

    reinforce_cartpole.train(small_args(reinforce_cartpole, tmp_path, "v", capture_video=True))
    videos = sorted((tmp_path / "v" / "videos").glob("*.mp4"))
    assert len(videos) == 2  # eval_episodes=2, both filmed
    reader = imageio.get_reader(videos[0])
    frame = reader.get_data(0)
    assert reader.count_frames() > 5 and frame.shape == (400, 600, 3)
    # right way up: the track line is in the lower half, the sky (white) on top
    assert frame[:100].mean() > 250 and frame[200:].mean() < frame[:100].mean()


def test_checkpoint_from_another_script_is_refused(tmp_path):
    ppo_cartpole.train(small_args(ppo_cartpole, tmp_path, "p"))
    result = run_script("reinforce_cartpole.py", "--resume", str(tmp_path / "p"))
    assert result.returncode == 2
    assert "written by ppo_cartpole, not by reinforce_cartpole" in result.stderr
    assert "Traceback" not in result.stderr


def test_checkpoint_with_another_network_shape_is_refused(tmp_path):
    reinforce_cartpole.train(small_args(reinforce_cartpole, tmp_path, "s", hidden_size=16))
    path = tmp_path / "s" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    state["args"]["hidden_size"] = 32  # the arguments no longer match the weights
    torch.save(state, path)
    with pytest.raises(ValueError, match="policy network .* does not fit"):
        reinforce_cartpole.train(reinforce_cartpole.Args(resume=str(path)))
