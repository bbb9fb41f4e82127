"""ppo_hammer_bc_kl.py copied onto a task that is not Meta-World, as README "Use it on your own task"
says: its Meta-World import removed, its Environment section replaced, demonstrations from a file.

The task, defined here: a point mass on a plane that must reach a goal. It has 50 placements (start,
goal), drawn from --seed like Meta-World's, and logs every placement the evaluation asks for, so the
test sees that evaluation plays each placement once. No MuJoCo: the copy never imports Meta-World, and
its scripted expert refuses to run, so the run can only learn from the demonstrations it is given."""

import json
import re

import numpy as np
import pytest
from conftest import ROOT, read_scalars, run_script

POINT_MASS = '''# ==== Environment ==============================================================
# The task: a point mass on a plane must reach a goal (README, Use it on your own task).
TASKS = ["point-mass"]
OBS_SIZE, ACTION_SIZE = 4, 2  # position and goal (x, y); a velocity command (x, y)
MAX_PATH_LENGTH = 200


class PointMass(gym.Env):
    """Position p, goal g in [-1, 1]^2; the action v in [-1, 1]^2 moves p by 0.1 v. It succeeds when
    |p - g| < 0.1: reward 1, terminated, info["success"]. Each reset draws one of 50 (start, goal)
    placements, fixed by the seed; reset_to_placement picks one."""

    def __init__(self, seed: int, env_seed: int, max_steps: int):
        self.placements = np.random.default_rng(seed).uniform(-0.8, 0.8, size=(50, 4))
        self.rng, self.max_steps = np.random.default_rng(env_seed), max_steps
        self.seed, self.chosen = seed, None  # the placements' seed (logged); the next reset's placement
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (4,))
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,))

    def reset(self, *, seed=None, options=None):
        k = self.rng.integers(50) if self.chosen is None else self.chosen
        self.position, self.goal = self.placements[k, :2].copy(), self.placements[k, 2:]
        self.t, self.chosen = 0, None
        return np.concatenate([self.position, self.goal]), {}

    def step(self, action):
        self.position = np.clip(self.position + 0.1 * np.clip(action, -1.0, 1.0), -1.0, 1.0)
        self.t += 1
        success = bool(np.linalg.norm(self.position - self.goal) < 0.1)
        truncated = self.t >= self.max_steps and not success
        obs = np.concatenate([self.position, self.goal])
        return obs, float(success), success, truncated, {"success": success}


def make_env(args: Args, env_seed: int, render: bool = False) -> gym.Env:
    return PointMass(args.seed, env_seed, args.max_episode_steps or MAX_PATH_LENGTH)


def reset_to_placement(env: gym.Env, placement: int) -> np.ndarray:
    with open(os.environ["PLACEMENT_LOG"], "a") as log:  # the test reads which placements were played
        log.write(f"{env.seed} {placement % 50}\\n")
    env.chosen = placement % 50
    return env.reset()[0]


def scripted_expert(args: Args, obs: np.ndarray) -> np.ndarray:
    raise ValueError("this task has no scripted expert: give --demos")


'''


def own_task_script(original: str) -> str:
    """The copy: the Meta-World import block and the Environment section replaced, nothing else."""
    import_block = r"\ntry:  # the task's import.*?\nexcept Exception as error:\n    sys.exit\([^\n]*\n"
    copy, imports = re.subn(import_block, "\n", original, flags=re.S)
    section = r"# ==== Environment =+\n.*?(?=# ==== Demonstrations)"
    copy, sections = re.subn(section, lambda _: POINT_MASS, copy, flags=re.S)
    assert (imports, sections) == (1, 1), "the script's import block or Environment section moved"
    return copy


def expert(obs: np.ndarray) -> np.ndarray:
    """Straight to the goal at 0.7 of full speed, slowing down within 0.1 of it."""
    offset = obs[2:] - obs[:2]
    return 0.7 * offset / max(np.linalg.norm(offset), 0.1)


