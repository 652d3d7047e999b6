# FAKE DNS server for MicroPython tests: put in resolve.getaddrinfo (the firmware's DNS
# boundary), it answers after a delay - blocking its caller, as lwIP's getaddrinfo does - or
# fails (an outage). Everything else (resolve.py, the link, the fleet) is real.
import time
import socket
import resolve

_real_getaddrinfo = socket.getaddrinfo


class FakeDns:
    """A DNS server that answers after delay_ms, or (answer None) fails then (an outage)."""

    def __init__(self, delay_ms, answer="127.0.0.1"):
        self.delay_ms = delay_ms
        self.answer = answer
        self.calls = 0
        resolve.getaddrinfo = self

    def __call__(self, host, port, *args):
        self.calls += 1
        time.sleep_ms(self.delay_ms)      # blocks its caller, as lwIP's getaddrinfo does
        if self.answer is None:
            raise OSError(-202)           # lwIP: EAI_FAIL
        return _real_getaddrinfo(self.answer, port, *args)
