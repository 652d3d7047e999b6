"""Replay protection: remember each (device, nonce) while its timestamp is inside the window.

A nonce only has to be remembered until its request's timestamp leaves the clock window:
after that the timestamp check refuses a replay anyway. So an entry lives until
timestamp + CLOCK_WINDOW, and the cache holds at most about (requests/s x 300 s) entries.

It is bounded (`capacity`): when full, the entries closest to expiry are dropped and the
cache raises a floor - a request whose timestamp is so old that its nonce might have been
dropped is refused as `replay` (the device re-signs with a fresh time and nonce). Memory
stays bounded and no replay gets through.

In memory, for one process. The runtime saves it to the database at shutdown and loads it
at start; after a crash (kill -9) the last minutes of nonces are lost, so the runtime raises
the floor to the start time (`refuse_signed_before`): a request signed before the restart is
refused as `replay` and the device re-signs. No replay gets through a crash either.
"""

import devproto


class NonceCache:
    """Seen (device, nonce) pairs, bucketed by the whole second they expire in.

    Under load the cache holds ~600,000 keys (2,000 requests/s x 300 s), and every one of them
    stays out of the garbage collector's sight: a bucket is a dict of str -> None, and CPython
    does not track a dict that holds only strings and ints, so a full collection skips it.
    As lists, the buckets made each full collection walk every key: 50-170 ms with the event
    loop frozen, every few seconds, on a 10,000-device fleet (docs/performance.md).
    """

    def __init__(self, capacity=500_000, window=devproto.CLOCK_WINDOW):
        self.capacity = capacity
        self.window = window
        self._expiry = {}     # "device\nnonce" -> expiry second
        self._buckets = {}    # expiry second -> {key: None} (untracked by the GC)
        self._oldest = None   # smallest second that may still have a bucket
        self.floor = 0        # requests expiring at or before this second cannot be vouched for

    def __len__(self):
        return len(self._expiry)

    def add(self, device_id, nonce, timestamp, now):
        """Remember the nonce; False if it was already seen (a replay)."""
        self._forget_expired(now)
        expires = int(timestamp) + self.window
        if expires <= self.floor:
            return False
        key = device_id + "\n" + nonce
        if key in self._expiry:
            return False
        self._expiry[key] = expires
        bucket = self._buckets.get(expires)
        if bucket is None:              # (not setdefault: that makes a dict on every request)
            bucket = self._buckets[expires] = {}
        bucket[key] = None
        if self._oldest is None or expires < self._oldest:
            self._oldest = expires
        if len(self._expiry) > self.capacity:
            self._drop_oldest()
        return True

    def refuse_signed_before(self, timestamp):
        """Refuse every request whose timestamp is before `timestamp` (whole seconds)."""
        self.floor = max(self.floor, int(timestamp) - 1 + self.window)

    def _drop_oldest(self):
        while self._oldest not in self._buckets:
            self._oldest += 1
        bucket = self._buckets[self._oldest]
        del self._expiry[bucket.popitem()[0]]
        self.floor = max(self.floor, self._oldest)
        if not bucket:
            del self._buckets[self._oldest]

    def _forget_expired(self, now):
        if self._oldest is None:
            return
        while self._oldest < now and self._buckets:
            for key in self._buckets.pop(self._oldest, ()):
                del self._expiry[key]
            self._oldest += 1
        if not self._buckets:
            self._oldest = None

    def dump(self, now):
        """[(device_id, nonce, expires)] still worth keeping."""
        self._forget_expired(now)
        return [tuple(key.split("\n", 1)) + (exp,) for key, exp in self._expiry.items()]

    def load(self, entries, now):
        for device_id, nonce, expires in entries:
            if expires >= now:
                self.add(device_id, nonce, expires - self.window, now)
