"""Run one of this project's scripts over seeds x a grid of its own flags, each run a Ray task, then
aggregate per setting: the mean, the interquartile mean and a 95% bootstrap interval of every metric.

    python benchmarks/sweep.py ppo_cartpole.py --seeds 1-10 --out runs/sweeps/ppo_seeds
    python benchmarks/sweep.py ppo_cartpole.py --seeds 1-10 --grid clip-coef=0.1,0.2 \\
        --grid update-epochs=4,10 --out runs/sweeps/clip -- --total-steps 100000
    python benchmarks/sweep.py ppo_hammer_bc_kl.py --seeds 1-10 --grid reverse-kl-coef=0,0.1 \\
        --out runs/sweeps/kl --address HEAD_IP:6379 -- --total-steps 300000

Several --grid give their cross product. For settings that are not a product (an ablation), list
them instead, each --setting one of them: `--setting default --setting bc-steps=0,reverse-kl-coef=0
--setting num-demos=2`. The flags after -- go to every run. One run is
`python <script> --seed N --run-dir <out>/<setting>/seed<N> <grid flags> <flags after -->`, started
from the repository root inside a Ray task, its stdout and stderr in <run dir>/stdout.log. A run is
finished when <run dir>/summary.json exists (the script's train() writes it last), so the same
command again runs only what is missing: a run that left a checkpoint.pt continues from it if the
script can (--resume, the hammer); any other unfinished one starts afresh, its earlier directory
kept as seed<N>.unfinished. Results: <out>/summary.csv and <out>/summary.md (printed too) per
setting, <out>/runs.csv per run, and <out>/curves.png. Exit code: 0; 1 if a run failed; 2 on bad
input, before any run starts; 130 after Ctrl-C, which stops the runs still going (the hammer
checkpoints) and keeps the finished ones.

Ray runs locally by default, on all of this machine's CPUs; --address (or RAY_ADDRESS) joins a
cluster (docs/sweeps.md, On a cluster). A run reserves 1 CPU, or 1 + --num-workers for a script that
steps its environments in worker processes (the hammer), at most the CPUs of the largest machine.
"""

import argparse
import collections
import contextlib
import csv
import importlib.util
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import typing
from dataclasses import fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CARTPOLE = ["final_return", "steps_to_solve", "seconds_to_solve", "lowest_after_solve", "eval_mean_return"]
# What the sweep knows about each script: the summary.json keys it aggregates. Nothing else.
METRICS = {
    "reinforce_cartpole": CARTPOLE,
    "vpg_cartpole": CARTPOLE,
    "ppo_cartpole": CARTPOLE,
    "ppo_hammer_bc_kl": ["bc_success", "final_success", "best_success", "heldout_success", "steps_to_solve"],
}
COMMON = ["steps_per_second", "wall_seconds"]  # in every script's summary.json
RESERVED = {"seed", "run-dir"}  # the sweep sets these itself, per run
RESAMPLES = 10_000  # bootstrap resamples for the table's intervals (1,000 for the curves' bands)
STOP_SECONDS = 60  # after Ctrl-C, a run gets this long to exit cleanly (the hammer checkpoints)


class BadInput(Exception):
    """Wrong arguments: one line on stderr, exit code 2, before any run starts."""


# ==== Statistics =============================================================
def iqm(values, axis: int = -1):
    """Interquartile mean: the mean of the middle 50%, floor(n / 4) values trimmed from each end
    (scipy.stats.trim_mean(x, 0.25)); the plain mean for fewer than 4 values. Over `axis`."""
    x = np.sort(np.asarray(values, dtype=float), axis=axis)
    cut = x.shape[axis] // 4
    return np.take(x, range(cut, x.shape[axis] - cut), axis=axis).mean(axis=axis)


def bootstrap_ci(values, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0,
                 statistic=np.mean):
    """Percentile-bootstrap interval of `statistic` (np.mean, or iqm): resample the values with
    replacement, take the statistic of each resample, and read the (1 - confidence) / 2 and
    (1 + confidence) / 2 quantiles."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)  # fixed: the same runs give the same table
    stats = statistic(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)  # (resamples,)
    low, high = np.percentile(stats, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(low), float(high)


# ==== Arguments ==============================================================
def parse_seeds(text: str) -> list[int]:
    """'1-10' -> 1, 2, ..., 10 and '1,3,5' -> 1, 3, 5; the forms combine ('1-3,7')."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            numbers = range(int(low), int(high) + 1) if dash else [int(low)]
        except ValueError:
            raise BadInput(f"--seeds {text}: expected a range like 1-10 or a list like 1,3,5") from None
        seeds += [seed for seed in numbers if seed not in seeds]
    if not seeds:
        raise BadInput(f"--seeds {text}: the range is empty")
    return seeds


