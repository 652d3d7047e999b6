# Exponential backoff with jitter ("equal jitter": half fixed, half random), so a
# fleet of devices that lost the network together does not retry in lockstep.
import os


def _rand(n):
    """Uniform integer in 0..n-1 from the hardware RNG."""
    if n <= 1:
        return 0
    return int.from_bytes(os.urandom(4), "little") % n


class Backoff:
    def __init__(self, base_ms=1000, cap_ms=60000):
        self.base = base_ms
        self.cap = cap_ms
        self.n = 0

    def peek(self):
        """The ceiling of the next delay, without jitter."""
        return min(self.cap, self.base << min(self.n, 20))

    def next(self):
        d = self.peek()
        self.n += 1
        return d // 2 + _rand(d // 2 + 1)

    def reset(self):
        self.n = 0
