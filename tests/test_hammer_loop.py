"""ppo_hammer_bc_kl.py where the subtle things happen: the rollout loop (autoreset rows,
termination, truncation), the floor and the KL direction as train() applies them, the
epoch-accumulated optimizer step, and a resumed run continuing exactly where it stopped.

Most of these run train() in this process on stub environments and stub demonstrations
(no MuJoCo, no worker processes), so they are quick and exactly reproducible."""

import copy
import dataclasses

import numpy as np
import pytest
import torch
import tyro
from conftest import read_scalars, run_script

import ppo_hammer_bc_kl as hammer

O, A = 39, 4


# ==============================================================================
# Stubs: an environment whose every number is planted, and ParallelEnvs without processes
# ==============================================================================
class PlantedEnv:
    """Observation [episode step, episode count, 0...]; an episode ends after `length` steps,
    as a success (reward 1, terminated) or as a time limit (truncated). reset() plants -7 in the
    observation's last entry, so the first observation of an episode is recognisable."""

    def __init__(self, length: int, success: bool):
        self.length, self.success, self.episode, self.actions = length, success, -1, []

    def observation(self):
        obs = np.zeros(O)
        obs[0], obs[1] = self.k, self.episode
        return obs

    def reset(self):
        self.k, self.episode = 0, self.episode + 1
        obs = self.observation()
        obs[-1] = -7.0
        return obs, {}

    def step(self, action):
        self.actions.append(np.array(action))
        self.k += 1
        done = self.k == self.length
        reward = 1.0 if done and self.success else 0.0
        return self.observation(), reward, done and self.success, done and not self.success, {}


def start_state(envs):
    return {"next_obs": torch.as_tensor(np.stack([env.reset()[0] for env in envs]), dtype=torch.float32),
            "next_is_reset": torch.zeros(len(envs), dtype=torch.bool)}


def test_collect_rollout_masks_the_row_after_a_success_and_after_a_time_limit():
    envs = [PlantedEnv(length=3, success=True), PlantedEnv(length=2, success=False)]
    state = start_state(envs)
    T = 7
    obs, actions, log_probs, rewards, terminated, truncated, valid = hammer.collect_rollout(
        envs, hammer.Actor(O, A, 8), torch.zeros(T, 2, A), state)
    # env 0: steps at t = 0, 1, 2 end in a success; t = 3 is the autoreset row; t = 4, 5, 6 the next
    # episode, whose success at t = 6 makes the next rollout's first row an autoreset row.
    # env 1: steps at t = 0, 1 end at the time limit; t = 2 autoreset; t = 3, 4; t = 5 autoreset; t = 6.
    assert valid[:, 0].tolist() == [True, True, True, False, True, True, True]
    assert valid[:, 1].tolist() == [True, True, False, True, True, False, True]
    assert terminated[:, 0].tolist() == [False, False, True, False, False, False, True]
    assert not terminated[:, 1].any() and not truncated[:, 0].any()
    assert truncated[:, 1].tolist() == [False, True, False, False, True, False, False]
    assert rewards[:, 0].tolist() == [0, 0, 1, 0, 0, 0, 1] and not rewards[:, 1].any()
    # The autoreset row stores the episode's final observation (step 3 of episode 0) and the row
    # after it the new episode's first (the planted -7): NEXT_STEP, as gymnasium's vector envs.
    assert obs[3, 0, :2].tolist() == [3, 0] and obs[3, 0, -1] == 0
    assert obs[4, 0, :2].tolist() == [0, 1] and obs[4, 0, -1] == -7
    assert state["next_is_reset"].tolist() == [True, False]  # carried into the next rollout
    # The action of an autoreset row never reaches the environment: 7 rows, 6 and 5 real steps.
    assert (len(envs[0].actions), len(envs[1].actions)) == (6, 5)
    torch.testing.assert_close(torch.as_tensor(np.array(envs[0].actions[3]), dtype=torch.float32),
                               actions[4, 0])  # the env's 4th step got the 5th row's action
    assert log_probs.shape == (T, 2)


