"""Benchmarks of pytest-toolcall against floors, printed as one Markdown table.

``python benchmarks/run.py`` (``--quick`` for a smoke run). Every measurement is a fresh
process started the way a user starts it, timed wall-clock from launch to exit, so each
side pays its own interpreter start-up and imports:

- live: ``python -m pytest DIR --toolcall-live --toolcall-concurrency=32`` against the
  loopback server (200 ms per answer) vs ``benchmarks/floor.py`` (asyncio + httpx2, a
  semaphore of 32) posting the very same request bodies to the same server; for the
  first size also vs that client run inside pytest (``pytest_floor.py``: pytest with as
  many trivial tests, sending at the end of collection), the least any pytest plugin takes;
- replay with per-case tools: ~2000 recorded cases in 8 files, each case with its own 1-6
  tools (BFCL's shape), vs bare pytest running a module of as many ``assert True``
  functions; and the ``--collect-only`` of that set on its own, cold and then warm (pytest's
  cacheprovider on, its cache filled by one untimed run, so each loaded suite comes from it);
- replay at scale: 10,000 recorded cases in 10 files (shared tools file) vs bare pytest
  with 10,000 trivial tests, and the peak RSS (``wait4`` rusage of the child) of that replay.

Each replay is paired with bare pytest three ways, as each side caches its own work
(ours: the loaded suites, in pytest's cache; bare pytest: its assertion-rewritten test
module, as byte-code):
- first run, nothing cached on either side (a fresh CI clone): ours with ``-p
  no:cacheprovider``, bare pytest with its compiled module deleted before each run;
- ours uncached vs bare pytest with its compiled module kept (the strictest pairing);
- later run, both caches kept (pytest's cacheprovider on for both, filled untimed).

Every other pytest process runs with ``-p no:cacheprovider``: nothing carries over from
one run to the next. Plugin auto-loading is off in every pytest process
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``; pytest-toolcall comes in with ``-p
pytest_toolcall.plugin``), so whatever else is installed in the environment weighs on
neither side; ``--autoload`` measures with it instead.
Byte-code caching of the installed code (pytest's, ours) is on (a user's second run).
Recording is untimed (0 ms server, concurrency 64). Runs of the two sides alternate; the
best of ``--repeats`` counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_suites import make_suites, make_trivial_tests, write_bodies  # noqa: E402
from server import BenchServer  # noqa: E402

MODEL = "m"
CONCURRENCY = 32
BUSY_THRESHOLD = 0.15


@dataclass
class Measured:
    """One process run: wall and CPU time, peak RSS, output, and its pytest phases."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float
    returncode: int
    output: str
    phases: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One line of the result table."""

    scenario: str
    ours: float
    floor: float
    target: float
    absolute_target: bool = False
    failed: str = ""
    unit: str = " MB"  # of an absolute target

    @property
    def ratio(self) -> float:
        return self.ours / self.floor if self.floor else float("nan")

    @property
    def met(self) -> bool:
        return (self.ours if self.absolute_target else self.ratio) <= self.target


@dataclass
class Bench:
    """Where and how processes are run; collects the table rows and notes."""

    work: Path
    repeats: int
    autoload: bool = False
    max_wait_s: float = 120.0
    noisy_runs: int = 0
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- running processes -------------------------------------------------------------

    @property
    def pytest(self) -> list[str]:
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "phases"]

    @property
    def ours(self) -> list[str]:
        if self.autoload:
            return self.pytest
        return self.pytest + ["-p", "pytest_toolcall.plugin"]

    @property
    def bare(self) -> list[str]:
        return self.pytest + (["-p", "no:toolcall"] if self.autoload else [])

    def env(self) -> dict[str, str]:
        """Byte-code caching on (under `work`, nothing written near the sources); no OPENAI_*."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("OPENAI_", "PYTEST_")) and name != "PYTHONDONTWRITEBYTECODE"
        }
        env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        if not self.autoload:
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        return env

    def warm_up(self) -> None:
        """Compile what the measured processes import into the byte-code cache (untimed)."""
        modules = "pytest, openai, httpx2, vcr, pytest_toolcall.plugin, phases"
        subprocess.run([sys.executable, "-c", f"import {modules}"], env=self.env(), check=True)

    def wait_for_quiet(self) -> None:
        """Wait (up to `max_wait_s`) until other processes leave the CPUs mostly idle."""
        deadline = time.monotonic() + self.max_wait_s
        while busy_fraction() > BUSY_THRESHOLD:
            if time.monotonic() > deadline:
                self.noisy_runs += 1
                return
            time.sleep(2)

    def measure(self, command: Sequence[str]) -> Measured:
        """Run `command` in `work` to completion: wall time, and the child's CPU time and RSS."""
        self.wait_for_quiet()
        env = self.env()
        with tempfile.TemporaryDirectory() as scratch:
            phases_path = Path(scratch) / "phases.json"
            env["BENCH_PHASES_OUT"] = str(phases_path)
            with open(Path(scratch) / "out.txt", "w+b") as out:
                env["BENCH_T0"] = repr(time.time())
                started = time.perf_counter()
                process = subprocess.Popen(command, cwd=self.work, env=env, stdout=out, stderr=out)
                _, status, usage = os.wait4(process.pid, 0)
                wall_s = time.perf_counter() - started
                process.returncode = os.waitstatus_to_exitcode(status)
                out.seek(0)
                output = out.read().decode("utf-8", "replace")
            phases = json.loads(phases_path.read_text()) if phases_path.exists() else {}
        cpu_s = usage.ru_utime + usage.ru_stime
        return Measured(wall_s, cpu_s, usage.ru_maxrss / 1024, process.returncode, output, phases)

    def alternate(
        self,
        repeats: int,
        *commands: Sequence[str],
        before: dict[int, Callable[[], None]] | None = None,
    ) -> list[list[Measured]]:
        """Run the commands in turn, `repeats` rounds, so drift hits every side alike;
        `before[i]` (untimed) runs before each run of command `i`."""
        runs: list[list[Measured]] = [[] for _ in commands]
        for _ in range(repeats):
            for index, command in enumerate(commands):
                if before and index in before:
                    before[index]()
                runs[index].append(self.measure(command))
        return runs

    def forget_compiled(self, directory: Path) -> None:
        """Delete the byte-code pytest wrote for the test modules of `directory` (its
        assertion rewriting caches it): the next run compiles them afresh, as on a fresh
        clone."""
        cached = self.work / "pycache" / directory.resolve().relative_to(directory.anchor)
        found = [*cached.glob("*.pyc"), *directory.glob("__pycache__/*.pyc")]
        if not found:  # the pairing would silently be the strict one
            raise RuntimeError(f"no byte-code of the tests in {directory} to delete")
        for compiled in found:
            compiled.unlink()

    # -- scenarios ---------------------------------------------------------------------

    def live(
        self, server: BenchServer, cases: int, files: int, repeats: int, *, pytest_floor: bool
    ) -> None:
        """pytest-toolcall live vs the asyncio + httpx2 floor, same bodies, same server; with
        `pytest_floor`, a row against that floor run inside pytest (`pytest_floor.py`)."""
        directory = self.work / f"live_{cases}_{files}"
        paths = make_suites(directory, cases, files)
        bodies = self.work / f"bodies_{cases}_{files}.jsonl"
        write_bodies(paths, MODEL, bodies)
        ours_command = [
            *self.ours,
            directory.name,
            f"--model={MODEL}",
            f"--toolcall-base-url={server.base_url}",
            "--toolcall-live",
            f"--toolcall-concurrency={CONCURRENCY}",
        ]
        floor_command = [
            sys.executable,
            str(HERE / "floor.py"),
            bodies.name,
            f"--base-url={server.base_url}",
            f"--concurrency={CONCURRENCY}",
        ]
        commands = [ours_command, floor_command]
        if pytest_floor:
            trivial = make_trivial_tests(self.work / f"trivial_{cases}", cases).parent
            commands.append(
                [
                    *self.bare,
                    trivial.name,
                    "-p",
                    "pytest_floor",
                    f"--floor-bodies={bodies.name}",
                    f"--floor-url={server.base_url}",
                    f"--floor-concurrency={CONCURRENCY}",
                ]
            )
        label = f"live, {cases} cases in {files} file{'s' * (files > 1)}"
        server.reset_counters()
        ours_runs, floor_runs, *pytest_runs = self.alternate(repeats, *commands)
        problems = [failure(f"{label}: pytest", r) for r in ours_runs if r.returncode]
        problems += [failure(f"{label}: floor", r) for r in floor_runs if r.returncode]
        if pytest_runs:
            problems += [
                failure(f"{label}: pytest floor", r) for r in pytest_runs[0] if r.returncode
            ]
        if server.requests != len(commands) * repeats * cases:
            expected = len(commands) * repeats * cases
            problems.append(f"server saw {server.requests} requests, not {expected}")
        if server.max_in_flight > CONCURRENCY:
            problems.append(f"{server.max_in_flight} requests in flight > {CONCURRENCY}")
        ours, floor = fastest(ours_runs), fastest(floor_runs)
        try:
            floor_send = f"{json.loads(floor.output.strip().splitlines()[-1])['send_s']:.2f}"
        except (ValueError, KeyError, IndexError):
            floor_send = "?"
        self.rows.append(Row(label, ours.wall_s, floor.wall_s, 1.15, failed="; ".join(problems)))
        if pytest_runs:
            inside = fastest(pytest_runs[0])
            self.rows.append(
                Row(
                    f"{label}, vs that floor client run inside pytest (+{cases} trivial tests)",
                    ours.wall_s,
                    inside.wall_s,
                    1.15,
                    failed="; ".join(problems),
                )
            )
            self.notes.append(breakdown(f"{label}, floor client inside pytest", inside))
        ideal_s = -(-cases // CONCURRENCY) * server.latency_s
        self.notes += [
            breakdown(f"{label}, pytest-toolcall", ours),
            f"{label}, floor: wall {floor.wall_s:.2f} s, of which sending {floor_send} s "
            f"(ideal {ideal_s:.2f} s); CPU {floor.cpu_s:.2f} s; peak RSS {floor.max_rss_mb:.0f} MB",
        ]

    def record(self, server: BenchServer, directory: Path) -> str:
        """Record every case of `directory` into cassettes (untimed); '' or what went wrong."""
        run = self.measure(
            [
                *self.ours,
                directory.name,
                f"--model={MODEL}",
                f"--toolcall-base-url={server.base_url}",
                "--record-mode=once",
                "--toolcall-concurrency=64",
            ]
        )
        print(f"   recorded {directory.name} in {run.wall_s:.1f} s", file=sys.stderr)
        return failure(f"recording {directory.name}", run) if run.returncode else ""

    def replay(
        self,
        recorder: BenchServer,
        cases: int,
        files: int,
        *,
        per_case_tools: bool = False,
        target: float = 1.0,
        rss_target: float | None = None,
        collect_target: float | None = None,
    ) -> None:
        """Replay of recorded cases vs bare pytest running as many trivial test functions,
        paired two ways: a first run (nothing cached on either side: no suite cache for us,
        bare pytest compiling its test module afresh, as on a fresh CI clone) and ours
        uncached vs bare pytest with its compiled module kept; `replay_warm` adds the third,
        both sides' caches kept. With `rss_target`, a row of the replay's peak RSS; with
        `collect_target`, rows of the `--collect-only` wall time of the same set."""
        kind = "own tools per case" if per_case_tools else "shared tools"
        directory = self.work / f"replay_{cases}_{files}{'_own' * per_case_tools}"
        make_suites(directory, cases, files, per_case_tools=per_case_tools)
        trivial = make_trivial_tests(self.work / f"trivial_{cases}", cases).parent
        problems = [p for p in [self.record(recorder, directory)] if p]
        bare_command = [*self.bare, trivial.name]
        self.measure(bare_command)  # untimed: pytest caches the rewritten module
        ours_command = [*self.ours, directory.name, f"--model={MODEL}"]
        ours_runs, compiled_runs, fresh_runs = self.alternate(
            self.repeats,
            ours_command,
            bare_command,
            bare_command,
            before={2: lambda: self.forget_compiled(trivial)},
        )
        problems += [failure("replay", r) for r in ours_runs if r.returncode]
        problems += [failure("bare pytest", r) for r in compiled_runs + fresh_runs if r.returncode]
        ours, compiled, fresh = fastest(ours_runs), fastest(compiled_runs), fastest(fresh_runs)
        label = f"replay, {cases:,} cases in {files} files ({kind}) vs bare pytest"
        failed = "; ".join(problems)
        self.rows += [
            Row(f"{label}, first run (nothing cached either side)", ours.wall_s, fresh.wall_s,
                target, failed=failed),
            Row(f"{label}, ours uncached vs its compiled test module kept", ours.wall_s,
                compiled.wall_s, target, failed=failed),
        ]  # fmt: skip
        if rss_target is not None:
            label = f"peak RSS, that replay of {cases:,} cases (floor: {cases:,} trivial tests)"
            self.rows.append(Row(label, ours.max_rss_mb, compiled.max_rss_mb, rss_target, True))
        self.notes += [
            breakdown(f"replay of {cases:,} ({kind})", ours),
            breakdown(f"bare pytest, {cases:,} tests, compiled test module kept", compiled),
            breakdown(f"bare pytest, {cases:,} tests, test module compiled afresh", fresh),
        ]
        if collect_target is not None:
            collect_runs = self.alternate(self.repeats, [*ours_command, "--collect-only"])[0]
            collect = fastest(collect_runs)
            bad = failure("collect-only", collect) if collect.returncode else ""
            label = f"collection (`--collect-only`) of those {cases:,} cases ({kind}), wall"
            self.rows.append(Row(label, collect.wall_s, 0.0, collect_target, True, bad, " s"))
            self.notes.append(breakdown(f"--collect-only of {cases:,} ({kind})", collect))
            self.collect_warm(ours_command, directory, files, cases, kind, collect_target)
        self.replay_warm(ours_command, bare_command, directory, cases, files, kind, target)

    def fill_suite_cache(
        self, command: Sequence[str], directory: Path, files: int, what: str
    ) -> tuple[Measured, list[str]]:
        """Run `command` once, untimed, with `--cache-clear`: pytest's cache then holds every
        loaded suite of `directory`. The run, and what went wrong (a suite not stored)."""
        fill = self.measure([*command, "--cache-clear"])
        problems = [failure(f"{what}, filling the cache", fill)] if fill.returncode else []
        pattern = ".pytest_cache/d/toolcall-suites/*.suite"  # under rootdir: one of these
        stored = {*directory.glob(pattern), *self.work.glob(pattern)}
        if len(stored) != files:
            problems.append(f"{len(stored)} suites in the cache, not {files}")
        return fill, problems

    def collect_warm(
        self,
        command: Sequence[str],
        directory: Path,
        files: int,
        cases: int,
        kind: str,
        target: float,
    ) -> None:
        """`--collect-only` with pytest's cacheprovider on, once untimed (`--cache-clear`:
        it fills the cache with every loaded suite), then timed while the cache serves them."""
        cached = [*without_cacheprovider(command), "--collect-only"]
        fill, problems = self.fill_suite_cache(cached, directory, files, "collect-only")
        runs = self.alternate(self.repeats, cached)[0]
        warm = fastest(runs)
        problems += [failure("collect-only, warm cache", r) for r in runs if r.returncode]
        label = f"collection (`--collect-only`), warm cache, {cases:,} cases ({kind}), wall"
        self.rows.append(Row(label, warm.wall_s, 0.0, target, True, "; ".join(problems), " s"))
        self.notes += [
            breakdown(f"--collect-only, warm cache ({kind})", warm),
            f"warm cache: each case file's loaded suite comes from `.pytest_cache` (pickled, "
            f"checked by the sha256 of every file it read), so YAML parsing and validation are "
            f"skipped; the cold run that filled it took {fill.wall_s:.2f} s",
        ]

    def replay_warm(
        self,
        ours: Sequence[str],
        bare: Sequence[str],
        directory: Path,
        cases: int,
        files: int,
        kind: str,
        target: float,
    ) -> None:
        """The replay again with pytest's cacheprovider on for both sides: a user's later
        run (each side's cache filled by an untimed run: ours holds every loaded suite,
        bare pytest's compiled module is kept)."""
        ours, bare = without_cacheprovider(ours), without_cacheprovider(bare)
        problems = self.fill_suite_cache(ours, directory, files, "replay")[1]
        self.measure(bare)  # untimed: bare pytest's own cache written
        ours_runs, bare_runs = self.alternate(self.repeats, ours, bare)
        problems += [failure("replay, warm cache", r) for r in ours_runs if r.returncode]
        problems += [failure("bare pytest, cache on", r) for r in bare_runs if r.returncode]
        best, floor = fastest(ours_runs), fastest(bare_runs)
        label = (
            f"replay, {cases:,} cases in {files} files ({kind}) vs bare pytest, later run "
            "(both caches kept)"
        )
        self.rows.append(Row(label, best.wall_s, floor.wall_s, target, failed="; ".join(problems)))
        self.notes.append(breakdown(f"replay, warm cache, {cases:,} ({kind})", best))


def without_cacheprovider(command: Sequence[str]) -> list[str]:
    """`command` less its `-p no:cacheprovider`."""
    kept = list(command)
    for index in range(len(kept) - 1):
        if kept[index : index + 2] == ["-p", "no:cacheprovider"]:
            del kept[index : index + 2]
            break
    return kept


def fastest(runs: Sequence[Measured]) -> Measured:
    """The fastest successful run (a failed one if none succeeded)."""
    return min(runs, key=lambda run: (run.returncode != 0, run.wall_s))


def failure(what: str, run: Measured) -> str:
    tail = "\n".join(run.output.strip().splitlines()[-15:])
    print(f"!! {what} failed (exit {run.returncode}):\n{tail}", file=sys.stderr)
    return f"{what}: exit {run.returncode}"


def busy_fraction(seconds: float = 0.5) -> float:
    """Share of all CPUs busy during `seconds` (from /proc/stat; 0.0 where unavailable)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)

    try:
        total_before, idle_before = sample()
        time.sleep(seconds)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = total_after - total_before
    return 1 - (idle_after - idle_before) / total if total else 0.0


def breakdown(name: str, run: Measured) -> str:
    """One line: where a pytest run's wall time went."""

    def phase(key: str) -> str:
        value = run.phases.get(key)
        return "?" if value is None else f"{value:.2f}"

    line = (
        f"{name}: wall {run.wall_s:.2f} s = start-up+imports {phase('startup_s')}"
        f" + collection {phase('collect_s')} + tests {phase('run_s')}"
        f" + summary/exit {phase('finish_s')}"
    )
    if run.phases.get("items_s") is not None:
        line += f" (in our {run.phases['items']} items {run.phases['items_s']:.2f} s)"
    return line + f"; CPU {run.cpu_s:.2f} s; peak RSS {run.max_rss_mb:.0f} MB"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| scenario | ours (s) | floor (s) | ratio | target | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        unit = row.unit if row.absolute_target else ""
        target = f"≤ {row.target:g}{unit}" if row.absolute_target else f"≤ {row.target:g}× floor"
        verdict = f"ERROR: {row.failed}" if row.failed else ("met" if row.met else "**missed**")
        floor = f"{row.floor:.2f}{unit}" if row.floor else "—"
        ratio = f"{row.ratio:.2f}×" if row.floor else "—"
        lines.append(
            f"| {row.scenario} | {row.ours:.2f}{unit} | {floor} | {ratio} | {target} | {verdict} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """CPU, cores, memory, OS and the versions that matter."""
    from importlib.metadata import version

    cpu, memory = platform.processor() or platform.machine(), "RAM unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024**2:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("pytest-toolcall", "pytest", "openai", "httpx2")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {packages}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (~30 s)")
    parser.add_argument("--repeats", type=int, help="rounds per comparison (best counts)")
    parser.add_argument("--only", choices=("live", "replay", "scale"), action="append")
    parser.add_argument("--autoload", action="store_true", help="load all installed plugins")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="seconds to wait, before each run, for other processes to leave the CPUs idle",
    )
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    only = set(args.only or ("live", "replay", "scale"))
    repeats = args.repeats or (1 if args.quick else 3)
    live_sizes = [(64, 4)] if args.quick else [(200, 10), (1000, 10), (1000, 1)]
    replay_size, scale_size = ((200, 4), (1000, 10)) if args.quick else ((2000, 8), (10000, 10))

    bench = Bench(
        Path(tempfile.mkdtemp(prefix="toolcall-bench-")),
        repeats,
        autoload=args.autoload,
        max_wait_s=args.max_wait,
    )
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    try:
        bench.warm_up()
        with BenchServer(latency_ms=200) as live, BenchServer(latency_ms=0) as recorder:
            if "live" in only:
                for index, (cases, files) in enumerate(live_sizes):
                    print(f"-- live, {cases} cases in {files} files", file=sys.stderr)
                    runs = min(repeats, 2) if cases >= 1000 else repeats
                    bench.live(live, cases, files, runs, pytest_floor=index == 0)
            if "replay" in only:
                print(f"-- replay, {replay_size[0]} cases, own tools", file=sys.stderr)
                bench.replay(
                    recorder, *replay_size, per_case_tools=True, target=2.0, collect_target=1.5
                )
            if "scale" in only:
                print(f"-- replay, {scale_size[0]} cases, shared tools", file=sys.stderr)
                bench.replay(recorder, *scale_size, target=1.0, rss_target=300.0)
    finally:
        if args.keep:
            print(f"kept {bench.work}", file=sys.stderr)
        else:
            shutil.rmtree(bench.work, ignore_errors=True)
    options = " ".join(f"--{name}" for name in ("quick", "autoload") if getattr(args, name))
    report = "\n".join(
        [
            f"Machine: {machine()}",
            "",
            f"Command: `python benchmarks/run.py{' ' + options if options else ''}` "
            f"(best of {repeats}, 1000-case live rows best of {min(repeats, 2)}; "
            f"whole run {time.perf_counter() - started:.0f} s; load average {load_before:.2f} "
            f"before, {os.getloadavg()[0]:.2f} after; {bench.noisy_runs} runs started while "
            "other processes kept the CPUs busy)",
            "",
            table(bench.rows),
            "",
            "Where the time went (fastest runs):",
            "",
            *(f"- {note}" for note in bench.notes),
        ]
    )
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n", encoding="utf-8")
    sys.exit(1 if any(row.failed for row in bench.rows) else 0)


if __name__ == "__main__":
    main()
