# The outbox's full policy and dropped events (see outbox.py): loaded only when an
# append does not fit or a dropped event has to be sent.
# Oldest segment first: its non-alarm events are dropped (DROP records; the fleet later
# gets an "error" placeholder for each, so its ack stays contiguous), its alarm and
# alarm_cancel events are copied to the newest segment, then the file is deleted.
# Segments holding nothing but alarms (little dead space) are left alone, so refusals
# while the outbox is full of alarms cost no flash writes.
import struct
import log
from outbox import EVENT, DROP, records

DROP_MSG = b'{"msg":"outbox full: event dropped","where":"outbox"}'


def _now(ob):
    return ob.clock.now() if ob.clock is not None else 0


def drop(ob, seq):
    """Give up one pending event (the fleet refuses it): sent as a placeholder."""
    if seq <= ob.ack or seq >= ob.next_seq or ob.is_dropped(seq):
        return
    now = _now(ob)
    ob._write(DROP, struct.pack("<III", seq, seq, now))
    ob._add_drop(seq, seq, now)
    for seg in ob.segs:
        if seq in seg.seqs:
            seg.seqs.remove(seq)
            if seq in seg.alarms:
                seg.alarms.remove(seq)
    ob.dropped += 1
    ob._gc()


def placeholder(ob, seq):
    """The "error" event sent in place of dropped event seq (or of one lost to flash
    corruption, which is recorded as dropped first so the queue never sticks)."""
    if not ob.is_dropped(seq):
        log.w("outbox", "seq %d missing, reported as dropped" % seq)
        now = _now(ob)
        ob._write(DROP, struct.pack("<III", seq, seq, now))
        ob._add_drop(seq, seq, now)
    t = 0
    for d in ob.drops:
        if d[0] <= seq <= d[1]:
            t = d[2]
    return b'{"seq":%d,"t":%d,"type":"error","data":%s}' % (seq, t, DROP_MSG)


def worth(ob, seg):
    """Freeing seg gains space: it holds droppable events or much dead space."""
    return len(seg.seqs) > len(seg.alarms) or seg.size - seg.abytes > ob.seg_size // 4


def make_room(ob, need, alarm):
    for seg in list(ob.segs):            # oldest first
        if ob._fits(need, alarm):
            break
        if not worth(ob, seg):
            continue
        if seg is ob.segs[-1]:
            ob._rotate()                 # the active segment becomes freeable
        free(ob, seg)
    if ob._fits(need, alarm):
        return True
    return alarm and ob.used() + need <= ob.hard_bytes


def free(ob, seg):
    """Drop seg's non-alarm events, copy its alarms to the newest segment, delete it."""
    now = _now(ob)
    drop = [s for s in seg.seqs if s not in seg.alarms]
    if drop:
        lo = hi = drop[0]
        for s in drop[1:] + [None]:
            if s is not None and s == hi + 1:
                hi = s
                continue
            ob._write(DROP, struct.pack("<III", lo, hi, now))
            ob._add_drop(lo, hi, now)
            if s is not None:
                lo = hi = s
        ob.dropped += len(drop)
        log.w("outbox", "full, dropped %d events (seq %d-%d)" % (len(drop), drop[0], drop[-1]))
    if seg.alarms:
        keep = set(seg.alarms)
        for kind, p, _ in records(ob._fname(seg.no)):
            if kind == EVENT:
                s = struct.unpack_from("<I", p)[0]
                if s in keep:
                    keep.discard(s)
                    ob._write(EVENT, p)
                    last = ob.segs[-1]
                    last.seqs.append(s)
                    last.alarms.append(s)
                    last.abytes += 8 + len(p)
        log.i("outbox", "moved %d alarms from seg %d" % (len(seg.alarms), seg.no))
    seg.seqs = []
    seg.alarms = []
    seg.abytes = 0
    ob._gc()
