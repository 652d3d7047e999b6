# Persistent queue of numbered events on flash, safe against a power cut at any instant.
#
# One small file per event in /state/outbox (format 2). On the board's LittleFS a file of
# up to 128 bytes lives inside its directory's metadata: creating it is a metadata commit
# of about its size, deleting it a commit of a few bytes, and a 4 KB sector is erased only
# when the directory's metadata log fills. Appending to a segment file instead costs LittleFS
# a copy of the file's last block -- one sector erase and ~2 KB programmed per event
# (measured: benchmarks/firmware.py, docs/performance.md).
#   h             HEAD   stream, next_seq, ack (u32 each)
#   e<seq:08d>    EVENT  stream, seq, t, u8 type length, type (ASCII), data (JSON)
#   a<seq:08d>    EVENT  the same, for alarm and alarm_cancel (the name tells the full policy)
#   d<seq:08d>    DROP   lo, hi, t -- the event was dropped (outbox full, or refused by the
#                        fleet): sent as an "error" placeholder so the fleet's ack stays whole
# Each file is one record: u8 magic 0xB5 | u8 kind | u16 len (LE) | payload | u32 CRC32 (LE)
# (CRC32 = binascii.crc32 over the 4 header bytes and the payload; integers little-endian).
# Power cuts: LittleFS commits a file whole when it is closed, so a record is on flash or
# not; an empty or bad file is the event whose append never returned. Acks delete files,
# oldest first; before deleting the last pending one the head records next_seq and ack, so
# a sequence number is never reused. Whatever stored file is at or below the ack is deleted
# when the outbox opens (a delete the power cut stopped); below the lowest stored event
# everything was acked. Opening (the scan) is obscan.py, the full policy and placeholders
# obfull.py: each loaded when needed, then dropped.
#
# Full policy (bounded by max_events pending and max_bytes of event files): the oldest
# non-alarm events are dropped; alarm/alarm_cancel never are. If only alarms remain,
# non-alarm appends are refused (Full); alarms are accepted up to hard_bytes (then the
# flash itself is the limit).
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
DROP = 4
ALARMS = ("alarm", "alarm_cancel")


class Full(Exception):
    pass


def frame(kind, data):
    n = len(data)
    hdr = bytes((_MAGIC, kind, n & 0xFF, n >> 8))
    crc = binascii.crc32(data, binascii.crc32(hdr)) & 0xFFFFFFFF
    return hdr + data + crc.to_bytes(4, "little")


def unframe(raw):
    """(kind, payload) of a whole record, or None if it is torn or corrupt."""
    if len(raw) < 8 or raw[0] != _MAGIC:
        return None
    n = raw[2] | (raw[3] << 8)
    if len(raw) != n + 8:
        return None
    body = raw[4:4 + n]
    if binascii.crc32(body, binascii.crc32(raw[:4])) & 0xFFFFFFFF != int.from_bytes(raw[4 + n:], "little"):
        return None
    return raw[1], body


