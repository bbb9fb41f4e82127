"""The published Meta-World results that the 50-task table is set beside, written to
benchmarks/results/published/metaworld.csv: for TD-MPC2, TD-MPC, SAC and DreamerV3, each task's success
at 500k and at 1M of their steps, one row per seed.

    git clone https://github.com/nicklashansen/tdmpc2 tdmpc2      # the results were read at commit e9f5932
    python benchmarks/published_metaworld.py tdmpc2/results

The source: the per-task files that TD-MPC2 (Hansen, Su and Wang, "TD-MPC2: Scalable, Robust World Models
for Continuous Control", ICLR 2024) publishes with its code, results/<method>/mw-<task>.csv, one row per
seed and evaluation (step, success, seed). Their setup is not this project's: Meta-World v2, a shaped
dense reward, no demonstrations, a new random placement every episode, each action repeated twice (one
of their steps is two simulator steps) in episodes of 100 actions, success read at an episode's last
step, 10 evaluation episodes. Exit code: 0; 2 if the folder does not hold the 4 x 50 files.
"""

import argparse
import csv
import sys
from pathlib import Path

METHODS = {"tdmpc2": "TD-MPC2", "tdmpc": "TD-MPC", "sac": "SAC", "dreamerv3": "DreamerV3"}
STEPS = (500_000, 1_000_000)
OUT = Path(__file__).resolve().parent / "results" / "published" / "metaworld.csv"


def read(results: Path) -> list[dict]:
    rows = []
    for folder, method in METHODS.items():
        files = sorted((results / folder).glob("mw-*.csv"))
        if len(files) != 50:
            raise SystemExit(f"error: {results / folder} holds {len(files)} mw-*.csv files, not 50: "
                             "give the results folder of a tdmpc2 checkout")
        for path in files:
            with open(path) as file:
                evals = list(csv.DictReader(file))
            rows += [{"method": method, "task": path.stem.removeprefix("mw-") + "-v3", "step": step,
                      "seed": int(row["seed"]), "success": float(row["success"])}
                     for step in STEPS for row in sorted(evals, key=lambda row: int(row["seed"]))
                     if int(float(row["step"])) == step]
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the results folder of a tdmpc2 checkout")
    rows = read(parser.parse_args(argv).results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT.relative_to(OUT.parents[3]).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
