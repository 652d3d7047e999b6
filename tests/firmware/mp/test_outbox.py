# Outbox: numbering, acks, power cut at every byte of the last write, full policy,
# flash bytes per event. Runs under MicroPython.
import os
import json
import mptest
from mptest import eq, ok

mptest.setup_root()
import store  # noqa: E402
import outbox  # noqa: E402

D = "/state/outbox"


def _reset(d=D):
    full = store.path(d)
    try:
        for n in os.listdir(full):
            os.remove(full + "/" + n)
    except OSError:
        pass


def _files(d=D):
    full = store.path(d)
    return sorted(n for n in os.listdir(full) if n.endswith(".log"))


def _snapshot(d=D):
    full = store.path(d)
    snap = {}
    for n in _files(d):
        with open(full + "/" + n, "rb") as f:
            snap[n] = f.read()
    return snap


def _restore(snap, d=D):
    _reset(d)
    full = store.path(d)
    for n in snap:
        with open(full + "/" + n, "wb") as f:
            f.write(snap[n])


def _events(ob):
    return [json.loads(j) for j in ob.batch(100000, 1 << 20)]


def _seqs(ob):
    return [e["seq"] for e in _events(ob)]


def test_numbering_ack_and_reopen():
    _reset()
    ob = outbox.Outbox(D)
    s0 = ob.stream
    ok(s0 != 0)
    seqs = [ob.append("telemetry", {"x": i}, t=1700000000 + i) for i in range(5)]
    eq(seqs, [1, 2, 3, 4, 5])
    evs = _events(ob)
    eq([e["data"]["x"] for e in evs], [0, 1, 2, 3, 4])
    eq(evs[0], {"seq": 1, "t": 1700000000, "type": "telemetry", "data": {"x": 0}})
    eq(ob.ack_to(3), 3)
    eq(_seqs(ob), [4, 5])
    ob2 = outbox.Outbox(D)
    eq((ob2.stream, ob2.ack, ob2.next_seq), (s0, 3, 6))
    eq(_seqs(ob2), [4, 5])
    eq(ob2.append("heartbeat", {}), 6)
    eq(ob2.ack_to(2), 0)          # an older ack changes nothing
    eq(ob2.ack_to(99), 3)         # beyond the last seq: clamped to it
    eq(ob2.pending(), 0)


def test_seq_monotonic_after_everything_acked_and_gc():
    _reset()
    ob = outbox.Outbox(D, seg_size=128)
    for i in range(30):
        ob.append("telemetry", {"i": i})
    ok(len(_files()) > 3, "several segments")
    ob.ack_to(30)
    eq(len(_files()), 1)          # old segments deleted, the newest kept
    ob2 = outbox.Outbox(D, seg_size=128)
    eq(ob2.next_seq, 31)
    eq(ob2.append("telemetry", {}), 31)
    eq(ob2.stream, ob.stream)


def test_new_stream_when_store_lost():
    _reset()
    ob = outbox.Outbox(D)
    ob.append("telemetry", {})
    _reset()
    ob2 = outbox.Outbox(D)
    ok(ob2.stream != ob.stream)
    eq(ob2.append("telemetry", {}), 1)


def _check_power_cut(seg_size, acked, total, last_op):
    """Truncate the file the last write touched at every offset; reopen each time."""
    _reset()
    ob = outbox.Outbox(D, seg_size=seg_size)
    for i in range(total):
        ob.append("alarm" if i % 4 == 0 else "telemetry",
                  {"ref": "a-%d" % i} if i % 4 == 0 else {"i": i})
    ob.ack_to(acked)
    before = _snapshot()
    want = _seqs(ob)
    nxt = ob.next_seq
    last_op(ob)
    after = _snapshot()
    changed = [n for n in after if before.get(n) != after[n]]
    eq(len(changed), 1, "one file written by the last operation")
    name = changed[0]
    old = before.get(name, b"")
    new = after[name]
    ok(new[:len(old)] == old, "append-only: earlier bytes never rewritten")
    full_state = outbox.Outbox(D, seg_size=seg_size)
    cases = 0
    for off in range(len(old), len(new)):
        snap = dict(after)
        snap[name] = new[:off]
        _restore(snap)
        ob2 = outbox.Outbox(D, seg_size=seg_size)
        eq(ob2.stream, ob.stream)
        got = _seqs(ob2)
        # nothing acked-but-lost, no earlier record lost
        ok(ob2.ack == acked or ob2.ack == full_state.ack, "ack is old or new")
        expect = [s for s in want if s > ob2.ack]
        eq(got[:len(expect)], expect, "offset %d" % off)
        ok(ob2.next_seq >= nxt, "seq never goes back below what was durably assigned")
        s = ob2.append("telemetry", {"after": off})
        ok(s >= nxt)
        ob3 = outbox.Outbox(D, seg_size=seg_size)
        eq(_seqs(ob3), got + [s])
        cases += 1
    ok(cases > 10)
    return cases


def test_power_cut_every_byte_of_an_event_append():
    def op(ob):
        ob.append("telemetry", {"last": 1, "x": 3.25})
    _check_power_cut(4096, 2, 7, op)


