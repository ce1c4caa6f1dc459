"""A progress line for long management commands (reconciliation, audit chain checks)."""

import time


class Progress:
    """One line on a stream, rewritten in place: how many of how many `unit`, how fast."""

    def __init__(self, label, total, stream, *, unit=""):
        self.label, self.total, self.stream = label, total, stream
        self.unit = f" {unit}" if unit else ""
        self.start = time.monotonic()

    def __call__(self, done):
        rate = done / max(time.monotonic() - self.start, 1e-6)
        percent = 100 * done / self.total if self.total else 100
        self.stream.write(
            f"\r{self.label}: {done}/{self.total}{self.unit} ({percent:.0f} %, {rate:,.0f}/s)"
        )
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
