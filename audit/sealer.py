"""Sealing after commit, off the writer's path: one background sealer per process.

A commit that wrote events names its chain here and returns at once. The sealer thread waits
`AUDIT_SEAL_DELAY` seconds for more commits to arrive, then seals every chain named meanwhile
in one pass each, so a busy process pays one seal per chain per delay instead of one per
transaction, and no request waits for it. It waits for the chain's advisory lock rather than
giving way, so an event committed while another process was sealing is not left behind. What a
process could not seal before it ended (killed mid-pass, say) waits for the next seal of its
chain or for `manage.py seal_audit_chain`, the safety net; on a normal exit it seals first.
"""

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from audit.sealing import seal_chain

logger = logging.getLogger(__name__)


class BackgroundSealer:
    def __init__(self):
        self._lock = threading.Lock()
        self._chains = set()
        self._wanted = threading.Event()
        self._thread = None
        self._pid = None

    def request(self, tenant_id):
        """Seal `tenant_id`'s chain (None: the platform's) within about AUDIT_SEAL_DELAY."""
        with self._lock:
            self._chains.add(tenant_id)
            # A forked worker inherits the object but not the thread: start its own.
            if self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
                self._thread.start()
        self._wanted.set()

    def _take(self):
        with self._lock:
            self._wanted.clear()
            chains, self._chains = self._chains, set()
        return chains

    def seal_requested(self):
        """Seal every chain requested so far, in the calling thread."""
        for tenant_id in self._take():
            try:
                seal_chain(tenant_id, wait=True)
            except Exception:
                logger.exception(
                    "Sealing the audit chain of tenant %s failed; its events wait for the next "
                    "seal or for `manage.py seal_audit_chain`.",
                    tenant_id,
                )

    def _run(self):
        while True:
            self._wanted.wait()
            time.sleep(settings.AUDIT_SEAL_DELAY)  # let more commits join this pass
            close_old_connections()
            self.seal_requested()
            close_old_connections()  # CONN_MAX_AGE (or the pool) decides whether it stays open


sealer = BackgroundSealer()


@atexit.register
def _seal_before_exit():
    # A management command (loaddata, a seed) ends before the sealer's delay has passed.
    if sealer._chains:
        sealer.seal_requested()