def script_flags(stem: str) -> dict[str, tuple[type, object]]:
    """The script's flags as tyro spells them (field num_workers -> num-workers): (type, default).

    Read from its Args dataclass; importing a script builds nothing and starts no training."""
    spec = importlib.util.spec_from_file_location(f"sweep_target_{stem}", ROOT / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    types = typing.get_type_hints(module.Args)
    return {field.name.replace("_", "-"): (types[field.name], field.default) for field in fields(module.Args)}


def parse_grid(items: list[str], flags: dict, script: str) -> list[tuple[str, list[str]]]:
    """['clip-coef=0.1,0.2', ...] -> [('clip-coef', ['0.1', '0.2']), ...], each name a flag of the script."""
    grid = []
    for item in items:
        name, equals, values = item.partition("=")
        name = name.strip().removeprefix("--")
        values = [value.strip() for value in values.split(",")]
        if not equals or not name or "" in values:
            raise BadInput(f"--grid {item}: expected NAME=VALUE1,VALUE2,...")
        if name in RESERVED:
            raise BadInput(f"--grid {name}: the sweep sets --{name} itself")
        if name not in flags:
            raise BadInput(f"--grid {name}: not a flag of {script} (python {script} --help lists them)")
        if name in [known for known, _ in grid]:
            raise BadInput(f"--grid {name} is given twice")
        if any("/" in value for value in values):
            raise BadInput(f"--grid {item}: a value names a directory, so it cannot hold '/'")
        if flags[name][0] is bool:
            for value in values:
                parse_bool(value, name)
        grid.append((name, values))
    return grid


def parse_bool(value: str, name: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadInput(f"--grid {name}={value}: --{name} is a switch; use true or false")


def expand(grid: list[tuple[str, list[str]]]) -> list[list[tuple[str, str]]]:
    """The cross product of the grid, one setting per combination: [[(name, value), ...], ...]."""
    names = [name for name, _ in grid]
    return [list(zip(names, combination)) for combination in itertools.product(*[v for _, v in grid])]


def parse_settings(items: list[str], flags: dict, script: str) -> list[list[tuple[str, str]]]:
    """['default', 'bc-steps=0,reverse-kl-coef=0'] -> [[], [('bc-steps', '0'), ('reverse-kl-coef', '0')]]:
    one setting per --setting, each a list of a flag and its one value ('default': none)."""
    settings = []
    for item in items:
        pairs = [] if item.strip() == "default" else parse_grid(item.split(","), flags, script)
        setting = [(name, values[0]) for name, values in pairs]
        if setting in settings:
            raise BadInput(f"--setting {item} is given twice")
        settings.append(setting)
    return settings


def label(setting: list[tuple[str, str]]) -> str:
    """A setting's name, and its directory: 'default', or 'clip-coef=0.1,update-epochs=4'."""
    return ",".join(f"{name}={value}" for name, value in setting) or "default"


def setting_arguments(setting: list[tuple[str, str]], flags: dict) -> list[str]:
    """The flags of one setting: --name=value (the '=' keeps a negative value a value), or for a
    switch --name / --no-name."""
    arguments = []
    for name, value in setting:
        if flags[name][0] is bool:
            arguments.append(f"--{name}" if parse_bool(value, name) else f"--no-{name}")
        else:
            arguments.append(f"--{name}={value}")
    return arguments


def check_passthrough(passthrough: list[str], flags: dict, grid_names: list[str], script: str) -> None:
    """The flags after -- must be the script's own, and not one the sweep or the grid sets."""
    for token in passthrough:
        if not token.startswith("--"):
            continue
        name = token[2:].split("=")[0]
        switch = name.removeprefix("no-")
        if name in RESERVED:
            raise BadInput(f"{token} after --: the sweep sets --{name} itself")
        if name in grid_names or switch in grid_names:
            raise BadInput(f"{token} after --: --{switch} is also in --grid")
        if name not in flags and not (switch in flags and flags[switch][0] is bool):
            raise BadInput(f"{token} after --: not a flag of {script}")


def cpus_per_run(setting: list[tuple[str, str]], passthrough: list[str], flags: dict) -> int:
    """1, or for a script with worker processes (a --num-workers flag) 1 + their number. run_all caps
    it at the CPUs of the largest machine: on 2 cores a hammer run reserves both, so two never share."""
    if "num-workers" not in flags:
        return 1
    workers = flags["num-workers"][1]
    for i, token in enumerate(passthrough):
        if token == "--num-workers" and i + 1 < len(passthrough):
            workers = passthrough[i + 1]
        elif token.startswith("--num-workers="):
            workers = token.split("=", 1)[1]
    workers = dict(setting).get("num-workers", workers)
    try:
        return max(1, 1 + int(workers))
    except ValueError:
        raise BadInput(f"--num-workers {workers}: not a number") from None


# ==== Ray ====================================================================
def connect(address: str | None, timeout: float, cpus: int | None) -> None:
    """Start Ray on this machine with `cpus` CPUs (default all), or join the cluster at `address`;
    give up with BadInput (exit 2) when nothing answers there, or after `timeout` seconds when
    something does but it is not Ray."""
    import ray

    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}  # the sweep's own lines only
    if address is None:
        ray.init(address="local", num_cpus=cpus or os.cpu_count(), include_dashboard=False, **quiet)
        return
    host, _, port = address.rpartition(":")
    try:  # a quick look first: ray.init would retry for minutes where nothing listens
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as error:
        raise BadInput(f"--address {address}: no Ray answers there ({error})") from None
    # Ray logs each failed attempt on stderr: keep them out of sight unless it connects.
    saved_stderr = os.dup(2)

    def give_up():
        os.write(saved_stderr, f"error: --address {address}: no Ray answered within {timeout:g} s\n".encode())
        os._exit(2)  # ray.init cannot be interrupted from another thread

    watchdog = threading.Timer(timeout, give_up)
    watchdog.start()
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        ray.init(address=address, **quiet)
    except Exception as error:  # Ray raises several kinds here; all mean the same to the user
        cause = "a token is needed: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN as on the cluster" \
            if "uthentication" in repr(error) + repr(error.__cause__) else str(error).splitlines()[0]
        raise BadInput(f"--address {address}: no Ray answers there ({cause})") from None
    finally:
        watchdog.cancel()
        os.dup2(saved_stderr, 2)


def run_one(arguments: list[str], run_dir: str, cwd: str) -> dict:
    """One run, inside a Ray task: `python <arguments>` (the Python this worker runs on) in a process
    of its own, to its end or until cancelled. Returns the exit code, the last lines of its stderr
    and the seconds it took."""
    started = time.time()
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    tail = collections.deque(maxlen=10)  # the end of stderr, for the report of a failure
    with open(Path(run_dir) / "stdout.log", "a", encoding="utf-8") as log:  # "a": a resumed run adds
        # A session of its own: the script and any worker processes it starts form one process group.
        process = subprocess.Popen([sys.executable, *arguments], cwd=cwd, stdout=log, stderr=subprocess.PIPE,
                                   text=True, encoding="utf-8", errors="replace", start_new_session=True)

        def copy_stderr():  # into the same log, keeping the last lines
            for line in process.stderr:
                log.write(line)
                log.flush()
                tail.append(line.rstrip("\n"))

        copier = threading.Thread(target=copy_stderr, daemon=True)
        copier.start()
        try:
            while process.poll() is None:
                time.sleep(0.5)  # ray.cancel() raises KeyboardInterrupt here, between two sleeps
        except KeyboardInterrupt:
            # SIGTERM, not SIGINT: Ray's workers block SIGINT and their children inherit the mask.
            # The hammer finishes its iteration, checkpoints and exits; a CartPole script just ends.
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_SECONDS)
            raise
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever is left of the group
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        copier.join(timeout=10)
    return {"returncode": process.returncode, "stderr_tail": list(tail), "seconds": time.time() - started}


