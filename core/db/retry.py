"""Rerun a unit of work that PostgreSQL aborted to break a deadlock (40P01) or a serialization
failure (40001): the transaction was rolled back whole, so running it again is safe, and the
caller sees the result instead of a 500."""

import contextvars
import functools
import random
import time

from django.db import OperationalError, connection

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

# Set while a retry_transient call is running: one nested in it (a service the API calls)
# passes through, so `attempts` bounds the whole unit of work rather than multiplying.
_retrying = contextvars.ContextVar("retry_transient_active", default=False)


def is_transient(error):
    return getattr(error.__cause__, "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(fn=None, *, attempts=3):
    """Decorator: call `fn` up to `attempts` times while it fails transiently. Only a call
    outside any transaction is rerun (it owns its transaction); inside one, the failure
    belongs to the caller's transaction, which alone can start over: it just calls through.
    Nested in another retry_transient call, it calls through too: the outer one reruns."""
    if fn is None:
        return functools.partial(retry_transient, attempts=attempts)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block or _retrying.get():
            return fn(*args, **kwargs)
        token = _retrying.set(True)
        try:
            for attempt in range(1, attempts):
                try:
                    return fn(*args, **kwargs)
                except OperationalError as error:
                    if not is_transient(error):
                        raise
                    # A little jitter so that the transactions that collided do not collide.
                    time.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 (not a secret)
            return fn(*args, **kwargs)
        finally:
            _retrying.reset(token)

    return wrapper
