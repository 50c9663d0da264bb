"""``make bench``: run every benchmark, print the figures, and replace ``benchmarks/RESULTS.md``.

Each benchmark is a ``bench_*.py`` script run in its own process (so one's imports, threads or
servers never colour another's figures); it writes one section as JSON, rendered here with rich
and as Markdown. Figures are ratios against baselines measured in the same run. Goals that are not
met are reported as not met: this script exits 0 unless a benchmark itself failed.

    .venv/bin/python benchmarks/run.py              # everything (~12 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick      # a smoke run with few rounds
    .venv/bin/python benchmarks/run.py --only coldstart --results /tmp/r.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_machine import describe, load
from bench_results import Section, read_section
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"

#: name → (script, full-run arguments, --quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "coldstart": ("bench_coldstart.py", ["--rounds", "15"], ["--rounds", "3"]),
    "per-record": (
        "bench_per_record.py",
        ["--repeats", "21", "--batches", "300"],
        ["--repeats", "5", "--batches", "100"],
    ),
    "enqueue": (
        "bench_enqueue.py",
        ["--rounds", "21", "--single-rounds", "41", "--bulk", "50", "--single", "50"],
        ["--rounds", "2", "--single-rounds", "2", "--bulk", "50", "--single", "30"],
    ),
    "end-to-end": (
        "bench_end_to_end.py",
        ["--jobs", "1000"],
        ["--jobs", "100"],
    ),
    "image": ("bench_image.py", ["--rounds", "11"], ["--rounds", "3"]),
    "store": (
        "bench_store.py",
        ["--repeats", "7", "--batches", "5", "--calls", "30"],
        ["--repeats", "2", "--batches", "2", "--calls", "10"],
    ),
    "limits": (
        "bench_limits.py",
        ["--repeats", "7", "--batches", "3"],
        ["--repeats", "2", "--batches", "1"],
    ),
}


def run_benchmark(name: str, quick: bool) -> Section | str:
    """The benchmark's section, or the text of its failure."""
    script, full, smoke = BENCHMARKS[name]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "section.json"
        command = [sys.executable, str(BENCH_DIR / script), "--out", str(out)]
        done = subprocess.run(
            [*command, *(smoke if quick else full)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=None,  # progress lines go straight to the terminal
            text=True,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            return f"`{script}` failed with exit status {done.returncode}.\n\n{done.stdout[-2000:]}"
        return read_section(out)


def show(console: Console, section: Section) -> None:
    console.rule(f"[bold]{section['title']}")
    for table in section["tables"]:
        view = Table(title=table["title"], title_justify="left")
        for index, column in enumerate(table["columns"]):
            view.add_column(column, justify="left" if index == 0 else "right")
        for row in table["rows"]:
            view.add_row(*(cell.replace("**", "") for cell in row))
        console.print(view)
    goals = Table(title="Goals", title_justify="left")
    for column in ("goal", "measured", "met"):
        goals.add_column(column)
    for goal in section["goals"]:
        met = "[green]met[/]" if goal["met"] else "[red]NOT met[/]"
        goals.add_row(goal["goal"], goal["measured"], met)
    if section["goals"]:
        console.print(goals)
    for note in section["notes"]:
        console.print(Markdown(f"- {note}"))


def markdown_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    aligns = ["---"] + ["---:"] * (len(columns) - 1)
    return [line(columns), "| " + " | ".join(aligns) + " |", *(line(row) for row in rows)]


def markdown(
    machine: dict[str, str], command: str, sections: dict[str, Section | str], seconds: float
) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); replaced on every run. Figures are",
        "medians; ratios compare contenders measured in the same run, on the same machine,",
        "interleaved.",
        "",
        f"- **Command:** `{command}`",
    ]
    lines += [f"- **{key}:** {value}" for key, value in machine.items()]
    lines += [
        f"- **Load at end:** {load()}",
        f"- **Duration:** {seconds:.0f} s",
        "",
        "The machine's 2 cores were shared with other work during the run (see the load above):",
        "absolute times are inflated by it, ratios much less so, since contenders are interleaved.",
        "",
        "## Goals",
        "",
    ]
    goal_rows = []
    for name, section in sections.items():
        if isinstance(section, str):
            goal_rows.append([name, "benchmark failed", "**not measured**"])
            continue
        for goal in section["goals"]:
            goal_rows.append(
                [goal["goal"], goal["measured"], "met" if goal["met"] else "**NOT met**"]
            )
    lines += markdown_table(["goal", "measured", "result"], goal_rows)
    for name, section in sections.items():
        lines.append("")
        if isinstance(section, str):
            lines += [f"## {name}", "", section]
            continue
        lines += [f"## {section['title']}", "", section["method"]]
        for table in section["tables"]:
            lines += ["", f"**{table['title']}**", ""]
            lines += markdown_table(table["columns"], table["rows"])
        if section["notes"]:
            lines.append("")
            lines += [f"- {note}" for note in section["notes"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), default=[])
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write Markdown")
    args = parser.parse_args()
    console = Console()
    machine = describe()
    command = os.environ.get("BENCH_COMMAND") or shlex.join(["benchmarks/run.py", *sys.argv[1:]])
    started = time.monotonic()
    sections: dict[str, Section | str] = {}
    for name in args.only or list(BENCHMARKS):
        console.print(f"[bold]running {name}…")
        section = run_benchmark(name, args.quick)
        sections[name] = section
        if isinstance(section, str):
            console.print(f"[red]{name} failed:[/]\n{section}")
        else:
            show(console, section)
    seconds = time.monotonic() - started
    args.results.write_text(markdown(machine, command, sections, seconds), encoding="utf-8")
    console.print(f"wrote {args.results} ({seconds:.0f} s)")
    return 1 if any(isinstance(section, str) for section in sections.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