def as_given(run_dir: Path) -> str:
    """--run-dir for the script, which runs from the repository root: relative to it when inside it,
    so that what the run writes (summary.json) can be committed without naming a machine's paths."""
    return str(run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir)


def run_all(todo: list[dict], flags: dict, passthrough: list[str], script: str) -> list[dict]:
    """Every run of `todo` as a Ray task; returns the failed ones. Ctrl-C: stop them all, exit 130."""
    import ray

    largest = int(max(node["Resources"].get("CPU", 1) for node in ray.nodes() if node["Alive"]))
    remote = ray.remote(run_one)
    tasks = {}
    for run in todo:
        arguments = [script, "--seed", str(run["seed"]), "--run-dir", as_given(run["dir"]),
                     *setting_arguments(run["setting"], flags), *passthrough, *run["resume"]]
        cpus = min(run["cpus"], largest)
        tasks[remote.options(num_cpus=cpus).remote(arguments, str(run["dir"]), str(ROOT))] = run
    print(f"{len(todo)} runs on Ray ({ray.cluster_resources().get('CPU', 0):g} CPUs); "
          f"output of each in <run dir>/stdout.log", flush=True)
    pending, failed = list(tasks), []
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in done:
                run = tasks[ref]
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as error:  # the task itself died (a machine lost, ...)
                    result = {"returncode": None, "stderr_tail": str(error).splitlines()[:3], "seconds": 0.0}
                name = f"[{len(tasks) - len(pending)}/{len(tasks)}] {label(run['setting'])}/seed{run['seed']}"
                if result["returncode"] == 0:
                    print(f"{name} finished in {result['seconds']:.1f} s", flush=True)
                else:
                    failed.append(run)
                    lines = "".join(f"\n    {line}" for line in result["stderr_tail"])
                    print(f"{name} FAILED (exit code {result['returncode']}); the end of its stderr:{lines}",
                          file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted: stopping {len(pending)} runs (finished runs are kept); "
              f"up to {STOP_SECONDS} s", file=sys.stderr, flush=True)
        for ref in pending:
            ray.cancel(ref)  # a waiting task is dropped; a running one stops its process (run_one)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
            ray.wait(pending, num_returns=len(pending), timeout=STOP_SECONDS + 15)
        ray.shutdown()
        sys.exit(130)
    return failed


