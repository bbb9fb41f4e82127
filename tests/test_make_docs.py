"""benchmarks/make_docs.py: the docs hold the tables the committed runs give, a changed number in one
of those runs is caught, and the tables, sentences and markers behave as worked out here by hand.
No training: everything is read from benchmarks/results or from small runs written by the test."""

import csv
import json
import math
import shutil
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import make_docs  # noqa: E402


def test_the_docs_hold_what_the_committed_runs_give():
    problems = make_docs.generate(ROOT, write=False)
    assert problems == [], "\n".join(problems) + "\n(python benchmarks/make_docs.py writes them)"


def copy_of_the_repository(tmp_path):
    """The pages, their pictures and the committed runs: all that the check reads."""
    shutil.copytree(ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def block_names(problems):
    return sorted(problem.split(": ")[1].split()[0] for problem in problems)


def change(root, path, old, new):
    file = root / "benchmarks" / "results" / path
    assert file.read_text().count(old) == 1, (path, old)
    file.write_text(file.read_text().replace(old, new))


@pytest.mark.parametrize("changes, blocks", [
    # the wall-clock of hammer seed 1 (7.6 min, made 11.0), in its summary.json and its sweep's runs.csv: its
    # minutes cell and the minutes range of the sentences under both tables of the ten seeds
    ([("hammer10/default/seed1/summary.json", '"wall_seconds": 458.98', '"wall_seconds": 658.98'),
      ("hammer10/runs.csv", ",458.98", ",658.98")],
     ["hammer10", "hammer10_seeds"]),
    # pick-place seed 2's last evaluation, 0.96, in its curve and both summaries: the MT10 table and the
    # gamma table, not MT10's sentences, whose counts (at 0.9 or more, at 1.00, below BC) stay
    ([("mt10/env-name=pick-place-v3/seed2/eval_success.csv", "499712,0.96,", "499712,0.94,"),
      ("mt10/env-name=pick-place-v3/seed2/summary.json", '"final_success": 0.96', '"final_success": 0.94'),
      ("mt10/runs.csv", "pick-place-v3,2,0.34,0.96,", "pick-place-v3,2,0.34,0.94,")],
     ["gamma_seed2", "mt10"]),
])
def test_one_changed_number_in_a_committed_run_fails_the_check(tmp_path, changes, blocks):
    root = copy_of_the_repository(tmp_path)
    assert make_docs.generate(root, write=False) == []  # the copy holds what its runs give
    for path, old, new in changes:
        change(root, path, old, new)
    problems = make_docs.generate(root, write=False)
    assert block_names(problems) == blocks, problems  # those and no other
    assert all("differs from what the runs give" in problem for problem in problems)


def change_cartpole_run(root, run, key, by):
    """Add `by` to one value of a committed CartPole run, in its summary.json and in its sweep's runs.csv."""
    results = root / "benchmarks" / "results"
    path = results / run / "summary.json"
    summary = json.loads(path.read_text())
    summary[key] += by
    path.write_text(json.dumps(summary, indent=2))
    sweep, setting, seed = run.split("/")
    if (results / sweep / "runs.csv").exists():  # made by benchmarks/sweep.py (the peers' runs have none)
        with open(results / sweep / "runs.csv") as file:
            rows = list(csv.DictReader(file))
        for row in rows:
            if (row["setting"], f"seed{row['seed']}") == (setting, seed):
                row[key] = str(summary[key])
        with open(results / sweep / "runs.csv", "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize("run, key, by, blocks", [
    # a value that one table prints and no sentence does: that table alone
    ("reinforce/default/seed1", "wall_seconds", 100.0, ["reinforce"]),
    ("vpg/default/seed1", "wall_seconds", 100.0, ["vpg"]),
    ("ppo_seeds_11-20/default/seed11", "eval_mean_return", -100.0, ["ppo_seeds_11-20"]),
    # the ten seeds' wall-clock: their table, and the mean of wall_seconds (10 s more) in their statistics
    ("ppo_seeds/default/seed1", "wall_seconds", 100.0, ["ppo_seeds", "ppo_seeds_aggregate"]),
    # a peer's whole run made the longest of its five: the sentence under its table
    ("vs_sb3/sb3/seed1", "wall_seconds", 100.0, ["vs_sb3"]),
    ("vs_cleanrl/cleanrl/seed1", "wall_seconds", 100.0, ["vs_cleanrl"]),
    # a final return, which each learner table prints seed by seed
    ("ppo_clip/clip-coef=1000000/seed1", "final_return", -1.0, ["ppo_clip"]),
    ("ppo_kl/target-kl=0.01/seed1", "final_return", -1.0, ["ppo_kl"]),
])
def test_one_changed_cartpole_result_fails_the_check(tmp_path, run, key, by, blocks):
    root = copy_of_the_repository(tmp_path)
    assert make_docs.generate(root, write=False) == []  # the copy holds what its runs give
    change_cartpole_run(root, run, key, by)
    problems = make_docs.generate(root, write=False)
    assert block_names(problems) == blocks, problems  # those and no other
    assert all("differs from what the runs give" in problem for problem in problems)


@pytest.mark.parametrize("path, old, new, problem", [
    # a number the tables read from eval_success.csv, changed in summary.json alone
    ("hammer10/default/seed10/summary.json", '"bc_success": 0.58', '"bc_success": 0.6',
     "hammer10/default/seed10: summary.json has bc_success 0.6, eval_success.csv gives 0.58"),
    # a sweep's own table of its runs, changed alone
    ("hammer10/runs.csv", "default,10,0.58,", "default,10,0.6,",
     "hammer10/runs.csv, default/seed10: runs.csv has bc_success 0.6, summary.json 0.58"),
])
def test_a_number_changed_in_one_file_of_a_run_alone_is_caught(tmp_path, path, old, new, problem):
    root = copy_of_the_repository(tmp_path)
    change(root, path, old, new)
    problems = make_docs.generate(root, write=False)
    assert any(problem in found for found in problems), problems


