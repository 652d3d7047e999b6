# Exponential backoff with jitter ("equal jitter": half fixed, half random), so a
# fleet of devices that lost the network together does not retry in lockstep.
import os


class Backoff:
    def __init__(self, base=1000, cap=60000):
        self.base = base            # ms
        self.cap = cap
        self.n = 0

    def next(self):
        h = min(self.cap, self.base << min(self.n, 20)) // 2
        self.n += 1
        return h + int.from_bytes(os.urandom(4), "little") % (h + 1)   # RNG: no lockstep

    def reset(self):
        self.n = 0