def test_power_cut_every_byte_of_a_rotation():
    def op(ob):
        ob.segs[-1].size = ob.seg_size     # force: this append opens a new segment
        ob.append("alarm", {"ref": "a-last"})
    n = _check_power_cut(4096, 1, 5, op)
    ok(n > 30)


def test_power_cut_every_byte_of_an_ack():
    def op(ob):
        ob.ack_to(5)
    _check_power_cut(4096, 2, 8, op)


def test_garbage_tail_is_dropped_and_never_appended_after():
    _reset()
    ob = outbox.Outbox(D)
    for i in range(3):
        ob.append("telemetry", {"i": i})
    name = store.path(D) + "/" + _files()[-1]
    with open(name, "ab") as f:
        f.write(b"\x00\x00\xff\xb5\x02\x10")
    ob2 = outbox.Outbox(D)
    eq(_seqs(ob2), [1, 2, 3])
    eq(ob2.append("telemetry", {}), 4)
    eq(len(_files()), 2, "new records go to a fresh segment after a torn tail")
    eq(_seqs(outbox.Outbox(D)), [1, 2, 3, 4])


def test_full_drops_oldest_non_alarms_never_alarms():
    _reset()
    ob = outbox.Outbox(D, max_bytes=1200, seg_size=256, max_events=1000)
    alarms = []
    for i in range(60):
        if i % 10 == 0:
            alarms.append(ob.append("alarm", {"ref": "a-%d" % i}))
        else:
            try:
                ob.append("telemetry", {"i": i, "pad": 1234567})
            except outbox.Full:
                pass
    ok(ob.dropped > 0, "something was dropped")
    ok(ob.used() <= 1200 + 256, "bounded: %d" % ob.used())
    evs = _events(ob)
    eq([e["seq"] for e in evs], list(range(1, ob.next_seq)))   # contiguous for the fleet's ack
    got_alarms = [e["seq"] for e in evs if e["type"] == "alarm"]
    eq(got_alarms, alarms)
    drops = [e for e in evs if e["type"] == "error"]
    ok(drops and drops[0]["data"]["where"] == "outbox")
    ok(drops[0]["seq"] < evs[-1]["seq"])
    # reopening keeps the same picture
    eq(_events(outbox.Outbox(D, max_bytes=1200, seg_size=256)), evs)


def test_full_of_alarms_refuses_non_alarms_accepts_alarms():
    _reset()
    ob = outbox.Outbox(D, max_bytes=600, seg_size=200, max_events=1000, hard_bytes=4000)
    n = 0
    while ob.used() < 600:
        ob.append("alarm", {"ref": "a-%d" % n})
        n += 1
    w = ob.written
    e = mptest.raises(outbox.Full, ob.append, "telemetry", {"x": 1})
    ok(e is not None)
    eq(ob.refused, 1)
    mptest.raises(outbox.Full, ob.append, "heartbeat", {})
    ok(ob.written - w < 400, "refusals do not rewrite the alarms again and again")
    w = ob.written
    s = ob.append("alarm_cancel", {"ref": "a-0"})
    ok(s > n)
    evs = _events(ob)
    eq(len([e for e in evs if e["type"].startswith("alarm")]), n + 1)
    eq(ob.dropped, 0)


def test_max_events_bound():
    _reset()
    ob = outbox.Outbox(D, max_bytes=100000, seg_size=512, max_events=20)
    for i in range(60):
        ob.append("telemetry", {"i": i})
    ok(ob.live() <= 20, "live %d" % ob.live())
    eq(len(_events(ob)), 60)          # the dropped ones become placeholders


def test_refused_event_becomes_placeholder():
    _reset()
    ob = outbox.Outbox(D)
    ob.append("telemetry", {"a": 1})
    ob.append("telemetry", {"a": 2})
    ob.drop(1)
    evs = _events(outbox.Outbox(D))
    eq([e["type"] for e in evs], ["error", "telemetry"])


def test_missing_seq_reported_not_stuck():
    _reset()
    ob = outbox.Outbox(D, seg_size=100)
    for i in range(12):
        ob.append("telemetry", {"i": i})
    # flash corruption (not a power cut): a whole middle segment vanishes
    files = _files()
    os.remove(store.path(D) + "/" + files[1])
    ob2 = outbox.Outbox(D, seg_size=100)
    evs = _events(ob2)
    eq([e["seq"] for e in evs], list(range(1, 13)))
    ok(any(e["type"] == "error" for e in evs))


def test_flash_bytes_per_event():
    _reset()
    ob = outbox.Outbox(D)
    w0 = ob.written
    n = 200
    for i in range(n):
        ob.append("heartbeat", {"battery_v": 3.01, "interval_min": 1440})
        if i % 10 == 9:
            ob.ack_to(i + 1)
    per = (ob.written - w0) / n
    print("flash bytes per event: %.1f" % per)
    ok(per < 80, "%.1f bytes/event" % per)
    ok(len(_files()) <= 2)


def test_batch_respects_size_and_count():
    _reset()
    ob = outbox.Outbox(D)
    for i in range(80):
        ob.append("telemetry", {"i": i, "pad": "x" * 50})
    b = ob.batch(50, 4096)
    ok(1 <= len(b) <= 50)
    ok(sum(len(j) for j in b) <= 4096)
    eq(json.loads(b[0])["seq"], 1)
    eq(len(ob.batch(10, 1 << 20)), 10)


mptest.main(globals())