# ---- Small runs written here, their tables worked out by hand.
def write_run(root, directory, seed, evals, wall_seconds, steps_per_second, **extra):
    path = root / "benchmarks" / "results" / directory / f"seed{seed}"
    path.mkdir(parents=True)
    rows = "".join(f"{step},{success},{length}\n" for step, success, length in evals)
    (path / "eval_success.csv").write_text("step,success,length\n" + rows)
    (path / "summary.json").write_text(json.dumps({"seed": seed, "wall_seconds": wall_seconds,
                                                   "steps_per_second": steps_per_second, **extra}))


@pytest.fixture
def small(tmp_path):
    # seed 1: 0.9 first at 102k, then 0.88, then 1.00; seed 2: BC at 1.00, ends at 0.90; seed 3: never
    write_run(tmp_path, "demo/env-name=a-v3", 1, [(0, 0.5, 100.0), (53248, 0.8, 80.0), (102400, 0.92, 70.0),
                                                  (151552, 0.88, 60.0), (200704, 1.0, 50.0)],
              90.0, 2345.6, heldout_success=0.94)
    write_run(tmp_path, "demo/env-name=a-v3", 2, [(0, 1.0, 60.0), (53248, 0.86, 70.0), (102400, 0.9, 65.0),
                                                  (151552, 0.9, 64.0), (200704, 0.9, 63.0)], 120.0, 1999.4)
    write_run(tmp_path, "demo/env-name=a-v3", 3, [(0, 0.2, 150.0), (53248, 0.4, 140.0)], 30.0, 3000.0)
    unfinished = tmp_path / "benchmarks" / "results" / "demo" / "env-name=a-v3" / "seed4"
    unfinished.mkdir()
    (unfinished / "eval_success.csv").write_text("step,success,length\n0,0.1,99\n")  # no summary.json
    (tmp_path / "docs").mkdir()
    return tmp_path


def table(root, **kwargs):
    entry = make_docs.Table("demo", [make_docs.sweep("demo")], **kwargs)
    return entry.text(root, root / "docs" / "page.md").splitlines()


def test_one_row_per_run(small):
    lines = table(small, digest=False)
    assert lines[0] == ("| setting | seed | BC (step 0) | final | best | first eval >= 0.9 "
                        "| lowest from there | mean episode, BC → final | minutes | RL steps/s "
                        "| held-out placements |")
    assert lines[2:] == [
        "| a-v3 | 1 | 0.50 | 1.00 | 1.00 | 102k | 0.88 | 100 → 50 | 1.5 | 2,346 | 0.94 |",
        "| a-v3 | 2 | 1.00 | 0.90 | 1.00 | 0 (BC) | 0.86 | 60 → 63 | 2.0 | 1,999 | - |",
        "| a-v3 | 3 | 0.20 | 0.40 | 0.40 | never | - | 150 → 140 | 0.5 | 3,000 | - |",
    ]


def test_one_row_per_setting_and_the_seeds_across(small):
    assert table(small, layout="settings", digest=False)[2] == (  # best and held-out: seed 1 reports it
        "| a-v3 | 1, 2, 3 | 0.50 / 1.00 / 0.20 | 1.00 / 0.90 / 0.40 | 1.00 / 1.00 / 0.40 | 0.94 / - / - "
        "| 102k / 0 (BC) / never | 0.88 / 0.86 / - | 0.5-2.0 | 1,999-3,000 |")
    assert table(small, layout="seeds", digest=False) == [
        "| seed | 1 | 2 | 3 |", "|---|---:|---:|---:|", "| BC (step 0) | 0.50 | 1.00 | 0.20 |",
        "| final | 1.00 | 0.90 | 0.40 |", "| first eval >= 0.9 | 102k | 0 (BC) | never |"]
    assert table(small, layout="evals", digest=False) == [  # held-out: seed 1 reports it
        "| setting | seed | every evaluation, BC (step 0) first | final | held-out placements |",
        "|---|---|---|---:|---:|",
        "| a-v3 | 1 | 0.50, 0.80, 0.92, 0.88, 1.00 | 1.00 | 0.94 |",
        "| a-v3 | 2 | 1.00, 0.86, 0.90, 0.90, 0.90 | 0.90 | - |",
        "| a-v3 | 3 | 0.20, 0.40 | 0.40 | - |"]


def test_the_sentences_count_from_the_runs(small):
    assert table(small, layout="digest", notes={"a-v3 seed 3": "resumed"}) == [
        "3 runs, BC 0.20-1.00. At the end 2 of 3 at 0.9 or more (a-v3 seed 3: 0.40), 1 of 3 at 1.00; "
        "1 of 3 below their BC start (a-v3 seed 2: 0.90). Of the 2 that reached 0.9, none stayed at 0.9 or "
        "more at every later evaluation (a-v3 seed 1: 0.88; a-v3 seed 2: 0.86). A run took 1.5-2.0 min at "
        "1,999-2,346 RL steps/s (not counting a-v3 seed 3, resumed)."]


def test_only_the_lines_between_the_markers_are_rewritten(small, monkeypatch):
    monkeypatch.setattr(make_docs, "GENERATED", [make_docs.Table("demo", [make_docs.sweep("demo")], "seeds",
                                                                 digest=False)])
    page = small / "README.md"
    page.write_text("# Title\n\nBefore.\n<!-- generated: demo -->\nstale\n"
                    "<!-- end generated: demo -->\nAfter.\n")
    problems = make_docs.generate(small, write=False)
    assert len(problems) == 1 and problems[0].startswith("README.md:4: demo differs from what the runs give")
    assert page.read_text().count("stale") == 1  # the check changes nothing
    assert make_docs.generate(small, write=True) == []
    assert page.read_text() == ("# Title\n\nBefore.\n<!-- generated: demo -->\n| seed | 1 | 2 | 3 |\n"
                                "|---|---:|---:|---:|\n| BC (step 0) | 0.50 | 1.00 | 0.20 |\n"
                                "| final | 1.00 | 0.90 | 0.40 |\n"
                                "| first eval >= 0.9 | 102k | 0 (BC) | never |\n"
                                "<!-- end generated: demo -->\nAfter.\n")
    assert make_docs.generate(small, write=False) == []


