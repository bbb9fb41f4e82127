"""benchmarks/sweep.py: its statistics and parsing as pure functions, its refusals from the command
line, and (slow) whole sweeps on a real Ray head started on this machine."""

import csv
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import sweep  # noqa: E402


def run_sweep(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sweep.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ==== Statistics, against cases worked by hand ===============================
def test_iqm_by_hand():
    # n = 8: floor(8 / 4) = 2 trimmed from each end, the mean of 3, 4, 5, 6
    assert sweep.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5
    assert sweep.iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # order does not matter
    assert sweep.iqm([1, 2, 3, 100]) == 2.5  # n = 4: one from each end, the mean of 2 and 3
    assert sweep.iqm([0, 1, 2, 3, 4, 5, 6, 7, 8, 1000]) == 4.5  # n = 10: two from each end, 2..7
    assert sweep.iqm([1, 2, 6]) == 3.0  # n < 4: nothing trimmed


def test_iqm_matches_scipy():
    stats = pytest.importorskip("scipy.stats")  # a second implementation, where installed
    rng = np.random.default_rng(1)
    for n in range(1, 30):
        x = rng.normal(size=n)
        assert sweep.iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))


def test_bootstrap_of_a_constant_is_the_constant():
    assert sweep.bootstrap_ci([475.0] * 7) == (475.0, 475.0)
    assert sweep.bootstrap_ci([3.0]) == (3.0, 3.0)


def test_a_row_of_the_table_reads_in_one_format():
    def row(metric, mean, iqm, low, high):
        return {"setting": "default", "metric": metric, "runs": 10, "values": 10,
                "mean": mean, "iqm": iqm, "ci_low": low, "ci_high": high}
    table = sweep.markdown([row("steps_to_solve", 5325.0, 0.0, 0.0, 15974.0),
                            row("final_success", 0.948, 0.993, 0.862, 0.998)], "s", "1-10", "c")
    assert "| steps_to_solve | 10 | 5,325 | 0 | [0, 15,974] |" in table  # not "0.000" beside "5,325"
    assert "| final_success | 10 | 0.948 | 0.993 | [0.862, 0.998] |" in table


def exact_percentile_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """The bootstrap distribution of the mean enumerated exactly, for a sample of 0s and 1s: with k
    ones out of n, a resample holds j ones with probability C(n, j) p^j (1 - p)^(n - j), p = k / n.
    Returns its (1 - c) / 2 and (1 + c) / 2 quantiles (the smallest mean whose CDF reaches them)."""
    n, p = len(values), sum(values) / len(values)
    probabilities = [math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(n + 1)]
    cdf = np.cumsum(probabilities)
    low = next(j for j in range(n + 1) if cdf[j] >= (1 - confidence) / 2)
    high = next(j for j in range(n + 1) if cdf[j] >= (1 + confidence) / 2)
    return low / n, high / n


def test_bootstrap_interval_by_enumeration():
    # nine 0s and one 1: the resample mean is j / 10 with j ~ Binomial(10, 0.1); its CDF is 0.349 at
    # 0 and 0.930, 0.987 at 0.2, 0.3, so the exact 95% interval is [0, 0.3]. The quantiles sit far
    # from the CDF's steps (10,000 resamples put the empirical CDF within ~0.003), so the resampling
    # must find the same numbers.
    sample = [0.0] * 9 + [1.0]
    assert exact_percentile_interval(sample) == (0.0, 0.3)
    assert sweep.bootstrap_ci(sample) == (0.0, 0.3)
    # two values a < b: resample means a, (a + b) / 2, b with probabilities 1/4, 1/2, 1/4: [a, b]
    assert sweep.bootstrap_ci([194_560.0, 217_088.0]) == (194_560.0, 217_088.0)
    assert sweep.bootstrap_ci(sample) == sweep.bootstrap_ci(sample)  # a fixed seed: reproducible



def test_bootstrap_interval_of_the_iqm_by_hand():
    # one 0 and nineteen 1s. A resample holds k zeros, k ~ Binomial(20, 0.05); its IQM trims 5 from
    # each end, so it is 1 unless k >= 6, which has probability 0.0003: the interval is [1, 1]. The
    # mean's (exact enumeration, as above: CDF 0.016 at 16/20, 0.075 at 17/20) is [0.85, 1]; a table
    # that puts the mean's interval beside the IQM would print one that misses the IQM of 1.
    sample = [0.0] + [1.0] * 19
    assert sweep.iqm(sample) == 1.0
    assert sweep.bootstrap_ci(sample, statistic=sweep.iqm) == (1.0, 1.0)
    assert sweep.bootstrap_ci(sample) == exact_percentile_interval(sample) == (0.85, 1.0)
    # over an axis: rows at once, as the bootstrap calls it
    assert list(sweep.iqm([[1, 2, 3, 4], [5, 6, 7, 100]], axis=1)) == [2.5, 6.5]

