"""CPU time and peak memory of a process tree, sampled from /proc (Linux).

A bot's work is spread over its main process, a forkserver and parse workers; ``resource`` only sees
children that were waited for. ``TreeMonitor`` samples every descendant of a root pid every 10 ms. It
shares the two cores with what it measures, so it stays light: a sample of CPU and RSS costs ~0.1 ms, but
PSS walks every page table (~1.6 ms for a 150 MB process), so PSS is read at most every 100 ms, when the
resident total is near its peak. Wall times that matter are taken from runs without a monitor.

CPU is the sum over processes of their last seen utime+stime; peak RSS is the largest
sum of resident memory seen at one instant (shared pages are counted in each process, so this errs
high); peak PSS divides shared pages among their sharers (the honest total); the main process's own
peak (VmHWM) is reported too.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, cpu seconds, rss bytes) of ``pid``, or None if it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    rss = int(fields[21]) * _PAGE
    return ppid, cpu, rss


def _pss(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def peak_rss(pid: int) -> int:
    """A process's own peak resident memory (``VmHWM``: since its last exec), in bytes; 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass(slots=True)
class Usage:
    wall: float
    cpu: float
    peak_rss: int  # largest total over the tree at one sample (shared pages counted in each process)
    peak_pss: int  # largest total PSS over the tree at one sample (shared pages divided among sharers)
    main_peak_rss: int  # the root process's own high-water mark
    processes: int


class TreeMonitor:
    """``with TreeMonitor(pid) as m: ...; m.usage`` — or ``start()``/``stop()``."""

    def __init__(self, root: int, interval: float = 0.01, pss_interval: float = 0.1) -> None:
        self.root = root
        self.interval = interval
        self.pss_interval = pss_interval
        self._last_pss = -1.0
        self._cpu: dict[int, float] = {}
        self._base: dict[int, float] = {}
        self._peak = 0
        self._peak_pss = 0
        self._samples = 0
        self._main_hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = 0.0
        self.usage: Usage | None = None

    def _tree(self) -> dict[int, tuple[float, int]]:
        """The root and its descendants, found through ``/proc/<pid>/task/<tid>/children`` (cheap: the
        monitor shares the machine with what it measures), each with (cpu, rss)."""
        out: dict[int, tuple[float, int]] = {}
        todo = [self.root]
        while todo:
            pid = todo.pop()
            st = _stat(pid)
            if st is None or pid in out:
                continue
            out[pid] = (st[1], st[2])
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                with contextlib.suppress(OSError, ValueError):
                    children = Path(f"/proc/{pid}/task/{tid}/children").read_bytes().split()
                    todo.extend(int(c) for c in children)
        return out

    def _sample(self, baseline: bool = False, final: bool = False) -> None:
        tree = self._tree()
        total_rss = 0
        for pid, (cpu, rss) in tree.items():
            if baseline:
                self._base[pid] = cpu
            self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu)
            total_rss += rss
        self._peak = max(self._peak, total_rss)
        # PSS walks each process's page tables (the costly part of a sample): when the resident total is
        # near its peak, where the PSS peak is, at most every pss_interval, and on the final sample.
        self._samples += 1
        now = time.perf_counter()
        if final or (total_rss >= 0.9 * self._peak and now - self._last_pss >= self.pss_interval):
            self._last_pss = now
            self._peak_pss = max(self._peak_pss, sum(_pss(pid) for pid in tree))
        hwm = peak_rss(self.root)
        if hwm:
            self._main_hwm = max(self._main_hwm, hwm)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> TreeMonitor:
        self._t0 = time.perf_counter()
        self._sample(baseline=True)
        self._thread.start()
        return self

    def stop(self) -> Usage:
        """Stop sampling (call before the root process is reaped, or right after it exits)."""
        self._stop.set()
        self._thread.join()
        self._sample(final=True)
        wall = time.perf_counter() - self._t0
        cpu = sum(c - self._base.get(pid, 0.0) for pid, c in self._cpu.items())
        self.usage = Usage(wall, cpu, self._peak, self._peak_pss, self._main_hwm, len(self._cpu))
        return self.usage

    def __enter__(self) -> TreeMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
