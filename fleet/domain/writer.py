"""The group-commit writer: one thread, one connection, one transaction for everyone waiting.

Device requests do not write to the database themselves. They hand a job to this writer and
await a future. The writer takes every job waiting in its queue, runs them all inside ONE
transaction (a job that fails is answered with its error and the others are committed
without it), commits with synchronous=FULL - on disk - and only then resolves the futures. While one
commit is being fsync'ed the next group gathers, so under load many requests share a commit
and a device's ack always means "stored durably".

Jobs are objects with a run(tx) method (see fleet.domain.ingest); tx is a WriteTx.
"""

import logging
import queue
import threading

from fleet.core import clock
from fleet.domain.downlink import raise_cursors
from fleet.store.db import connect

log = logging.getLogger("fleet.writer")
_STOP = object()


class WriteTx:
    """The open transaction a job (and every event handler it calls) works in."""

    def __init__(self, db, cache):
        self.db = db
        self.conn = db.conn
        # Survives across transactions, emptied whenever one rolls back: jobs keep what they
        # know about committed rows here (the writer is the only writer of its tables).
        self.cache = cache
        self.local = {}         # scratch space of this transaction only
        self.now = clock.now()
        self.now_iso = clock.iso(self.now)
        self.changed = []       # device ids whose downlink changed
        self.callbacks = []     # run on the event loop after COMMIT
        self._deferred = {}     # sql -> [params]: written together by flush()

    def mark_downlink_changed(self, device_id):
        """The device's `down` is different now: raise its cursor and wake its long-poll after commit."""
        self.changed.append(device_id)

    def after_commit(self, fn):
        """Call fn() on the event loop once this transaction is durable. fn must not block."""
        self.callbacks.append(fn)

    def defer(self, sql, params):
        """Execute sql with params before COMMIT, batched with every other row of the same sql."""
        self._deferred.setdefault(sql, []).append(params)

    def flush(self):
        for sql, rows in self._deferred.items():
            self.conn.executemany(sql, rows)
        self._deferred.clear()


class _JobFailed(Exception):
    def __init__(self, index, exc):
        super().__init__(str(exc))
        self.index = index
        self.exc = exc


class CallJob:
    """Run any fn(tx) in the writer's next transaction."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def run(self, tx):
        return self.fn(tx)


class GroupCommitWriter:
    def __init__(self, db_path, loop, on_downlink_changed, max_batch=512):
        self._db_path = db_path
        self._loop = loop
        self._on_downlink_changed = on_downlink_changed   # called on the loop with device ids
        self._max_batch = max_batch
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fleet-writer", daemon=True)
        self.cache = {}         # see WriteTx.cache
        self.commits = 0        # transactions committed (for tests and the benchmark)
        self.jobs = 0

    def start(self):
        self._thread.start()

    def stop(self, timeout=10):
        """Finish every job already submitted, then end the thread."""
        self._queue.put((_STOP, None))
        self._thread.join(timeout)

    def submit(self, job):
        """Queue a job; the returned future resolves after the commit that contains it."""
        fut = self._loop.create_future()
        self._queue.put((job, fut))
        return fut

    def call(self, fn):
        """await writer.call(lambda tx: ...): run fn in the next group transaction."""
        return self.submit(CallJob(fn))

    # ---- the writer thread --------------------------------------------------

    def _run(self):
        db = connect(self._db_path)
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(job is _STOP for job, _ in batch)
                work = [(job, fut) for job, fut in batch if job is not _STOP]
                if work:
                    self._commit_group(db, work)
                if stop:
                    return
        finally:
            db.close()

    def _commit_group(self, db, work):
        """Commit all of work in one transaction. A job that raises is answered with its error
        and the group is run again without it (failures are rare; savepoints per job would
        cost every request two more statements)."""
        retried = False
        while work:
            try:
                results, tx = self._attempt(db, work)
            except _JobFailed as failed:
                self._rollback(db)
                job, fut = work.pop(failed.index)
                log.error("ingest job %r failed", job, exc_info=failed.exc)
                self._loop.call_soon_threadsafe(self._deliver, [(fut, None, failed.exc)], [], [])
                continue
            except Exception as exc:
                self._rollback(db)
                if not retried:     # once more with empty caches: another process may have written
                    retried = True
                    continue
                log.exception("group commit of %d jobs failed", len(work))
                self._loop.call_soon_threadsafe(self._deliver, [(f, None, exc) for _, f in work], [], [])
                return
            self.commits += 1
            self.jobs += len(work)
            self._loop.call_soon_threadsafe(self._deliver, results, sorted(set(tx.changed)), tx.callbacks)
            return

    def _attempt(self, db, work):
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        tx = WriteTx(db, self.cache)
        results = []
        for index, (job, fut) in enumerate(work):
            try:
                results.append((fut, job.run(tx), None))
            except Exception as exc:
                raise _JobFailed(index, exc)
        tx.flush()
        if tx.changed:
            raise_cursors(conn, sorted(set(tx.changed)))
        conn.execute("COMMIT")
        return results, tx

    def _rollback(self, db):
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        self.cache.clear()

    def _deliver(self, results, changed, callbacks):
        """On the event loop: wake long-polls, answer the waiting requests, run after-commit hooks."""
        if changed:
            self._on_downlink_changed(changed)
        for fut, result, exc in results:
            if fut is None or fut.done():
                continue        # the client went away; its data is stored all the same
            if exc is None:
                fut.set_result(result)
            else:
                fut.set_exception(exc)
        for fn in callbacks:
            try:
                fn()
            except Exception:
                log.exception("after-commit hook %r failed", fn)
