"""What a device's hello and events do to the database, and the event-handler hook.

Runs inside the group-commit writer's transaction (fleet.domain.writer). An event is
identified by (device, generation, stream, seq): storing is INSERT OR IGNORE on that key, so
a retried batch stores nothing twice, and handlers run only for events stored for the first
time - side effects happen exactly once, in the same transaction as the event itself.

Hook for other modules (alarms, bins, beacons...):

    register_event_handler("alarm", on_alarm)
    def on_alarm(tx, device, event): ...

tx is the open WriteTx (tx.conn, tx.db, tx.mark_downlink_changed(id), tx.after_commit(fn));
device is the DeviceIdentity (id, role, board, site, generation...); event is a dict
(id, device_id, stream, seq, type, t, at, received_at, data). A handler that raises makes its
request fail with `internal` (nothing of that request is stored; the device retries).
"""

import functools
import json

import devproto

from fleet.core import clock

_handlers = {}


def register_event_handler(event_type, fn):
    """Call fn(tx, device, event) for each new event of event_type. Returns an unregister function."""
    if event_type not in devproto.EVENT_TYPES:
        raise ValueError("%r is not an event type of protocol v1" % event_type)
    _handlers.setdefault(event_type, []).append(fn)
    return lambda: _handlers[event_type].remove(fn)


@functools.lru_cache(maxsize=4096)
def _iso_of(t):
    return clock.iso(t)


def _stream_state(conn, key):
    found = conn.execute("SELECT ack, max_seq FROM streams WHERE device_id = ? AND generation = ? "
                         "AND stream = ?", key).fetchone()
    return found or (0, 0)


def stream_ack(conn, device, stream):
    return _stream_state(conn, (device.id, device.generation, stream))[0]


def _advance(conn, key, ack, new_seqs, max_seq):
    """Highest N such that every seq 1..N of the stream is stored."""
    while ack + 1 in new_seqs:
        ack += 1
    if max_seq > ack:   # events above an earlier gap are stored: the gap may be filled now
        for (seq,) in conn.execute("SELECT seq FROM events WHERE device_id = ? AND generation = ? "
                                   "AND stream = ? AND seq > ? ORDER BY seq", key + (ack,)):
            if seq != ack + 1:
                break
            ack = seq
    return ack


class EventsJob:
    """A validated events batch of one device (devproto.check_batch has passed)."""

    __slots__ = ("device", "stream", "events", "received")

    def __init__(self, device, stream, events, received):
        self.device = device
        self.stream = stream
        self.events = events
        self.received = received

    def __repr__(self):
        return "<EventsJob %s stream %d, %d events>" % (self.device.id, self.stream, len(self.events))

    def run(self, tx):
        """(ack, stored, duplicates)"""
        device, conn = self.device, tx.conn
        key = (device.id, device.generation, self.stream)
        ack, max_seq = known = _stream_state(conn, key)
        received_iso = clock.iso(self.received)
        new_seqs = set()
        duplicates = 0
        for ev in self.events:
            seq = ev["seq"]
            if seq <= ack:
                duplicates += 1
                continue
            t = ev["t"]
            at = _iso_of(t) if t >= devproto.MIN_VALID_TIME else received_iso
            data = json.dumps(ev.get("data", {}), separators=(",", ":"))
            cur = conn.execute(
                "INSERT OR IGNORE INTO events (device_id, generation, stream, seq, type, t_device, at, "
                "received_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                key + (seq, ev["type"], t, at, received_iso, data))
            if not cur.rowcount:
                duplicates += 1
                continue
            new_seqs.add(seq)
            for handler in _handlers.get(ev["type"], ()):
                handler(tx, device, {
                    "id": cur.lastrowid, "device_id": device.id, "stream": self.stream, "seq": seq,
                    "type": ev["type"], "t": t, "at": at, "received_at": received_iso,
                    "data": ev.get("data", {})})
        if new_seqs:
            max_seq = max(max_seq, max(new_seqs))
            ack = _advance(conn, key, ack, new_seqs, max_seq)
        if (ack, max_seq) != known:
            conn.execute("INSERT INTO streams (device_id, generation, stream, ack, max_seq) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ack = excluded.ack, "
                         "max_seq = excluded.max_seq", key + (ack, max_seq))
        return ack, len(new_seqs), duplicates


HELLO_COLUMNS = ("fw", "app", "slot", "reset_cause", "wake_reason", "heap_free", "rssi")


class HelloJob:
    """A validated hello (devproto.check_hello has passed): record what the device says about itself."""

    __slots__ = ("device", "hello", "received")

    def __init__(self, device, hello, received):
        self.device = device
        self.hello = hello
        self.received = received

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
        return stream_ack(tx.conn, self.device, hello.get("stream", 0))
