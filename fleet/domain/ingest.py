"""What a device's hello and events do to the database, and the event-handler hook.

Runs inside the group-commit writer's transaction (fleet.domain.writer). An event is
identified by (device, generation, stream, seq): storing is INSERT OR IGNORE on that key, so
a retried batch stores nothing twice, and handlers run only for events stored for the first
time - side effects happen exactly once, in the same transaction as the event itself.

Hook for other modules (alarms, bins, beacons...):

    register_event_handler("alarm", on_alarm, urgent=True)
    def on_alarm(tx, device, event): ...

urgent=True: a request carrying such an event is an URGENT writer job (fleet.domain.writer),
ahead of everything else waiting - for events someone's safety depends on. So is the hello of a
board that a pin woke (a press, a tilt): it is the first request of whatever the board woke to report.

tx is the open WriteTx (tx.conn, tx.db, tx.mark_downlink_changed(id), tx.after_commit(fn));
device is the DeviceIdentity (id, role, board, site, generation...); event is a dict
(id, device_id, stream, seq, type, t, at, received_at, data). A handler that raises makes its
request fail with `internal` (nothing of that request is stored; the device retries).
"""

import functools
import json

import devproto
import orjson

from fleet.core import clock
from fleet.domain.writer import NORMAL, URGENT

_handlers = {}
_urgent = set()         # event types that make their request an URGENT writer job
PHYSICAL_WAKES = ("pin", "ext1")     # hello wake reasons that make the hello URGENT


def register_event_handler(event_type, fn, urgent=False):
    """Call fn(tx, device, event) for each new event of event_type. Returns an unregister function."""
    if event_type not in devproto.EVENT_TYPES:
        raise ValueError("%r is not an event type of protocol v1" % event_type)
    _handlers.setdefault(event_type, []).append(fn)
    if urgent:
        _urgent.add(event_type)
    return lambda: _handlers[event_type].remove(fn)


@functools.lru_cache(maxsize=4096)
def _iso_of(t):
    return clock.iso(t)


INSERT_EVENT = ("INSERT OR IGNORE INTO events (id, device_id, generation, stream, seq, type, t_device, at, "
                "received_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
UPSERT_STREAM = ("INSERT INTO streams (device_id, generation, stream, ack, max_seq) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT DO UPDATE SET ack = excluded.ack, max_seq = excluded.max_seq")
MAX_CACHED_STREAMS = 500_000


def _stream(tx, key):
    """(ack, max_seq) of a stream, from the writer's cache (the writer is the only one storing events).
    Tuples of ints, replaced rather than changed: the garbage collector stops tracking them, so a
    cache of every stream in the fleet costs a full collection nothing."""
    streams = tx.cache.get("streams")
    if streams is None or len(streams) > MAX_CACHED_STREAMS:
        streams = tx.cache["streams"] = {}
    state = streams.get(key)
    if state is None:
        found = tx.conn.execute("SELECT ack, max_seq FROM streams WHERE device_id = ? AND generation = ? "
                                "AND stream = ?", key).fetchone()
        state = streams[key] = tuple(found or (0, 0))
    return state


def _next_event_id(tx):
    # Ids are given here, not by SQLite, so that rows can be inserted in one batch per group.
    last = tx.cache.get("event_id")
    if last is None:
        last = tx.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    tx.cache["event_id"] = last + 1
    return last + 1


def stream_ack(tx, device, stream):
    return _stream(tx, (device.id, device.generation, stream))[0]


def _advance(tx, key, ack, fresh, max_seq):
    """Highest N such that every seq 1..N of the stream is stored."""
    while ack + 1 in fresh:
        ack += 1
    if max_seq > ack:   # events above an earlier gap are stored: the gap may be filled now
        tx.flush()
        for (seq,) in tx.conn.execute("SELECT seq FROM events WHERE device_id = ? AND generation = ? "
                                      "AND stream = ? AND seq > ? ORDER BY seq", key + (ack,)):
            if seq != ack + 1:
                break
            ack = seq
    return ack


class EventsJob:
    """A validated events batch of one device (devproto.check_batch has passed)."""

    __slots__ = ("device", "stream", "events", "priority")

    def __init__(self, device, stream, events):
        self.device = device
        self.stream = stream
        self.events = events
        self.priority = URGENT if _urgent and any(ev["type"] in _urgent for ev in events) else NORMAL

    def __repr__(self):
        return "<EventsJob %s stream %d, %d events>" % (self.device.id, self.stream, len(self.events))

    def run(self, tx):
        """(ack, stored, duplicates).

        An event above the highest seq stored so far cannot be a duplicate: it is queued for
        the group's batched INSERT. Anything else (a retry, a gap being filled) - and every
        event with a handler - is inserted at once, and INSERT OR IGNORE says whether it is new.
        """
        device = self.device
        key = (device.id, device.generation, self.stream)
        before = _stream(tx, key)
        ack, max_seq = before
        queued = tx.local.setdefault(key, set())     # seqs queued by this group, not yet inserted
        fresh = set()
        duplicates = 0
        for ev in self.events:
            seq = ev["seq"]
            if seq <= ack or seq in queued:
                duplicates += 1
                continue
            t = ev["t"]
            data = ev.get("data", {})
            event_id = _next_event_id(tx)
            row = key + (seq, ev["type"], t, _iso_of(t) if t >= devproto.MIN_VALID_TIME else tx.now_iso,
                         tx.now_iso, orjson.dumps(data).decode())
            handlers = _handlers.get(ev["type"])
            if seq > max_seq and not handlers:
                tx.defer(INSERT_EVENT, (event_id,) + row)
                queued.add(seq)
            elif not tx.conn.execute(INSERT_EVENT, (event_id,) + row).rowcount:
                duplicates += 1
                continue
            fresh.add(seq)
            if seq > max_seq:
                max_seq = seq
            for handler in handlers or ():
                handler(tx, device, {"id": event_id, "device_id": device.id, "stream": self.stream, "seq": seq,
                                     "type": ev["type"], "t": t, "at": row[6], "received_at": tx.now_iso,
                                     "data": data})
        if fresh:
            ack = _advance(tx, key, ack, fresh | queued, max_seq)
        if (ack, max_seq) != before:
            tx.cache["streams"][key] = (ack, max_seq)
            tx.defer(UPSERT_STREAM, key + (ack, max_seq))
        return ack, len(fresh), duplicates


HELLO_COLUMNS = ("fw", "app", "slot", "reset_cause", "wake_reason", "heap_free", "rssi")


class HelloJob:
    """A validated hello (devproto.check_hello has passed): record what the device says about itself."""

    __slots__ = ("device", "hello", "received", "priority")

    def __init__(self, device, hello, received):
        self.device = device
        self.hello = hello
        self.received = received
        self.priority = URGENT if hello.get("wake_reason") in PHYSICAL_WAKES else NORMAL

    def __repr__(self):
        return "<HelloJob %s>" % self.device.id

    def run(self, tx):
        """The ack of the stream the device reports."""
        hello = self.hello
        values = [hello.get(c) for c in HELLO_COLUMNS]
        errors = hello.get("errors")
        tx.conn.execute(
            "UPDATE devices SET %s, reported_cv = ?, hello_errors = ?, last_hello = ? WHERE id = ?"
            % ", ".join("%s = ?" % c for c in HELLO_COLUMNS),
            values + [hello.get("cv"), json.dumps(errors) if errors else None,
                      clock.iso(self.received), self.device.id])
        return stream_ack(tx, self.device, hello.get("stream", 0))
