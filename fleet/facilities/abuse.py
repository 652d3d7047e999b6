"""Abuse controls of the public report path: a bounded token bucket per sender, and the keyed
hash that stands for a sender's address (no IP address is stored with a report).

Anonymous senders (the public form) get `report_burst` reports at once, then `report_per_hour`;
an Open311 app's key x10, per key and address. Buckets live in memory, at most MAX_KEYS (the
oldest dropped first), so a flood from many addresses cannot exhaust memory.
"""

import collections
import hashlib
import hmac
import math
import threading
from pathlib import Path

MAX_KEYS = 100_000
APP_FACTOR = 10


class ReportLimit:
    def __init__(self, burst, per_hour, max_keys=MAX_KEYS):
        self.burst = max(1.0, float(burst))
        self.rate = max(0.0, float(per_hour)) / 3600.0
        self.max_keys = max_keys
        self._buckets = collections.OrderedDict()      # key -> [tokens, last refill]
        self._lock = threading.Lock()

    def take(self, key, now, factor=1):
        """Spend one report of key's budget: 0 if allowed, else the seconds to wait."""
        burst, rate = self.burst * factor, self.rate * factor
        with self._lock:
            bucket = self._buckets.pop(key, None) or [burst, now]
            tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if tokens < 1.0:
                bucket[0] = tokens
                return math.inf if rate <= 0 else (1.0 - tokens) / rate
            bucket[0] = tokens - 1.0
            return 0


class ClientHash:
    """A sender's address -> a short keyed hash (HMAC under the fleet key): repeats from one
    address can be grouped without keeping the address."""

    def __init__(self, key_path):
        self._key = hashlib.sha256(b"facilities-client\n" + Path(key_path).read_bytes()).digest()

    def __call__(self, address):
        return hmac.new(self._key, (address or "").encode(), hashlib.sha256).hexdigest()[:32]
