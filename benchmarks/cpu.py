"""CPU time and memory from /proc: the server (and everything it spawned) and the generator itself.

`utime + stime` of a process covers all its threads (aiortc's encoder/decoder threads included).
Children are found by walking parent ids at each sample; a child that exits inside the window
takes its CPU time with it (none does in our server).
"""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces: split after its closing parenthesis
    return text[text.rfind(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """User + system CPU seconds of a process (and its descendants)."""
    total = 0
    for p in process_tree(pid) if with_children else [pid]:
        fields = _stat_fields(p)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of the full line)
    return total / CLK_TCK


def rss_bytes(pid: int, with_children: bool = True) -> int:
    total = 0
    for p in process_tree(pid) if with_children else [pid]:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def udp_drops(pids: list[int]) -> int:
    """Datagrams dropped (receive buffer full) on the UDP sockets these processes own.

    Loss seen by subscribers is either the server's or the generator's own: a subscriber whose
    worker cannot keep up drops packets in its socket buffer. Sampling both sides tells which.
    """
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(fd.path)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 13 and fields[9] in inodes:
                drops += int(fields[12])
    return drops


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from the first line of /proc/stat.

    Busy minus server minus generator is what other programs took during the window: on a shared
    machine that is the first thing to check when figures look noisy.
    """
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_seconds() -> float:
    """This process's CPU seconds, all threads (cheaper than /proc for the workers' own figure)."""
    t = os.times()
    return t.user + t.system


def machine_info() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import platform

    import aiortc

    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "aiortc": aiortc.__version__, "kernel": platform.release()}


def wait_for_idle(max_wait: float, threshold_cores: float = 0.3, probe: float = 2.0) -> float:
    """Wait (at most `max_wait` s) until the machine's busy CPU stays under `threshold_cores`.

    Returns the last busy figure measured. On a shared machine a run started under someone
    else's load measures that load; waiting a little for a quiet moment is cheaper than a rerun.
    """
    import time

    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(probe)
        busy = (machine_busy_seconds() - before) / probe
        if busy < threshold_cores or time.monotonic() >= deadline:
            return busy


def prioritize(nice: int) -> bool:
    """Give this process `nice`, in a session of its own whose autogroup has that nice too.

    With `kernel.sched_autogroup_enabled` (on here), the scheduler first shares the CPU fairly
    between sessions, so a process's own nice only ranks it within its session: another engineer's
    browser tests in their own sessions still get as much CPU as the whole benchmark. A new session
    per process (the server, each worker) with the autogroup's nice set makes `--nice` mean what it
    says. Returns whether the autogroup nice was set (it needs a kernel with autogroups, and root
    for a negative value)."""
    os.nice(nice)
    try:
        os.setsid()
    except OSError:
        pass  # already a session or group leader: keep the autogroup it has
    try:
        Path("/proc/self/autogroup").write_text(str(nice))
        return True
    except OSError:
        return False
