# Opening the outbox (see outbox.py): rebuild its state from the head and the event files.
# Runs once per wake; Outbox() imports it, runs it and drops it, so this code does not stay
# in the heap. Needs no file read but the head's: the names say seq and kind, the listing
# gives sizes (LittleFS); an event's record is checked when it is sent.
import os
import struct
import log
from outbox import HEAD, DROP, unframe


def _head(ob):
    try:
        with open(ob.dir + "/h", "rb") as f:
            r = unframe(f.read())
    except OSError:
        return
    if r is None or r[0] != HEAD:
        log.w("outbox", "head unreadable")
        return
    ob.stream, ob.next_seq, ob.ack = struct.unpack_from("<III", r[1])


def _drop_file(ob, seq):
    """(lo, hi, t) of the drop range in file d<seq>, or None."""
    try:
        with open(ob.fname("d", seq), "rb") as f:
            r = unframe(f.read())
        if r is not None and r[0] == DROP:
            return struct.unpack_from("<III", r[1])
    except OSError:
        pass
    return None


def scan(ob):
    _head(ob)
    ev = []                                 # (seq, kind, size)
    for e in os.ilistdir(ob.dir):
        name = e[0]
        if len(name) == 9 and name[0] in "aed":
            try:
                # (a host directory, VfsPosix, lists no size: the heap gates keep files there)
                ev.append((int(name[1:]), name[0], e[3] if len(e) > 3 else os.stat(ob.dir + "/" + name)[6]))
            except ValueError:
                pass
        elif name != "h":
            os.remove(ob.dir + "/" + name)          # not ours (or format 1 segments): gone
            log.w("outbox", "removed %s" % name)
    ev.sort()
    if ev:
        ob.next_seq = max(ob.next_seq, ev[-1][0] + 1)
    low = None
    for seq, kind, size in ev:              # drop ranges first: they win over event files
        if kind == "d":
            r = _drop_file(ob, seq)
            if r is None or r[1] <= ob.ack:
                ob.remove(kind, seq)
                continue
            ob.drops.append([max(r[0], ob.ack + 1), r[1], r[2], seq])
            ob.next_seq = max(ob.next_seq, r[1] + 1)
            low = r[0] if low is None else min(low, r[0])
    for seq, kind, size in ev:
        if kind == "d":
            continue
        if seq <= ob.ack or size == 0 or ob.is_dropped(seq):
            if size == 0 and seq == ob.next_seq - 1 and seq > ob.ack:
                ob.next_seq = seq           # the append that never returned: its seq is free
            ob.remove(kind, seq)            # acked or dropped (a delete cut short), or never written
            continue
        ob.seqs.append(seq)
        ob.sizes.append(size)
        ob.bytes += size
        if kind == "a":
            ob.alarms.append(seq)
        low = seq if low is None else min(low, seq)
    # below the lowest stored event everything was acked (acks delete oldest first)
    if low is not None and low - 1 > ob.ack:
        ob.ack = low - 1
        for d in ob.drops:
            d[0] = max(d[0], ob.ack + 1)
    ob.next_seq = max(ob.next_seq, ob.ack + 1)
    if not ob.stream:
        while not ob.stream:                # a new random non-zero stream id
            ob.stream = int.from_bytes(os.urandom(4), "little")
        log.i("outbox", "new stream %d" % ob.stream)
        ob.write_head()
    log.i("outbox", "open stream=%d seq=%d ack=%d pending=%d files=%d" % (
        ob.stream, ob.next_seq - 1, ob.ack, ob.pending(), len(ob.seqs)))
