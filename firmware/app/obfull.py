# The outbox's full policy and dropped events (see outbox.py): loaded only when an append
# does not fit or a dropped event has to be sent.
# Oldest first, the non-alarm events are dropped: a range of dropped seqs is one file
# d<lo> (DROP: lo, hi, t), extended in place while the drops stay contiguous, and the
# event files go; the fleet later gets an "error" placeholder for each dropped seq, so its
# ack stays contiguous. alarm and alarm_cancel are never dropped, so refusals while the
# outbox is full of alarms cost no flash writes.
import struct
import log
from outbox import DROP

DROP_MSG = b'{"msg":"outbox full: event dropped","where":"outbox"}'


def _now(ob):
    return ob.clock.now() if ob.clock is not None else 0


def _mark(ob, seq, t):
    """Record seq as dropped: extend the range that ends just below it, or start one."""
    for d in ob.drops:
        if d[1] + 1 == seq:
            d[1] = seq
            ob.write_file(ob.fname("d", d[3]), DROP, struct.pack("<III", d[3], seq, d[2]))
            return
    ob.write_file(ob.fname("d", seq), DROP, struct.pack("<III", seq, seq, t))
    ob.drops.append([seq, seq, t, seq])


def _forget(ob, i):
    """Drop the i-th stored event from the index and delete its file."""
    s = ob.seqs.pop(i)
    ob.bytes -= ob.sizes.pop(i)
    alarm = s in ob.alarms
    if alarm:
        ob.alarms.remove(s)
    ob.remove("a" if alarm else "e", s)
    return s


def drop(ob, seq):
    """Give up one pending event (the fleet refuses it): sent as a placeholder."""
    if seq <= ob.ack or seq >= ob.next_seq or ob.is_dropped(seq):
        return
    _mark(ob, seq, _now(ob))
    if seq in ob.seqs:
        _forget(ob, ob.seqs.index(seq))
    ob.dropped += 1


def placeholder(ob, seq):
    """The "error" event sent in place of dropped event seq (or of one lost to flash
    corruption, which is recorded as dropped first so the queue never sticks)."""
    if not ob.is_dropped(seq):
        log.w("outbox", "seq %d missing, reported as dropped" % seq)
        _mark(ob, seq, _now(ob))
        if seq in ob.seqs:
            _forget(ob, ob.seqs.index(seq))
    t = 0
    for d in ob.drops:
        if d[0] <= seq <= d[1]:
            t = d[2]
    return b'{"seq":%d,"t":%d,"type":"error","data":%s}' % (seq, t, DROP_MSG)


def make_room(ob, need, alarm):
    """Drop the oldest non-alarm events until an event of `need` bytes fits."""
    now = _now(ob)
    first = last = None
    i = 0
    while not ob._fits(need, alarm) and i < len(ob.seqs):
        if ob.seqs[i] in ob.alarms:
            i += 1
            continue
        s = ob.seqs[i]
        _mark(ob, s, now)
        _forget(ob, i)
        ob.dropped += 1
        first = s if first is None else first
        last = s
    if first is not None:
        log.w("outbox", "full, dropped events (seq %d-%d)" % (first, last))
    if ob._fits(need, alarm):
        return True
    return alarm and ob.bytes + need <= ob.hard_bytes
