"""benchmarks/make_docs.py: the docs hold the tables the committed runs give, a changed number in one
of those runs is caught, and the tables, sentences and markers behave as worked out here by hand.
No training: everything is read from benchmarks/results or from small runs written by the test."""

import json
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