def prepare(run_dir: Path, flags: dict) -> list[str]:
    """For an earlier attempt that did not finish: ['--resume', run_dir] if it left a checkpoint.pt
    and the script can resume (the hammer, which then keeps the arguments it was started with);
    otherwise the attempt is moved aside to seed<N>.unfinished and the run starts afresh."""
    if not run_dir.exists():
        return []
    if "resume" in flags and (run_dir / "checkpoint.pt").exists():
        return ["--resume", as_given(run_dir)]  # as --run-dir is: summary.json keeps no machine path
    aside = run_dir.with_name(run_dir.name + ".unfinished")
    shutil.rmtree(aside, ignore_errors=True)
    run_dir.rename(aside)
    return []


# ==== Results ================================================================
def aggregate(runs: list[dict], settings: list, metrics: list[str]) -> list[dict]:
    """One row per setting and metric, over the runs that finished; a value that is null (never
    solved) or missing is left out, and `values` says how many remain."""
    rows = []
    for setting in settings:
        summaries = [json.loads((run["dir"] / "summary.json").read_text()) for run in runs
                     if run["setting"] == setting and (run["dir"] / "summary.json").exists()]
        for metric in metrics:
            values = [s.get(metric) for s in summaries]
            values = [float(v) for v in values if isinstance(v, (int, float)) and np.isfinite(v)]
            row = {"setting": label(setting), "metric": metric, "runs": len(summaries), "values": len(values),
                   "mean": np.nan, "iqm": np.nan, "ci_low": np.nan, "ci_high": np.nan}
            if values:
                row["mean"], row["iqm"] = float(np.mean(values)), float(iqm(values))
                row["ci_low"], row["ci_high"] = bootstrap_ci(values)
            rows.append(row)
    return rows


def number(x: float, scale: float) -> str:
    """x with the decimals that `scale` (its row's largest value) asks for: a row reads in one format."""
    if not np.isfinite(x):
        return "-"
    return f"{x:,.0f}" if scale >= 1000 else f"{x:.1f}" if scale >= 10 else f"{x:.3f}"


