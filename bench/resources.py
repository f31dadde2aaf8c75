"""Which resource limits a benchmark point: CPU used by each party over the run, and a py-spy
profile of the worker processes (bench/scale.py).

CPU is sampled every 0.2 s from /proc (psutil) for the worker processes and their work horses, the
local site, the PostgreSQL server processes and redis-server. PostgreSQL and Redis are shared with
anything else on the machine, so their figures are upper bounds; the machine's total CPU is given
too. A process that used ≥ 90 % of one core is saturated (each is single-threaded Python or one
backend).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bench.common import ROOT

SATURATED = 0.9


class CpuSampler:
    """CPU seconds per party over a `with` block. A process that exits between two samples loses at
    most one interval of its CPU (work horses are counted through their parent's reaped children
    as well: `workers` is the larger of the two readings)."""

    def __init__(self, worker_pids: Iterable[int], site_pid: int | None, interval: float = 0.2):
        self.worker_pids = set(worker_pids)
        self.site_pid = site_pid
        self.interval = interval
        self.seen: dict[tuple[str, int], float] = {}  # (party, pid) → cpu seconds at last sample
        self.first: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self.wall = 0.0
        self.machine = 0.0  # busy CPU seconds of the whole machine

    def _party(self, proc) -> str | None:
        name = proc.info["name"] or ""
        if proc.pid in self.worker_pids or proc.info["ppid"] in self.worker_pids:
            return "workers"
        if proc.pid == self.site_pid:
            return "site"
        if name == "postgres" or name.startswith("postgres:"):
            return "postgres"
        if name.startswith("redis-server"):
            return "redis"
        if proc.pid == os.getpid():
            return "bench"
        return None

    def _sample(self, first: bool) -> None:
        import psutil

        for proc in psutil.process_iter(["name", "ppid", "cpu_times"]):
            party = self._party(proc)
            times = proc.info["cpu_times"]
            if party is None or times is None:
                continue
            key = (party, proc.pid)
            self.seen[key] = times.user + times.system
            if first:
                self.first[key] = self.seen[key]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(first=False)

    def __enter__(self) -> CpuSampler:
        import psutil

        self._reaped0 = _reaped(self.worker_pids)
        self._machine0 = _busy(psutil.cpu_times())
        self._sample(first=True)
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import psutil

        self._stop.set()
        self._thread.join(timeout=5)
        self._sample(first=False)
        self.wall = time.monotonic() - self._t0
        self.machine = _busy(psutil.cpu_times()) - self._machine0
        self.reaped = _reaped(self.worker_pids) - self._reaped0

    def seconds(self) -> dict[str, float]:
        totals: Counter = Counter()
        for key, value in self.seen.items():
            totals[key[0]] += value - self.first.get(key, 0.0)
        parents = sum(
            v - self.first.get(k, 0.0) for k, v in self.seen.items() if k[1] in self.worker_pids
        )
        totals["workers"] = max(totals["workers"], parents + self.reaped)
        return dict(totals)

    def shares(self) -> dict[str, float]:
        """Cores used by each party (1.0 = one core busy the whole run), and by the machine."""
        wall = max(self.wall, 1e-9)
        shares = {party: cpu / wall for party, cpu in self.seconds().items()}
        shares["machine"] = self.machine / wall
        return shares


def _busy(t) -> float:
    return t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "irq", 0.0)


def _reaped(pids: Iterable[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.children_user + t.children_system
    return total


def limit_of(
    shares: dict[str, float], workers: int, concurrency_ceiling: float, rate: float
) -> str:
    """Name what limits a point: a saturated party, the machine, or the concurrency × latency."""
    cores = os.cpu_count() or 1
    if shares.get("machine", 0.0) >= SATURATED * cores:
        busiest = max(("workers", "site", "postgres", "redis"), key=lambda p: shares.get(p, 0.0))
        return f"machine CPU (most: {busiest})"
    if shares.get("workers", 0.0) / workers >= SATURATED:
        return "worker CPU"
    if shares.get("site", 0.0) >= SATURATED:
        return "local site CPU"
    if shares.get("postgres", 0.0) >= SATURATED * cores / 2:
        return "database CPU"
    if rate >= 0.8 * concurrency_ceiling:
        return "concurrency × latency"
    return "waits (DB flush/claim round trips)"


# --- py-spy ----------------------------------------------------------------------------------


def py_spy() -> str | None:
    from shutil import which

    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else which("py-spy")


def start_profile(pids: Iterable[int], out: Path, seconds: float) -> list[subprocess.Popen]:
    """`py-spy record` of each worker and the work horses it forks, as collapsed stacks."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError(
            "py-spy is not installed (it is a dev dependency: ./run test installs it)"
        )
    procs = []
    for i, pid in enumerate(pids):
        argv = [binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
        argv += ["--rate", "200", "--duration", str(int(seconds)), "--format", "raw"]
        argv += ["--output", f"{out}-{i}.txt"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def summarise_profile(files: Iterable[Path], top: int = 15) -> list[str]:
    """The functions the workers spent their samples in: own time, and time under them."""
    own: Counter = Counter()
    under: Counter = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = [_short(f) for f in stack.split(";") if not f.startswith("process ")]
            if not frames:
                continue
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                under[frame] += n
    if not total:
        return ["  (no samples: py-spy could not attach? it needs ptrace rights)"]
    lines = [f"  {total:,} samples; own time:"]
    lines += [f"    {100 * n / total:5.1f} %  {f}" for f, n in own.most_common(top)]
    lines.append("  time under (inclusive), our code and the libraries it calls:")
    interesting = [
        (f, n)
        for f, n in under.most_common(200)
        if any(k in f for k in ("jobs/", "django/db", "psycopg", "aiohttp", "asyncio", "rq/"))
    ]
    lines += [f"    {100 * n / total:5.1f} %  {f}" for f, n in interesting[:top]]
    return lines


def _short(frame: str) -> str:
    """'func (path/to/site-packages/pkg/mod.py:12)' → 'func (pkg/mod.py)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3.12/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"