@pytest.mark.parametrize("text, problem", [
    ("<!-- generated: demo -->\n", "README.md:1: demo has no end marker"),
    ("<!-- generated: nothing -->\n<!-- end generated: nothing -->\n",
     "README.md:1: nothing is not in GENERATED"),
    ("<!-- generated: demo -->\n<!-- end generated: other -->\n",
     "README.md:2: the end of other without its start"),
    ("no markers\n", "demo: in no page"),
])
def test_a_wrong_marker_or_a_block_in_no_page_is_named(small, monkeypatch, text, problem):
    monkeypatch.setattr(make_docs, "GENERATED", [make_docs.Table("demo", [make_docs.sweep("demo")])])
    (small / "README.md").write_text(text)
    problems = make_docs.generate(small, write=False)
    assert any(found.startswith(problem) for found in problems), problems


def test_a_setting_without_a_finished_run_is_left_out_unless_it_is_named(small):
    started = small / "benchmarks" / "results" / "demo" / "env-name=b-v3" / "seed1"  # a sweep going on
    started.mkdir(parents=True)
    (started / "eval_success.csv").write_text("step,success,length\n0,0.1,99\n")
    assert [label for label, _ in make_docs.sweep("demo")(small)] == ["a-v3"]
    for named in [make_docs.sweep("demo", ["env-name=b-v3"]),
                  make_docs.group("b", "demo/env-name=b-v3/seed*")]:
        with pytest.raises(ValueError, match="empty: no finished run under benchmarks/results for b"):
            make_docs.Table("empty", [named]).text(small, small / "README.md")


def test_a_figure_is_the_same_bytes_when_drawn_again(small):
    figure = make_docs.Figure("demo", [make_docs.sweep("demo")], title="demo runs", columns=2)
    first = figure.draw(small).read_bytes()
    assert figure.draw(small).read_bytes() == first
    assert first.startswith(b"\x89PNG") and b"Matplotlib" not in first  # no version in the file
    assert figure.text(small, small / "README.md") == "![demo runs](docs/demo.png)\n"
    assert figure.text(small, small / "docs" / "page.md") == "![demo runs](demo.png)\n"


def test_the_aggregate_over_tasks_on_hand_worked_numbers(small):
    # a second task, two seeds, finals 0.5 and 0.6; its seed 1 scores 0.3 on the held-out placements
    write_run(small, "demo/env-name=b-v3", 1, [(0, 0.2, 90.0), (53248, 0.5, 80.0)], 60.0, 2000.0,
              heldout_success=0.3)
    write_run(small, "demo/env-name=b-v3", 2, [(0, 0.3, 90.0), (53248, 0.6, 80.0)], 60.0, 2000.0)
    (line,) = table(small, layout="aggregate", digest=False)
    # finals 1.00, 0.90, 0.40 (a-v3: median 0.90, solved) and 0.5, 0.6 (b-v3: median 0.55): 1 of 2 tasks.
    # IQM of 5 values: one trimmed from each end of 0.4, 0.5, 0.6, 0.9, 1.0: (0.5 + 0.6 + 0.9) / 3 = 0.667
    assert line.startswith("2 tasks with 2-3 seeds each, 5 runs: the median final success over seeds is 0.9 "
                           "or more on 1 of 2; the interquartile mean of final success is 0.667 (95% "
                           "bootstrap interval ")
    low, high = (float(x) for x in line.split("interval ")[1].split(")")[0].split("-"))
    assert 0.4 <= low < 0.667 < high <= 1.0
    # held out: a-v3 seed 1, 0.94 against 1.00 (within 0.1); b-v3 seed 1, 0.30 against 0.50 (not)
    assert line.endswith("On placements never trained on, 1 of 2 runs end within 0.1 of their final success "
                         "(b-v3 seed 1: 0.50 trained, 0.30 held out).")


