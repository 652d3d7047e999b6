"""The group-commit writer: one thread, one connection, one transaction for everyone waiting.

Device requests do not write to the database themselves. They hand a job to this writer and
await a future. The writer takes the jobs waiting in its queue, runs them inside ONE
transaction (a job that fails is answered with its error and the others are committed
without it), commits with synchronous=FULL - on disk - and only then resolves the futures. While one
commit is being fsync'ed the next group gathers, so under load many requests share a commit
and a device's ack always means "stored durably".

Every job waiting in a group waits for the whole group, so what a group may hold is bounded
(docs/architecture.md, "What may run on the writer"). Jobs come in three classes:

    URGENT  a request that carries an alarm, the hello of a board a pin woke (a press), a
            caregiver's acknowledge/resolve: taken first, never left for a later group while
            other work fills this one;
    NORMAL  one device request or one small piece of fleet work (a handful of statements);
    BULK    housekeeping that grows with the fleet (last-seen saves, battery scans, supervision
            sweeps): the producer cuts it into slices (slices()) of bounded size, each one
            statement or a few dozen rows, and a group takes at most ONE bulk slice - so an
            alarm never waits behind more than one slice, however large the fleet.

Jobs are objects with a run(tx) method (see fleet.domain.ingest) and, optionally, a `priority`
attribute; tx is a WriteTx.
"""

import collections
import logging
import queue
import threading
import time

from fleet.core import clock
from fleet.domain.downlink import raise_cursors
from fleet.errors import FleetError
from fleet.store.db import connect

log = logging.getLogger("fleet.writer")
_STOP = object()

URGENT, NORMAL, BULK = 0, 1, 2
CLASSES = (URGENT, NORMAL, BULK)
BULK_ROWS = 256         # rows a bulk slice may touch in one statement (~1 ms here; docs/performance.md)
BULK_ITEMS = 25         # items a bulk slice may handle one by one (a few statements each)
SLOW_GROUP_S = 0.1      # a group that takes longer (commit included) is logged: it held alarms up


def slices(items, size):
    """items (a list) cut into lists of at most size: the bulk slices a producer submits."""
    return [items[i:i + size] for i in range(0, len(items), size)]


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

    __slots__ = ("fn", "priority")

    def __init__(self, fn, priority=NORMAL):
        self.fn = fn
        self.priority = priority

    def __repr__(self):
        return "<CallJob %s>" % getattr(self.fn, "__qualname__", self.fn)

    def run(self, tx):
        return self.fn(tx)


class GroupCommitWriter:
    def __init__(self, db_path, loop, on_downlink_changed, max_batch=512):
        self._db_path = db_path
        self._loop = loop
        self._on_downlink_changed = on_downlink_changed   # called on the loop with device ids
        self._max_batch = max_batch
        self._queue = queue.SimpleQueue()     # the inbox: put() from the event loop is cheap
        self._waiting = {c: collections.deque() for c in CLASSES}   # the writer thread's, by class
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="fleet-writer", daemon=True)
        self.cache = {}         # see WriteTx.cache
        self.commits = 0        # transactions committed (for tests and the benchmark)
        self.jobs = 0
        self.longest_group_s = 0.0

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

    def call(self, fn, priority=NORMAL):
        """await writer.call(lambda tx: ...): run fn in the next group transaction."""
        return self.submit(CallJob(fn, priority))

    # ---- the writer thread --------------------------------------------------

    def _run(self):
        db = connect(self._db_path)
        try:
            while True:
                work = self._next_group()
                if work:
                    self._commit_group(db, work)
                elif self._stopping:
                    return
        finally:
            db.close()

    def _take(self, item):
        job, fut = item
        if job is _STOP:
            self._stopping = True
        else:
            self._waiting[getattr(job, "priority", NORMAL)].append(item)

    def _next_group(self):
        """The next group, in the order it runs: urgent jobs first, then normal ones, up to
        max_batch, then at most one bulk slice. Blocks while there is nothing to do."""
        waiting = self._waiting
        if not self._stopping and not any(waiting.values()):
            self._take(self._queue.get())
        while True:        # drain the inbox: what is urgent must be seen before the group forms
            try:
                self._take(self._queue.get_nowait())
            except queue.Empty:
                break
        group = []
        for cls in (URGENT, NORMAL):
            pending = waiting[cls]
            while pending and len(group) < self._max_batch:
                group.append(pending.popleft())
        if waiting[BULK]:
            group.append(waiting[BULK].popleft())
        return group

    def _commit_group(self, db, work):
        """Commit all of work in one transaction. A job that raises is answered with its error
        and the group is run again without it (failures are rare; savepoints per job would
        cost every request two more statements)."""
        retried = False
        started = time.perf_counter()
        while work:
            try:
                results, tx = self._attempt(db, work)
            except _JobFailed as failed:
                self._rollback(db)
                job, fut = work.pop(failed.index)
                if isinstance(failed.exc, FleetError):     # a refusal (already acknowledged...), not a fault
                    log.info("writer job %r refused: %s", job, failed.exc)
                else:
                    log.error("writer job %r failed", job, exc_info=failed.exc)
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
            self._timed(work, time.perf_counter() - started)
            self._loop.call_soon_threadsafe(self._deliver, results, sorted(set(tx.changed)), tx.callbacks)
            return

    def _timed(self, work, seconds):
        self.longest_group_s = max(self.longest_group_s, seconds)
        if seconds > SLOW_GROUP_S:
            classes = collections.Counter(getattr(job, "priority", NORMAL) for job, _ in work)
            log.warning("slow writer group: %.0f ms for %d jobs (%d urgent, %d bulk; first %r)", seconds * 1000,
                        len(work), classes[URGENT], classes[BULK], work[0][0])

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
