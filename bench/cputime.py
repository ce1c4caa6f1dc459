"""CPU seconds spent by a process and its children, read from /proc: what a benchmark divides by
the operations it timed, to say where each operation's time went (the app's Python, the
database server, the load generator) and what the host's cores allow at those costs.

Linux only, and only for processes this user may read: `postgres_pid()` answers None for a
database server on another host, and the benchmark then leaves its share out.
"""

import os
import resource
from pathlib import Path

from django.db import connection

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(parent pid, CPU seconds of the process itself, CPU seconds of its reaped children)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or not ours to read
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    utime, stime, cutime, cstime = (int(value) / CLOCK_TICKS for value in fields[11:15])
    return int(fields[1]), utime + stime, cutime + cstime


def _children():
    """{parent pid: [child pids]} of every process now running."""
    tree = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None:
            tree.setdefault(stat[0], []).append(int(entry.name))
    return tree


def tree_seconds(pid):
    """CPU seconds of `pid` and of all its descendants, running or exited (a child that exits
    moves its seconds into its parent's count of reaped children), or None if `pid` cannot be
    read. The difference of two readings is what the tree spent in between."""
    if _stat(pid) is None:
        return None
    tree = _children()
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        stat = _stat(current)
        if stat is not None:
            total += stat[1] + stat[2]
            pending.extend(tree.get(current, ()))
    return total


def process_tree(pid):
    """A reader of `tree_seconds(pid)` for `Meter`; None (nothing to read) if `pid` is None."""
    return None if pid is None else (lambda: tree_seconds(pid))


def own_seconds():
    """CPU seconds of this process alone (all its threads), without children it started."""
    return _stat(os.getpid())[1]


def waited_children_seconds():
    """CPU seconds of the child processes this one has run to completion (`subprocess.run`)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_pid():
    """The PostgreSQL server's main process (the parent of this connection's backend), or None
    if the server runs on another host, in a container (its process ids are not this host's),
    or as a user whose processes this one cannot read."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        command = Path(f"/proc/{backend}/comm").read_text().strip()
    except OSError:
        return None
    stat = _stat(backend) if command == "postgres" else None
    return None if stat is None else stat[0]


class Meter:
    """CPU milliseconds per operation of named readers between `start()` and `stop(count)`:

        meter = Meter({"PostgreSQL": process_tree(postgres_pid()), "app": own_seconds})
        meter.start(); ...; meter.stop(operations)  # {"PostgreSQL": 1.4, "app": 1.6}

    A name given None (nothing readable to measure) is left out of the answer."""

    def __init__(self, readers):
        self.readers = {name: read for name, read in readers.items() if read is not None}
        self.started = {}
        self.spent = {}

    def start(self):
        self.started = {name: read() for name, read in self.readers.items()}

    def stop(self, operations):
        """Milliseconds of CPU per operation, by name."""
        self.spent = {}
        for name, read in self.readers.items():
            now, then = read(), self.started.get(name)
            if now is not None and then is not None and operations:
                self.spent[name] = 1000 * (now - then) / operations
        return self.spent


def budget(per_operation):
    """'CPU per transfer: a 1.40 ms, b 0.60 ms; at these costs 2 cores allow 1,000/s': the
    ceiling when every core is busy on nothing else."""
    if not per_operation:
        return "CPU per operation: not measurable here (needs Linux /proc, same host)"
    parts = ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_operation.items())
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / sum(per_operation.values())
    return f"CPU each: {parts}; at these costs {cores} cores allow {ceiling:,.0f}/s"
