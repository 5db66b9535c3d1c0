"""CPU time of processes, read from Linux `/proc`, for the benchmarks' cost columns."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    # Fields after the command name, which may itself hold spaces and parentheses.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return _seconds(_stat(pid))


def tree_cpu_seconds(parent: int) -> float:
    """CPU time used so far by `parent` and its children alive now (a Postgres server)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = _stat(pid)
        except OSError:  # ended meanwhile
            continue
        if int(pid) == parent or int(fields[1]) == parent:
            total += _seconds(fields)
    return total
