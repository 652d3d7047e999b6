"""The group-commit writer: one thread, one connection, one transaction for everyone waiting.

Device requests do not write to the database themselves. They hand a job to this writer and
await a future. The writer takes every job waiting in its queue, runs them all inside ONE
transaction (each in its own savepoint, so one failing job does not sink the others),
commits with synchronous=FULL - on disk - and only then resolves the futures. While one
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

    def __init__(self, db):
        self.db = db
        self.conn = db.conn
        self.now = clock.now()
        self.now_iso = clock.iso(self.now)
        self.changed = []       # device ids whose downlink changed
        self.callbacks = []     # run on the event loop after COMMIT

    def mark_downlink_changed(self, device_id):
        """The device's `down` is different now: raise its cursor and wake its long-poll after commit."""
        self.changed.append(device_id)

    def after_commit(self, fn):
        """Call fn() on the event loop once this transaction is durable. fn must not block."""
        self.callbacks.append(fn)

    def _mark(self):
        return len(self.changed), len(self.callbacks)

    def _undo(self, mark):
        del self.changed[mark[0]:]
        del self.callbacks[mark[1]:]


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
        conn = db.conn
        results = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            tx = WriteTx(db)
            for job, fut in work:
                mark = tx._mark()
                conn.execute("SAVEPOINT job")
                try:
                    results.append((fut, job.run(tx), None))
                    conn.execute("RELEASE job")
                except Exception as exc:  # one bad job must not sink the group
                    log.exception("ingest job %r failed", job)
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    tx._undo(mark)
                    results.append((fut, None, exc))
            changed = sorted(set(tx.changed))
            if changed:
                raise_cursors(conn, changed)
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("group commit of %d jobs failed", len(work))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            results = [(fut, None, exc) for _, fut in work]
            changed, tx = [], None
        self.commits += 1
        self.jobs += len(work)
        callbacks = tx.callbacks if tx is not None else []
        self._loop.call_soon_threadsafe(self._deliver, results, changed, callbacks)

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
