"""One scaffold for race tests: run calls in threads released together by a barrier."""

import contextvars
import threading

from django.db import close_old_connections

TIMEOUT_SECONDS = 60


def run_concurrently(*calls):
    """Run each zero-argument call in its own thread, all starting at once, each in a copy of
    the caller's context (so the current tenant carries over) and on its own database
    connection. Return, in the order of `calls`, what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as error:  # the outcome under test, returned to the caller
            outcomes[index] = error
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(run, index, call))
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_SECONDS)
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} thread(s) still running after {TIMEOUT_SECONDS} s (deadlock?)"
    return outcomes