def markdown(rows: list[dict], script: str, seeds_text: str, command: str) -> str:
    lines = [f"`{command}`", "",
             f"{script}, seeds {seeds_text}: per setting, the mean over seeds, the interquartile mean (IQM) "
             f"and a 95% percentile-bootstrap interval of the mean ({RESAMPLES:,} resamples). A value that "
             "is null on some seeds (never solved) is aggregated over the seeds where it is not.", "",
             "| setting | metric | seeds | mean | IQM | 95% CI of the mean |",
             "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        seeds = f"{row['runs']}" if row["values"] == row["runs"] else \
            f"{row['values']} of {row['runs']}{' solved' if 'solve' in row['metric'] else ''}"
        mean, iqm_, low, high = (row[key] for key in ("mean", "iqm", "ci_low", "ci_high"))
        scale = max((abs(x) for x in (mean, iqm_, low, high) if np.isfinite(x)), default=0.0)
        interval = f"[{number(low, scale)}, {number(high, scale)}]" if row["values"] else "-"
        lines.append(f"| {row['setting']} | {row['metric']} | {seeds} | {number(mean, scale)} "
                     f"| {number(iqm_, scale)} | {interval} |")
    return "\n".join(lines) + "\n"


def per_run(runs: list[dict], metrics: list[str]) -> list[dict]:
    """One row per finished run, its metrics as its summary.json has them (null: empty)."""
    rows = []
    for run in runs:
        if (run["dir"] / "summary.json").exists():
            summary = json.loads((run["dir"] / "summary.json").read_text())
            rows.append({"setting": label(run["setting"]), "seed": run["seed"],
                         **{metric: summary.get(metric) for metric in metrics}})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: ("" if v is None or isinstance(v, float) and not np.isfinite(v) else v)
                          for k, v in r.items()} for r in rows)


def read_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(steps, values, what) of one run: the hammer's eval success from eval_success.csv, else the
    rolling mean of the last 100 episodic returns from the TensorBoard events."""
    if (run_dir / "eval_success.csv").exists():
        with open(run_dir / "eval_success.csv") as file:
            rows = list(csv.DictReader(file))
        steps = np.array([float(row["step"]) for row in rows])
        return steps, np.array([float(row["success"]) for row in rows]), "eval success rate (mean action)"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    if "charts/episodic_return" not in accumulator.Tags()["scalars"]:
        return None
    events = accumulator.Scalars("charts/episodic_return")
    returns = np.array([event.value for event in events])
    sums = np.cumsum(np.insert(returns, 0, 0.0))
    ends = np.arange(1, len(returns) + 1)
    starts = np.maximum(0, ends - 100)
    rolling = (sums[ends] - sums[starts]) / (ends - starts)  # mean of the last 100 (fewer at first)
    steps = np.array([event.step for event in events], dtype=float)
    return steps, rolling, "return, mean of the last 100 episodes"


def plot_curves(runs: list[dict], settings: list, path: Path, title: str) -> bool:
    """Per setting, the mean curve over seeds on a common grid of steps and a 95% bootstrap band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    ylabel = None
    for setting in settings:
        curves = [read_curve(run["dir"]) for run in runs
                  if run["setting"] == setting and (run["dir"] / "summary.json").exists()]
        curves = [curve for curve in curves if curve is not None and len(curve[0])]
        if not curves:
            continue
        ylabel = curves[0][2]
        grid = np.linspace(0, max(steps[-1] for steps, _, _ in curves), 200)  # (G,)
        # each run as a step function: at a grid step, its last value logged at or before it
        values = np.full((len(curves), len(grid)), np.nan)  # (seeds, G)
        for i, (steps, curve, _) in enumerate(curves):
            index = np.searchsorted(steps, grid, side="right") - 1
            values[i, index >= 0] = curve[index[index >= 0]]
        keep = ~np.isnan(values).any(axis=0)  # from where every seed has a value
        grid, values = grid[keep], values[:, keep]
        rng = np.random.default_rng(0)
        means = values[rng.integers(0, len(values), size=(1000, len(values)))].mean(axis=1)  # (1000, G)
        low, high = np.percentile(means, [2.5, 97.5], axis=0)
        line, = axes.plot(grid, values.mean(axis=0), label=f"{label(setting)} ({len(curves)} seeds)")
        axes.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    if ylabel is None:
        plt.close(figure)
        return False
    axes.set(xlabel="environment steps", ylabel=ylabel, title=f"{title}: mean over seeds, 95% bootstrap band")
    # beside the curves, not over them: a nine-setting legend would hide them
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    figure.savefig(path, dpi=100, bbox_inches="tight")  # "tight": the saved figure includes the legend
    plt.close(figure)
    return True


