"""Per-device request budget: a token bucket per authenticated device.

A healthy device sends a few requests a minute; a device stuck in a loop (a firmware bug
resending hello, a retry without backoff) could take the server from every other device.
Checked after the signature, so nobody but the device itself can spend its budget (a
stranger who knows a device id cannot silence its alarms). The refusal is `rate_limited`
(429); the device backs off as for any server error. Buckets live in memory: two floats per
device that has talked since the start, in two dicts of floats, which the garbage collector
does not track (a list per device made every full collection walk 10,000 of them).
"""


class DeviceRateLimit:
    """`burst` requests at once, then `rate` per second sustained; rate 0 turns it off."""

    def __init__(self, rate, burst):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._tokens = {}     # device id -> tokens left
        self._refilled = {}   # device id -> time of the last refill

    def allow(self, device_id, now):
        """Spend one request of the device's budget; False if none is left."""
        if self.rate <= 0:
            return True
        last = self._refilled.get(device_id)
        if last is None:
            tokens = self.burst
        else:
            tokens = min(self.burst, self._tokens[device_id] + (now - last) * self.rate)
        self._refilled[device_id] = now
        if tokens < 1.0:
            self._tokens[device_id] = tokens
            return False
        self._tokens[device_id] = tokens - 1.0
        return True
