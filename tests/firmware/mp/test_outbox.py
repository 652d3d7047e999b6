# Outbox: numbering, acks, power cuts between flash operations on LittleFS, full policy,
# flash wear per event. Runs under MicroPython on the board's LittleFS (mptest/mpflash:
# the virtual board's flash chip with the ESP32's erase/program rules).
import os
import json
import mptest
import mpflash
from mptest import eq, ok

mptest.setup_root()
import store  # noqa: E402
import outbox  # noqa: E402
import _vbflash  # noqa: E402

D = "/state/outbox"


def _reset(d=D):
    full = store.path(d)
    try:
        for n in os.listdir(full):
            os.remove(full + "/" + n)
    except OSError:
        pass


def _files(d=D):
    return sorted(os.listdir(store.path(d)))


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


def test_one_file_per_event_and_nothing_left_when_acked():
    _reset()
    ob = outbox.Outbox(D)
    ob.append("telemetry", {"i": 1})
    ob.append("alarm", {"ref": "a-1"})
    eq(_files(), ["a00000002", "e00000001", "h"])
    ok(all(os.stat(store.path(D) + "/" + n)[6] <= 128 for n in _files()),
       "small enough to stay inline in LittleFS's metadata")
    ob.ack_to(2)
    eq(_files(), ["h"])
    ob2 = outbox.Outbox(D)
    eq((ob2.next_seq, ob2.ack, ob2.stream), (3, 2, ob.stream))   # the head keeps them
    eq(ob2.append("telemetry", {}), 3)


def test_new_stream_when_store_lost():
    _reset()
    ob = outbox.Outbox(D)
    ob.append("telemetry", {})
    _reset()
    ob2 = outbox.Outbox(D)
    ok(ob2.stream != ob.stream)
    eq(ob2.append("telemetry", {}), 1)


def _cut_everywhere(prepare, op, check):
    """Run op() with the power cut before its 1st, 2nd, ... flash operation until it completes
    uncut; after each cut: power on, reopen, check(ob2, completed=False), append, reopen."""
    k = 1
    while True:
        _reset()
        ob = prepare()
        before = (ob.stream, _seqs(ob), ob.next_seq, ob.ack)
        mpflash.power_cut(k)
        try:
            op(ob)
            cut = False
        except _vbflash.PowerCut:
            cut = True
        mpflash.flash().cut_after = 0
        if cut:
            mpflash.power_on()
        ob2 = outbox.Outbox(D)
        eq(ob2.stream, before[0], "cut %d: stream kept" % k)
        check(ob2, before, not cut)
        s = ob2.append("telemetry", {"after": k})
        ok(s >= before[2], "cut %d: seq %d reused below %d" % (k, s, before[2]))
        eq(_seqs(outbox.Outbox(D))[-1], s, "cut %d: the append after the cut is kept" % k)
        if not cut:
            return k
        k += 1


def _prepared(total=7, acked=2):
    def prepare():
        ob = outbox.Outbox(D)
        for i in range(total):
            ob.append("alarm" if i % 4 == 0 else "telemetry",
                      {"ref": "a-%d" % i} if i % 4 == 0 else {"i": i})
        ob.ack_to(acked)
        return ob
    return prepare


def test_power_cut_between_flash_operations_of_an_append():
    def op(ob):
        ob.append("alarm", {"ref": "a-last"})

    def check(ob2, before, done):
        _stream, want, nxt, ack = before
        eq(ob2.ack, ack)
        # LittleFS commits a file whole: the event is there or not, the others intact
        eq(_seqs(ob2), want + [nxt] if done else want)
    n = _cut_everywhere(_prepared(), op, check)
    ok(n >= 2, "an append is %d flash operations" % n)


def test_power_cut_between_flash_operations_of_an_ack():
    def op(ob):
        ob.ack_to(5)

    def check(ob2, before, done):
        _stream, want, nxt, ack = before
        # deletes go oldest first: any ack in between is true (the rest is sent again, and the
        # fleet keeps one copy of each seq)
        ok(ack <= ob2.ack <= 5, "ack between old and new: %d" % ob2.ack)
        eq(_seqs(ob2), [s for s in want if s > ob2.ack])
        eq(ob2.next_seq, nxt)
    _cut_everywhere(_prepared(8, 2), op, check)


def test_power_cut_between_flash_operations_of_an_ack_of_everything():
    def op(ob):
        ob.ack_to(ob.next_seq - 1)

    def check(ob2, before, done):
        _stream, want, nxt, ack = before
        eq(_seqs(ob2), [s for s in want if s > ob2.ack])
        eq(ob2.next_seq, nxt, "the next seq survives the ack of everything")
    _cut_everywhere(_prepared(6, 1), op, check)