# ==== Main ===================================================================
def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s SCRIPT [options] [-- flags for every run]")
    parser.add_argument("script", help=f"one of {', '.join(f'{stem}.py' for stem in METRICS)}")
    parser.add_argument("--seeds", default="1-5", help="1-10, or 1,3,5 (default 1-5)")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="a flag of the script and its values; several --grid give their cross product")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=V,NAME=V",
                        help="one setting (flags with one value each, or 'default'); several --setting "
                        "give a list of settings, not a product (instead of --grid)")
    parser.add_argument("--out", help="output directory (default runs/sweeps/<script>)")
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS") or None,
                        help="HOST:PORT of a Ray cluster's head (default: RAY_ADDRESS, else Ray here)")
    parser.add_argument("--connect-timeout", type=float, default=30.0,
                        help="seconds to wait for Ray at --address (default 30)")
    parser.add_argument("--cpus", type=int, help="CPUs of the local Ray (default all); 1 runs one at a "
                        "time, so each run's seconds are those of a run alone")
    split = argv.index("--") if "--" in argv else len(argv)
    return parser.parse_args(argv[:split]), argv[split + 1:]


def main(argv: list[str]) -> int:
    options, passthrough = parse(argv)
    stem = Path(options.script).stem
    if stem not in METRICS or not (ROOT / f"{stem}.py").exists():
        raise BadInput(f"unknown script {options.script}: one of {', '.join(f'{s}.py' for s in METRICS)}")
    script = f"{stem}.py"
    if options.cpus is not None and (options.cpus < 1 or options.address):
        raise BadInput("--cpus: at least 1, and only for a local Ray (a cluster has the CPUs it has)")
    seeds = parse_seeds(options.seeds)
    flags = script_flags(stem)
    if options.grid and options.setting:
        raise BadInput("--grid and --setting: use one or the other")
    grid = parse_grid(options.grid, flags, script)
    settings = parse_settings(options.setting, flags, script) if options.setting else expand(grid)
    set_by_settings = sorted({name for setting in settings for name, _ in setting})
    check_passthrough(passthrough, flags, set_by_settings, script)
    out = Path(options.out or f"runs/sweeps/{stem}").resolve()
    runs = [{"setting": setting, "seed": seed, "dir": out / label(setting) / f"seed{seed}",
             "cpus": cpus_per_run(setting, passthrough, flags)} for setting in settings for seed in seeds]
    todo = [run for run in runs if not (run["dir"] / "summary.json").exists()]
    print(f"{script}: {len(settings)} settings x {len(seeds)} seeds = {len(runs)} runs in {out}; "
          f"{len(runs) - len(todo)} finished already (summary.json), {len(todo)} to run", flush=True)

    failed = []
    if todo:
        connect(options.address, options.connect_timeout, options.cpus)
        for run in todo:
            run["resume"] = prepare(run["dir"], flags)
        failed = run_all(todo, flags, passthrough, script)

    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(runs, settings, METRICS[stem] + COMMON)
    write_csv(rows, out / "summary.csv")
    if any((run["dir"] / "summary.json").exists() for run in runs):
        write_csv(per_run(runs, METRICS[stem] + COMMON), out / "runs.csv")
    command = " ".join(["python benchmarks/sweep.py", *argv])
    table = markdown(rows, stem, options.seeds, command)
    (out / "summary.md").write_text(table)
    print("\n" + table)
    drew = plot_curves(runs, settings, out / "curves.png", stem)
    print(f"wrote summary.csv, summary.md, runs.csv{' and curves.png' if drew else ''} in {out}")
    if failed:
        print(f"{len(failed)} of {len(todo)} runs failed (above); the same command runs them again",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)  # one line, no traceback
        sys.exit(2)
