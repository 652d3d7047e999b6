# Small JSON files on flash, written atomically (temp file + rename).
# Every firmware path is logical ("/state/x.json"); ROOT is prepended, so unit tests
# can point the firmware at a temporary directory. On a board ROOT is "".
import os
import json

ROOT = ""


def path(p):
    return ROOT + p


def exists(p):
    try:
        os.stat(path(p))
        return True
    except OSError:
        return False


def makedirs(p):
    """Create directory p (logical) and its parents; ignore existing ones."""
    full = path(p)
    cur = "/" if full.startswith("/") else ""
    for part in full.split("/"):
        if not part:
            continue
        cur = cur + part
        try:
            os.mkdir(cur)
        except OSError:
            pass
        cur = cur + "/"


def remove(p):
    try:
        os.remove(path(p))
        return True
    except OSError:
        return False


def read_json(p, default=None):
    """Parsed content of p, or default when missing or unreadable.

    If p is missing but p.tmp is complete (power cut between remove and rename on a
    filesystem whose rename does not replace), the temp file is used."""
    full = path(p)
    for f in (full, full + ".tmp"):
        try:
            with open(f) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            pass
    return default


def write_atomic(p, data):
    """Replace file p with data (str or bytes) so a power cut leaves old or new, never half."""
    full = path(p)
    tmp = full + ".tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as f:
        f.write(data)
    try:
        os.rename(tmp, full)             # LittleFS: atomic replace
    except OSError:                      # FAT: rename does not replace an existing file
        try:
            os.remove(full)
        except OSError:
            pass
        os.rename(tmp, full)


def write_json(p, data):
    write_atomic(p, json.dumps(data, separators=(",", ":")))
