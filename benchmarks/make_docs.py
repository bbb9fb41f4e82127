"""Write every results table and figure in README.md and docs/ from the runs committed under
benchmarks/results, or check that the pages hold what those runs give.

    python benchmarks/make_docs.py           # rewrite every generated block, draw every figure
    python benchmarks/make_docs.py --check   # change nothing; exit 1 naming each block that differs

A page holds each generated block between two markers, and only the lines between them are rewritten:

    <!-- generated: hammer10 -->
    | seed | BC (step 0) | ...
    <!-- end generated: hammer10 -->

What is generated is the list GENERATED at the end of this file: tables (Table) and figures (Figure)
of groups of runs, each run a seed<N> directory holding the summary.json and eval_success.csv that
ppo_hammer_bc_kl.py writes (without summary.json a run has not finished, and is left out). A CartPole
block (CartPole) reads summary.json alone, as the three CartPole scripts write it, and the peers'
(benchmarks/sb3_cartpole.py --out, benchmarks/cleanrl_summary.py) with the same keys; it names the
seeds it shows, and a seed without a finished run is an error that names where it belongs. To add a
table or a figure, add an entry there and put its markers in a page. A figure's block is its image
link, its picture docs/<name>.png, drawn without a date or a version in the file, so the same runs
draw the same bytes. --check compares the text of every block, not the pictures. Both modes also check
that each run's summary.json agrees with its eval_success.csv, and each sweep's runs.csv with its runs'
summary.json, so that no committed number can change alone. Exit code: 0; 1 if a block differs
(--check), a file disagrees, a marker is wrong or an entry has no runs or no page; 2 on bad arguments.
"""

import argparse
import csv
import difflib
import json
import math
import os
import re
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path("benchmarks/results")  # under the repository's root
BAR = 0.9  # the success a run is asked to reach (summary.json's steps_to_solve: the first eval at it)
REPLAY_BELOW = 0.93  # a failures table holds every run of its sweep that ends below this (0.92 or less)
START = re.compile(r"^<!-- generated: ([\w.-]+) -->$")
END = re.compile(r"^<!-- end generated: ([\w.-]+) -->$")


# ==== Runs ===================================================================
@dataclass
class Run:
    label: str  # its group's: "reach-v3", or "" in a group without a label
    seed: int
    evals: list[tuple[int, float, float]]  # (step, success, mean episode length); step 0: the BC policy
    summary: dict
    replay: list[dict] | None = None  # failures.csv's rows, if benchmarks/failures.py --save replayed it

    @property
    def name(self) -> str:
        return f"{self.label} seed {self.seed}" if self.label else f"seed {self.seed}"

    @property
    def successes(self) -> list[float]:
        return [success for _, success, _ in self.evals]

    @property
    def first_at_bar(self) -> int | None:
        """The step of the first evaluation at BAR or more (0: BC already was); None: never."""
        return next((step for step, success, _ in self.evals if success >= BAR), None)

    @property
    def lowest_from_bar(self) -> float | None:
        """The lowest evaluation from the first one at BAR or more on: does the run hold it?"""
        first = self.first_at_bar
        return None if first is None else min(s for step, s, _ in self.evals if step >= first)


Group = tuple[str, list[Run]]  # (label, its runs in seed order)
Groups = Callable[[Path], list[Group]]  # the groups, found under a repository root when asked


def finished_runs(root: Path, pattern: str, label: str, curve: bool = True) -> list[Run]:
    """The finished runs that `pattern` (a glob under benchmarks/results) matches; with `curve`, each with
    its eval_success.csv (the hammer's: a CartPole run has its summary.json alone)."""
    runs = []
    for path in (root / RESULTS).glob(pattern):
        if re.fullmatch(r"seed\d+", path.name) and (path / "summary.json").exists():
            evals = []
            if curve:
                with open(path / "eval_success.csv") as file:
                    evals = [(int(row["step"]), float(row["success"]), float(row["length"]))
                             for row in csv.DictReader(file)]
            summary = json.loads((path / "summary.json").read_text())
            replay = None
            if (path / "failures.csv").exists():
                with open(path / "failures.csv") as file:
                    replay = list(csv.DictReader(file))
            runs.append(Run(label, summary["seed"], evals, summary, replay))
            if curve:
                agrees(runs[-1], path.relative_to(root).as_posix())
    return runs


def agrees(run: Run, where: str) -> None:
    """A run's summary.json says what its eval curve says, so that no committed number changes alone."""
    for key, value in [("bc_success", run.successes[0]), ("final_success", run.successes[-1]),
                       ("best_success", max(run.successes)), ("steps_to_solve", run.first_at_bar)]:
        if key in run.summary and run.summary[key] != value:
            raise ValueError(f"{where}: summary.json has {key} {run.summary[key]}, "
                             f"eval_success.csv gives {value}")
    if run.replay is not None and (replayed := rate(sum(int(e["success"]) for e in run.replay)
                                                    / len(run.replay))) != rate(run.successes[-1]):
        raise ValueError(f"{where}: failures.csv replays a success of {replayed}, "
                         f"eval_success.csv ends at {rate(run.successes[-1])}")


def sweep_tables(root: Path) -> list[str]:
    """Each sweep's runs.csv against its runs' summary.json, value by value (summary.md is made from the
    same numbers): one line per value that differs."""
    problems = []
    for table in sorted((root / RESULTS).glob("*/runs.csv")):
        with open(table) as file:
            for row in csv.DictReader(file):
                run = table.parent / row.pop("setting") / f"seed{row.pop('seed')}"
                where = f"{table.relative_to(root).as_posix()}, {run.relative_to(table.parent).as_posix()}"
                if not (run / "summary.json").exists():
                    problems.append(f"{where}: no such finished run")
                    continue
                summary = json.loads((run / "summary.json").read_text())
                problems += [f"{where}: runs.csv has {key} {cell or 'null'}, summary.json {summary.get(key)}"
                             for key, cell in row.items()
                             if (None if cell == "" else float(cell)) != summary.get(key)]
    return problems


def group(label: str, *patterns: str) -> Groups:
    """One group named `label`: the runs that the patterns match, in seed order."""
    def groups(root: Path) -> list[Group]:
        runs = [run for pattern in patterns for run in finished_runs(root, pattern, label)]
        return [(label, sorted(runs, key=lambda run: run.seed))]
    return groups


def sweep(name: str, settings: list[str] | None = None) -> Groups:
    """One group per setting of the sweep in benchmarks/results/<name>: its directories in the order given,
    each labelled by its name without 'env-name=' ('default': no label). Without `settings`: every
    directory that holds a finished run, sorted (a sweep still running shows what it has finished)."""
    def groups(root: Path) -> list[Group]:
        found = []
        for setting in settings or sorted(path.name for path in (root / RESULTS / name).iterdir()
                                          if path.is_dir()):
            label = "" if setting == "default" else setting.removeprefix("env-name=").replace(",", ", ")
            found += group(label, f"{name}/{setting}/seed*")(root)
        return found if settings else [(label, runs) for label, runs in found if runs]
    return groups


class Missing(ValueError):
    """Runs that a block names are not there: `places`, each 'seeds 1-5 in benchmarks/results/...'."""
    def __init__(self, places: list[str], name: str = ""):
        super().__init__(f"{name}: " * bool(name) + "no finished run (seed<N>/summary.json) of "
                         + "; ".join(places) + "; the command above the block makes them")
        self.places = places


def cartpole(label: str, directory: str, seeds: range) -> Groups:
    """One group named `label`: the finished run of each of `seeds` in benchmarks/results/<directory>, a
    CartPole run or a peer's (summary.json alone). Each seed must be there: the page says which it shows."""
    def groups(root: Path) -> list[Group]:
        found = finished_runs(root, f"{directory}/seed*", label, curve=False)
        runs = [run for run in found if run.seed in seeds]
        missing = sorted(set(seeds) - {run.seed for run in runs})
        if missing:
            raise Missing([f"seed{'s' * (len(missing) > 1)} {seed_list(missing)} in "
                           f"{(RESULTS / directory).as_posix()}"])
        return [(label, sorted(runs, key=lambda run: run.seed))]
    return groups


