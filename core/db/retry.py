"""Rerun a unit of work that PostgreSQL aborted to break a deadlock (40P01) or a serialization
failure (40001): the transaction was rolled back whole, so running it again is safe, and the
caller sees the result instead of a 500."""

import functools
import random
import time

from django.db import OperationalError, connection

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient(error):
    return getattr(error.__cause__, "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(fn=None, *, attempts=3):
    """Decorator: call `fn` up to `attempts` times while it fails transiently. Only a call
    outside any transaction is rerun (it owns its transaction); inside one, the failure
    belongs to the caller's transaction, which alone can start over: it just calls through."""
    if fn is None:
        return functools.partial(retry_transient, attempts=attempts)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            return fn(*args, **kwargs)
        for attempt in range(1, attempts):
            try:
                return fn(*args, **kwargs)
            except OperationalError as error:
                if not is_transient(error):
                    raise
                # A little jitter so that the transactions that collided do not collide again.
                time.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 (not a secret)
        return fn(*args, **kwargs)

    return wrapper
