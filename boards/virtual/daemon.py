"""`python -m boards.virtual.daemon --home DIR`: the background host behind the `vboard` CLI."""

import argparse
import asyncio
import signal
import sys

from .errors import VBoardError
from .host import Host


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m boards.virtual.daemon")
    ap.add_argument("--home", default=None, help="VBOARD_HOME (default: $VBOARD_HOME or ./var/vboards)")
    ap.add_argument("--heapsize", default=None, help="MicroPython heap for every board, e.g. 256k")
    args = ap.parse_args(argv)
    try:
        host = Host(args.home, heapsize=args.heapsize, mode="daemon")
    except VBoardError as e:
        print("vboard daemon: %s" % e, file=sys.stderr)
        return 2

    async def run():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(host.stop()))
        await host.serve_forever()

    try:
        asyncio.run(run())
    except VBoardError as e:
        print("vboard daemon: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
