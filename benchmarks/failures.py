"""Where a saved policy of ppo_hammer_bc_kl.py fails: replay its evaluation (the mean action from each of
the task's placements) and say, for every failed episode, how far it got: the hand near the object
("reach"), the object grasped ("grasp"), the object at its goal. Distances come from the observation
(Meta-World v3: hand 0-2, the first object 4-6, the goal 36-38), the grasp from info["grasp_success"];
whether the scripted expert succeeds from the same placement; and how often the policy does with its
actions sampled, as in training (--samples episodes per placement): where the mean action fails and
sampled ones succeed, the policy knows the way and its mean misses it.

    python benchmarks/failures.py runs/<run>                 # its checkpoint.pt, 50 placements
    python benchmarks/failures.py runs/<run>/best.pt --episodes 20
    python benchmarks/failures.py runs/<run> --save          # also <run>/failures.csv, for make_docs.py

One line per failed placement, then the failures counted by the last stage they reached. On a task whose
goal is not to carry the object (a button, a handle), read the distances rather than the stage.
"""

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402

import ppo_hammer_bc_kl as hammer  # noqa: E402

REACHED = 0.05  # the hand within 5 cm of the object counts as having reached it


def load_actor(checkpoint: str | Path) -> tuple["hammer.Args", "hammer.Actor"]:
    """The run's arguments and its policy, with the std floor that training sampled with (--min-std)."""
    state = hammer.load_checkpoint(checkpoint)
    args = state["args"]
    actor = hammer.Actor(state["obs_size"], state["action_size"], args.hidden_size)
    actor.load_state_dict(state["nets"]["actor"])
    actor.min_std = max(args.min_std, 1e-5)  # as train() sets it: a new Actor has BC's floor
    return args, actor


def replay(checkpoint: str | Path, num_episodes: int = 50, samples: int = 2) -> list[dict]:
    """Each evaluation episode: placement, success, length, and over the episode the hand's closest
    distance to the object, whether it ever grasped it, and the object's closest distance to the goal;
    then whether the task's scripted expert (its own actions, no noise) succeeds from that placement in
    the same time limit: where it does not, the demos could not show the way; and the fraction of
    `samples` episodes with sampled actions (seeded by the run's seed) that succeed from it."""
    args, actor = load_actor(checkpoint)

    @torch.no_grad()
    def policy(obs: np.ndarray) -> np.ndarray:  # (A,): the mean action, as evaluation acts
        return actor(torch.as_tensor(obs, dtype=torch.float32)).mean.numpy()

    @torch.no_grad()
    def sampled(obs: np.ndarray) -> np.ndarray:  # (A,): drawn from the policy, as training acts
        return actor(torch.as_tensor(obs, dtype=torch.float32)).sample().numpy()

    torch.manual_seed(args.seed)

    env = hammer.make_env(args, env_seed=args.seed + 20_000)
    episodes = []
    try:
        for placement in range(num_episodes):
            success, infos, seen = play(env, placement, policy)
            episodes.append({
                "placement": placement, "success": success, "length": len(infos),
                "hand_to_object": np.linalg.norm(seen[:, 0:3] - seen[:, 4:7], axis=1).min(),
                "grasped": any(info.get("grasp_success", False) for info in infos),
                "object_to_goal": np.linalg.norm(seen[:, 4:7] - seen[:, 36:39], axis=1).min(),
                "expert_success": play(env, placement, lambda obs: hammer.scripted_expert(args, obs))[0],
                "sampled_success": np.mean([play(env, placement, sampled)[0] for _ in range(samples)])
                if samples else None})
    finally:
        env.close()
    return episodes


def play(env, placement: int, act) -> tuple[bool, list[dict], np.ndarray]:
    """One episode from the placement, acting act(obs): success, each step's info, the observations."""
    obs, infos, seen = hammer.reset_to_placement(env, placement), [], []
    while True:  # the time limit guarantees an end
        seen.append(obs)
        obs, reward, terminated, truncated, info = env.step(act(obs))
        infos.append(info)
        if terminated or truncated:
            return reward > 0, infos, np.array([*seen, obs])  # (length + 1, O)


def stage(episode: dict) -> str:
    """The last stage a failed episode reached."""
    if episode["grasped"]:
        return "grasped it, not to the target"
    if episode["hand_to_object"] > REACHED:  # the object's position is not always where it is grasped
        return "never reached the object"
    return "reached it, never grasped it"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="best.pt, checkpoint.pt, or a run directory (its checkpoint.pt)")
    parser.add_argument("--episodes", type=int, default=50, help="placements to replay, from 0 on")
    parser.add_argument("--samples", type=int, default=2,
                        help="episodes per placement with sampled actions (0: none)")
    parser.add_argument("--save", action="store_true",
                        help="write every episode to failures.csv beside the checkpoint")
    options = parser.parse_args()
    if options.episodes < 1 or options.samples < 0:
        parser.error(f"--episodes must be >= 1 and --samples >= 0 "
                     f"(got {options.episodes}, {options.samples})")
    try:
        episodes = replay(options.checkpoint, options.episodes, options.samples)
    except ValueError as error:  # not a checkpoint of the script: one line
        sys.exit(f"error: {error}")
    failed = [episode for episode in episodes if not episode["success"]]
    print(f"{len(episodes) - len(failed)} of {len(episodes)} placements succeed"
          + (f"; with sampled actions {np.mean([e['sampled_success'] for e in episodes]):.2f} of "
             f"{options.samples} x {len(episodes)} episodes" if options.samples else ""))
    print("| placement | length | hand to object, closest (cm) | grasped | object to goal, closest (cm) "
          "| stage | the expert succeeds | sampled actions succeed |")
    print("|---:|---:|---:|---|---:|---|---|---:|")
    for e in failed:
        print(f"| {e['placement']} | {e['length']} | {100 * e['hand_to_object']:.1f} | "
              f"{'yes' if e['grasped'] else 'no'} | {100 * e['object_to_goal']:.1f} | {stage(e)} | "
              f"{'yes' if e['expert_success'] else 'no'} | "
              f"{'-' if e['sampled_success'] is None else format(e['sampled_success'], '.2f')} |")
    for name in dict.fromkeys(stage(e) for e in failed):
        print(f"{sum(stage(e) == name for e in failed)} {name}")
    if options.save:
        path = Path(options.checkpoint)
        path = (path if path.is_dir() else path.parent) / "failures.csv"
        save(episodes, path)
        print(f"wrote {path}")


def save(episodes: list[dict], path: Path) -> None:
    """One row per placement; distances in metres, rounded to 0.1 mm; stage empty on a success;
    sampled_success empty when none were played."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["placement", "success", "length", "hand_to_object", "grasped", "object_to_goal",
                         "stage", "expert_success", "sampled_success"])
        writer.writerows([e["placement"], int(e["success"]), e["length"], f"{e['hand_to_object']:.4f}",
                          int(e["grasped"]), f"{e['object_to_goal']:.4f}", "" if e["success"] else stage(e),
                          int(e["expert_success"]),
                          "" if e["sampled_success"] is None else f"{e['sampled_success']:.4g}"]
                         for e in episodes)


if __name__ == "__main__":
    main()