def test_the_worker_resets_after_a_real_success():
    """On the real hammer: the scripted expert drives the nail (a termination), and the next row of
    the worker's rollout is an autoreset row that starts a new episode with the hand back home."""
    import warnings

    from metaworld.policies import SawyerHammerV3Policy

    class Expert(torch.nn.Module):  # the expert as an actor: its action is the mean, std tiny
        def forward(self, obs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mean = np.clip([SawyerHammerV3Policy().get_action(o) for o in obs.double().numpy()], -1, 1)
            mean = torch.as_tensor(mean, dtype=torch.float32)
            return hammer.TruncatedNormal(mean, torch.full_like(mean, 1e-3))

    env = hammer.make_env(hammer.Args(seed=1, max_episode_steps=120), env_seed=2)
    try:
        state = start_state([env])
        home = state["next_obs"][0, :3].clone()
        obs, _, _, rewards, terminated, truncated, valid = hammer.collect_rollout(
            [env], Expert(), torch.zeros(100, 1, A), state)
    finally:
        env.close()
    ends = terminated[:, 0].nonzero().flatten().tolist()
    assert len(ends) == 1 and not truncated.any(), ends  # the expert needs 60-77 steps
    end = ends[0]
    assert rewards[end, 0] == 1 and rewards.sum() == 1
    assert valid[:end + 1, 0].all() and not valid[end + 1, 0] and valid[end + 2:, 0].all()
    assert (obs[end + 1, 0, :3] - home).norm() > 0.05  # the autoreset row: the final observation...
    torch.testing.assert_close(obs[end + 2, 0, :3], home, atol=1e-3, rtol=0)  # ...then a new episode


# ---- train() in this process, on stub envs and stub demos.
class BanditEnv:
    """No state and no end: the observation is fixed, the reward says how close action[0] is to 0.5.
    A resumed run on it sees exactly what an uninterrupted run sees."""

    def reset(self):
        return np.full(O, 0.1), {}

    def step(self, action):
        return np.full(O, 0.1), float(-abs(action[0] - 0.5)), False, False, {}


class StubEnvs:
    """ParallelEnvs in this process: collect_rollout over stub envs, scripted evaluations."""
    make = BanditEnv
    rollouts: list = []  # what every rollout returned, for the tests to read

    def __init__(self, args, num_envs):
        self.envs = [StubEnvs.make() for _ in range(num_envs)]
        self.state = start_state(self.envs)

    def rollout(self, actor, noise):
        result = (*hammer.collect_rollout(self.envs, actor, noise, self.state),
                  self.state["next_obs"].clone())
        StubEnvs.rollouts.append(result)
        return result

    def evaluate(self, actor, num_episodes, placements_seed=None):
        return 0.5, 0.5, 10.0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    """train() without MuJoCo: StubEnvs, and 16 stub demo transitions."""
    rng = np.random.default_rng(0)
    demos = {"obs": rng.normal(size=(16, O)).astype(np.float32),
             "actions": rng.uniform(-1, 1, size=(16, A)).astype(np.float32),
             "episode_lengths": np.array([16])}
    monkeypatch.setattr(hammer, "ParallelEnvs", StubEnvs)
    monkeypatch.setattr(hammer, "load_or_generate_demos", lambda args: demos)
    StubEnvs.rollouts = []
    return tmp_path


def stub_args(run_dir, *extra):
    return tyro.cli(hammer.Args, args=[
        "--total-steps", "96", "--num-envs", "2", "--num-steps", "8", "--minibatch-size", "8",
        "--update-epochs", "2", "--bc-steps", "5", "--hidden-size", "16", "--eval-every", "32",
        "--learning-rate", "1e-3", "--run-dir", str(run_dir), *extra])


def test_the_update_receives_only_real_transitions(stubbed, monkeypatch):
    monkeypatch.setattr(StubEnvs, "make", lambda: PlantedEnv(length=3, success=True))  # autoreset rows
    received = []
    original = hammer.ppo_update

    def recording(actor, critic, ref_actor, optimizer, batch, args, step=0):
        received.append({key: value.clone() for key, value in batch.items()})
        return original(actor, critic, ref_actor, optimizer, batch, args, step)

    monkeypatch.setattr(hammer, "ppo_update", recording)
    hammer.train(stub_args(stubbed / "run"))
    assert len(received) == len(StubEnvs.rollouts) == 6
    for batch, (obs, actions, log_probs, _, terminated, _, valid, _) in zip(
            received, StubEnvs.rollouts):
        assert 0 < valid.sum() < valid.numel()  # the rollout had autoreset rows...
        assert torch.equal(batch["obs"], obs[valid]) and torch.equal(batch["actions"], actions[valid])
        assert torch.equal(batch["log_probs"], log_probs[valid])
        assert not (batch["obs"][:, 0] == 3).any()  # ...and no final observation was trained on
        # Each real step's return: a success (reward 1, terminated) has the return 1 exactly.
        success_rows = (terminated & valid)[valid]
        torch.testing.assert_close(batch["returns"][success_rows], torch.ones(int(success_rows.sum())))


def test_train_floors_the_actor_and_the_reference_and_penalises_kl_to_the_reference(stubbed, monkeypatch):
    seen = []
    original = hammer.ppo_update

    def recording(actor, critic, ref_actor, optimizer, batch, args, step=0):
        with torch.no_grad():
            seen.append((actor.min_std, ref_actor.min_std, ref_actor(batch["obs"]).std.min().item()))
        return original(actor, critic, ref_actor, optimizer, batch, args, step)

    monkeypatch.setattr(hammer, "ppo_update", recording)
    hammer.train(stub_args(stubbed / "run", "--min-std", "0.95"))
    # The std head's outputs start spread around 1 and BC shrinks them; the floor lifts both policies.
    assert seen and all(actor == ref == 0.95 and ref_std >= 0.95 - 1e-6 for actor, ref, ref_std in seen)
    state = hammer.load_checkpoint(stubbed / "run")
    reference = hammer.Actor(O, A, 16)
    reference.load_state_dict(state["nets"]["reference"])
    reference.min_std = 1e-5
    with torch.no_grad():  # not vacuous: unfloored, the frozen BC policy's std is below the floor
        assert reference(torch.randn(1000, O)).std.min() < 0.95


@pytest.mark.parametrize("lengths, flags, limit", [
    ([40, 57, 45], [], 114),  # twice the longest demo, 2 x 57
    ([260, 70], [], 500),  # 2 x 260 = 520 is past Meta-World's own limit
    ([40, 57, 45], ["--max-episode-steps", "90"], 90),  # given: kept
])
def test_the_default_time_limit_is_twice_the_longest_demo(stubbed, monkeypatch, lengths, flags, limit):
    demos = hammer.load_or_generate_demos(None)  # the fixture's stub demos, with these episode lengths
    demos = {**demos, "episode_lengths": np.array(lengths)}
    monkeypatch.setattr(hammer, "load_or_generate_demos", lambda args: demos)
    seen, make_envs = [], StubEnvs.__init__

    def recording(self, args, num_envs):
        seen.append(args.max_episode_steps)
        make_envs(self, args, num_envs)

    monkeypatch.setattr(StubEnvs, "__init__", recording)
    hammer.train(stub_args(stubbed / "run", *flags))
    assert seen == [limit]  # what the envs were made with...
    assert hammer.load_checkpoint(stubbed / "run")["args"].max_episode_steps == limit  # resume reads it


def test_the_update_penalises_kl_from_the_policy_to_the_reference_not_the_reverse():
    # Actor and reference differ in mean and in std, so the two directions of the KL differ:
    # per dimension, KL(p || q) = log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2.
    # With s_p = 0.2, s_q = 0.1, m_p - m_q = 0.1 (4 dims): KL(p || q) = 4 * (log 0.5 + 0.05 / 0.02 - 0.5)
    # = 4 * 1.3069 = 5.2274; KL(q || p) = 4 * (log 2 + 0.02 / 0.08 - 0.5) = 4 * 0.4431 = 1.7726.
    policy = constant_actor([0.3] * 4, [0.2] * 4)
    reference = hammer.make_reference_policy(constant_actor([0.2] * 4, [0.1] * 4))
    critic = hammer.Critic(O, 8)
    M = 32
    batch = acted_batch(policy, torch.zeros(M, O), advantages=torch.zeros(M), returns=torch.zeros(M))
    args = hammer.Args(update_epochs=1, minibatch_size=M)
    optimizer = torch.optim.SGD([*policy.parameters(), *critic.parameters()], lr=0.0)
    logged = hammer.ppo_update(policy, critic, reference, optimizer, batch, args)
    assert logged["reverse_kl"] == pytest.approx(4 * (np.log(0.5) + 0.05 / 0.02 - 0.5), rel=1e-4)  # 5.2274


def acted_batch(actor, obs, advantages, returns):
    """A rollout batch in which `actor` took the actions: its old log-probs are its own."""
    with torch.no_grad():
        dist = actor(obs)
        actions = dist.sample()
        return {"obs": obs, "actions": actions, "log_probs": dist.log_prob(actions),
                "advantages": advantages, "returns": returns}


def constant_actor(mean, std):
    actor = hammer.Actor(O, A, 8)
    with torch.no_grad():
        actor.mean_head.weight.zero_()
        actor.mean_head.bias.copy_(torch.atanh(torch.tensor(mean)))
        actor.log_std_head.weight.zero_()
        actor.log_std_head.bias.copy_(torch.log(torch.tensor(std)))
    return actor


# ---- One optimizer step per minibatch (PPO paper, Algorithm 1), each on a clipped gradient.
def counted_update(epochs, minibatch_size, max_grad_norm, lr=1.0):
    torch.manual_seed(0)
    actor, critic = hammer.Actor(O, A, 16), hammer.Critic(O, 16)
    reference = hammer.make_reference_policy(actor)
    M = 64
    batch = acted_batch(actor, torch.randn(M, O), advantages=torch.randn(M), returns=torch.randn(M))
    parameters = [*actor.parameters(), *critic.parameters()]
    optimizer = torch.optim.SGD(parameters, lr=lr)
    changes = []
    original_step = optimizer.step

    def step(*a, **k):
        before = torch.cat([p.detach().flatten() for p in parameters])
        original_step(*a, **k)
        changes.append(torch.cat([p.detach().flatten() for p in parameters]) - before)

    optimizer.step = step
    args = hammer.Args(update_epochs=epochs, minibatch_size=minibatch_size, max_grad_norm=max_grad_norm)
    hammer.ppo_update(actor, critic, reference, optimizer, batch, args)
    return changes


def test_one_step_per_minibatch_in_every_epoch():
    # 64 transitions in minibatches of 16 (4), 3 epochs: 12 steps; of 24: 16, 16, 16 and the last 16 (3)
    assert len(counted_update(epochs=3, minibatch_size=16, max_grad_norm=1e9, lr=1e-3)) == 12
    assert len(counted_update(epochs=2, minibatch_size=24, max_grad_norm=1e9, lr=1e-3)) == 6


def test_every_step_follows_the_clipped_gradient():
    # SGD with lr 1 moves the parameters by exactly the clipped gradient: its norm is the clip.
    changes = counted_update(epochs=2, minibatch_size=32, max_grad_norm=1e-3)
    assert len(changes) == 4
    for change in changes:
        assert change.norm().item() == pytest.approx(1e-3, rel=1e-3)


def record_step_sizes(monkeypatch) -> list[float]:
    """The learning rate each ppo_update call runs with, in order."""
    seen, original = [], hammer.ppo_update

    def recording(actor, critic, ref_actor, optimizer, batch, args, step=0):
        seen.append(optimizer.param_groups[0]["lr"])
        return original(actor, critic, ref_actor, optimizer, batch, args, step)

    monkeypatch.setattr(hammer, "ppo_update", recording)
    return seen


# ---- Resume: the restored state is the saved one, and the run goes on exactly as if never stopped.
@pytest.mark.parametrize("flags, fractions", [
    ([], [1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]),  # 96 steps = 6 rollouts of 16: alpha (1 - (k - 1) / 6)
    (["--no-anneal-lr"], [1, 1, 1, 1, 1, 1]),
])
def test_the_step_size_falls_linearly_to_zero_over_the_run(stubbed, monkeypatch, flags, fractions):
    seen = record_step_sizes(monkeypatch)
    hammer.train(stub_args(stubbed / "run", *flags))  # --learning-rate 1e-3
    assert seen == pytest.approx([1e-3 * fraction for fraction in fractions])
    logged = [value for _, value in read_scalars(stubbed / "run")["charts/learning_rate"]]
    assert logged == pytest.approx(seen)  # TensorBoard shows the step size each update used


def test_a_resumed_run_continues_exactly_where_it_stopped(stubbed, monkeypatch):
    hammer.train(stub_args(stubbed / "whole"))
    whole = hammer.load_checkpoint(stubbed / "whole")

    # The same run, crashed in its 4th rollout: after the checkpoint at step 32 (iteration 2) and
    # after iteration 3 had logged its scalars at step 48, which the resumed run must not duplicate.
    original = StubEnvs.rollout

    def crash_in_the_fourth(self, actor, noise):
        if len(StubEnvs.rollouts) == 9:  # 6 rollouts of the whole run, then 3 of this one
            raise RuntimeError("planted crash")
        return original(self, actor, noise)

    monkeypatch.setattr(StubEnvs, "rollout", crash_in_the_fourth)
    with pytest.raises(RuntimeError, match="planted crash"):
        hammer.train(stub_args(stubbed / "crashed"))
    saved = hammer.load_checkpoint(stubbed / "crashed")
    assert (saved["global_step"], saved["iteration"], saved["next_eval"]) == (32, 2, 64)
    assert [step for step, _, _ in saved["eval_history"]] == [0, 32]
    assert 48 in [step for step, _ in read_scalars(stubbed / "crashed")["losses/policy_loss"]]

    # What train() restores is what was saved: networks, optimizer state, RNG states, schedule.
    restored = {}
    original_update = hammer.ppo_update

    def recording(actor, critic, ref_actor, optimizer, batch, args, step=0):
        if not restored:
            restored.update(actor=copy.deepcopy(actor.state_dict()),
                            critic=copy.deepcopy(critic.state_dict()),
                            optimizer=copy.deepcopy(optimizer.state_dict()))
        return original_update(actor, critic, ref_actor, optimizer, batch, args, step)

    monkeypatch.setattr(StubEnvs, "rollout", original)
    monkeypatch.setattr(hammer, "ppo_update", recording)
    torch.manual_seed(12345)  # a resumed run must not depend on the process's RNG state
    np.random.seed(12345)
    crashed = str(stubbed / "crashed")  # --resume alone: the saved arguments, as the command line reads them
    hammer.train(dataclasses.replace(hammer.load_checkpoint(crashed)["args"], resume=crashed))
    for name in ("actor", "critic"):
        for key, tensor in saved["nets"][name].items():
            assert torch.equal(restored[name][key], tensor), f"{name} {key}"
    for index, state in saved["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(restored["optimizer"]["state"][index][key], value), f"optimizer {index} {key}"

    # The resumed run ends exactly where the uninterrupted one did: weights, Adam, RNG, curve, logs.
    resumed = hammer.load_checkpoint(stubbed / "crashed")
    for name in ("actor", "critic", "reference"):
        for key, tensor in whole["nets"][name].items():
            assert torch.equal(resumed["nets"][name][key], tensor), f"{name} {key}"
    assert torch.equal(resumed["rng"]["torch"], whole["rng"]["torch"])
    assert resumed["eval_history"] == whole["eval_history"]
    for tag, values in read_scalars(stubbed / "whole").items():
        if tag != "charts/SPS":  # a clock
            resumed_values = read_scalars(stubbed / "crashed")[tag]
            assert [s for s, _ in resumed_values] == [s for s, _ in values], tag  # step 48 once, not twice
            assert [v for _, v in resumed_values] == pytest.approx([v for _, v in values]), tag


def test_the_same_seed_gives_the_same_run(stubbed):
    # With the update on two torch threads (--update-threads 2): still one seed, one curve.
    hammer.train(stub_args(stubbed / "a", "--update-threads", "2"))
    hammer.train(stub_args(stubbed / "b", "--update-threads", "2"))
    a, b = read_scalars(stubbed / "a"), read_scalars(stubbed / "b")
    for tag in a:
        if tag != "charts/SPS":  # a clock
            assert a[tag] == b[tag], tag
    histories = [hammer.load_checkpoint(stubbed / name)["eval_history"] for name in ("a", "b")]
    assert histories[0] == histories[1]


# ---- Resume as the command line reads it: the run's own arguments, a longer run, a finished run.
def finished_run(run_dir):
    """A finished 96-step run on the stub envs."""
    hammer.train(stub_args(run_dir))
    return {path.name: path.stat().st_mtime_ns for path in run_dir.iterdir()}


def test_a_longer_total_steps_continues_a_finished_run_without_demos(stubbed, monkeypatch):
    finished_run(stubbed / "run")
    monkeypatch.setattr(hammer, "load_or_generate_demos", lambda args: pytest.fail("demos made again"))
    seen = record_step_sizes(monkeypatch)
    path = str(stubbed / "run")
    longer = dataclasses.replace(hammer.load_checkpoint(path)["args"], resume=path, total_steps=160)
    summary = hammer.train(longer)
    assert summary["total_steps"] == 160  # 96 + 4 rollouts of 16
    assert [step for step, _, _ in hammer.load_checkpoint(path)["eval_history"]] == [0, 32, 64, 96, 128, 160]
    # the step size's linear decay is that of a 10-rollout run: alpha (1 - (k - 1) / 10) for k = 7..10
    assert seen == pytest.approx([1e-3 * (1 - k / 10) for k in range(6, 10)])


def test_a_resume_refuses_a_flag_that_changes_the_run_and_a_finished_run_changes_no_file(stubbed):
    before = finished_run(stubbed / "run")
    run = str(stubbed / "run")
    result = run_script("ppo_hammer_bc_kl.py", "--resume", run, "--hidden-size", "32", "--gamma", "0.99")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --resume continues {run} with its own arguments: drop --gamma 0.99 (the run has 0.995), "
        f"--hidden-size 32 (the run has 16)"]
    result = run_script("ppo_hammer_bc_kl.py", "--resume", run, "--num-steps", "8")  # the run's own value
    assert result.returncode == 0 and "is finished at step 96" in result.stdout, result.stderr
    result = run_script("ppo_hammer_bc_kl.py", "--resume", run, "--total-steps", "64")  # shorter: finished
    assert result.returncode == 0 and "a larger --total-steps continues it" in result.stdout, result.stderr
    assert {path.name: path.stat().st_mtime_ns for path in (stubbed / "run").iterdir()} == before


def test_a_run_stopped_between_its_last_checkpoint_and_its_summary_writes_it_when_resumed(stubbed):
    import json

    finished_run(stubbed / "run")
    summary = json.loads((stubbed / "run" / "summary.json").read_text())
    (stubbed / "run" / "summary.json").unlink()  # killed after the last checkpoint.pt, before this
    path = str(stubbed / "run")
    resumed = hammer.train(dataclasses.replace(hammer.load_checkpoint(path)["args"], resume=path))
    assert json.loads((stubbed / "run" / "summary.json").read_text()) == resumed
    for key in ["total_steps", "bc_success", "final_success", "best_success", "steps_to_solve"]:
        assert resumed[key] == summary[key], key
    assert resumed["steps_per_second"] is None  # no RL step in the process that wrote it
    again = hammer.train(dataclasses.replace(hammer.load_checkpoint(path)["args"], resume=path))
    assert again["finished"]  # and from then on it is finished


# ---- The two behaviours a user reads a run by: deterministic evaluation and the update's diagnostics.
class PlacedEnv:
    """Meta-World's placement interface over a 3-step episode that records the actions it is given."""

    def __init__(self):
        self.tasks, self.unwrapped, self.actions = ["p0", "p1"], self, []

    def get_wrapper_attr(self, name):
        return {"toggle_sample_tasks_on_reset": lambda on: None, "tasks": self.tasks}[name]

    def set_task(self, task):
        self.task = task

    def reset(self):
        self.k = 0
        return np.zeros(O), {}

    def step(self, action):
        self.actions.append(np.array(action))
        self.k += 1
        return np.zeros(O), float(self.k == 3), self.k == 3, False, {"success": self.k == 3}


def test_evaluation_acts_with_the_mean_action_not_a_sample():
    env = PlacedEnv()
    actor = constant_actor([0.3, -0.2, 0.1, 0.0], [0.9] * 4)  # wide: a sample would be far from the mean
    assert hammer.run_eval_episode(env, actor, placement=3) == (True, True, 3)
    assert env.task == "p1"  # placement 3 of 2: placement 3 mod 2
    for action in env.actions:  # tanh(atanh(m)) = m, every step, not m + 0.9 * noise
        np.testing.assert_allclose(action, [0.3, -0.2, 0.1, 0.0], atol=1e-6)


def test_the_update_logs_ppo_diagnostics_on_hand_worked_numbers():
    # Two transitions whose rollout policy differed from the current one by the ratios r = 1.5 and 0.9
    # (log pi_old = log pi_new - ln r), advantages +1 and -1, one epoch of one minibatch: the
    # diagnostics are those of the only minibatch, computed before its step.
    actor = constant_actor([0.0] * 4, [1.0] * 4)  # N(0, 1) per dimension
    reference = hammer.make_reference_policy(actor)
    critic = hammer.Critic(O, 8)
    with torch.no_grad():
        critic.net[-1].weight.zero_()
        critic.net[-1].bias.fill_(0.5)  # V(s) = 0.5
    new_log_prob = 4 * -0.5 * np.log(2 * np.pi)  # action 0 under N(0, 1), 4 dimensions: -3.675754
    batch = {"obs": torch.zeros(2, O), "actions": torch.zeros(2, A),
             "log_probs": torch.tensor([new_log_prob - np.log(1.5), new_log_prob - np.log(0.9)]).float(),
             "advantages": torch.tensor([1.0, -1.0]), "returns": torch.tensor([1.0, 0.0])}
    optimizer = torch.optim.SGD([*actor.parameters(), *critic.parameters()], lr=0.0)
    logged = hammer.ppo_update(actor, critic, reference, optimizer, batch,
                               hammer.Args(update_epochs=1, minibatch_size=2))
    # policy: -(min(1.5, 1.2) * 1 + min(-0.9, -0.9)) / 2 = -(1.2 - 0.9) / 2 = -0.15
    assert logged["policy_loss"] == pytest.approx(-0.15, abs=1e-5)
    assert logged["value_loss"] == pytest.approx(((0.5 - 1) ** 2 + 0.5**2) / 2, abs=1e-6)  # 0.25
    assert logged["entropy"] == pytest.approx(4 * (0.5 + 0.5 * np.log(2 * np.pi)), abs=1e-5)  # 5.675754
    # approx_kl = mean((r - 1) - ln r) = ((0.5 - 0.405465) + (-0.1 + 0.105361)) / 2 = 0.0499478
    assert logged["approx_kl"] == pytest.approx(0.0499478, abs=1e-5)
    # old_approx_kl = mean(-ln r) = (-0.405465 + 0.105361) / 2 = -0.1500523
    assert logged["old_approx_kl"] == pytest.approx(-0.1500523, abs=1e-5)
    assert logged["clipfrac"] == 0.5  # |1.5 - 1| > 0.2, |0.9 - 1| is not
    assert logged["reverse_kl"] == pytest.approx(0.0, abs=1e-7)  # the actor is its own reference