# ==== Parsing ================================================================
def test_seed_ranges():
    assert sweep.parse_seeds("1-10") == list(range(1, 11))
    assert sweep.parse_seeds("1,3,5") == [1, 3, 5]
    assert sweep.parse_seeds("1-3,7") == [1, 2, 3, 7]
    assert sweep.parse_seeds("4") == [4]
    assert sweep.parse_seeds("2,2,1-2") == [2, 1]  # each seed once, in the order given
    for bad in ["5-1", "a", "", "1-x", "-3"]:
        with pytest.raises(sweep.BadInput):
            sweep.parse_seeds(bad)


def test_grid_expansion_and_labels():
    flags = {"clip-coef": (float, 0.1), "update-epochs": (int, 4), "anneal-lr": (bool, True),
             "learning-rate": (float, 2.5e-3)}
    grid = sweep.parse_grid(["clip-coef=0.1,0.2", "update-epochs=4,10"], flags, "ppo_cartpole.py")
    settings = sweep.expand(grid)
    assert [sweep.label(s) for s in settings] == [
        "clip-coef=0.1,update-epochs=4", "clip-coef=0.1,update-epochs=10",
        "clip-coef=0.2,update-epochs=4", "clip-coef=0.2,update-epochs=10"]
    assert sweep.setting_arguments(settings[1], flags) == ["--clip-coef=0.1", "--update-epochs=10"]
    assert sweep.expand([]) == [[]] and sweep.label([]) == "default"  # no grid: one setting
    # a switch becomes --name / --no-name; '=' keeps a negative number a value
    setting = sweep.expand(sweep.parse_grid(["anneal-lr=false", "learning-rate=-1"], flags, "x.py"))[0]
    assert sweep.setting_arguments(setting, flags) == ["--no-anneal-lr", "--learning-rate=-1"]
    for bad in ["no-such=1", "clip-coef", "clip-coef=", "seed=1,2", "run-dir=a", "anneal-lr=maybe",
                "clip-coef=a/b"]:
        with pytest.raises(sweep.BadInput):
            sweep.parse_grid([bad], flags, "ppo_cartpole.py")
    with pytest.raises(sweep.BadInput):
        sweep.parse_grid(["clip-coef=0.1", "clip-coef=0.2"], flags, "ppo_cartpole.py")


def test_a_list_of_settings_for_an_ablation():
    flags = {"bc-steps": (int, 3000), "reverse-kl-coef": (float, 0.1), "num-demos": (int, 5)}
    settings = sweep.parse_settings(["default", "bc-steps=0,reverse-kl-coef=0", "num-demos=2"], flags, "h.py")
    assert settings == [[], [("bc-steps", "0"), ("reverse-kl-coef", "0")], [("num-demos", "2")]]
    assert [sweep.label(s) for s in settings] == ["default", "bc-steps=0,reverse-kl-coef=0", "num-demos=2"]
    for bad in [["no-such=1"], ["num-demos=2", "num-demos=2"], ["num-demos="]]:
        with pytest.raises(sweep.BadInput):
            sweep.parse_settings(bad, flags, "h.py")


def test_flags_come_from_the_scripts_args():
    flags = sweep.script_flags("ppo_cartpole")
    assert flags["clip-coef"] == (float, 0.15) and flags["anneal-lr"] == (bool, True)
    assert {"seed", "run-dir", "total-steps", "target-kl"} <= set(flags)
    sweep.check_passthrough(["--total-steps", "4096", "--no-anneal-lr", "--num-envs=8"], flags, [], "p.py")
    for bad, grid_names in [(["--seed", "3"], []), (["--no-such", "1"], []),
                            (["--clip-coef", "0.2"], ["clip-coef"])]:
        with pytest.raises(sweep.BadInput):
            sweep.check_passthrough(bad, flags, grid_names, "p.py")


def test_cpus_per_run():
    cartpole = {"num-envs": (int, 64)}
    hammer = {"num-envs": (int, 16), "num-workers": (int, 2)}  # steps its envs in worker processes
    assert sweep.cpus_per_run([], ["--num-envs", "8"], cartpole) == 1
    assert sweep.cpus_per_run([], [], hammer) == 3  # 1 + the default 2 workers (capped per machine later)
    assert sweep.cpus_per_run([], ["--num-workers", "4"], hammer) == 5
    assert sweep.cpus_per_run([], ["--num-workers=1"], hammer) == 2
    assert sweep.cpus_per_run([("num-workers", "3")], ["--num-workers", "1"], hammer) == 4  # the grid wins