def write_demos(path, num_episodes: int, seed: int = 1) -> None:
    """Expert episodes from random starts to random goals (not the task's placements), noise on the
    executed action as the script's own demos have: obs (D, 4), actions (D, 2), episode_lengths (E,)."""
    rng = np.random.default_rng(seed)
    obs, actions, lengths = [], [], []
    for _ in range(num_episodes):
        position, goal = rng.uniform(-0.8, 0.8, size=(2, 2))
        for t in range(200):  # noqa: B007  (t: the episode's length)
            observation = np.concatenate([position, goal])
            obs.append(observation)
            actions.append(expert(observation))
            executed = np.clip(actions[-1] + 0.3 * rng.standard_normal(2), -1, 1)
            position = np.clip(position + 0.1 * executed, -1, 1)
            if np.linalg.norm(position - goal) < 0.1:
                break
        lengths.append(t + 1)
    np.savez(path, obs=np.array(obs, dtype=np.float32), actions=np.array(actions, dtype=np.float32),
             episode_lengths=np.array(lengths))


FLAGS = ["--env-name", "point-mass", "--num-workers", "1", "--num-envs", "8", "--num-steps", "128",
         "--minibatch-size", "256", "--hidden-size", "64", "--bc-steps", "300", "--eval-every", "16384",
         "--learning-rate", "1e-3",
         "--max-episode-steps", "60"]  # the time limit's default, twice the longest demo, is too short here


@pytest.fixture
def own_task(tmp_path):
    script = tmp_path / "my_task.py"
    script.write_text(own_task_script((ROOT / "ppo_hammer_bc_kl.py").read_text()))
    write_demos(tmp_path / "demos.npz", num_episodes=8)
    return tmp_path


def run(own_task, *args):
    log = own_task / "placements.log"
    result = run_script(str(own_task / "my_task.py"), *args, timeout=300,
                        env={**__import__("os").environ, "PLACEMENT_LOG": str(log)})
    assert result.returncode == 0, result.stderr
    played = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return result, [(int(seed), int(k)) for seed, k in zip(played[::2], played[1::2])]


def test_a_copy_learns_a_task_that_is_not_meta_world_from_demos_in_a_file(own_task):
    script = (own_task / "my_task.py").read_text()
    assert "metaworld" not in script and "ENV_POLICY_MAP" not in script

    # BC from 8 demos, then PPO on the success reward: 81,920 steps, evaluations at 0, 16k, ..., 80k.
    run_dir = own_task / "run"
    result, played = run(own_task, *FLAGS, "--demos", str(own_task / "demos.npz"), "--total-steps", "81920",
                         "--run-dir", str(run_dir))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["bc_success"] < 0.6 and summary["final_success"] >= summary["bc_success"] + 0.3, summary
    # Every evaluation plays each of the seed's 50 placements once; the last one, seed 1001's too.
    evaluations = [step for step, _ in read_scalars(run_dir)["eval/episode_success"]]
    assert evaluations == [0, 16384, 32768, 49152, 65536, 81920]
    assert sorted(played) == sorted([(1, k) for k in range(50)] * 6 + [(1001, k) for k in range(50)])
    assert summary["heldout_success"] is not None

    # Resume to a longer run: it goes on from the checkpoint, with the demos it no longer needs.
    (own_task / "demos.npz").unlink()
    result, played = run(own_task, "--resume", str(run_dir), "--total-steps", "98304")
    longer = json.loads((run_dir / "summary.json").read_text())
    assert "resumed" in result.stdout and longer["total_steps"] == 98304
    assert longer["bc_success"] == summary["bc_success"]  # the curve goes on from the checkpoint
    assert sorted(played) == sorted([(1, k) for k in range(50)] + [(1001, k) for k in range(50)])

    # The best policy, evaluated from its file.
    result, played = run(own_task, "--eval-only", "--resume", str(run_dir / "best.pt"))
    best = json.loads((run_dir / "summary.json").read_text())["best_success"]
    assert f": success {best:.2f}" in result.stdout, result.stdout  # the same 50 placements, the same policy
    assert sorted(played) == [(1, k) for k in range(50)]
