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
#
# Full policy (bounded by max_bytes of segment files and max_events pending): the
# oldest segment is freed by dropping its non-alarm events (sent later as "error"
# events with where="outbox", so the fleet sees every drop and its ack stays
# contiguous) and copying its alarm/alarm_cancel events to the newest segment.
# If only alarms remain, non-alarm appends are refused (Full); alarms are accepted
# up to hard_bytes (then the flash itself is the limit).
import os
import json
import struct
import binascii
import store
import log

MAGIC = 0xB5
HEAD = 1
EVENT = 2
ACK = 3
DROP = 4
ALARMS = ("alarm", "alarm_cancel")


class Full(Exception):
    pass


def frame(kind, payload):
    n = len(payload)
    hdr = bytes((MAGIC, kind, n & 0xFF, n >> 8))
    crc = binascii.crc32(payload, binascii.crc32(hdr)) & 0xFFFFFFFF
    return hdr + payload + crc.to_bytes(4, "little")


def records(fname):
    """Yield (kind, payload, end_offset) for each valid record; stop at the first bad one."""
    try:
        f = open(fname, "rb")
    except OSError:
        return
    pos = 0
    try:
        while True:
            hdr = f.read(4)
            if len(hdr) < 4 or hdr[0] != MAGIC:
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
    def __init__(self, dirpath="/state/outbox", max_bytes=32768, seg_size=4096,
                 max_events=300, hard_bytes=None, clock=None):
        self.dir = store.path(dirpath)
        self.max_bytes = max_bytes
        self.seg_size = seg_size
        self.max_events = max_events
        self.hard_bytes = hard_bytes or max_bytes * 2
        self._clock = clock
        self.segs = []
        self.stream = 0
        self.next_seq = 1
        self.ack = 0
        self.drops = []          # [lo, hi, t] ranges of dropped seqs above ack
        self.written = 0         # bytes appended since open (flash wear figure)
        self.dropped = 0         # events dropped since open
        self.refused = 0         # appends refused since open
        self._rotate_next = False
        store.makedirs(dirpath)
        self._open()

    # ---- open / scan ----------------------------------------------------------
    def _fname(self, no):
        return "%s/s%08d.log" % (self.dir, no)

    def _open(self):
        nos = []
        for name in os.listdir(self.dir):
            if name.startswith("s") and name.endswith(".log") and len(name) == 13:
                try:
                    nos.append(int(name[1:9]))
                except ValueError:
                    pass
        nos.sort()
        torn_last = False
        for no in nos:
            seg = _Seg(no)
            fname = self._fname(no)
            end = 0
            for kind, p, end2 in records(fname):
                rlen = end2 - end
                end = end2
                if kind == HEAD:
                    s, nxt, ack = struct.unpack_from("<III", p)
                    if not self.stream:
                        self.stream = s
                    self.next_seq = max(self.next_seq, nxt)
                    self.ack = max(self.ack, ack)
                    for i in range(12, len(p) - 11, 12):
                        self._add_drop(*struct.unpack_from("<III", p, i))
                elif kind == EVENT:
                    seq = struct.unpack_from("<I", p)[0]
                    seg.seqs.append(seq)
                    if p[9:9 + p[8]] in (b"alarm", b"alarm_cancel"):
                        seg.alarms.append(seq)
                        seg.abytes += rlen
                    self.next_seq = max(self.next_seq, seq + 1)
                elif kind == ACK:
                    self.ack = max(self.ack, struct.unpack_from("<I", p)[0])
                elif kind == DROP:
                    self._add_drop(*struct.unpack_from("<III", p))
            seg.size = os.stat(fname)[6]
            if end == 0:
                os.remove(fname)          # nothing valid in it (torn HEAD)
                continue
            torn_last = end < seg.size
            if torn_last:
                log.w("outbox", "seg %d: torn tail at %d of %d bytes dropped" % (no, end, seg.size))
            self.segs.append(seg)
        self.next_seq = max(self.next_seq, self.ack + 1)
        # Keep only pending seqs; a seq copied to a newer segment counts there only.
        seen = set()
        for seg in reversed(self.segs):
            keep = []
            for s in seg.seqs:
                if s > self.ack and s not in seen and not self.is_dropped(s):
                    keep.append(s)
                    seen.add(s)
            seg.seqs = keep
            if len(seg.alarms) != len([s for s in seg.alarms if s in keep]):
                seg.alarms = [s for s in seg.alarms if s in keep]
                seg.abytes = 0   # unknown after a partial move; only tunes the full policy
        self._prune_drops()
        if not self.segs:
            self.stream = self._new_stream()
            log.i("outbox", "new stream %d" % self.stream)
            self._rotate()
        else:
            self._rotate_next = torn_last
            self._gc()
        log.i("outbox", "open stream=%d seq=%d ack=%d pending=%d segs=%d" % (
            self.stream, self.next_seq - 1, self.ack, self.pending(), len(self.segs)))

    @staticmethod
    def _new_stream():
        while True:
            s = int.from_bytes(os.urandom(4), "little")
            if s:
                return s

    # ---- state queries ----------------------------------------------------------
    def pending(self):
        """Events (including dropped placeholders) not yet acked by the fleet."""
        return self.next_seq - 1 - self.ack

    def live(self):
        return sum(len(s.seqs) for s in self.segs)

    def used(self):
        return sum(s.size for s in self.segs)

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

    def _now(self):
        return self._clock.now() if self._clock is not None else 0

    # ---- writing ----------------------------------------------------------------
    def _write(self, kind, payload):
        last = self.segs[-1] if self.segs else None
        if last is None or self._rotate_next or last.size >= self.seg_size:
            self._rotate()
        rec = frame(kind, payload)
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

    def append(self, etype, data=None, t=None):
        """Store one event; returns its seq. Raises Full when refused (never for alarms)."""
        if data is None:
            data = {}
        tb = etype.encode()
        db = json.dumps(data, separators=(",", ":")).encode()
        alarm = etype in ALARMS
        need = 8 + 9 + len(tb) + len(db)
        if not self._room(need, alarm):
            self.refused += 1
            log.w("outbox", "full, refused %s" % etype)
            raise Full(etype)
        if t is None:
            t = self._now()
        seq = self.next_seq
        self._write(EVENT, struct.pack("<IIB", seq, max(0, int(t)), len(tb)) + tb + db)
        self.next_seq = seq + 1
        seg = self.segs[-1]
        seg.seqs.append(seq)
        if alarm:
            seg.alarms.append(seq)
            seg.abytes += need
        return seq

    # ---- full policy ------------------------------------------------------------
    def _fits(self, need, alarm):
        if self.used() + need > self.max_bytes:
            return False
        return alarm or self.live() < self.max_events

    def _room(self, need, alarm):
        if self._fits(need, alarm):
            return True
        import obfull                        # the full policy: rarely needed, loaded then
        return obfull.make_room(self, need, alarm)

    # ---- reading and acknowledgement --------------------------------------------
    def batch(self, max_n=50, max_bytes=4096):
        """JSON texts of the oldest pending events, in seq order (ack+1, ack+2, ...)."""
        lo = self.ack + 1
        hi = min(self.next_seq - 1, self.ack + max_n)
        if hi < lo:
            return []
        found = {}
        size = 0
        for seg in self.segs:
            want = [s for s in seg.seqs if lo <= s <= hi]
            if not want or size > max_bytes:
                continue
            for kind, p, _ in records(self._fname(seg.no)):
                if kind != EVENT:
                    continue
                seq, t, n = struct.unpack_from("<IIB", p)
                if seq in want and seq not in found:
                    j = '{"seq":%d,"t":%d,"type":"%s","data":%s}' % (
                        seq, t, p[9:9 + n].decode(), p[9 + n:].decode())
                    found[seq] = j
                    size += len(j)
        out = []
        size = 0
        for s in range(lo, hi + 1):
            j = found.get(s)
            if j is None:
                if self._stored(s):
                    break                    # not read this time (size budget)
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

    def _stored(self, seq):
        for seg in self.segs:
            if seq in seg.seqs:
                return True
        return False

    def has_alarm(self):
        return any(s.alarms for s in self.segs)