def test_a_run_dir_inside_the_repository_is_given_relative_to_it(tmp_path):
    assert sweep.as_given(ROOT / "benchmarks" / "results" / "t" / "seed1") == "benchmarks/results/t/seed1"
    assert sweep.as_given(tmp_path / "seed1") == str(tmp_path / "seed1")  # elsewhere: as it is


def test_an_unfinished_run_resumes_or_starts_afresh(tmp_path, monkeypatch):
    hammer, cartpole = {"resume": (str, None)}, {"num-envs": (int, 64)}
    assert sweep.prepare(tmp_path / "seed1", cartpole) == []  # never started: nothing to do
    interrupted = tmp_path / "seed2"  # the hammer stopped by Ctrl-C: its checkpoint is continued
    interrupted.mkdir()
    (interrupted / "checkpoint.pt").write_text("")
    assert sweep.prepare(interrupted, hammer) == ["--resume", str(interrupted)] and interrupted.exists()
    monkeypatch.setattr(sweep, "ROOT", tmp_path)  # inside the repository: relative to it, as --run-dir is
    assert sweep.prepare(interrupted, hammer) == ["--resume", "seed2"]
    for attempt in ("first", "second"):  # anything else starts afresh; the last attempt is kept aside
        failed = tmp_path / "seed3"
        failed.mkdir()
        (failed / "stdout.log").write_text(attempt)
        assert sweep.prepare(failed, cartpole) == [] and not failed.exists()
        assert (tmp_path / "seed3.unfinished" / "stdout.log").read_text() == attempt


