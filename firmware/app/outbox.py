# Persistent queue of numbered events on flash, safe against a power cut at any byte.
#
# Layout: a directory of append-only segment files s00000001.log, s00000002.log, ...
# Each file is a sequence of records:
#   u8 magic 0xB5 | u8 kind | u16 len (LE) | payload (len bytes) | u32 CRC32 (LE)
# (CRC32 = binascii.crc32 over the 4 header bytes and the payload.)
# kinds and payloads (all integers little-endian u32):
#   HEAD  1  stream, next_seq, ack, then (lo, hi, t) per dropped range above ack
#   EVENT 2  seq, t, u8 type length, type (ASCII), data (JSON)
#   ACK   3  ack  -- every seq <= ack is stored by the fleet
#   DROP  4  lo, hi, t -- seqs lo..hi were dropped (outbox full)
# Every segment starts with a HEAD carrying the whole state at its creation, so old
# segments can be deleted once all their events are acked or dropped. Only the last
# segment is ever appended to; a torn or corrupt record ends a segment's scan (records
# before it are kept), and a segment whose tail is torn is never appended to again.
# Opening (the scan of every segment) is obscan.py: loaded once per wake, then dropped.
#
# Full policy (bounded by max_bytes of segment files and max_events pending): the
# oldest segment is freed by dropping its non-alarm events (sent later as "error"
# events with where="outbox", so the fleet sees every drop and its ack stays
# contiguous) and copying its alarm/alarm_cancel events to the newest segment.
# If only alarms remain, non-alarm appends are refused (Full); alarms are accepted
# up to hard_bytes (then the flash itself is the limit).
import os
import sys
import json
import struct
import binascii
import store
import log
from micropython import const

_MAGIC = const(0xB5)
HEAD = 1
EVENT = 2
ACK = 3
DROP = 4


class Full(Exception):
    pass


def frame(kind, data):
    n = len(data)
    hdr = bytes((_MAGIC, kind, n & 0xFF, n >> 8))
    crc = binascii.crc32(data, binascii.crc32(hdr)) & 0xFFFFFFFF
    return hdr + data + crc.to_bytes(4, "little")


def records(path):
    """Yield (kind, payload, end_offset) for each valid record; stop at the first bad one."""
    try:
        f = open(path, "rb")
    except OSError:
        return
    pos = 0
    try:
        while True:
            hdr = f.read(4)
            if len(hdr) < 4 or hdr[0] != _MAGIC:
                return
            n = hdr[2] | (hdr[3] << 8)
            body = f.read(n + 4)
            if len(body) < n + 4:
                return
            crc = binascii.crc32(body[:n], binascii.crc32(hdr)) & 0xFFFFFFFF
            if crc != int.from_bytes(body[n:], "little"):
                return
            pos += 8 + n
            yield hdr[1], body[:n], pos
    finally:
        f.close()


class _Seg:
    def __init__(self, no):
        self.no = no
        self.size = 0      # bytes in the file (including a torn tail)
        self.seqs = []     # pending event seqs stored here
        self.alarms = []   # the subset of seqs that are alarms
        self.abytes = 0    # bytes of the alarm records among them


