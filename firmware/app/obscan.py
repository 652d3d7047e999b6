# Opening the outbox (see outbox.py): rebuild its state from the segment files. Runs
# once per wake; Outbox() imports it, runs it and drops it, so this code does not stay
# in the heap. A torn or corrupt record ends a segment's scan (records before it are
# kept); a segment with no valid record is deleted; a torn newest segment is never
# appended to again.
import os
import struct
import log
from outbox import HEAD, EVENT, ACK, DROP, _Seg, records


def scan(ob):
    nos = []
    for name in os.listdir(ob.dir):
        if name.startswith("s") and name.endswith(".log") and len(name) == 13:
            try:
                nos.append(int(name[1:9]))
            except ValueError:
                pass
    nos.sort()
    torn_last = False
    for no in nos:
        seg = _Seg(no)
        fname = ob._fname(no)
        end = 0
        for kind, p, end2 in records(fname):
            rlen = end2 - end
            end = end2
            if kind == HEAD:
                s, nxt, ack = struct.unpack_from("<III", p)
                if not ob.stream:
                    ob.stream = s
                ob.next_seq = max(ob.next_seq, nxt)
                ob.ack = max(ob.ack, ack)
                for i in range(12, len(p) - 11, 12):
                    ob._add_drop(*struct.unpack_from("<III", p, i))
            elif kind == EVENT:
                seq = struct.unpack_from("<I", p)[0]
                seg.seqs.append(seq)
                if p[9:9 + p[8]] in (b"alarm", b"alarm_cancel"):
                    seg.alarms.append(seq)
                    seg.abytes += rlen
                ob.next_seq = max(ob.next_seq, seq + 1)
            elif kind == ACK:
                ob.ack = max(ob.ack, struct.unpack_from("<I", p)[0])
            elif kind == DROP:
                ob._add_drop(*struct.unpack_from("<III", p))
        seg.size = os.stat(fname)[6]
        if end == 0:
            os.remove(fname)          # nothing valid in it (torn HEAD)
            continue
        torn_last = end < seg.size
        if torn_last:
            log.w("outbox", "seg %d: torn tail at %d of %d bytes dropped" % (no, end, seg.size))
        ob.segs.append(seg)
    ob.next_seq = max(ob.next_seq, ob.ack + 1)
    # Keep only pending seqs; a seq copied to a newer segment counts there only.
    seen = set()
    for seg in reversed(ob.segs):
        keep = []
        for s in seg.seqs:
            if s > ob.ack and s not in seen and not ob.is_dropped(s):
                keep.append(s)
                seen.add(s)
        seg.seqs = keep
        alarms = [s for s in seg.alarms if s in keep]
        if len(alarms) != len(seg.alarms):
            seg.alarms = alarms
            seg.abytes = 0   # unknown after a partial move; only tunes the full policy
    ob._prune_drops()
    if not ob.segs:
        while not ob.stream:          # a new random non-zero stream id
            ob.stream = int.from_bytes(os.urandom(4), "little")
        log.i("outbox", "new stream %d" % ob.stream)
        ob._rotate()
    else:
        ob._rotate_next = torn_last
        ob._gc()
    log.i("outbox", "open stream=%d seq=%d ack=%d pending=%d segs=%d" % (
        ob.stream, ob.next_seq - 1, ob.ack, ob.pending(), len(ob.segs)))