# ==== Refusals, from the command line ========================================
@pytest.mark.parametrize("args, expected", [
    (["nosuch.py"], "unknown script nosuch.py"),
    (["ppo_cartpole.py", "--grid", "no-such-flag=1,2"], "--grid no-such-flag: not a flag of ppo_cartpole.py"),
    (["ppo_cartpole.py", "--seeds", "5-1"], "--seeds 5-1: the range is empty"),
    (["ppo_cartpole.py", "--", "--seed", "3"], "the sweep sets --seed itself"),
    (["ppo_cartpole.py", "--grid", "clip-coef=0.1,0.2", "--setting", "default"], "use one or the other"),
], ids=["script", "grid-name", "empty-seeds", "reserved-flag", "grid-and-setting"])
def test_bad_input_exits_2_with_one_line(args, expected, tmp_path):
    result = run_sweep(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert not (tmp_path / "out").exists()  # stopped before any run


def test_an_address_where_nothing_listens(tmp_path):
    started = time.time()
    address = f"127.0.0.1:{free_port()}"
    result = run_sweep("ppo_cartpole.py", "--address", address, "--out", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "no Ray answers there" in result.stderr
    assert time.time() - started < 30 and not (tmp_path / "o").exists()


def test_an_address_where_something_else_listens(tmp_path):
    with socket.socket() as server:  # accepts, never speaks: ray.init alone would wait for minutes
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        result = run_sweep("ppo_cartpole.py", "--address", address, "--connect-timeout", "3",
                           "--out", str(tmp_path / "o"), timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: --address {address}: no Ray answered within 3 s"]
    assert not (tmp_path / "o").exists()


# ==== Real sweeps on a Ray head started here =================================
@pytest.fixture(scope="module")
def ray_head():
    """A Ray head on this machine, 2 CPUs, a free port, with token authentication on (a random token,
    given to the sweeps through the environment); stopped at the end. `ray start --block` is stopped
    by terminating it, which ends this head's processes only (`ray stop` would end every Ray here)."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must stay under ~107 characters
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env.pop("RAY_ADDRESS", None)
    log = open(Path(temp_dir) / "head.log", "w")
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus", "2",
         "--port", str(port), "--ray-client-server-port", str(free_port()),
         "--dashboard-agent-listen-port", str(free_port()), "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", temp_dir], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            assert head.poll() is None and time.time() < deadline, (Path(temp_dir) / "head.log").read_text()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env
    finally:
        head.terminate()
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


TINY = ["--total-steps", "4096", "--num-envs", "8", "--num-steps", "32"]  # a few seconds per run


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running processes that contain `text` (training processes of a sweep)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


@pytest.mark.slow
def test_sweep_on_a_ray_head(ray_head, tmp_path):
    address, env = ray_head
    out = tmp_path / "sweep"
    # two settings that run, and a third the script refuses (exit 2): the others must not mind
    command = ["ppo_cartpole.py", "--seeds", "1-2", "--grid", "learning-rate=0.001,0.002,-1",
               "--address", address, "--out", str(out), "--", *TINY]
    result = run_sweep(*command, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    for seed in (1, 2):
        assert f"learning-rate=-1/seed{seed} FAILED (exit code 2)" in result.stderr
    assert "error: --learning-rate must be > 0 (got -1.0)" in result.stderr
    good = ["learning-rate=0.001", "learning-rate=0.002"]
    summaries = {s: [json.loads((out / s / f"seed{seed}" / "summary.json").read_text()) for seed in (1, 2)]
                 for s in good}
    assert not list((out / "learning-rate=-1").glob("*/summary.json"))

    # The table against the runs' own summaries: mean, IQM (n = 2: the mean) and the interval,
    # which for two values a <= b is [a, b] (the enumeration in test_bootstrap_interval_by_enumeration).
    with open(out / "summary.csv") as file:
        rows = {(row["setting"], row["metric"]): row for row in csv.DictReader(file)}
    for setting in good:
        for metric in ["final_return", "eval_mean_return", "steps_per_second", "wall_seconds"]:
            values = [s[metric] for s in summaries[setting]]
            row = rows[(setting, metric)]
            assert (int(row["runs"]), int(row["values"])) == (2, 2)
            assert float(row["mean"]) == pytest.approx(np.mean(values), rel=1e-12)
            assert float(row["iqm"]) == pytest.approx(np.mean(values), rel=1e-12)
            assert float(row["ci_low"]) == pytest.approx(min(values), rel=1e-12)
            assert float(row["ci_high"]) == pytest.approx(max(values), rel=1e-12)
        # 4,096 steps never reach 475: null on both seeds, reported as 0 of 2 solved
        assert [s["steps_to_solve"] for s in summaries[setting]] == [None, None]
        row = rows[(setting, "steps_to_solve")]
        assert (row["runs"], row["values"], row["mean"]) == ("2", "0", "")
    assert rows[("learning-rate=-1", "final_return")]["runs"] == "0"
    with open(out / "runs.csv") as file:  # and one row per finished run, as its summary.json has it
        per_run = {(row["setting"], int(row["seed"])): row for row in csv.DictReader(file)}
    assert sorted(per_run) == [(setting, seed) for setting in good for seed in (1, 2)]
    for (setting, seed), row in per_run.items():
        assert float(row["final_return"]) == summaries[setting][seed - 1]["final_return"]
        assert row["steps_to_solve"] == ""  # null
    table = (out / "summary.md").read_text()
    assert "| learning-rate=0.001 | steps_to_solve | 0 of 2 solved |" in table and table in result.stdout
    assert (out / "curves.png").stat().st_size > 10_000

    # Again: the finished runs are left alone, the failed ones run (and fail) again.
    finished = sorted(out.glob("learning-rate=0.00*/seed*/summary.json"))
    before = {path: path.stat().st_mtime_ns for path in finished}
    events_before = sorted(out.glob("learning-rate=0.00*/seed*/events.out.tfevents.*"))
    again = run_sweep(*command, env=env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "4 finished already (summary.json), 2 to run" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in finished} == before
    assert sorted(out.glob("learning-rate=0.00*/seed*/events.out.tfevents.*")) == events_before
    assert (out / "learning-rate=-1" / "seed1.unfinished" / "stdout.log").exists()  # the earlier attempt


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep(ray_head, tmp_path):
    address, env = ray_head
    out = tmp_path / "sweep"
    # the short setting finishes first (tasks start in order), then the long one is interrupted
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "sweep.py"), "ppo_cartpole.py", "--seeds", "1-2",
         "--grid", "total-steps=4096,100000000", "--address", address, "--out", str(out), "--",
         "--num-envs", "8", "--num-steps", "32"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as in a terminal: a shell's background job (CI's, say) ignores SIGINT, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    long_runs = [out / "total-steps=100000000" / f"seed{seed}" for seed in (1, 2)]
    try:
        deadline = time.time() + 240
        while not all(list(run.glob("events.out.tfevents.*")) for run in long_runs):  # both training
            assert process.poll() is None and time.time() < deadline, process.communicate()
            time.sleep(1)
        assert len(processes_mentioning(str(out / "total-steps=100000000"))) == 2
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    time.sleep(1)
    assert processes_mentioning(str(out / "total-steps=100000000")) == []  # no training process left
    for seed in (1, 2):  # the finished runs are intact, the interrupted ones did not finish
        summary = json.loads((out / "total-steps=4096" / f"seed{seed}" / "summary.json").read_text())
        assert summary["seed"] == seed
        assert not (long_runs[seed - 1] / "summary.json").exists()