def test_beside_published_results_on_hand_worked_numbers(small, tmp_path_factory):
    """published_metaworld.py reads a tdmpc2 results folder (made here: 4 methods x 50 tasks); the table
    counts a task solved by the median over seeds, and by the mean, and gives the mean success."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import published_metaworld

    source = tmp_path_factory.mktemp("tdmpc2") / "results"
    for folder in published_metaworld.METHODS:
        (source / folder).mkdir(parents=True)
        for k in range(50):  # task 0: seeds 1.0, 1.0, 0.4 (median 1.0, mean 0.8); the rest: 0.0 at 500k
            seeds = [1.0, 1.0, 0.4] if k == 0 else [0.0, 0.0, 0.0]
            rows = "".join(f"{step},{success},{seed}\n" for seed, success in zip((3, 1, 2), seeds)
                           for step in (400000, 500000, 1000000))
            (source / folder / f"mw-task{k}.csv").write_text("step,success,seed\n" + rows)
    rows = published_metaworld.read(source)
    assert len(rows) == 4 * 50 * 2 * 3 and rows[0] == {"method": "TD-MPC2", "task": "task0-v3",
                                                      "step": 500000, "seed": 1, "success": 1.0}
    out = small / make_docs.PUBLISHED
    out.parent.mkdir(parents=True)
    with open(out, "w") as file:
        file.write("method,task,step,seed,success\n")
        file.writelines(f"{r['method']},{r['task']},{r['step']},{r['seed']},{r['success']}\n" for r in rows)
    lines = make_docs.Versus("demo", [make_docs.sweep("demo")]).text(small, small / "README.md").splitlines()
    # these runs: one task (a-v3), finals 1.00, 0.90, 0.40: median 0.90 (solved), mean 0.767 (not)
    assert lines[2] == "| BC, then PPO with the KL anchor (these runs) | 200k | 1 | 3 | 1 | 0 | 0.767 |"
    # each method: task 0 solved by the median, not by the mean; mean success (0.8 + 49 x 0) / 50 = 0.016
    assert lines[3:5] == ["| TD-MPC2 (published) | 500k | 50 | 3 | 1 | 0 | 0.016 |",
                          "| TD-MPC2 (published) | 1M | 50 | 3 | 1 | 0 | 0.016 |"]
    assert [line.split(" |")[0] for line in lines[5:]] == ["| TD-MPC (published)"] * 2 + [
        "| SAC (published)"] * 2 + ["| DreamerV3 (published)"] * 2
    figure = make_docs.TaskFigure("demo", [make_docs.sweep("demo")], title="demo tasks")
    first = figure.draw(small).read_bytes()  # a task of these runs that no method published: no marker
    assert first.startswith(b"\x89PNG") and figure.draw(small).read_bytes() == first
    (source / "sac" / "mw-task7.csv").unlink()
    with pytest.raises(SystemExit, match="holds 49 mw-"):
        published_metaworld.read(source)


def test_the_failures_of_a_replayed_run_counted_by_stage(small):
    # seed 2 ends at 0.90; its replay (benchmarks/failures.py --save): 18 successes, then two failures
    replay = small / "benchmarks" / "results" / "demo" / "env-name=a-v3" / "seed2" / "failures.csv"
    # (replayed without sampled episodes: no sampled_success column)
    head = "placement,success,length,hand_to_object,grasped,object_to_goal,stage,expert_success\n"
    failed = ["18,0,120,0.2290,0,0.1990,never reached the object,0\n",
              '19,0,120,0.0540,1,0.1880,"grasped it, not to the target",1\n']
    replay.write_text(head + "".join(f"{k},1,40,0.0100,1,0.0100,,0\n" for k in range(18)) + "".join(failed))
    # 2 of 20 failed: one never reached (22.9 cm from the object), one grasped (5.4 cm); the rest succeed.
    # The expert fails on the first failure, succeeds on the second (its failures elsewhere do not count
    # there); over all 20 placements it succeeds on that one alone: 1 of 20, 0.05
    with pytest.raises(ValueError, match=r"^a-v3 seed 3: final below 0.93 but no failures.csv"):
        table(small, layout="failures", digest=False)  # seed 3 ends at 0.40 and was never replayed
    # seed 3: 2 of 5 succeed; it fails from 2 (30 cm from the object), 3 and 4 (reached, 4 and 3 cm, not
    # grasped); the expert succeeds from 0, 1, 2 and 4: 4 of 5
    (replay.parent.parent / "seed3" / "failures.csv").write_text(head + "".join([
        "0,1,40,0.0100,1,0.0100,,1\n", "1,1,40,0.0100,1,0.0100,,1\n",
        "2,0,120,0.3000,0,0.2500,never reached the object,1\n",
        '3,0,120,0.0400,0,0.2000,"reached it, never grasped it",0\n',
        '4,0,120,0.0300,0,0.2100,"reached it, never grasped it",1\n']))
    assert table(small, layout="failures", digest=False)[2:] == [
        "| a-v3 seed 2 | 0.90 | 0.05 | - | 2 of 20 | 1 | 0 | 1 | 5.4-22.9 | 18.8-19.9 | 1 | **18**, 19 |",
        "| a-v3 seed 3 | 0.40 | 0.80 | - | 3 of 5 | 1 | 2 | 0 | 3.0-30.0 | 20.0-25.0 | 1 | 2, **3**, 4 |"]
    # seed 3 replayed with two sampled episodes per placement: 1, 1, 0.5, 0, 0.5 of them succeed: 0.60
    sampled = ["1", "1", "0.5", "0", "0.5"]
    rows = replay.parent.parent.joinpath("seed3", "failures.csv").read_text().splitlines()
    replay.parent.parent.joinpath("seed3", "failures.csv").write_text("\n".join(
        [rows[0] + ",sampled_success"] + [f"{line},{k}" for line, k in zip(rows[1:], sampled)]) + "\n")
    assert table(small, layout="failures", digest=False)[3] == (
        "| a-v3 seed 3 | 0.40 | 0.80 | 0.60 | 3 of 5 | 1 | 2 | 0 | 3.0-30.0 | 20.0-25.0 | 1 | 2, **3**, 4 |")
    replay.write_text(head + "".join(f"{k},1,40,0.0100,1,0.0100,,1\n" for k in range(7)) + "".join(failed))
    with pytest.raises(ValueError, match="replays a success of 0.78, eval_success.csv ends at 0.90"):
        make_docs.sweep("demo")(small)  # 7 of 9: not what the run's evaluation gave


# ---- CartPole runs written here (summary.json alone), their tables worked out by hand.
def write_summary(root, directory, seed, steps, seconds, lowest, final, **extra):
    path = root / "benchmarks" / "results" / directory / f"seed{seed}"
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps({
        "script": "ppo_cartpole", "seed": seed, "total_steps": 499712, "wall_seconds": 24.0,
        "steps_per_second": 21500.0, "final_return": final, "steps_to_solve": steps,
        "seconds_to_solve": seconds, "eval_mean_return": 500.0, "lowest_after_solve": lowest, **extra}))


@pytest.fixture
def cartpole(tmp_path):
    # seeds 1, 2 and 4 solve (seed 2 then falls to 470.1), seed 3 never; seed 3 ends at 300.0
    write_summary(tmp_path, "cp/default", 1, 75776, 3.5, 478.5, 500.0, steps_per_second=21552.4,
                  wall_seconds=24.04)
    write_summary(tmp_path, "cp/default", 2, 94208, 4.26, 470.1, 498.8, steps_per_second=21000.0,
                  wall_seconds=24.5)
    write_summary(tmp_path, "cp/default", 3, None, None, None, 300.0, steps_per_second=22000.0,
                  wall_seconds=23.0, eval_mean_return=250.5)
    write_summary(tmp_path, "cp/default", 4, 69632, 3.31, 480.0, 476.0, wall_seconds=23.96)
    (tmp_path / "benchmarks" / "results" / "cp" / "default" / "seed5").mkdir()  # started, not finished
    (tmp_path / "docs").mkdir()
    return tmp_path


def cartpole_block(root, layout, *groups):
    entry = make_docs.CartPole("demo", list(groups), layout=layout)
    return entry.text(root, root / "docs" / "page.md").splitlines()


SEEDS_1_4 = make_docs.cartpole("PPO", "cp/default", range(1, 5))


def test_a_cartpole_table_one_row_a_seed_and_their_medians(cartpole):
    assert cartpole_block(cartpole, "cartpole", SEEDS_1_4) == [
        "| PPO, 500k steps | steps to solve | seconds to solve | lowest after solving "
        "| final mean return (last 100) | eval (most likely action) | steps/s | wall seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        "| seed 1 | 75,776 | 3.5 | 478.5 | 500.0 | 500.0 | 21,552 | 24.0 |",
        "| seed 2 | 94,208 | 4.3 | 470.1 | 498.8 | 500.0 | 21,000 | 24.5 |",
        "| seed 3 | never | never | - | 300.0 | 250.5 | 22,000 | 23.0 |",
        "| seed 4 | 69,632 | 3.3 | 480.0 | 476.0 | 500.0 | 21,500 | 24.0 |",
        # never counts as the slowest: steps 69,632, 75,776, 94,208, never -> (75,776 + 94,208) / 2;
        # seconds 3.31, 3.5, 4.26, never -> (3.5 + 4.26) / 2 = 3.88
        "| median | 84,992 | 3.9 |  |  |  |  |  |",
        "",
        # 499,712 steps (whole rollouts): a 500k run. Seed 2 fell to 470.1; seeds 1 and 4 held, 478.5, 480.0
        "PPO (500k steps, seeds 1-4): 3 of 4 solve (seed 3 never), at 69.6k-94.2k steps (median 85.0k) "
        "and 3.3-4.3 s (median 3.9 s). 3 of 4 end at 475 or more (seed 3: 300.0). From solving on, the "
        "mean of the last 100 falls below 475 on 1 of 3 (seed 2: 470.1); on the others it stays at 475 or "
        "more (lowest 478.5)."]


def test_a_missing_cartpole_run_is_named_with_its_block(cartpole, monkeypatch):
    (cartpole / "docs" / "page.md").write_text("<!-- generated: demo -->\n<!-- end generated: demo -->\n")
    monkeypatch.setattr(make_docs, "GENERATED", [make_docs.CartPole("demo", [
        make_docs.cartpole("PPO", "cp/default", range(1, 6)),  # seed 5 has not finished
        make_docs.pooled("all", make_docs.cartpole("PPO", "none/default", range(1, 3)), SEEDS_1_4)],
        layout="cartpole_digest")])
    (cartpole / "README.md").write_text("")
    assert make_docs.generate(cartpole, write=False) == [
        "docs/page.md:1: demo: no finished run (seed<N>/summary.json) of seed 5 in "
        "benchmarks/results/cp/default; seeds 1-2 in benchmarks/results/none/default; the command above "
        "the block makes them"]


def test_the_settings_of_a_cartpole_sweep_seed_by_seed(tmp_path):
    for setting, seed, steps, seconds, lowest, final in [("clip-coef=0.15", 1, 75776, 3.52, 478.5, 500.0),
                                                         ("clip-coef=0.15", 2, 73728, 3.3, 480.2, 499.1),
                                                         ("clip-coef=1000000", 1, 135168, 6.2, 442.8, 452.6),
                                                         ("clip-coef=1000000", 2, None, None, None, 310.0)]:
        write_summary(tmp_path, f"grid/{setting}", seed, steps, seconds, lowest, final, total_steps=198656)
    lines = cartpole_block(tmp_path, "cartpole_settings",
                           make_docs.cartpole("a", "grid/clip-coef=0.15", range(1, 3)),
                           make_docs.cartpole("b", "grid/clip-coef=1000000", range(1, 3)))
    assert lines[:4] == [
        "| setting | steps to solve, seeds 1-2 | range | median | lowest after solving "
        "| final mean return (last 100) |",
        "|---|---:|---:|---:|---:|---:|",
        # the median: (75,776 + 73,728) / 2 = 74,752; b's is never, as half its seeds are
        "| a | 75.8k / 73.7k | 73.7k-75.8k | 74.8k | 478.5 / 480.2 | 500.0 / 499.1 |",
        "| b | 135.2k / never | 135.2k | never | 442.8 / - | 452.6 / 310.0 |"]
    assert lines[4:] == [
        "", "a (200k steps, seeds 1-2): all 2 solve, at 73.7k-75.8k steps (median 74.8k) and 3.3-3.5 s "
        "(median 3.4 s). All 2 end at 475 or more (499.1-500.0). From solving on, the mean of the last 100 "
        "stays at 475 or more on all 2 (lowest 478.5). b (200k steps, seeds 1-2): 1 of 2 solve (seed 2 "
        "never), at 135.2k steps (median never) and 6.2 s (median never). None end at 475 or more (seed "
        "1: 452.6; seed 2: 310.0). From solving on, the mean of the last 100 falls below 475 on 1 of 1, to "
        "442.8 at its lowest."]


@pytest.fixture
def peers(tmp_path):
    for seed, steps, seconds, lowest, per_second, wall in [(1, 75776, 3.5, 478.5, 21500.0, 10.2),
                                                           (2, 73728, 3.4, 478.9, 21700.0, 10.0),
                                                           (3, 94208, 4.3, 477.7, 21600.0, 10.4)]:
        write_summary(tmp_path, "vs/ours", seed, steps, seconds, lowest, 500.0, total_steps=198656,
                      steps_per_second=per_second, wall_seconds=wall)
    for seed, steps, seconds, lowest, per_second, wall in [(1, 61696, 16.8, 480.2, 3600.0, 27.5),
                                                           (2, 68352, 18.5, 475.9, 3500.0, 27.0),
                                                           (3, None, None, None, 3550.0, 28.0)]:
        write_summary(tmp_path, "vs/peer", seed, steps, seconds, lowest, 470.0, script="sb3_cartpole",
                      total_steps=100096, steps_per_second=per_second, wall_seconds=wall)
    return tmp_path


def test_ours_against_a_peer_seed_by_seed(peers):
    assert cartpole_block(peers, "peers", make_docs.cartpole("ours", "vs/ours", range(1, 4)),
                          make_docs.cartpole("SB3", "vs/peer", range(1, 4))) == [
        "| seed | ours: steps to solve | ours: seconds to solve | ours: lowest after solving "
        "| SB3: steps to solve | SB3: seconds to solve | SB3: lowest after solving | seconds, SB3 / ours |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| 1 | 75,776 | 3.5 | 478.5 | 61,696 | 16.8 | 480.2 | 4.8x |",  # 16.8 / 3.5
        "| 2 | 73,728 | 3.4 | 478.9 | 68,352 | 18.5 | 475.9 | 5.4x |",  # 18.5 / 3.4 = 5.44
        "| 3 | 94,208 | 4.3 | 477.7 | never | never | - | - |",
        # ours: medians of 73,728, 75,776, 94,208 and 3.4, 3.5, 4.3; SB3's: 61,696, 68,352, never and 16.8,
        # 18.5, never; 18.5 / 3.5 = 5.29
        "| median | 75,776 | 3.5 |  | 68,352 | 18.5 |  | 5.3x |",
        "",
        "Over seeds 1-3, SB3 needs fewer steps to solve than ours (median 68.4k against 75.8k) and 5.3x "
        "the seconds (median 18.5 s against 3.5 s; seed by seed 4.8x-5.4x). Ours runs at 21,500-21,700 "
        "steps/s, SB3 at 3,500-3,600; a whole run takes ours 10.0-10.4 s (200k steps) and SB3 27.0-28.0 s "
        "(100k steps)."]


def test_each_group_against_the_first_in_a_sentence(peers):
    assert cartpole_block(peers, "cartpole_versus", make_docs.cartpole("A", "vs/ours", range(1, 4)),
                          make_docs.cartpole("B", "vs/peer", range(1, 4))) == [
        # 68,352 / 75,776 = 0.902; 18.5 / 3.5 = 5.286
        "B: median steps to solve 68.4k, 0.90 of A's 75.8k; median seconds to solve 18.5 s, 5.29 of A's "
        "3.5 s; 3,500-3,600 steps/s against 21,500-21,700."]


def test_the_sweep_statistics_of_cartpole_runs(cartpole):
    lines = cartpole_block(cartpole, "cartpole_aggregate", SEEDS_1_4)
    assert lines[:2] == ["| metric | seeds | mean | IQM | 95% CI of the mean |", "|---|---:|---:|---:|---:|"]
    # finals 500.0, 498.8, 300.0, 476.0: mean 1774.8 / 4 = 443.7; IQM of 4 trims one from each end:
    # (476.0 + 498.8) / 2 = 487.4. Steps of the 3 that solved: mean = IQM (too few to trim) = 239,616 / 3
    assert lines[2].startswith("| final_return | 4 | 443.7 | 487.4 | [")
    assert lines[3].startswith("| steps_to_solve | 3 of 4 solved | 79,872 | 79,872 | [")
    # seconds 3.5, 4.26, 3.31: 11.07 / 3 = 3.690, printed to 3 decimals below 10; the wall: 95.5 / 4 = 23.875
    # and (23.96 + 24.04) / 2 = 24.0
    assert lines[4].startswith("| seconds_to_solve | 3 of 4 solved | 3.690 | 3.690 | [")
    assert lines[8].startswith("| wall_seconds | 4 | 23.9 | 24.0 | [")
    low, high = (float(x.replace(",", "")) for x in lines[3].split("[")[1].rstrip(" |]").split(", "))
    assert 69632 <= low < 79872 < high <= 94208
    # and benchmarks/sweep.py's own summary.md of the same runs, a second implementation, agrees row by row
    import sweep

    runs = [{"setting": [], "dir": cartpole / "benchmarks" / "results" / "cp" / "default" / f"seed{seed}"}
            for seed in range(1, 5)]
    table = sweep.markdown(sweep.aggregate(runs, [[]], sweep.METRICS["ppo_cartpole"] + sweep.COMMON),
                           "ppo_cartpole", "1-4", "command")
    assert lines[2:] == [line.replace("| default | ", "| ", 1) for line in table.splitlines()
                         if line.startswith("| default |")]


def test_cleanrl_measured_from_its_episodes():
    import cleanrl_summary

    # 100 episodes of 470, then 20 of 500, episode k at step 10k and 50 + k s: the mean of the last 100
    # after episode 100 + j is 470 + 0.3j, at 475 or more from j = 17 on (475.1); after all 120, 476.0
    episodes = [(10 * k, 50.0 + k, 470.0 if k <= 100 else 500.0) for k in range(1, 121)]
    summary = cleanrl_summary.measure(episodes, start=50.0, end=180.0, sps=[(512, 4000.0), (1200, 4300.0)],
                                      seed=3)
    assert summary == {"script": "cleanrl_ppo", "seed": 3, "total_steps": 1200, "wall_seconds": 130.0,
                       "steps_per_second": 4300.0, "final_return": pytest.approx(476.0),
                       "steps_to_solve": 1170, "seconds_to_solve": 117.0,
                       "lowest_after_solve": pytest.approx(475.1)}
    early = cleanrl_summary.measure(episodes[:99], start=50.0, end=150.0, sps=[(990, 4000.0)], seed=3)
    assert early["steps_to_solve"] is None and math.isnan(early["final_return"])  # fewer than 100 episodes


def test_cleanrl_read_from_its_tensorboard_log(tmp_path):
    import cleanrl_summary
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path))  # as CleanRL's ppo.py logs: a return per episode, SPS per update
    for k in range(1, 121):
        writer.add_scalar("charts/episodic_return", 470.0 if k <= 100 else 500.0, 10 * k)
    writer.add_scalar("charts/SPS", 4300, 1200)
    writer.close()
    episodes, start, end, sps = cleanrl_summary.read(tmp_path)
    assert [step for step, _, _ in episodes] == [10 * k for k in range(1, 121)] and sps == [(1200, 4300.0)]
    assert start <= episodes[0][1] <= end  # the log's first event, written as the writer opened
    summary = cleanrl_summary.measure(episodes, start, end, sps, seed=1)
    assert summary["steps_to_solve"] == 1170 and summary["final_return"] == pytest.approx(476.0)


def test_the_readme_headline_gives_each_group_its_medians(cartpole):
    write_summary(cartpole, "peer", 1, 61696, 16.8, 480.2, 500.0)
    write_summary(cartpole, "peer", 2, 68352, 18.6, 475.9, 500.0)
    peer = make_docs.cartpole("the peer", "peer", range(1, 3))
    # PPO over seeds 1-4: steps 69,632, 75,776, 94,208, never -> 84,992 = 85.0k; seconds (3.5 + 4.26) / 2.
    # The peer over seeds 1-2: (61,696 + 68,352) / 2 = 65,024 = 65.0k steps; (16.8 + 18.6) / 2 = 17.7 s
    assert cartpole_block(cartpole, "headline", SEEDS_1_4, peer) == [
        "To solve CartPole-v1 (the mean return of the last 100 episodes at 475), medians over seeds 1-4, "
        "counted from the start of training: PPO 85.0k steps, 3.9 s; the peer 65.0k steps, 17.7 s."]


# ---- How many demonstrations (docs/demos.md): a few cells of the MT10 x 1, 3, 5, 10 demos grid, by hand.
DEMOS_BLOCKS = ["demos", "demos_digest", "demos_fewest", "demos_success"]


@pytest.fixture
def demo_grid(tmp_path):
    """reach-v3 with 1 demo (1M runs) and 10 (the 50-task runs, 500k); push-v3 with 3, seed 2 unfinished;
    pick-place-v3 with 5, and a seed 4 that is not of the grid. Every other cell of the grid: not run."""
    for seed, evals, extra in [  # 1M runs: evaluations at 450,560, then 503,808 (the 500k column), 999,424
            (1, [(0, 0.4, 100.0), (450560, 0.8, 80.0), (503808, 0.92, 70.0), (999424, 1.0, 50.0)],
             {"heldout_success": 0.98}),
            (2, [(0, 0.3, 100.0), (450560, 0.7, 80.0), (503808, 0.86, 70.0), (999424, 0.96, 50.0)],
             {"heldout_success": 0.94}),
            (3, [(0, 0.5, 100.0), (450560, 0.9, 80.0), (503808, 0.88, 70.0), (999424, 0.84, 50.0)], {})]:
        write_run(tmp_path, "demos/env-name=reach-v3,num-demos=1", seed, evals, 600.0, 1700.0, **extra)
    for seed, evals, heldout in [  # 500k runs: their last evaluation, 499,712, is the 500k column
            (1, [(0, 0.6, 90.0), (450560, 0.96, 60.0), (499712, 1.0, 50.0)], 1.0),
            (2, [(0, 0.9, 90.0), (450560, 1.0, 60.0), (499712, 0.98, 50.0)], 1.0),
            (3, [(0, 0.7, 90.0), (450560, 0.8, 60.0), (499712, 0.88, 50.0)], 0.9)]:
        write_run(tmp_path, "mt50/env-name=reach-v3", seed, evals, 300.0, 2000.0, heldout_success=heldout)
    for seed, evals in [(1, [(0, 0.1, 100.0), (503808, 0.5, 90.0), (999424, 0.95, 60.0)]),
                        (3, [(0, 0.2, 100.0), (503808, 0.6, 90.0), (999424, 0.7, 60.0)])]:
        write_run(tmp_path, "demos/env-name=push-v3,num-demos=3", seed, evals, 600.0, 1700.0)
    unfinished = tmp_path / "benchmarks" / "results" / "demos" / "env-name=push-v3,num-demos=3" / "seed2"
    unfinished.mkdir()
    (unfinished / "eval_success.csv").write_text("step,success,length\n0,0.1,99\n")  # no summary.json
    for seed, evals in [(1, [(0, 0.04, 110.0), (503808, 0.16, 100.0), (999424, 0.68, 80.0)]),
                        (2, [(0, 0.1, 110.0), (503808, 0.3, 100.0), (999424, 0.5, 80.0)]),
                        (3, [(0, 0.02, 110.0), (503808, 0.94, 100.0), (999424, 0.92, 80.0)]),
                        (4, [(0, 1.0, 40.0), (503808, 1.0, 40.0), (999424, 1.0, 40.0)])]:
        write_run(tmp_path, "demos/env-name=pick-place-v3,num-demos=5", seed, evals, 600.0, 1700.0)
    (tmp_path / "docs").mkdir()
    return tmp_path


def demos_block(root, name):
    (entry,) = [entry for entry in make_docs.GENERATED if entry.name == name]
    return entry.text(root, root / "docs" / "demos.md").splitlines()


def test_the_demos_table_one_row_a_task_and_number_of_demos(demo_grid):
    lines = demos_block(demo_grid, "demos")
    assert lines[:2] == ["| task | demos | seeds | BC (step 0) | 500k | 1M | held-out placements (final) "
                         "| first eval >= 0.9 |", "|---|---|---|---|---|---|---|---|"]
    assert len(lines) == 2 + 10 * 4  # every task, every number of demos, run or not
    assert lines[2:14] == [
        # 500k: 503,808 (not 450,560: 0.80 / 0.70 / 0.90); 1M: the last; seed 3 reports no held-out success;
        # the first evaluation at 0.9 or more: 503,808, 999,424, 450,560
        "| reach-v3 | 1 | 1, 2, 3 | 0.40 / 0.30 / 0.50 | 0.92 / 0.86 / 0.88 | 1.00 / 0.96 / 0.84 "
        "| 0.98 / 0.94 / - | 504k / 999k / 451k |",
        "| reach-v3 | 3 | - | - | - | - | - | - |",
        "| reach-v3 | 5 | - | - | - | - | - | - |",
        # 500k: 499,712, their last (not 450,560: 0.96 / 1.00 / 0.80); no 1M; seed 2's BC is at 0.90
        "| reach-v3 | 10 (500k runs) | 1, 2, 3 | 0.60 / 0.90 / 0.70 | 1.00 / 0.98 / 0.88 | - "
        "| 1.00 / 1.00 / 0.90 | 451k / 0 (BC) / never |",
        "| push-v3 | 1 | - | - | - | - | - | - |",
        "| push-v3 | 3 | 1, 3 | 0.10 / 0.20 | 0.50 / 0.60 | 0.95 / 0.70 | - | 999k / never |",  # seed 2 runs
        "| push-v3 | 5 | - | - | - | - | - | - |",
        "| push-v3 | 10 (500k runs) | - | - | - | - | - | - |",
        "| pick-place-v3 | 1 | - | - | - | - | - | - |",
        "| pick-place-v3 | 3 | - | - | - | - | - | - |",
        "| pick-place-v3 | 5 | 1, 2, 3 | 0.04 / 0.10 / 0.02 | 0.16 / 0.30 / 0.94 | 0.68 / 0.50 / 0.92 | - "
        "| never / never / 504k |",  # seed 4 is not of the grid
        "| pick-place-v3 | 10 (500k runs) | - | - | - | - | - | - |"]
    assert lines[-1] == "| window-open-v3 | 10 (500k runs) | - | - | - | - | - | - |"


def test_the_demos_sentences_count_the_tasks_with_all_three_seeds(demo_grid):
    assert demos_block(demo_grid, "demos_digest") == [
        # 3 + 2 + 3 runs of 1, 3 and 5 demos (pick-place's seed 4 not counted). reach-v3, 1 demo: the median
        # of 1.00, 0.96, 0.84 is 0.96 at 1M; of 0.92, 0.86, 0.88 it is 0.88 at 500k. push-v3 lacks seed 2.
        # pick-place-v3, 5 demos: 0.68, 0.50, 0.92 -> 0.68; 0.16, 0.30, 0.94 -> 0.30. reach-v3, 10 demos:
        # 1.00, 0.98, 0.88 -> 0.98 at 500k, and no 1M at all
        "8 of the 90 runs of 1, 3 and 5 demos are committed. 1 demo (3 of 30 runs): over the 1 task with all "
        "three seeds, the median over seeds is 0.9 or more at 1M on 1 of 1 and at 500k on none (reach-v3: "
        "0.88). 3 demos (2 of 30 runs): no task has all three seeds yet. 5 demos (3 of 30 runs): over the 1 "
        "task with all three seeds, the median over seeds is 0.9 or more at 1M on none (pick-place-v3: 0.68) "
        "and at 500k on none (pick-place-v3: 0.30). 10 demos (3 of 30 runs, the 50-task runs: 500k steps): "
        "over the 1 task with all three seeds, the median over seeds is 0.9 or more at 500k on 1 of 1."]


def test_the_fewest_demos_per_task_among_the_numbers_all_in(demo_grid):
    lines = demos_block(demo_grid, "demos_fewest")
    assert lines[2:6] == [
        # at 500k: 1 demo 0.88, 10 demos 0.98; at 1M: 1 demo 0.96. 3 and 5 demos: not run
        "| reach-v3 | 10 | 1 | 3, 5 |",
        "| push-v3 | - | - | 1, 3, 5, 10 |",  # 3 demos lacks seed 2
        "| pick-place-v3 | not reached (5) | not reached (5) | 1, 3, 10 |",  # 0.30 and 0.68
        "| peg-insert-side-v3 | - | - | 1, 3, 5, 10 |"]


def test_the_demos_page_says_so_when_no_run_is_in(tmp_path):
    (tmp_path / "docs").mkdir()
    assert demos_block(tmp_path, "demos_digest") == [
        "0 of the 90 runs of 1, 3 and 5 demos are committed. 1 demo (0 of 30 runs): no task has all three "
        "seeds yet. 3 demos (0 of 30 runs): no task has all three seeds yet. 5 demos (0 of 30 runs): no task "
        "has all three seeds yet. 10 demos (0 of 30 runs, the 50-task runs: 500k steps): no task has all "
        "three seeds yet."]
    assert demos_block(tmp_path, "demos")[2] == "| reach-v3 | 1 | - | - | - | - | - | - |"


def test_the_demos_figure_is_the_same_bytes_when_drawn_again(demo_grid):
    (figure,) = [entry for entry in make_docs.GENERATED if entry.name == "demos_success"]
    first = figure.draw(demo_grid).read_bytes()
    assert figure.draw(demo_grid).read_bytes() == first
    assert first.startswith(b"\x89PNG") and b"Matplotlib" not in first  # no version in the file
    link = figure.text(demo_grid, demo_grid / "docs" / "demos.md")
    assert link == f"![{figure.title}](demos_success.png)\n"


def test_the_demos_page_is_written_then_checked(demo_grid, monkeypatch):
    monkeypatch.setattr(make_docs, "GENERATED", [entry for entry in make_docs.GENERATED
                                                 if entry.name in DEMOS_BLOCKS])
    (demo_grid / "README.md").write_text("")
    page = demo_grid / "docs" / "demos.md"
    page.write_text("".join(f"<!-- generated: {name} -->\n<!-- end generated: {name} -->\n"
                            for name in DEMOS_BLOCKS))
    assert make_docs.generate(demo_grid, write=True) == []
    assert make_docs.generate(demo_grid, write=False) == []
    assert "8 of the 90 runs" in page.read_text() and (demo_grid / "docs" / "demos_success.png").exists()
    # reach-v3 seed 3 at 503,808 made 0.90: the median at 500k of 1 demo, 0.90, now reaches 0.9: the
    # table's cell, the sentences and the fewest demos at 500k (1, not 10) differ; the figure is not compared
    change(demo_grid, "demos/env-name=reach-v3,num-demos=1/seed3/eval_success.csv", "503808,0.88,",
           "503808,0.9,")
    problems = make_docs.generate(demo_grid, write=False)
    assert block_names(problems) == ["demos", "demos_digest", "demos_fewest"], problems