class Outbox:
    def __init__(self, path="/state/outbox", max_bytes=32768, seg_size=4096,
                 max_events=300, hard_bytes=None, clock=None):
        self.dir = store.path(path)
        self.max_bytes = max_bytes
        self.seg_size = seg_size
        self.max_events = max_events
        self.hard_bytes = hard_bytes or max_bytes * 2
        self.clock = clock
        self.segs = []
        self.stream = 0
        self.next_seq = 1
        self.ack = 0
        self.drops = []          # [lo, hi, t] ranges of dropped seqs above ack
        self.written = 0         # bytes appended since open (flash wear figure)
        self.dropped = 0         # events dropped since open
        self.refused = 0         # appends refused since open
        self._rotate_next = False
        store.makedirs(path)
        import obscan
        try:
            obscan.scan(self)
        finally:
            del sys.modules["obscan"]   # once per wake: its code does not stay in the heap

    def _fname(self, no):
        return "%s/s%08d.log" % (self.dir, no)

    # ---- state queries ----------------------------------------------------------
    def pending(self):
        """Events (including dropped placeholders) not yet acked by the fleet."""
        return self.next_seq - 1 - self.ack

    def live(self):
        n = 0
        for s in self.segs:
            n += len(s.seqs)
        return n

    def used(self):
        n = 0
        for s in self.segs:
            n += s.size
        return n

    def is_dropped(self, seq):
        for d in self.drops:
            if d[0] <= seq <= d[1]:
                return True
        return False

    def _add_drop(self, lo, hi, t):
        for d in self.drops:
            if d[1] + 1 == lo and d[2] == t:
                d[1] = hi
                return
        self.drops.append([lo, hi, t])

    def _prune_drops(self):
        out = []
        for d in self.drops:
            if d[1] > self.ack:
                d[0] = max(d[0], self.ack + 1)
                out.append(d)
        self.drops = out

    # ---- writing ----------------------------------------------------------------
    def _write(self, kind, data):
        last = self.segs[-1] if self.segs else None
        if last is None or self._rotate_next or last.size >= self.seg_size:
            self._rotate()
        rec = frame(kind, data)
        seg = self.segs[-1]
        with open(self._fname(seg.no), "ab") as f:
            f.write(rec)
        seg.size += len(rec)
        self.written += len(rec)

    def _rotate(self):
        no = self.segs[-1].no + 1 if self.segs else 1
        p = struct.pack("<III", self.stream, self.next_seq, self.ack)
        for d in self.drops:
            p += struct.pack("<III", d[0], d[1], d[2])
        rec = frame(HEAD, p)
        with open(self._fname(no), "wb") as f:
            f.write(rec)
        seg = _Seg(no)
        seg.size = len(rec)
        self.segs.append(seg)
        self.written += len(rec)
        self._rotate_next = False

    def append(self, kind, data=None, t=None):
        """Store one event; returns its seq. Raises Full when refused (never for alarms)."""
        if data is None:
            data = {}
        tb = kind.encode()
        db = json.dumps(data, separators=(",", ":")).encode()
        alarm = kind in ("alarm", "alarm_cancel")
        n = 8 + 9 + len(tb) + len(db)
        if not self._fits(n, alarm):
            import obfull                    # the full policy: rarely needed, loaded then
            if not obfull.make_room(self, n, alarm):
                self.refused += 1
                log.w("outbox", "full, refused %s" % kind)
                raise Full(kind)
        if t is None:
            t = self.clock.now() if self.clock is not None else 0
        seq = self.next_seq
        self._write(EVENT, struct.pack("<IIB", seq, max(0, int(t)), len(tb)) + tb + db)
        self.next_seq = seq + 1
        seg = self.segs[-1]
        seg.seqs.append(seq)
        if alarm:
            seg.alarms.append(seq)
            seg.abytes += n
        return seq

    # ---- full policy ------------------------------------------------------------
    def _fits(self, n, alarm):
        if self.used() + n > self.max_bytes:
            return False
        return alarm or self.live() < self.max_events

    # ---- reading and acknowledgement --------------------------------------------
    def batch(self, count=50, max_bytes=4096):
        """JSON texts (bytes) of the oldest pending events, in seq order (ack+1, ack+2, ...)."""
        lo = self.ack + 1
        hi = min(self.next_seq - 1, self.ack + count)
        if hi < lo:
            return []
        found = {}
        size = 0
        for seg in self.segs:
            if size > max_bytes:
                break
            for s in seg.seqs:
                if lo <= s <= hi:
                    break
            else:
                continue                     # nothing wanted in this segment
            for kind, p, _ in records(self._fname(seg.no)):
                if kind != EVENT:
                    continue
                seq, t, n = struct.unpack_from("<IIB", p)
                if lo <= seq <= hi and seq in seg.seqs and seq not in found:
                    j = b'{"seq":%d,"t":%d,"type":"%s","data":%s}' % (seq, t, p[9:9 + n], p[9 + n:])
                    found[seq] = j
                    size += len(j)
        out = []
        size = 0
        for s in range(lo, hi + 1):
            j = found.get(s)
            if j is None:
                for seg in self.segs:
                    if s in seg.seqs:
                        return out           # stored, not read this time (size budget)
                import obfull                # dropped, or lost to flash corruption
                j = obfull.placeholder(self, s)
            if out and size + len(j) > max_bytes:
                break
            out.append(j)
            size += len(j)
        return out

    def drop(self, seq):
        """Give up one pending event (the fleet refuses it): sent as a placeholder."""
        import obfull
        obfull.drop(self, seq)

    def ack_to(self, n):
        """The fleet stored every event up to n: forget them. Returns how many were freed."""
        if not isinstance(n, int) or n <= self.ack:
            return 0
        if n > self.next_seq - 1:
            log.w("outbox", "ack %d beyond last seq %d ignored" % (n, self.next_seq - 1))
            n = self.next_seq - 1
            if n <= self.ack:
                return 0
        freed = n - self.ack
        self.ack = n
        self._write(ACK, struct.pack("<I", n))
        for seg in self.segs:
            if any(s <= n for s in seg.seqs):
                seg.seqs = [s for s in seg.seqs if s > n]
                seg.alarms = [s for s in seg.alarms if s > n]
                if not seg.alarms:
                    seg.abytes = 0
        self._prune_drops()
        self._gc()
        return freed

    def _gc(self):
        """Delete every segment but the newest whose events are all acked or dropped."""
        keep = []
        last = self.segs[-1] if self.segs else None
        for seg in self.segs:
            if seg is not last and not seg.seqs:
                try:
                    os.remove(self._fname(seg.no))
                except OSError:
                    pass
            else:
                keep.append(seg)
        self.segs = keep