class Outbox:
    def __init__(self, path="/state/outbox", max_bytes=32768, max_events=300, hard_bytes=None,
                 clock=None):
        self.dir = store.path(path)
        self.max_bytes = max_bytes
        self.max_events = max_events
        self.hard_bytes = hard_bytes or max_bytes * 2
        self.clock = clock
        self.stream = 0
        self.next_seq = 1
        self.ack = 0
        self.seqs = []           # stored pending events (not dropped), ascending
        self.sizes = []          # their file sizes
        self.alarms = []         # the alarm seqs among them
        self.drops = []          # [lo, hi, t, file] ranges of dropped seqs above ack (file: d<file>)
        self.bytes = 0           # sum of sizes
        self.written = 0         # bytes written since open (flash wear figure)
        self.dropped = 0         # events dropped since open
        self.refused = 0         # appends refused since open
        store.makedirs(path)
        import obscan
        try:
            obscan.scan(self)
        finally:
            del sys.modules["obscan"]   # once per wake: its code does not stay in the heap

    def fname(self, kind, seq):
        return "%s/%s%08d" % (self.dir, kind, seq)

    # ---- state queries ----------------------------------------------------------
    def pending(self):
        """Events (including dropped placeholders) not yet acked by the fleet."""
        return self.next_seq - 1 - self.ack

    def live(self):
        return len(self.seqs)

    def used(self):
        return self.bytes

    def is_dropped(self, seq):
        for d in self.drops:
            if d[0] <= seq <= d[1]:
                return True
        return False

    # ---- writing ----------------------------------------------------------------
    def write_file(self, name, kind, data):
        rec = frame(kind, data)
        with open(name, "wb") as f:
            f.write(rec)
        self.written += len(rec)
        return len(rec)

    def write_head(self):
        """The head: written with a new stream and when an ack leaves nothing pending."""
        self.write_file(self.dir + "/h", HEAD, struct.pack("<III", self.stream, self.next_seq, self.ack))

    def append(self, kind, data=None, t=None):
        """Store one event; returns its seq. Raises Full when refused (never for alarms)."""
        if data is None:
            data = {}
        tb = kind.encode()
        db = json.dumps(data, separators=(",", ":")).encode()
        alarm = kind in ALARMS
        n = 8 + 13 + len(tb) + len(db)
        if not self._fits(n, alarm):
            import obfull                    # the full policy: rarely needed, loaded then
            if not obfull.make_room(self, n, alarm):
                self.refused += 1
                log.w("outbox", "full, refused %s" % kind)
                raise Full(kind)
        if t is None:
            t = self.clock.now() if self.clock is not None else 0
        seq = self.next_seq
        n = self.write_file(self.fname("a" if alarm else "e", seq), EVENT,
                            struct.pack("<IIIB", self.stream, seq, max(0, int(t)), len(tb)) + tb + db)
        self.next_seq = seq + 1
        self.seqs.append(seq)
        self.sizes.append(n)
        self.bytes += n
        if alarm:
            self.alarms.append(seq)
        return seq

    def _fits(self, n, alarm):
        if self.bytes + n > self.max_bytes:
            return False
        return alarm or len(self.seqs) < self.max_events

    # ---- reading and acknowledgement --------------------------------------------
    def read_event(self, seq):
        """(t, type bytes, data bytes) of a stored event, or None if unreadable."""
        name = self.fname("a" if seq in self.alarms else "e", seq)
        try:
            with open(name, "rb") as f:
                r = unframe(f.read())
        except OSError:
            return None
        if r is None or r[0] != EVENT or struct.unpack_from("<I", r[1])[0] != self.stream:
            return None
        p = r[1]
        n = p[12]
        return struct.unpack_from("<I", p, 8)[0], p[13:13 + n], p[13 + n:]

    def batch(self, count=50, max_bytes=4096):
        """JSON texts (bytes) of the oldest pending events, in seq order (ack+1, ack+2, ...)."""
        out = []
        size = 0
        for s in range(self.ack + 1, min(self.next_seq - 1, self.ack + count) + 1):
            ev = self.read_event(s) if s in self.seqs else None
            if ev is not None:
                j = b'{"seq":%d,"t":%d,"type":"%s","data":%s}' % (s, ev[0], ev[1], ev[2])
            else:
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
        gone = [d for d in self.drops if d[1] <= n]
        self.drops = [d for d in self.drops if d[1] > n]
        for d in self.drops:
            d[0] = max(d[0], n + 1)
        if n == self.next_seq - 1:
            self.write_head()                # nothing left to hold next_seq: the head does
        for d in gone:
            self.remove("d", d[3])
        while self.seqs and self.seqs[0] <= n:
            s = self.seqs.pop(0)
            self.bytes -= self.sizes.pop(0)
            alarm = s in self.alarms
            if alarm:
                self.alarms.remove(s)
            self.remove(("a" if alarm else "e"), s)
        return freed

    def remove(self, kind, seq):
        try:
            os.remove(self.fname(kind, seq))
        except OSError:
            pass
