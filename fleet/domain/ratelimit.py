"""Per-device request budget: a token bucket per authenticated device.

A healthy device sends a few requests a minute; a device stuck in a loop (a firmware bug
resending hello, a retry without backoff) could take the server from every other device.
Checked after the signature, so nobody but the device itself can spend its budget (a
stranger who knows a device id cannot silence its alarms). The refusal is `rate_limited`
(429); the device backs off as for any server error. Buckets live in memory, one small list
per device that has talked since the start.
"""


class DeviceRateLimit:
    """`burst` requests at once, then `rate` per second sustained; rate 0 turns it off."""

    def __init__(self, rate, burst):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._buckets = {}    # device id -> [tokens, time of last refill]

    def allow(self, device_id, now):
        """Spend one request of the device's budget; False if none is left."""
        if self.rate <= 0:
            return True
        bucket = self._buckets.get(device_id)
        if bucket is None:
            bucket = self._buckets[device_id] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True
