# Host name -> IPv4 address, off the asyncio loop. socket.getaddrinfo blocks its caller
# until DNS answers or gives up (seconds in an outage); on the loop that would freeze a
# call button's light and tone. The lookup runs in a thread - the ESP32 port releases the
# GIL around lwIP's getaddrinfo (ports/esp32/modsocket.c, _getaddrinfo_inner) - and the
# loop only polls for the answer. One lookup per host at a time: a request that gives up
# waiting leaves the thread running and the next request picks its answer up. The link
# keeps the address in RTC memory, so a board resolves once per power-on.
import asyncio
import socket

getaddrinfo = socket.getaddrinfo    # the DNS boundary (tests put a fake DNS here)
_pending = {}                       # host -> [answer or exception] being looked up


def is_address(host):
    """An IPv4 or IPv6 literal needs no lookup."""
    if ":" in host:
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _address(sockaddr):
    # ESP32: ('1.2.3.4', port); unix port: struct sockaddr_in bytes (family, port, addr).
    if isinstance(sockaddr, (tuple, list)):
        return sockaddr[0]
    return "%d.%d.%d.%d" % tuple(sockaddr[4:8])


def _lookup(host, port, box):
    try:
        box.append(_address(getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][-1]))
    except Exception as ex:     # noqa: BLE001 - handed to the waiting task, not lost
        box.append(OSError("DNS lookup of %s failed: %s" % (host, ex)))


async def resolve(host, port, timeout_ms=10000):
    if is_address(host):
        return host
    box = _pending.get(host)
    if box is None:
        box = _pending[host] = []
        try:
            import _thread
            _thread.start_new_thread(_lookup, (host, port, box))
        except (ImportError, OSError, RuntimeError):
            _lookup(host, port, box)        # no threads: blocks, as asyncio itself would
    waited = 0
    while not box:
        if waited >= timeout_ms:
            raise OSError("DNS: no answer for %s after %d ms" % (host, waited))
        await asyncio.sleep_ms(20)
        waited += 20
    if _pending.get(host) is box:
        del _pending[host]
    if isinstance(box[0], Exception):
        raise box[0]
    return box[0]