def pooled(label: str, *makers: Groups) -> Groups:
    """One group named `label`: the runs of every group that `makers` find, in seed order."""
    def groups(root: Path) -> list[Group]:
        runs = [run for _, found in resolve(list(makers), root, label) for run in found]
        return [(label, sorted(runs, key=lambda run: run.seed))]
    return groups


def tasks(names: list[str]) -> list[str]:
    """The sweep's directory of each task of a --grid env-name=... sweep."""
    return [f"env-name={name}" for name in names]


# ==== Numbers as the pages print them ========================================
def rate(x: float) -> str:
    return f"{x:.2f}"


def steps(step: int | None) -> str:
    return "never" if step is None else "0 (BC)" if step == 0 else f"{step / 1000:.0f}k"


def budget(step: int) -> str:
    return f"{step / 1e6:g}M" if step >= 1e6 else f"{step / 1000:.0f}k"


def minutes(run: Run) -> str:
    return f"{run.summary['wall_seconds'] / 60:.1f}"


def per_second(run: Run) -> str:
    return f"{run.summary['steps_per_second']:,.0f}"


def span(values: list[str]) -> str:
    """'low-high' of numbers printed alike (compared as numbers), or the one value if all are equal."""
    ordered = sorted(values, key=lambda value: float(value.replace(",", "")))
    return ordered[0] if ordered[0] == ordered[-1] else f"{ordered[0]}-{ordered[-1]}"


def count(k: int, n: int) -> str:
    return "none" if k == 0 else f"all {n}" if k == n > 1 else f"{k} of {n}"


SOLVED = 475.0  # CartPole-v1's reward_threshold: "solved" is a mean return of the last 100 episodes at this


def mean_return(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def step_count(step: float | None) -> str:
    """A table's cell: 75,776 (a median of two may be 74,752.0); None or inf: never solved."""
    return "never" if step is None or step == math.inf else f"{step:,.0f}"


def kilo(step: float) -> str:
    """In a sentence: 75.8k (PPO's rollouts, 2,048 steps apart, print apart), 5.06M; inf: never solved."""
    return "never" if step == math.inf else f"{step / 1e6:.2f}M" if step >= 1e6 else f"{step / 1e3:.1f}k"


def seconds(value: float | None) -> str:
    return "never" if value is None or value == math.inf else f"{value:.1f}"


def in_seconds(value: float) -> str:
    """In a sentence: '3.5 s'; inf: never solved."""
    return "never" if value == math.inf else f"{value:.1f} s"


def multiple(value: float | None, of: float | None) -> str:
    """'5.3x': value / of, '-' where either is never (None or inf)."""
    return "-" if value in (None, math.inf) or of in (None, math.inf) else f"{value / of:.1f}x"


def fraction(value: float, of: float) -> str:
    """'0.66': value / of, '-' where either is never (inf)."""
    return f"{value / of:.2f}" if math.isfinite(value + of) else "-"


def length(runs: list[Run]) -> str:
    """A run's steps as the page names them: 198,656 (whole rollouts of a 200k budget) -> '200k'."""
    return "/".join(dict.fromkeys(budget(float(f"{run.summary['total_steps']:.2g}")) for run in runs))


def seed_list(seeds: list[int]) -> str:
    """1, 2, 3, 5 -> '1-3, 5': consecutive seeds as a range."""
    parts, ordered = [], sorted(seeds)
    for seed in ordered:
        if parts and seed == parts[-1][1] + 1:
            parts[-1][1] = seed
        else:
            parts.append([seed, seed])
    return ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in parts)


def between(values: list[float], show: Callable[[float], str]) -> str:
    """'low-high' of numbers, each printed by `show`, or the one value if both print alike."""
    low, high = show(min(values)), show(max(values))
    return low if low == high else f"{low}-{high}"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def head(header: list[str], text_columns: int) -> list[str]:
    """The header row and the alignment row: text columns left, the others (numbers) right."""
    alignment = ["---" if i < text_columns else "---:" for i in range(len(header))]
    return [row(header), "|" + "|".join(alignment) + "|"]


# ==== Tables =================================================================
def runs_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """One row per run. A held-out column appears once a run has heldout_success."""
    labelled = any(label for label, _ in groups)
    heldout = any(run.summary.get("heldout_success") is not None for _, runs in groups for run in runs)
    lines = head((["setting"] if labelled else []) + [
        "seed", "BC (step 0)", "final", "best", f"first eval >= {BAR}", "lowest from there",
        "mean episode, BC → final", "minutes", "RL steps/s"] + (["held-out placements"] if heldout else []),
        text_columns=int(labelled))
    for label, runs in groups:
        for run in runs:
            lowest, value = run.lowest_from_bar, run.summary.get("heldout_success")
            lines.append(row(([label] if labelled else []) + [
                str(run.seed), rate(run.successes[0]), rate(run.successes[-1]), rate(max(run.successes)),
                steps(run.first_at_bar), "-" if lowest is None else rate(lowest),
                f"{run.evals[0][2]:.0f} → {run.evals[-1][2]:.0f}",
                minutes(run) + (f" ({notes[run.name]})" if run.name in notes else ""), per_second(run)]
                + (["-" if value is None else rate(value)] if heldout else [])))
    return lines


def settings_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """One row per setting, each cell its seeds' values in seed order (a / b / c). Best success and
    success on the placements never trained on appear once a run has heldout_success."""
    heldout = any(run.summary.get("heldout_success") is not None for _, runs in groups for run in runs)
    lines = head(["setting", "seeds", "BC (step 0)", "final"] + (["best", "held-out placements"] * heldout)
                 + [f"first eval >= {BAR}", "lowest from there", "minutes", "RL steps/s"], text_columns=10)
    for label, runs in groups:
        timed = [run for run in runs if run.name not in notes] or runs
        extra = [" / ".join(rate(max(run.successes)) for run in runs),
                 " / ".join("-" if run.summary.get("heldout_success") is None
                            else rate(run.summary["heldout_success"]) for run in runs)] * heldout
        lines.append(row([label, ", ".join(str(run.seed) for run in runs),
                          " / ".join(rate(run.successes[0]) for run in runs),
                          " / ".join(rate(run.successes[-1]) for run in runs), *extra,
                          " / ".join(steps(run.first_at_bar) for run in runs),
                          " / ".join("-" if run.lowest_from_bar is None else rate(run.lowest_from_bar)
                                     for run in runs),
                          span([minutes(run) for run in timed]), span([per_second(run) for run in timed])]))
    return lines


