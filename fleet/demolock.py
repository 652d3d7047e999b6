"""One demo per data dir: the running `fleet demo` holds a lock file that says where it is.

The demo keeps its database, key and virtual boards in one folder (the data dir, var/ by
default). It takes an exclusive flock on DATA_DIR/demo.lock before it changes anything there and
writes what a second demo (or the CLI) needs to know: its pid, database and URL. The kernel drops
the lock when the process ends, however it ends, so a stale file from a killed demo never blocks
the next one.
"""

import fcntl
import json
import os
from pathlib import Path

from fleet.errors import Conflict

LOCK_NAME = "demo.lock"


class DemoRunning(Conflict):
    """Another demo holds the data dir; .info is what it wrote (pid, db, url), possibly partial."""

    def __init__(self, info, lock_path):
        self.info = info
        self.lock_path = lock_path
        super().__init__("a demo is already running with %s" % lock_path.parent, code="demo_running")


class DemoLock:
    def __init__(self, data_dir):
        self.path = Path(data_dir) / LOCK_NAME
        self._fd = None

    def acquire(self):
        """Take the lock (DemoRunning if another process holds it); creates the data dir."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DemoRunning(read_info(self.path), self.path)
        self._fd = fd
        return self

    def publish(self, **info):
        """Replace what the lock file says (pid is added)."""
        data = json.dumps(dict(info, pid=os.getpid()), default=str).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self):
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)          # closing drops the flock
            self._fd = None


def read_info(path):
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def running_demo(data_dir):
    """What the demo running with data_dir wrote in its lock file, or None if no demo holds it."""
    path = Path(data_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None                     # nobody holds it: a file left by a demo that has ended
    except BlockingIOError:
        return read_info(path)
    finally:
        os.close(fd)
