"""Film a saved policy of ppo_hammer_bc_kl.py: mean-action episodes from the task's first placements,
one MP4 each, rendered headless (MUJOCO_GL=egl on a machine without a display).

    python benchmarks/hammer_video.py runs/<run>/best.pt                # 3 episodes into runs/<run>/videos/
    python benchmarks/hammer_video.py runs/<run> --episodes 5 --out clips  # checkpoint.pt, 5 episodes
    python benchmarks/hammer_video.py policies/hammer-v3_seed1.pt --gif docs/hammer_policy.gif  # the README's

The episodes are those the run's evaluation plays (placement k for episode k, the run's --seed), with
the script's own environment and actor; each file is named by its placement and its outcome.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # before MuJoCo is imported: headless rendering on a CPU machine
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import imageio.v2 as imageio  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import ppo_hammer_bc_kl as hammer  # noqa: E402

FPS = 30
GIF_EVERY, GIF_SIZE = 2, 160  # the README's animation: every other frame, 160 x 160 pixels (small to load)


def film(checkpoint: str | Path, num_episodes: int = 3, out: Path | None = None,
         gif: Path | None = None) -> list[Path]:
    """Film num_episodes mean-action episodes of the checkpoint's actor; returns the MP4 paths, or with
    gif, writes the episodes one after another as one small looping animated GIF and returns [gif]."""
    state = hammer.load_checkpoint(checkpoint)
    actor = hammer.Actor(state["obs_size"], state["action_size"], state["args"].hidden_size)
    actor.load_state_dict(state["nets"]["actor"])
    out = Path(out or state["run_dir"] / "videos")
    (gif.parent if gif else out).mkdir(parents=True, exist_ok=True)
    env = hammer.make_env(state["args"], env_seed=state["args"].seed + 20_000, render=True)
    paths, animation = [], []  # animation: (GIF_SIZE, GIF_SIZE, 3) frames of every episode
    try:
        for placement in range(num_episodes):
            obs, frames = hammer.reset_to_placement(env, placement), []
            while True:  # the time limit guarantees an end
                frames.append(env.render()[::-1])  # (H, W, 3); MuJoCo's rows come bottom-up from this camera
                with torch.no_grad():
                    action = actor(torch.as_tensor(obs, dtype=torch.float32)).mean  # (A,), as evaluation acts
                obs, reward, terminated, truncated, _ = env.step(action.numpy())
                if terminated or truncated:
                    frames.append(env.render()[::-1])  # the last frame too
                    break
            if gif:
                animation += [shrink(frame) for frame in frames[::GIF_EVERY]]
                continue
            paths.append(out / f"eval_placement{placement}_{'success' if reward > 0 else 'failure'}.mp4")
            imageio.mimwrite(paths[-1], frames, fps=FPS, macro_block_size=1)  # any frame size
    finally:
        env.close()  # an open EGL context prints an error at exit
    if gif:  # ms per frame: about the episodes' own speed (a GIF counts in 10 ms); loop=0: forever
        imageio.mimwrite(gif, animation, duration=round(1000 * GIF_EVERY / FPS, -1), loop=0)
        return [gif]
    return paths


def shrink(frame):
    """A (H, W, 3) frame resized to (GIF_SIZE, GIF_SIZE, 3) by area averaging (PIL: matplotlib brings it)."""
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((GIF_SIZE, GIF_SIZE), Image.Resampling.BOX))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="best.pt, checkpoint.pt, or a run directory (its checkpoint.pt)")
    parser.add_argument("--episodes", type=int, default=3, help="episodes to film, from placement 0 on")
    parser.add_argument("--out", type=Path, help="folder for the MP4s (default: the run's videos/)")
    parser.add_argument("--gif", type=Path, help="write the episodes as one animated GIF here instead")
    options = parser.parse_args()
    if options.episodes < 1:
        parser.error("--episodes must be at least 1")
    try:
        paths = film(options.checkpoint, options.episodes, options.out, options.gif)
    except ValueError as error:  # not a checkpoint of the script: one line
        sys.exit(f"error: {error}")
    print("\n".join(str(path) for path in paths))


if __name__ == "__main__":
    main()