def aggregate(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """Across tasks (one group each): how many have a median final success over seeds of BAR or more, and
    the interquartile mean of every run's final success with a 95% bootstrap interval of the IQM;
    the runs whose success on placements never trained on is more than 0.1 from the trained ones'."""
    from sweep import bootstrap_ci, iqm  # benchmarks/sweep.py: one definition of the statistics

    finals = [run.successes[-1] for _, runs in groups for run in runs]
    seeds = span([str(len(runs)) for _, runs in groups])  # seeds per task: "3", or "1-3" while some run
    solved = sum(statistics.median(run.successes[-1] for run in runs) >= BAR for _, runs in groups)
    low, high = bootstrap_ci(finals, statistic=iqm)
    reported = [run for _, runs in groups for run in runs if run.summary.get("heldout_success") is not None]
    apart = [f"{run.name}: {rate(run.successes[-1])} trained, {rate(run.summary['heldout_success'])} held out"
             for run in reported if round(abs(run.summary["heldout_success"] - run.successes[-1]), 9) > 0.1]
    heldout = (f"On placements never trained on, {count(len(reported) - len(apart), len(reported))} runs "
               "end within 0.1 of their final success" + (f" ({'; '.join(apart)})" if apart else "") + "."
               if reported else "No run reports success on placements never trained on.")
    return [f"{len(groups)} task{'s' * (len(groups) > 1)} with {seeds} seed{'s' * (seeds != '1')} each, "
            f"{len(finals)} run{'s' * (len(finals) > 1)}: the median final success "
            f"over seeds is {BAR} or more on {solved} of {len(groups)}; the interquartile mean of "
            f"final success is {iqm(finals):.3f} (95% bootstrap interval {low:.3f}-{high:.3f}). {heldout}"]


def seeds_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """The runs across, as columns headed by their seeds; rows: BC, final, the first evaluation at BAR."""
    runs = [run for _, group_runs in groups for run in group_runs]
    return head(["seed", *[str(run.seed) for run in runs]], text_columns=1) + [
        row(["BC (step 0)", *[rate(run.successes[0]) for run in runs]]),
        row(["final", *[rate(run.successes[-1]) for run in runs]]),
        row([f"first eval >= {BAR}", *[steps(run.first_at_bar) for run in runs]])]


def evals_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """One row per run: every evaluation's success in order, BC first; the final, and the held-out
    placements' once a run has heldout_success."""
    heldout = any(run.summary.get("heldout_success") is not None for _, runs in groups for run in runs)
    lines = head(["setting", "seed", "every evaluation, BC (step 0) first", "final"]
                 + ["held-out placements"] * heldout, text_columns=3)
    for label, runs in groups:
        for run in runs:
            every = ", ".join(rate(success) for success in run.successes)
            value = run.summary.get("heldout_success")
            lines.append(row([label, str(run.seed), every, rate(run.successes[-1])]
                             + ["-" if value is None else rate(value)] * heldout))
    return lines


def digest(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """What the runs show, in sentences, every number counted from the files."""
    runs = [run for _, group_runs in groups for run in group_runs]
    n = len(runs)
    short = [run for run in runs if run.successes[-1] < BAR]
    below = [run for run in runs if run.successes[-1] < run.successes[0]]
    reached = [run for run in runs if run.first_at_bar is not None]
    fell = [run for run in reached if run.lowest_from_bar < BAR]
    perfect = [run for run in runs if all(success == 1.0 for success in run.successes[1:])]

    def which(chosen: list[Run], value: Callable[[Run], float]) -> str:  # " (reach-v3 seed 2: 0.88; ...)"
        return " (" + "; ".join(f"{run.name}: {rate(value(run))}" for run in chosen) + ")" if chosen else ""

    sentences = [
        f"{n} run{'s' * (n > 1)}, BC {span([rate(run.successes[0]) for run in runs])}.",
        f"At the end {count(n - len(short), n)} at {BAR} or more"
        f"{which(short, lambda run: run.successes[-1])}, "
        f"{count(sum(run.successes[-1] == 1.0 for run in runs), n)} at 1.00; {count(len(below), n)} below "
        f"{'its' if n == 1 else 'their'} BC start{which(below, lambda run: run.successes[-1])}."]
    if reached:
        held = count(len(reached) - len(fell), len(reached))
        sentences.append(f"Of the {len(reached)} that reached {BAR}, {held} stayed at {BAR} or more at every "
                         f"later evaluation{which(fell, lambda run: run.lowest_from_bar)}.")
    if perfect:
        sentences.append(f"Every evaluation after BC is 1.00 on {count(len(perfect), n)}.")
    if len(groups) > 1 and all(len(group_runs) > 1 for _, group_runs in groups):
        low = [f"{label}: {median:.2f}" for label, group_runs in groups
               if (median := statistics.median(run.successes[-1] for run in group_runs)) < 1.0]
        sentences.append("The median over seeds at the end is 1.00 on every setting." if not low else
                         f"The median over seeds at the end is below 1.00 on {len(low)} of {len(groups)} "
                         f"settings ({'; '.join(low)}).")
    timed = [run for run in runs if run.name not in notes]  # a noted run's minutes are not a whole run's
    if timed:
        untimed = "; ".join(f"{run.name}, {notes[run.name]}" for run in runs if run.name in notes)
        sentences.append(f"A run took {span([minutes(run) for run in timed])} min at "
                         f"{span([per_second(run) for run in timed])} RL steps/s"
                         + (f" (not counting {untimed})" if untimed else "") + ".")
    return [" ".join(sentences)]


STAGES = ["never reached the object", "reached it, never grasped it", "grasped it, not to the target"]


def failures_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """One row per run that benchmarks/failures.py --save replayed (every run below REPLAY_BELOW must be):
    its failed placements counted by the last stage they reached, the closest distances they came (ranges
    over the failed ones), how many of them the scripted expert fails as well, and which they are; and the
    expert's own success on all the placements (its actions, no noise, the run's time limit): the
    ceiling of what the demos show; and the policy's own with sampled actions, as in training ("-" where
    the replay played none)."""
    def cm(failed: list[dict], key: str) -> str:
        return span([f"{100 * float(e[key]):.1f}" for e in failed]) if failed else "-"

    unexplained = [run for _, runs in groups for run in runs
                   if run.replay is None and round(run.successes[-1], 9) < REPLAY_BELOW]
    if unexplained:
        raise ValueError(f"{', '.join(run.name for run in unexplained)}: final below {REPLAY_BELOW} but no "
                         "failures.csv: replay it where its checkpoint is (python benchmarks/failures.py "
                         "<run dir> --save)")
    lines = head(["run", "final", "the scripted expert", "sampled actions", "failed", *STAGES,
                  "hand to object, closest (cm)", "object to goal, closest (cm)",
                  "failed by the scripted expert too",
                  "failed placements (bold: the expert's too)"], text_columns=1)
    for _, runs in groups:
        for run in (run for run in runs if run.replay is not None):
            failed = [e for e in run.replay if e["success"] == "0"]
            expert = sum(e["expert_success"] == "1" for e in run.replay) / len(run.replay)
            sampled = [float(e["sampled_success"]) for e in run.replay if e.get("sampled_success")]
            lines.append(row([run.name, rate(run.successes[-1]), rate(expert),
                              rate(statistics.mean(sampled)) if len(sampled) == len(run.replay) else "-",
                              f"{len(failed)} of {len(run.replay)}",
                              *[str(sum(e["stage"] == name for e in failed)) for name in STAGES],
                              cm(failed, "hand_to_object"), cm(failed, "object_to_goal"),
                              str(sum(e["expert_success"] == "0" for e in failed)),
                              ", ".join(e["placement"] if e["expert_success"] == "1"
                                        else f"**{e['placement']}**" for e in failed) or "-"]))
    return lines


# ==== CartPole ===============================================================
def median_of(runs: list[Run], key: str) -> float:
    """The median of a summary.json value over runs, a run that never solved (None) counted the slowest."""
    return statistics.median(math.inf if run.summary[key] is None else run.summary[key] for run in runs)


def solved_runs(runs: list[Run]) -> list[Run]:
    return [run for run in runs if run.summary["steps_to_solve"] is not None]


def values(runs: list[Run], key: str) -> list[float]:
    return [run.summary[key] for run in runs]


def listing(runs: list[Run], key: str) -> str:
    """'seed 1: 471.0; seed 3: 434.0'"""
    return "; ".join(f"seed {run.seed}: {mean_return(run.summary[key])}" for run in runs)


def cartpole_digest(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """Per group, in sentences: how many runs solve and how soon (range and median of steps and seconds),
    how many end at SOLVED or more, and whether the mean of the last 100 stays there once it got there."""
    sentences = []
    for label, runs in groups:
        n, solved = len(runs), solved_runs(runs)
        seeds = f"seed{'s' * (n > 1)} {seed_list([run.seed for run in runs])}"
        never = ", ".join(f"seed {run.seed}" for run in runs if run not in solved)
        sentence = f"{label} ({length(runs)} steps, {seeds}): {count(len(solved), n)} solve"
        if solved:
            sentence += ((f" ({never} never)" if never else "")
                         + f", at {between(values(solved, 'steps_to_solve'), kilo)} steps (median "
                         f"{kilo(median_of(runs, 'steps_to_solve'))}) and "
                         f"{between(values(solved, 'seconds_to_solve'), seconds)} s "
                         f"(median {in_seconds(median_of(runs, 'seconds_to_solve'))})")
        below = [run for run in runs if not run.summary["final_return"] >= SOLVED]  # NaN: no episode ended
        ends = count(n - len(below), n)
        sentences += [sentence + ".", f"{ends[0].upper()}{ends[1:]} end at {SOLVED:g} or more ("
                      + (listing(below, "final_return") if below
                         else between(values(runs, "final_return"), mean_return)) + ")."]
        fell = [run for run in solved if run.summary["lowest_after_solve"] < SOLVED]
        held = [run for run in solved if run not in fell]
        since = "From solving on, the mean of the last 100"
        lowest = mean_return(min(values(held, "lowest_after_solve"), default=None))
        if held and not fell:
            sentences.append(f"{since} stays at {SOLVED:g} or more on {count(len(held), len(held))} "
                             f"(lowest {lowest}).")
        elif fell and not held:
            sentences.append(f"{since} falls below {SOLVED:g} on {count(len(fell), len(solved))}, to "
                             f"{between(values(fell, 'lowest_after_solve'), mean_return)} at its lowest.")
        elif fell:
            sentences.append(f"{since} falls below {SOLVED:g} on {count(len(fell), len(solved))} "
                             f"({listing(fell, 'lowest_after_solve')}); on the others it stays at "
                             f"{SOLVED:g} or more (lowest {lowest}).")
    return [" ".join(sentences)]


def cartpole_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """Per group a table, one row per seed and a row of medians; then what the runs show (cartpole_digest)."""
    lines = []
    for label, runs in groups:
        lines += head([f"{label}, {length(runs)} steps", "steps to solve", "seconds to solve",
                       "lowest after solving", "final mean return (last 100)", "eval (most likely action)",
                       "steps/s", "wall seconds"], text_columns=1)
        for run in runs:
            got = run.summary
            lines.append(row([f"seed {run.seed}", step_count(got["steps_to_solve"]),
                              seconds(got["seconds_to_solve"]), mean_return(got["lowest_after_solve"]),
                              mean_return(got["final_return"]), mean_return(got["eval_mean_return"]),
                              per_second(run), seconds(got["wall_seconds"])]))
        lines += [row(["median", step_count(median_of(runs, "steps_to_solve")),
                       seconds(median_of(runs, "seconds_to_solve")), "", "", "", "", ""]), ""]
    return lines + cartpole_digest(groups, notes)


def cartpole_settings(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """One row per setting (group): each seed's steps to solve (a / b / c, in seed order), their range and
    median, each seed's lowest mean after solving and its final mean; then what the runs show."""
    seeds = seed_list(sorted({run.seed for _, runs in groups for run in runs}))
    lines = head(["setting", f"steps to solve, seeds {seeds}", "range", "median", "lowest after solving",
                  "final mean return (last 100)"], text_columns=1)
    for label, runs in groups:
        solved = values(solved_runs(runs), "steps_to_solve")
        lines.append(row([label, " / ".join(step_count(None) if step is None else kilo(step)
                                            for step in values(runs, "steps_to_solve")),
                          between(solved, kilo) if solved else "-", kilo(median_of(runs, "steps_to_solve")),
                          " / ".join(map(mean_return, values(runs, "lowest_after_solve"))),
                          " / ".join(map(mean_return, values(runs, "final_return")))]))
    return lines + [""] + cartpole_digest(groups, notes)


def cartpole_versus(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """Each group against the first, in a sentence: its median steps and seconds to solve, each also as a
    fraction of the first's, and its steps per second against the first's."""
    (first, base), *others = groups
    sentences = []
    for label, runs in others:
        steps_, seconds_ = median_of(runs, "steps_to_solve"), median_of(runs, "seconds_to_solve")
        base_steps, base_seconds = median_of(base, "steps_to_solve"), median_of(base, "seconds_to_solve")
        sentences.append(f"{label}: median steps to solve {kilo(steps_)}, {fraction(steps_, base_steps)} of "
                         f"{first}'s {kilo(base_steps)}; median seconds to solve {in_seconds(seconds_)}, "
                         f"{fraction(seconds_, base_seconds)} of {first}'s {in_seconds(base_seconds)}; "
                         f"{span(list(map(per_second, runs)))} steps/s against "
                         f"{span(list(map(per_second, base)))}.")
    return [" ".join(sentences)]


def peers_table(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """Ours (the first group) and a peer (the second), seed by seed: steps and seconds to solve, the lowest
    mean after solving, and the peer's seconds as a multiple of ours; their medians. Then in sentences: the
    medians against each other, that multiple's range over seeds, the steps per second and whole runs."""
    (ours, mine), (peer, theirs) = groups
    if [run.seed for run in mine] != [run.seed for run in theirs]:
        raise ValueError(f"{ours} and {peer} are not the same seeds")
    lines = head(["seed", *[f"{name}: {what}" for name in (ours, peer)
                            for what in ("steps to solve", "seconds to solve", "lowest after solving")],
                  f"seconds, {peer} / {ours}"], text_columns=0)
    each = [multiple(b.summary["seconds_to_solve"], a.summary["seconds_to_solve"])
            for a, b in zip(mine, theirs)]  # the peer's seconds as a multiple of ours, seed by seed
    for a, b, times in zip(mine, theirs, each):
        lines.append(row([str(a.seed), *[cell for run in (a, b) for cell in (
            step_count(run.summary["steps_to_solve"]), seconds(run.summary["seconds_to_solve"]),
            mean_return(run.summary["lowest_after_solve"]))], times]))
    steps_ours, steps_peer = median_of(mine, "steps_to_solve"), median_of(theirs, "steps_to_solve")
    seconds_ours, seconds_peer = median_of(mine, "seconds_to_solve"), median_of(theirs, "seconds_to_solve")
    lines.append(row(["median", step_count(steps_ours), seconds(seconds_ours), "", step_count(steps_peer),
                      seconds(seconds_peer), "", multiple(seconds_peer, seconds_ours)]))
    fewer = "fewer" if steps_peer < steps_ours else "more" if steps_peer > steps_ours else "no fewer"
    known = [float(times.removesuffix("x")) for times in each if times != "-"]
    by_seed = f"; seed by seed {between(known, '{:.1f}x'.format)}" if known else ""
    return lines + ["", (
        f"Over seeds {seed_list([run.seed for run in mine])}, {peer} needs {fewer} steps to solve than "
        f"{ours} (median {kilo(steps_peer)} against {kilo(steps_ours)}) and "
        f"{multiple(seconds_peer, seconds_ours)} the seconds (median {in_seconds(seconds_peer)} against "
        f"{in_seconds(seconds_ours)}{by_seed}). {ours[0].upper()}{ours[1:]} runs at "
        f"{span(list(map(per_second, mine)))} steps/s, {peer} at {span(list(map(per_second, theirs)))}; "
        f"a whole run takes {ours} {between(values(mine, 'wall_seconds'), seconds)} s ({length(mine)} "
        f"steps) and {peer} {between(values(theirs, 'wall_seconds'), seconds)} s ({length(theirs)} steps).")]


def cartpole_aggregate(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """benchmarks/sweep.py's statistics of each metric it aggregates for the runs' script, printed as its
    summary.md prints them: the mean over seeds, the interquartile mean and a 95% bootstrap interval of the
    mean; a value that is null (never solved) is left out, and the seeds column says so."""
    import numpy as np
    from sweep import COMMON, METRICS, bootstrap_ci, iqm, number  # one definition of the statistics

    labelled = len(groups) > 1
    lines = head(["setting"] * labelled + ["metric", "seeds", "mean", "IQM", "95% CI of the mean"],
                 text_columns=1 + labelled)
    for label, runs in groups:
        for metric in METRICS[runs[0].summary["script"]] + COMMON:
            found = [float(value) for value in values(runs, metric)
                     if isinstance(value, (int, float)) and math.isfinite(value)]
            seeds = str(len(runs)) if len(found) == len(runs) else \
                f"{len(found)} of {len(runs)}{' solved' if 'solve' in metric else ''}"
            cells = ["-", "-", "-"]
            if found:
                mean, middle, (low, high) = float(np.mean(found)), float(iqm(found)), bootstrap_ci(found)
                scale = max(abs(x) for x in (mean, middle, low, high))  # as sweep.py: one format a row
                cells = [number(mean, scale), number(middle, scale),
                         f"[{number(low, scale)}, {number(high, scale)}]"]
            lines.append(row([label] * labelled + [metric, seeds, *cells]))
    return lines


def headline(groups: list[Group], notes: dict[str, str]) -> list[str]:
    """One sentence under the README's table of scripts: each group's median steps and seconds to solve."""
    seeds = seed_list(sorted({run.seed for _, runs in groups for run in runs}))
    return [f"To solve CartPole-v1 (the mean return of the last 100 episodes at {SOLVED:g}), medians over "
            f"seeds {seeds}, counted from the start of training: " + "; ".join(
                f"{label} {kilo(median_of(runs, 'steps_to_solve'))} steps, "
                f"{in_seconds(median_of(runs, 'seconds_to_solve'))}" for label, runs in groups) + "."]


LAYOUTS = {"runs": runs_table, "settings": settings_table, "seeds": seeds_table, "evals": evals_table,
           "aggregate": aggregate, "failures": failures_table, "cartpole": cartpole_table,
           "cartpole_digest": cartpole_digest, "cartpole_settings": cartpole_settings,
           "cartpole_versus": cartpole_versus, "peers": peers_table, "cartpole_aggregate": cartpole_aggregate,
           "headline": headline}


@dataclass
class Table:
    """A Markdown table of groups of runs, laid out as LAYOUTS says, then (unless digest=False) the
    digest: sentences saying what the runs show. Layout "digest": the sentences alone."""
    name: str
    groups: list[Groups]
    layout: str = "runs"
    notes: dict[str, str] = field(default_factory=dict)  # run name -> a note beside its minutes
    digest: bool = True

    def text(self, root: Path, page: Path) -> str:
        groups = resolve(self.groups, root, self.name)
        lines = LAYOUTS[self.layout](groups, self.notes) if self.layout != "digest" else []
        if self.digest or self.layout == "digest":
            lines += [""] * bool(lines) + digest(groups, self.notes)
        return "\n".join(lines) + "\n"


@dataclass
class CartPole(Table):
    """A table or sentences of CartPole runs (summary.json alone) in a cartpole layout (LAYOUTS), whose
    own sentences say what the runs show: not the hammer's digest."""
    digest: bool = False


# ==== Figures ================================================================
@dataclass
class Figure:
    """One small panel per run, in group order, `columns` to a line, all on the same axes: one curve a
    panel, so no run hides another. The title says which runs and which defaults."""
    name: str
    groups: list[Groups]
    title: str
    columns: int = 5

    def path(self, root: Path) -> Path:
        return root / "docs" / f"{self.name}.png"

    def text(self, root: Path, page: Path) -> str:
        resolve(self.groups, root, self.name)  # its runs must exist, as a table's must
        link = Path(os.path.relpath(self.path(root), page.parent)).as_posix()
        return f"![{self.title}]({link})\n"

    def draw(self, root: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        runs = [run for _, group_runs in resolve(self.groups, root, self.name) for run in group_runs]
        columns = min(self.columns, len(runs))
        lines = -(-len(runs) // columns)  # of panels
        titles = 2 if any(run.label for run in runs) else 1  # the label, then the seed and its change
        budget = round(max(run.evals[-1][0] for run in runs), -5)  # 999,424 steps -> 1M
        with plt.style.context("default"):  # the same picture whatever a matplotlibrc says
            figure, axes = plt.subplots(lines, columns, figsize=(max(2.0 * columns, 8), (1.2 + 0.15 * titles)
                                                                 * lines + 0.9),
                                        sharex=True, sharey=True, squeeze=False, layout="constrained")
            for axis, run in zip(axes.flat, runs):
                at, successes = [step for step, _, _ in run.evals], run.successes
                axis.plot(at, successes, color="C0", lw=1.4, marker="o", ms=2.5, zorder=2)  # one run's curve
                axis.plot(0, successes[0], ls="none", marker="s", ms=5.5, mfc="white", mec="black", zorder=3)
                change = f"seed {run.seed}: {rate(successes[0])} → {rate(successes[-1])}"
                axis.set_title(f"{run.label}\n{change}" if run.label else change, fontsize=7.5)
                axis.tick_params(labelsize=7)
            for axis in axes.flat[len(runs):]:
                axis.set_visible(False)
            axes[0, 0].set(ylim=(-0.05, 1.08), yticks=[0, 0.5, 1], xticks=[0, budget / 2, budget])  # shared
            axes[0, 0].xaxis.set_major_formatter(
                lambda x, _: "0" if x == 0 else f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:.0f}k")
            for column in range(columns):  # the lowest panel of each column shows the steps
                axes.flat[max(range(column, len(runs), columns))].tick_params(labelbottom=True)
            figure.supxlabel("environment steps (RL phase)", fontsize=8)
            figure.supylabel("eval success", fontsize=8)
            figure.suptitle(f"{self.title}\neval success: 50 episodes with the mean action, one per "
                            "placement; □ at step 0: the BC policy, before any RL", fontsize=9)
            figure.savefig(self.path(root), dpi=100, metadata={"Software": None})  # no version: same bytes
            plt.close(figure)
        return self.path(root)


# ==== Beside published results ===============================================
PUBLISHED = RESULTS / "published" / "metaworld.csv"  # python benchmarks/published_metaworld.py writes it
ANCHORS = ["TD-MPC2", "TD-MPC", "SAC", "DreamerV3"]
FIGURE_ANCHORS = {"TD-MPC2": ("^", "C1"), "SAC": ("x", "C2")}  # drawn beside each task, at 500k


def published(root: Path) -> dict[tuple[str, int], dict[str, list[float]]]:
    """(method, step) -> task -> success of each published seed."""
    found: dict[tuple[str, int], dict[str, list[float]]] = {}
    with open(root / PUBLISHED) as file:
        for row in csv.DictReader(file):
            found.setdefault((row["method"], int(row["step"])), {}).setdefault(row["task"], []).append(
                float(row["success"]))
    return found


@dataclass
class Versus(Table):
    """The tasks solved, counted two ways (the median, the mean over seeds at BAR or more), and the mean
    success over tasks: these runs' final evaluations, then each published method at 500k and 1M."""
    def text(self, root: Path, page: Path) -> str:
        groups = resolve(self.groups, root, self.name)
        at = round(max(run.evals[-1][0] for _, runs in groups for run in runs), -5)
        seeds = span([str(len(runs)) for _, runs in groups])
        lines = head(["method", "steps", "tasks", "seeds", f"tasks at {BAR} or more (median over seeds)",
                      "(mean over seeds)", "mean success"], text_columns=1)
        finals = [[run.successes[-1] for run in runs] for _, runs in groups]
        rows = [("BC, then PPO with the KL anchor (these runs)", at, finals, seeds)]
        for (method, step), by_task in sorted(published(root).items(),
                                              key=lambda item: (ANCHORS.index(item[0][0]), item[0][1])):
            rows.append((f"{method} (published)", step, list(by_task.values()),
                         span([str(len(values)) for values in by_task.values()])))
        for method, step, values, seeds in rows:
            lines.append(row([method, budget(step), str(len(values)), seeds,
                              str(sum(statistics.median(v) >= BAR for v in values)),
                              str(sum(statistics.mean(v) >= BAR for v in values)),
                              f"{statistics.mean(statistics.mean(v) for v in values):.3f}"]))
        return "\n".join(lines) + "\n"


@dataclass
class TaskFigure(Figure):
    """One line per task, sorted by the median final success over seeds: each seed's BC start and final
    success, and the success that published methods report on the task at the same number of steps."""
    def draw(self, root: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        groups = sorted(resolve(self.groups, root, self.name), reverse=True, key=lambda group: (
            statistics.median(run.successes[-1] for run in group[1]),
            statistics.median(run.successes[0] for run in group[1]), group[0]))
        at = round(max(run.evals[-1][0] for _, runs in groups for run in runs), -5)
        anchors = published(root)
        with plt.style.context("default"):
            figure, axis = plt.subplots(figsize=(7.5, 1.2 + 0.2 * len(groups)), layout="constrained")
            for y, (task, runs) in enumerate(groups):
                for k, run in enumerate(runs):  # seeds side by side on the task's line
                    dy = 0.22 * (k - (len(runs) - 1) / 2)
                    axis.plot([run.successes[0], run.successes[-1]], [y + dy] * 2, color="0.75", lw=0.8)
                    axis.plot(run.successes[-1], y + dy, ls="none", marker="o", ms=4, color="C0")
                    axis.plot(run.successes[0], y + dy, ls="none", marker="s", ms=6, mfc="none", mec="0.3")
                for method, (marker, color) in FIGURE_ANCHORS.items():
                    if task in anchors.get((method, at), {}):
                        axis.plot(statistics.mean(anchors[method, at][task]), y, ls="none",
                                  marker=marker, ms=6, color=color, mew=1.4)
            handles = [axis.plot([], [], ls="none", marker="s", ms=6, mfc="none", mec="0.3")[0],
                       axis.plot([], [], ls="none", marker="o", ms=4, color="C0")[0]] + [
                axis.plot([], [], ls="none", marker=marker, ms=6, color=color, mew=1.4)[0]
                for marker, color in FIGURE_ANCHORS.values()]
            figure.legend(handles, ["BC (step 0), each seed", f"final ({budget(at)}), each seed"] + [
                f"{method} at {budget(at)}, mean of its seeds (published)" for method in FIGURE_ANCHORS],
                loc="outside lower center", ncols=2, fontsize=7, frameon=False)
            axis.axvline(BAR, color="0.6", ls=":", lw=1)
            axis.set(yticks=range(len(groups)), ylim=(len(groups) - 0.5, -0.5), xlim=(-0.03, 1.03),
                     xlabel="eval success")
            axis.set_yticklabels([task.removesuffix("-v3") for task, _ in groups], fontsize=7)
            axis.tick_params(axis="x", labelsize=7)
            axis.grid(axis="y", color="0.93", lw=0.6)
            axis.set_title(self.title, fontsize=9)
            figure.savefig(self.path(root), dpi=100, metadata={"Software": None})
            plt.close(figure)
        return self.path(root)


def resolve(makers: list[Groups], root: Path, name: str) -> list[Group]:
    groups, missing = [], []
    for make in makers:
        try:
            groups += make(root)
        except Missing as error:  # every maker asked: the message names every run the block lacks
            missing += [place for place in error.places if place not in missing]
        except ValueError as error:  # a run that disagrees with itself, named with the block that needs it
            raise ValueError(f"{name}: {error}") from None
    if missing:
        raise Missing(missing, name)
    empty = [label or "(no label)" for label, runs in groups if not runs]
    if not groups or empty:
        raise ValueError(f"{name}: no finished run under {RESULTS} for {', '.join(empty) or 'it'}")
    return groups


# ==== How many demonstrations ================================================
# docs/demos.md: MT10 x seeds 1-3 x 1, 3 and 5 demos, 1M steps (the sweep in benchmarks/results/demos, whose
# runs arrive a few at a time), beside 10 demos, the default: the MT10 rows of the 50-task runs (500k steps).
# Any cell may still be empty: the blocks say what is in, and "-" where nothing is.
DEMO_COUNTS = [1, 3, 5, 10]  # --num-demos of each column
FROM_MT50 = 10  # the column not run again: benchmarks/results/mt50, 500k-step runs
DEMO_SEEDS = [1, 2, 3]
ROLLOUT = 16 * 256  # env steps per rollout at the defaults (num_envs x num_steps): evaluations fall on these
AT_500K = 500_000 // ROLLOUT * ROLLOUT  # 499,712: a 500k run's last evaluation (503,808 in a 1M run)
AT_1M = 1_000_000 // ROLLOUT * ROLLOUT  # 999,424: a 1M run's last evaluation


def demo_runs(root: Path, name: str) -> dict[tuple[str, int], list[Run]]:
    """(task, number of demos) -> the finished runs of seeds 1-3 in that cell, in seed order, for every MT10
    task and every DEMO_COUNTS: an empty list where none has finished yet. `name`: the block that asks."""
    cells = {}
    try:
        for setting in MT10:
            task = setting.removeprefix("env-name=")
            for demos in DEMO_COUNTS:
                pattern = (f"mt50/{setting}/seed*" if demos == FROM_MT50
                           else f"demos/{setting},num-demos={demos}/seed*")
                runs = [run for run in finished_runs(root, pattern, task) if run.seed in DEMO_SEEDS]
                cells[task, demos] = sorted(runs, key=lambda run: run.seed)
    except ValueError as error:  # a run that disagrees with itself, named with the block that reads it
        raise ValueError(f"{name}: {error}") from None
    return cells


def success_at(run: Run, step: int) -> float | None:
    """The success of the run's first evaluation at `step` or later (BC's at 0); None: it ended before."""
    return next((success for at, success, _ in run.evals if at >= step), None)


def whole(runs: list[Run]) -> bool:
    """A cell with all its seeds: the medians are taken over these alone."""
    return [run.seed for run in runs] == DEMO_SEEDS


def median_at(runs: list[Run], step: int) -> float | None:
    """The median over a whole cell's seeds at `step`; None if a seed is missing or a run ended before."""
    found = [success_at(run, step) for run in runs]
    return statistics.median(found) if whole(runs) and None not in found else None


def seeds_across(runs: list[Run], cell: Callable[[Run], str]) -> str:
    """'a / b / c' in seed order; '-' where no run has a value."""
    cells = [cell(run) for run in runs]
    return "-" if all(found == "-" for found in cells) else " / ".join(cells)


def or_dash(value: float | None) -> str:
    return "-" if value is None else rate(value)


def demos_label(demos: int) -> str:
    return f"{demos} (500k runs)" if demos == FROM_MT50 else str(demos)


def demos_table(cells: dict[tuple[str, int], list[Run]]) -> list[str]:
    """One row per task and number of demos, each cell its seeds' values in seed order (a / b / c): BC, the
    first evaluation at 500k or after (a 500k run's final), the final of a 1M run, the held-out placements'
    (at the run's end) and the first evaluation at BAR or more. A cell not run yet: '-'."""
    lines = head(["task", "demos", "seeds", "BC (step 0)", "500k", "1M", "held-out placements (final)",
                  f"first eval >= {BAR}"], text_columns=8)
    for task, demos in cells:
        runs = cells[task, demos]
        lines.append(row([task, demos_label(demos), ", ".join(str(run.seed) for run in runs) or "-",
                          seeds_across(runs, lambda run: rate(run.successes[0])),
                          seeds_across(runs, lambda run: or_dash(success_at(run, AT_500K))),
                          seeds_across(runs, lambda run: or_dash(success_at(run, AT_1M))),
                          seeds_across(runs, lambda run: or_dash(run.summary.get("heldout_success"))),
                          seeds_across(runs, lambda run: steps(run.first_at_bar))]))
    return lines


def demos_digest(cells: dict[tuple[str, int], list[Run]]) -> list[str]:
    """How many runs are in; per number of demos, over the tasks with all three seeds, on how many the
    median over seeds is BAR or more at 1M and at 500k, naming the tasks below with their medians."""
    tasks_ = list(dict.fromkeys(task for task, _ in cells))
    planned = len(tasks_) * len(DEMO_SEEDS)  # runs of one number of demos
    made = sum(len(runs) for (_, demos), runs in cells.items() if demos != FROM_MT50)
    sentences = [f"{made} of the {planned * (len(DEMO_COUNTS) - 1)} runs of "
                 f"{', '.join(map(str, DEMO_COUNTS[:-2]))} and {DEMO_COUNTS[-2]} demos are committed."]
    for demos in DEMO_COUNTS:
        found = sum(len(cells[task, demos]) for task in tasks_)
        done = [task for task in tasks_ if whole(cells[task, demos])]
        what = (f"{demos} demo{'s' * (demos > 1)} ({found} of {planned} runs"
                + (", the 50-task runs: 500k steps" if demos == FROM_MT50 else "") + ")")
        clauses = []
        for at, step in (("1M", AT_1M), ("500k", AT_500K)):
            medians = {task: median for task in done
                       if (median := median_at(cells[task, demos], step)) is not None}
            low = [f"{task}: {rate(median)}" for task, median in medians.items() if median < BAR]
            if medians:
                clauses.append(f"at {at} on {count(len(medians) - len(low), len(medians))}"
                               + (f" ({'; '.join(low)})" if low else ""))
        sentences.append(f"{what}: no task has all three seeds yet." if not done else
                         f"{what}: over the {len(done)} task{'s' * (len(done) > 1)} with all three seeds, "
                         f"the median over seeds is {BAR} or more {' and '.join(clauses)}.")
    return [" ".join(sentences)]


def demos_fewest(cells: dict[tuple[str, int], list[Run]]) -> list[str]:
    """Per task, the fewest demos whose median over seeds 1-3 is BAR or more, at 500k (every column has it)
    and at 1M (the 1M runs alone), among the numbers with all three seeds in; and the numbers still short."""
    lines = head(["task", f"fewest demos with a median of {BAR} or more at 500k", "at 1M",
                  "demos without all of seeds 1-3 yet"], text_columns=4)
    for task in dict.fromkeys(task for task, _ in cells):
        fewest = []
        for step in (AT_500K, AT_1M):
            medians = {demos: median for demos in DEMO_COUNTS
                       if (median := median_at(cells[task, demos], step)) is not None}
            reached = [demos for demos, median in medians.items() if median >= BAR]
            fewest.append(str(reached[0]) if reached else
                          f"not reached ({', '.join(map(str, medians))})" if medians else "-")
        short = [str(demos) for demos in DEMO_COUNTS if not whole(cells[task, demos])]
        lines.append(row([task, *fewest, ", ".join(short) or "-"]))
    return lines


DEMO_LAYOUTS = {"table": demos_table, "digest": demos_digest, "fewest": demos_fewest}


@dataclass
class Demos(Table):
    """A block of docs/demos.md in a DEMO_LAYOUTS layout. Its runs are demo_runs' (`groups` is unused, []):
    every cell of the grid, whether or not a run has finished in it."""
    def text(self, root: Path, page: Path) -> str:
        return "\n".join(DEMO_LAYOUTS[self.layout](demo_runs(root, self.name))) + "\n"


@dataclass
class DemosFigure(Figure):
    """One panel per MT10 task: success against the number of demos (as categories), each seed's BC, its
    success at 500k and at 1M side by side, and the median over seeds 1-3 as a line where all three are in.
    A run that ends before 1M (the 10-demo column) has a filled diamond at 500k, its final. Its runs are
    demo_runs' (`groups` is unused, [])."""
    def text(self, root: Path, page: Path) -> str:
        demo_runs(root, self.name)  # read, and each run checked against itself, as a table's are
        link = Path(os.path.relpath(self.path(root), page.parent)).as_posix()
        return f"![{self.title}]({link})\n"

    def draw(self, root: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cells = demo_runs(root, self.name)
        tasks_ = list(dict.fromkeys(task for task, _ in cells))
        series = [  # (step, where beside the column, the seeds' marker, the median's colour and line)
            (0, -0.25, {"marker": "s", "ms": 4.5, "mfc": "none", "mec": "0.35"}, ("0.35", ":")),
            (AT_500K, 0.0, {"marker": "o", "ms": 4, "mfc": "none", "mec": "C1"}, ("C1", "--")),
            (AT_1M, 0.25, {"marker": "o", "ms": 4, "color": "C0"}, ("C0", "-"))]
        ended = {"marker": "D", "ms": 4, "color": "C1"}  # at 500k, the final of a run that ends there
        with plt.style.context("default"):  # the same picture whatever a matplotlibrc says
            columns = 5
            figure, axes = plt.subplots(-(-len(tasks_) // columns), columns, figsize=(10, 5.6), sharex=True,
                                        sharey=True, squeeze=False, layout="constrained")
            for axis, task in zip(axes.flat, tasks_):
                for step, beside, marker, (color, line) in series:
                    medians = []
                    for x, demos in enumerate(DEMO_COUNTS):
                        for run in cells[task, demos]:  # seeds side by side, each in its own place
                            if (value := success_at(run, step)) is not None:
                                final = step == AT_500K and success_at(run, AT_1M) is None
                                axis.plot(x + beside + 0.06 * (run.seed - 2), value, ls="none",
                                          **(ended if final else marker))
                        median = median_at(cells[task, demos], step)
                        medians.append((x + beside, math.nan if median is None else median))  # nan: a gap
                    # a tick at each median, a line between neighbours (none across a cell not all in)
                    axis.plot(*zip(*medians), color=color, ls=line, lw=1.1, marker="_", ms=9, mew=1.4)
                axis.axhline(BAR, color="0.6", ls=":", lw=0.8)
                axis.set_title(task.removesuffix("-v3"), fontsize=8)
                axis.tick_params(labelsize=7)
            for axis in axes.flat[len(tasks_):]:
                axis.set_visible(False)
            axes[0, 0].set(ylim=(-0.05, 1.08), yticks=[0, 0.5, 1], xlim=(-0.5, len(DEMO_COUNTS) - 0.5),
                           xticks=range(len(DEMO_COUNTS)))
            axes[0, 0].set_xticklabels([f"{demos}\n(500k)" if demos == FROM_MT50 else str(demos)
                                        for demos in DEMO_COUNTS])
            handles = [axis.plot([], [], ls="none", **marker)[0] for _, _, marker, _ in series] + [
                axis.plot([], [], ls="none", **ended)[0]] + [
                axis.plot([], [], color=color, ls=line, lw=1.1)[0] for _, _, _, (color, line) in series]
            figure.legend(handles, ["BC (step 0), each seed", "500k, each seed (a 1M run)",
                                    "1M, each seed (final)", "500k, each seed (final: a 500k run)",
                                    "median over seeds 1-3: BC", "at 500k", "at 1M"],
                          loc="outside lower center", ncols=4, fontsize=7, frameon=False)
            for axis in axes[-1]:  # not figure.supxlabel: the legend below would cover it
                axis.set_xlabel("demonstrations", fontsize=7)
            figure.supylabel("eval success", fontsize=8)
            figure.suptitle(f"{self.title}\neval success: 50 episodes with the mean action, one per "
                            "placement; a median where all three seeds are in", fontsize=9)
            figure.savefig(self.path(root), dpi=100, metadata={"Software": None})  # no version: same bytes
            plt.close(figure)
        return self.path(root)


# ==== Pages ==================================================================
def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def blocks(text: str, where: str) -> list[tuple[str, int, int]]:
    """(name, index of the start marker's line, index of the end marker's line) of every block."""
    found, opened = [], None
    for index, line in enumerate(text.splitlines()):
        if start := START.match(line):
            if opened:
                raise ValueError(f"{where}:{index + 1}: {start[1]} starts inside {opened[0]}")
            opened = (start[1], index)
        elif end := END.match(line):
            if not opened or end[1] != opened[0]:
                raise ValueError(f"{where}:{index + 1}: the end of {end[1]} without its start")
            found.append((*opened, index))
            opened = None
    if opened:
        raise ValueError(f"{where}:{opened[1] + 1}: {opened[0]} has no end marker")
    return found


def generate(root: Path, write: bool) -> list[str]:
    """Every block of every page made again from the runs: written if `write`, else compared. Then, if
    `write`, every figure drawn. Returns the problems, one line each (and the difference, if any)."""
    entries = {entry.name: entry for entry in GENERATED}
    problems, used = [], set()
    for page in pages(root):
        where, text = page.relative_to(root).as_posix(), page.read_text()
        lines = text.splitlines(keepends=True)
        try:
            found = blocks(text, where)
        except ValueError as error:
            problems.append(str(error))
            continue
        first = len(problems)
        for name, start, end in reversed(found):  # from the end, so that earlier line indices hold
            used.add(name)
            try:
                if name not in entries:
                    raise ValueError(f"{name} is not in GENERATED (benchmarks/make_docs.py)")
                made = entries[name].text(root, page)
            except ValueError as error:
                problems.append(f"{where}:{start + 1}: {error}")
                continue
            held = "".join(lines[start + 1:end])
            if held != made and not write:
                diff = difflib.unified_diff(held.splitlines(), made.splitlines(), "the page", "the runs",
                                            lineterm="", n=0)
                problems.append(f"{where}:{start + 1}: {name} differs from what the runs give "
                                "(python benchmarks/make_docs.py writes it):"
                                + "".join(f"\n    {line}" for line in list(diff)[2:8]))
            lines[start + 1:end] = [made]
        problems[first:] = reversed(problems[first:])  # told in the page's order
        if write and "".join(lines) != text:
            page.write_text("".join(lines))
            print(f"wrote {where}")
    problems += [f"{name}: in no page (give it markers, or take it out of GENERATED)"
                 for name in entries if name not in used] + sweep_tables(root)
    for figure in (entry for entry in GENERATED if isinstance(entry, Figure)):
        if not write:
            if not figure.path(root).exists():
                problems.append(f"{figure.name}: {figure.path(root).relative_to(root).as_posix()} is missing")
            continue
        try:
            print(f"drew {figure.draw(root).relative_to(root).as_posix()}")
        except ValueError as error:
            problems.append(str(error))
    return problems


# ==== What is generated ======================================================
MT10 = tasks(["reach-v3", "push-v3", "pick-place-v3", "peg-insert-side-v3", "door-open-v3", "drawer-close-v3",
              "window-close-v3", "drawer-open-v3", "button-press-topdown-v3", "window-open-v3"])
BEYOND_MT10 = tasks(["assembly-v3", "basketball-v3", "bin-picking-v3", "box-close-v3",
                     "button-press-topdown-wall-v3"])
BASKETBALL = [  # seed 1 at 500k: the five-task sweeps' runs; seeds 2-3 and 1M: its own sweeps
    group("γ = 0.99 (500k)", "beyond_mt10_gamma099/env-name=basketball-v3/seed1",
          "basketball_gamma/env-name=basketball-v3,gamma=0.99/seed*"),
    group("γ = 0.995 (500k)", "beyond_mt10/env-name=basketball-v3/seed1",
          "basketball_gamma/env-name=basketball-v3,gamma=0.995/seed*"),
    group("γ = 0.995 (1M)", "basketball_1m/env-name=basketball-v3/seed*"),
]
GAMMA_SEED2 = [group(f"{task}, γ = {gamma}", f"{results}/env-name={task}/seed2")
               for task in ("window-close-v3", "pick-place-v3")
               for gamma, results in (("0.99", "mt10_gamma099"), ("0.995", "mt10"))]
RESUMED = {"seed 3": "resumed at 803k"}  # hammer10's seed 3 was stopped and resumed: its minutes are the rest
DISASSEMBLE = [group("the defaults", "mt50/env-name=disassemble-v3/seed1")] + [
    group(change, f"mt50_screen/env-name=disassemble-v3,{setting}/seed1")
    for change, setting in (("20 demos", "num-demos=20"), ("β = 0.003", "reverse-kl-coef=0.003"))]
SOCCER = [group("the defaults", "mt50/env-name=soccer-v3/seed2")] + [
    group(change, f"soccer_screen/env-name=soccer-v3,{setting}/seed2")
    for change, setting in (("20 demos", "num-demos=20"), ("β = 0.003", "reverse-kl-coef=0.003"))] + [
    group("the defaults, 1M steps", "soccer_1m/env-name=soccer-v3/seed2")]
MT50_RESUMED = {"coffee-button-v3 seed 1": "resumed at 201k",  # stopped with a session; minutes: the rest
                "push-wall-v3 seed 2": "resumed at 53k"}
DEFAULTS = "the defaults (10 demos, β = 0.01, γ = 0.995)"
REINFORCE = cartpole("REINFORCE", "reinforce/default", range(1, 6))
VPG = cartpole("VPG", "vpg/default", range(1, 6))
VPG_ONE_STEP = cartpole("VPG with --value-steps 0", "vpg_value_steps0/default", range(1, 6))
PPO_SEEDS = cartpole("PPO", "ppo_seeds/default", range(1, 11))
PPO_MORE_SEEDS = cartpole("PPO", "ppo_seeds_11-20/default", range(11, 21))
CLIP = [cartpole("clip_coef 0.15, the default", "ppo_clip/clip-coef=0.15", range(1, 6)),
        cartpole("clip_coef 1e6, never clips", "ppo_clip/clip-coef=1000000", range(1, 6))]
TARGET_KL = [cartpole("no KL stop, the default", "ppo_kl/target-kl=None", range(1, 6)),
             cartpole("target_kl 0.01", "ppo_kl/target-kl=0.01", range(1, 6))]

GENERATED: list[Table | Figure] = [
    Table("hammer10_seeds", [sweep("hammer10")], layout="seeds", notes=RESUMED),
    Table("hammer10", [sweep("hammer10")], notes=RESUMED),
    Figure("hammer_eval_success", [sweep("hammer10")], title=f"hammer-v3, seeds 1-10, 1M steps, {DEFAULTS}"),
    Table("hammer10_gamma099", [sweep("hammer10_gamma099")], layout="digest"),
    Table("mt10_digest", [sweep("mt10", MT10)], layout="digest"),
    Table("mt10", [sweep("mt10", MT10)], layout="settings"),
    Figure("mt10_eval_success", [sweep("mt10", MT10)], columns=6,
           title=f"MT10, seeds 1-3, 500k steps, {DEFAULTS}"),
    Table("mt10_gamma099", [sweep("mt10_gamma099", MT10)], layout="digest"),
    Table("gamma_seed2", GAMMA_SEED2, layout="evals", digest=False),
    Table("beyond_mt10_digest", [sweep("beyond_mt10", BEYOND_MT10)], layout="digest"),
    Table("beyond_mt10", [sweep("beyond_mt10", BEYOND_MT10)]),
    Figure("beyond_mt10_eval_success", [sweep("beyond_mt10", BEYOND_MT10)],
           title=f"Five tasks beyond MT10, seed 1, 500k steps, {DEFAULTS}"),
    Table("beyond_mt10_gamma099", [sweep("beyond_mt10_gamma099", BEYOND_MT10)], layout="digest"),
    Table("basketball", BASKETBALL, layout="settings"),
    Table("mt50_aggregate", [sweep("mt50")], layout="aggregate", digest=False),
    Table("mt50", [sweep("mt50")], layout="settings", notes=MT50_RESUMED),
    Versus("mt50_versus", [sweep("mt50")]),
    Table("mt50_failures", [sweep("mt50")], layout="failures", digest=False),
    Table("disassemble_screen", DISASSEMBLE, layout="evals", digest=False),
    Table("disassemble_failures", DISASSEMBLE, layout="failures", digest=False),
    Table("soccer_screen", SOCCER, layout="evals", digest=False),
    Table("soccer_failures", SOCCER, layout="failures", digest=False),
    TaskFigure("mt50_tasks", [sweep("mt50")],
               title="Meta-World v3 tasks: BC, then PPO with the KL anchor, 500k steps, the defaults"),
    Figure("basketball_gamma", BASKETBALL, columns=3,
           title="basketball-v3, seeds 1-3: γ = 0.99 against 0.995 (the default) at 500k steps; "
                 "the defaults at 1M"),
    CartPole("cartpole_headline", [REINFORCE, VPG, cartpole("PPO", "vs_sb3/ours", range(1, 6)),
                                   cartpole("SB3-zoo's tuned PPO", "vs_sb3/sb3", range(1, 6)),
                                   cartpole("CleanRL's ppo.py", "vs_cleanrl/cleanrl", range(1, 6))],
             layout="headline"),
    CartPole("reinforce", [REINFORCE], layout="cartpole"),
    CartPole("vpg", [VPG], layout="cartpole"),
    CartPole("vpg_value_steps0", [VPG_ONE_STEP], layout="cartpole_digest"),
    CartPole("vpg_baseline", [REINFORCE, VPG, VPG_ONE_STEP], layout="cartpole_versus"),
    CartPole("vs_sb3", [cartpole("ours", "vs_sb3/ours", range(1, 6)),
                        cartpole("SB3-zoo", "vs_sb3/sb3", range(1, 6))], layout="peers"),
    CartPole("vs_cleanrl", [cartpole("ours", "vs_cleanrl/ours", range(1, 6)),
                            cartpole("CleanRL", "vs_cleanrl/cleanrl", range(1, 6))], layout="peers"),
    CartPole("ppo_seeds", [PPO_SEEDS], layout="cartpole"),
    CartPole("ppo_seeds_aggregate", [PPO_SEEDS], layout="cartpole_aggregate"),
    CartPole("ppo_seeds_11-20", [PPO_MORE_SEEDS], layout="cartpole"),
    CartPole("ppo_seeds_1-20", [pooled("PPO", PPO_SEEDS, PPO_MORE_SEEDS)], layout="cartpole_digest"),
    CartPole("ppo_clip", CLIP, layout="cartpole_settings"),
    CartPole("ppo_kl", TARGET_KL, layout="cartpole_settings"),
    DemosFigure("demos_success", [], title="MT10, seeds 1-3, the defaults but --num-demos: BC, 500k and 1M "
                                           "steps; 10 demos: the 50-task runs, which end at 500k"),
    Demos("demos_digest", [], layout="digest"),
    Demos("demos_fewest", [], layout="fewest"),
    Demos("demos", [], layout="table"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block differs")
    options = parser.parse_args(argv)
    problems = generate(ROOT, write=not options.check)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if options.check and not problems:
        print(f"every generated block of README.md and docs/ holds what {RESULTS} gives")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
