"""Shared test helpers. The scripts live at the repository root as standalone
files, so the root goes on sys.path and tests import them as modules."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_script(script: str, *args: str, timeout: float = 300, env: dict | None = None):
    """Run a script from the command line, as a user would, from the repo root."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def read_scalars(run_path: Path) -> dict[str, list[tuple[int, float]]]:
    """All scalars of a TensorBoard run directory: {tag: [(step, value), ...]}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_path), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


@pytest.fixture
def cartpole_fixture():
    """The course notebook's fixture, drawn in exactly this order after seed 0."""
    import torch

    torch.manual_seed(0)
    states = torch.rand(10, 5, 4)
    actions = torch.randint(0, 1, (10, 5))
    rewards = torch.rand(10, 5)
    not_dones = torch.randint(0, 2, (10, 5))
    log_probs = torch.rand(10, 5)
    returns = torch.rand(10, 5)
    return states, actions, rewards, not_dones, log_probs, returns
