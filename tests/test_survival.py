"""What a CartPole run leaves behind or stops on: a saved model that loads
weights-only and acts, the video of the final evaluation, and a clear stop on
non-finite numbers."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, run_script

import ppo_cartpole
import reinforce_cartpole
import vpg_cartpole

MODULES = [reinforce_cartpole, vpg_cartpole, ppo_cartpole]
IDS = ["reinforce", "vpg", "ppo"]


def small_args(module, tmp_path, **overrides):
    settings = dict(num_envs=8, num_steps=32, total_steps=8 * 32 * 12, seed=5, run_dir=str(tmp_path / "run"))
    return module.Args(**{**settings, **overrides})


def keep_networks(module, monkeypatch) -> dict:
    """{class name: the first network of that class train() builds}, kept as the run leaves it."""
    kept = {}
    for name in ("Policy", "Value"):
        if hasattr(module, name):
            original = getattr(module, name)

            class Kept(original):
                def __init__(self, *sizes, _name=name):
                    super().__init__(*sizes)
                    kept.setdefault(_name, self)  # the first: the one that trained

            monkeypatch.setattr(module, name, Kept)
    return kept


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_saved_model_loads_weights_only_and_acts(module, tmp_path, monkeypatch):
    Policy, Value = module.Policy, getattr(module, "Value", None)
    trained = keep_networks(module, monkeypatch)
    module.train(small_args(module, tmp_path, save_model=True, hidden_size=16))
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)  # no pickled code: plain types only
    assert saved["args"]["hidden_size"] == 16 and saved["args"]["env_id"] == "CartPole-v1"
    # the README's recipe: rebuild the network from the saved arguments, load, act
    policy = Policy(4, 2, saved["args"]["hidden_size"])
    policy.load_state_dict(saved["policy"])  # strict: every weight present, every shape right
    observations = 0.5 * torch.randn(100, 4, generator=torch.Generator().manual_seed(0))  # (100, O)
    with torch.no_grad():
        # it acts exactly as the run's policy did when it was saved: the same logits, the same actions
        assert torch.equal(policy.net(observations), trained["Policy"].net(observations))
        assert torch.equal(policy(observations).probs.argmax(-1),
                           trained["Policy"](observations).probs.argmax(-1))
        torch.manual_seed(5)  # the run's seed: the first network drawn after it is the run's initial policy
        initial = Policy(4, 2, 16)
        assert not torch.equal(policy.net(observations), initial.net(observations))  # trained, not initial
        if Value is not None:  # and the critic is the run's
            value = Value(4, 16)
            value.load_state_dict(saved["value"])
            assert torch.equal(value(observations), trained["Value"](observations))


def test_saved_model_recipe_runs_from_another_folder(tmp_path):
    # a copy of the script alone in an empty folder trains, saves, and the saved model acts
    folder = tmp_path / "alone"
    folder.mkdir()
    (folder / "ppo_cartpole.py").write_text((ROOT / "ppo_cartpole.py").read_text())
    train = subprocess.run([sys.executable, "ppo_cartpole.py", "--num-envs", "8", "--num-steps", "32",
                            "--total-steps", "2048", "--save-model", "--run-dir", "out"],
                           cwd=folder, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    recipe = (
        "import gymnasium as gym, json, torch\n"
        "from ppo_cartpole import Policy\n"
        "saved = torch.load('out/model.pt', weights_only=True)\n"
        "env = gym.make(saved['args']['env_id'])\n"
        "policy = Policy(env.observation_space.shape[0], env.action_space.n, saved['args']['hidden_size'])\n"
        "policy.load_state_dict(saved['policy'])\n"
        "obs, _ = env.reset(seed=0)\n"
        "action = policy(torch.as_tensor(obs)).probs.argmax().item()\n"
        "print(json.dumps({'obs': obs.tolist(), 'logits': policy.net(torch.as_tensor(obs)).tolist(),"
        " 'action': action}))\n"
    )
    act = subprocess.run([sys.executable, "-c", recipe], cwd=folder, capture_output=True, text=True,
                         timeout=120)
    assert act.returncode == 0, act.stderr
    acted = json.loads(act.stdout)
    # The saved weights applied by hand, in float64: logits = W2 relu(W1 obs + b1) + b2; the recipe's
    # policy must be that network, and act on its largest logit
    saved = {name: weight.double() for name, weight in
             torch.load(folder / "out" / "model.pt", weights_only=True)["policy"].items()}
    obs = torch.tensor(acted["obs"], dtype=torch.float64)
    hidden = (saved["net.0.weight"] @ obs + saved["net.0.bias"]).clamp(min=0)
    logits = saved["net.2.weight"] @ hidden + saved["net.2.bias"]  # (A,)
    assert acted["logits"] == pytest.approx(logits.tolist(), rel=1e-5, abs=1e-6)
    assert acted["action"] == logits.argmax().item()


def test_capture_video_films_the_evaluation(tmp_path):
    import imageio.v2 as imageio

    reinforce_cartpole.train(small_args(reinforce_cartpole, tmp_path, capture_video=True))
    videos = list((tmp_path / "run").glob("*.mp4"))
    assert [v.name for v in videos] == ["eval.mp4"]
    reader = imageio.get_reader(videos[0])
    frame = reader.get_data(0)
    assert reader.count_frames() > 5 and frame.shape == (400, 600, 3)
    # right way up: the track line is in the lower half, the sky (white) on top
    assert frame[:100].mean() > 250 and frame[200:].mean() < frame[:100].mean()


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_an_absurd_learning_rate_stops_as_non_finite(module, tmp_path):
    # Adam moves every weight by ~1e30 in one step: the weights stay finite (float32
    # reaches 3e38) but the logits overflow. That must stop the run like a NaN loss,
    # not as an error from deep inside torch.distributions at the next rollout.
    message = r"^step 256: loss or logits not finite; lower --learning-rate$"
    with pytest.raises(FloatingPointError, match=message):
        module.train(small_args(module, tmp_path, learning_rate=1e30))


def test_nan_loss_stops_at_its_step(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = reinforce_cartpole.reinforce_loss

    def poisoned(log_probs, returns):
        calls["n"] += 1
        loss = original(log_probs, returns)
        return loss * float("nan") if calls["n"] == 6 else loss

    monkeypatch.setattr(reinforce_cartpole, "reinforce_loss", poisoned)
    with pytest.raises(FloatingPointError, match=r"step 1536: loss or logits not finite"):
        reinforce_cartpole.train(small_args(reinforce_cartpole, tmp_path))


def test_non_finite_exits_1_from_the_command_line(tmp_path):
    result = run_script("vpg_cartpole.py", "--num-envs", "8", "--num-steps", "32", "--total-steps", "2048",
                        "--learning-rate", "1e30", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 1
    assert result.stderr == "error: step 256: loss or logits not finite; lower --learning-rate\n"
