# boot.py -- runs first after every reset. Tiny and stable: OTA never replaces it.
#
# Chooses the application slot (/app_a or /app_b), puts it first on sys.path,
# counts boots that ended before the application marked them healthy (hello ok)
# or clean (voluntary sleep/reboot), and after MAX_TRIES such failed boots falls
# back to the last good slot (or the other valid one). Records reset cause and
# wake reason for the application's hello. State: /state/boot.json (see
# app/bootstate.py for the fields). Must not import anything from the app.
import sys
import os
import json
import time

MAX_TRIES = 3
_T0 = time.ticks_ms()

_RESET = {1: "power_on", 2: "hard", 3: "wdt", 4: "deepsleep", 5: "soft", 6: "brownout"}
_WAKE = {0: "none", 2: "pin", 3: "ext1", 4: "timer", 5: "touch", 6: "ulp", 7: "pin"}


def _log(lv, msg):
    ms = time.ticks_diff(time.ticks_ms(), _T0)
    print("%s %d.%03d boot: %s" % (lv, ms // 1000, ms % 1000, msg))


def _version(root, slot):
    try:
        with open(root + "/app_" + slot + "/app.json") as f:
            v = json.load(f)["version"]
        return v if isinstance(v, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _causes():
    try:
        import machine
        rc = _RESET.get(machine.reset_cause(), "unknown")
        wr = _WAKE.get(machine.wake_reason(), "unknown")
        if rc != "deepsleep" and wr == "unknown":
            wr = "none"
        return rc, wr
    except (ImportError, AttributeError):
        return "unknown", "unknown"


def _write(path, st):
    try:
        os.mkdir(path[:path.rfind("/")])
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    try:
        os.rename(tmp, path)
    except OSError:
        try:
            os.remove(path)             # FAT: rename does not replace
            os.rename(tmp, path)
        except OSError:
            pass
    try:
        os.stat(tmp)                    # still there: the rename failed or did nothing
    except OSError:
        return                          # (unix VfsPosix mounted with a root: a no-op)
    with open(path, "w") as f:          # last resort: in place, not atomic
        json.dump(st, f)
    os.remove(tmp)


def run(root=""):
    path = root + "/state/boot.json"
    try:
        with open(path) as f:
            st = json.load(f)
        if not isinstance(st, dict):
            st = {}
    except (OSError, ValueError):
        st = {}
    slot = st.get("slot")
    if slot not in ("a", "b"):
        slot = "a"
    tries = st.get("tries", 0)
    if not isinstance(tries, int):
        tries = 0
    if st.get("pending"):
        tries = min(tries + 1, 255)   # the previous boot never became healthy or clean
    other = "b" if slot == "a" else "a"
    good = st.get("good")
    note = None
    if _version(root, slot) is None and _version(root, other) is not None:
        note = "slot %s has no valid app, using %s" % (slot, other)
        slot, tries = other, 0
        st["trial"] = False
    elif tries >= MAX_TRIES:
        alt = good if good in ("a", "b") and good != slot else other
        if _version(root, alt) is not None:
            note = "slot %s failed %d boots, fell back to %s" % (slot, tries, alt)
            st["bad"] = slot
            slot, tries = alt, 0
            st["trial"] = False
        elif tries == MAX_TRIES:
            _log("W", "slot %s failed %d boots, no other valid slot" % (slot, tries))
    if note:
        st["note"] = note
        _log("W", note)
    rc, wr = _causes()
    st["slot"] = slot
    st["tries"] = tries
    st["pending"] = True
    st["reset_cause"] = rc
    st["wake_reason"] = wr
    st["version"] = _version(root, slot)
    try:
        _write(path, st)
    except OSError as ex:
        _log("E", "cannot write %s: %s" % (path, ex))
    d = root + "/app_" + slot
    for p in (root + "/app_a", root + "/app_b"):
        while p in sys.path:
            sys.path.remove(p)
    sys.path.insert(0, d)
    _log("I", "slot=%s app=%s tries=%d reset=%s wake=%s" % (slot, st["version"], tries, rc, wr))
    return st


try:
    ROOT
except NameError:
    ROOT = ""
run(ROOT)
