"""Run a CartPole script on several seeds, one after another, and print a
Markdown table of what each run reached (the table in README.md comes from here).

    python benchmarks/cartpole_seeds.py ppo_cartpole.py --seeds 1 2 3 4 5
    python benchmarks/cartpole_seeds.py ppo_cartpole.py --seeds 1 2 -- --clip-coef 100

Runs go to runs/bench/<script>__seed<S>. Run on a quiet machine: the
seconds are wall-clock and another busy process halves them.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", help="e.g. ppo_cartpole.py")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--run-dir", default="runs/bench")
    parser.add_argument("--tag", default="", help="suffix for the run names")
    options, extra = parser.parse_known_args()  # the rest goes to the script
    options.extra = [a for a in extra if a != "--"]

    stem = Path(options.script).stem
    rows = []
    for seed in options.seeds:
        name = f"{stem}{options.tag}__seed{seed}"
        command = [sys.executable, str(ROOT / options.script), "--seed", str(seed),
                   "--run-dir", options.run_dir, "--run-name", name, *options.extra]
        started = time.time()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        process_seconds = time.time() - started  # includes interpreter start and imports
        summary = json.loads((ROOT / options.run_dir / name / "summary.json").read_text())
        summary["process_seconds"] = process_seconds
        rows.append(summary)
        print(f"seed {seed} done in {process_seconds:.1f} s", file=sys.stderr)

    def fmt(value, spec):
        return "never" if value is None else format(value, spec)

    print(f"\n{stem} {' '.join(options.extra)}\n")
    print("| seed | final mean return (last 100) | lowest after solving | steps to solve "
          "| seconds to solve | steps/s | wall seconds |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['seed']} | {row['final_mean_return_100']:.1f} "
              f"| {fmt(row['lowest_mean_return_100_after_solved'], '.1f')} "
              f"| {fmt(row['solved_step'], ',')} "
              f"| {fmt(row['solved_seconds'], '.1f')} | {row['steps_per_second']:,.0f} "
              f"| {row['process_seconds']:.1f} |")


if __name__ == "__main__":
    main()