def test_power_cut_between_flash_operations_of_a_drop():
    def op(ob):
        ob.drop(4)

    def check(ob2, before, done):
        evs = _events(ob2)
        eq([e["seq"] for e in evs], before[1], "every pending seq still sent")
        ok(not done or evs[[e["seq"] for e in evs].index(4)]["type"] == "error")
    _cut_everywhere(_prepared(7, 2), op, check)


def test_corrupt_event_file_is_sent_as_a_placeholder():
    _reset()
    ob = outbox.Outbox(D)
    for i in range(3):
        ob.append("telemetry", {"i": i})
    with open(store.path(D) + "/e00000002", "wb") as f:
        f.write(b"\xb5\x02\x10\x00garbage")
    ob2 = outbox.Outbox(D)
    evs = _events(ob2)
    eq([e["seq"] for e in evs], [1, 2, 3])
    eq(evs[1]["type"], "error")
    eq(_seqs(outbox.Outbox(D)), [1, 2, 3])


def test_empty_file_of_an_unfinished_append_frees_its_seq():
    _reset()
    ob = outbox.Outbox(D)
    ob.append("telemetry", {"i": 1})
    open(store.path(D) + "/e00000002", "wb").close()     # created, never written
    ob2 = outbox.Outbox(D)
    eq((_seqs(ob2), ob2.next_seq), ([1], 2))
    eq(_files(), ["e00000001", "h"])


def test_full_drops_oldest_non_alarms_never_alarms():
    _reset()
    ob = outbox.Outbox(D, max_bytes=1200, max_events=1000)
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
    ok(ob.used() <= 1200, "bounded: %d" % ob.used())
    evs = _events(ob)
    eq([e["seq"] for e in evs], list(range(1, ob.next_seq)))   # contiguous for the fleet's ack
    got_alarms = [e["seq"] for e in evs if e["type"] == "alarm"]
    eq(got_alarms, alarms)
    drops = [e for e in evs if e["type"] == "error"]
    ok(drops and drops[0]["data"]["where"] == "outbox")
    ok(len([n for n in _files() if n[0] == "d"]) <= len(alarms) + 1, "drop ranges merged")
    # reopening keeps the same picture
    eq(_events(outbox.Outbox(D, max_bytes=1200)), evs)


def test_full_of_alarms_refuses_non_alarms_accepts_alarms():
    _reset()
    ob = outbox.Outbox(D, max_bytes=600, max_events=1000, hard_bytes=4000)
    n = 0
    while ob.used() < 600:
        ob.append("alarm", {"ref": "a-%d" % n})
        n += 1
    w = ob.written
    e = mptest.raises(outbox.Full, ob.append, "telemetry", {"x": 1})
    ok(e is not None)
    eq(ob.refused, 1)
    mptest.raises(outbox.Full, ob.append, "heartbeat", {})
    eq(ob.written, w, "refusals write nothing")
    s = ob.append("alarm_cancel", {"ref": "a-0"})
    ok(s > n)
    evs = _events(ob)
    eq(len([e for e in evs if e["type"].startswith("alarm")]), n + 1)
    eq(ob.dropped, 0)


def test_max_events_bound():
    _reset()
    ob = outbox.Outbox(D, max_bytes=100000, max_events=20)
    for i in range(60):
        ob.append("telemetry", {"i": i})
    ok(ob.live() <= 20, "live %d" % ob.live())
    eq(len(_events(ob)), 60)          # the dropped ones become placeholders
    eq(len(_events(outbox.Outbox(D, max_bytes=100000, max_events=20))), 60)


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
    ob = outbox.Outbox(D)
    for i in range(12):
        ob.append("telemetry", {"i": i})
    os.remove(store.path(D) + "/e00000005")      # flash corruption, not a power cut
    ob2 = outbox.Outbox(D)
    evs = _events(ob2)
    eq([e["seq"] for e in evs], list(range(1, 13)))
    eq([e["seq"] for e in evs if e["type"] == "error"], [5])


def test_flash_wear_per_event():
    # What the flash chip really does on LittleFS (erases, bytes programmed), not what the
    # outbox wrote: appending to a segment file cost ~1.1 erases and ~2.5 KB per event.
    _reset()
    ob = outbox.Outbox(D)
    e0, p0 = mpflash.wear()
    n = 200
    for i in range(n):
        ob.append("heartbeat", {"battery_v": 3.01, "interval_min": 1440})
        if i % 10 == 9:
            ob.ack_to(i + 1)
    e1, p1 = mpflash.wear()
    print("per event: %.3f erases, %d bytes programmed" % ((e1 - e0) / n, (p1 - p0) // n))
    ok((e1 - e0) / n < 0.15, "%.3f erases/event" % ((e1 - e0) / n))
    ok((p1 - p0) / n < 600, "%d bytes programmed/event" % ((p1 - p0) // n))


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
