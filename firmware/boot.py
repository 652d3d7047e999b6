# boot.py -- runs first after every reset. Tiny and stable: OTA never replaces it.
#
# Chooses the application slot (/app_a or /app_b), puts it first on sys.path,
# counts boots that ended before the application marked them healthy (hello ok)
# or clean (voluntary sleep/reboot), and after MAX_TRIES such failed boots falls
# back to the last good slot (or the other valid one). Records reset cause and
# wake reason for the application's hello. State: /state/boot.json (see
# app/bootstate.py for the fields). Must not import anything from the app.
#
# Which unfinished boots count as failed, from what the ESP32 port reports
# (ports/esp32/modmachine.c mp_machine_reset_cause()):
# - WDT_RESET (a hang), HARD_RESET (a panic, or machine.reset() without a clean mark),
#   DEEPSLEEP_RESET (a trial slot slept without reaching the fleet): count.
# - PWRON_RESET: the port reports a brownout (ESP_RST_BROWNOUT) as a power-on. A weak
#   battery that sags under the Wi-Fi transmit current resets the chip this way on
#   every wake, and so do a power cut and the EN button: none says the application is
#   broken. Counts only on a slot on trial (after an update, where a rollback is cheap);
#   never on a confirmed slot, which would otherwise be abandoned for a flat battery.
# - SOFT_RESET (Ctrl-D, mpremote, sys.exit()): a person or the app itself; never
#   counts, and the soft boot is not pending (a deploy session in the raw REPL is
#   not a trial of the slot). The watchdog survives a soft reset on the ESP32 (main.c
#   never stops it), so it is stretched here to give a deploy session time.
import sys
import os
import json
import time

MAX_TRIES = 3
TRIES_CAP = 16              # counted up to here: a crash loop stops writing boot.json
DEPLOY_WDT_MS = 600000      # watchdog after a soft reset: a deploy session's time
_T0 = time.ticks_ms()

_RESET = {1: "power_on", 2: "hard", 3: "wdt", 4: "deepsleep", 5: "soft"}   # brownout reads 1
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


def _compact(st):
    return {k: v for k, v in st.items() if v or k == "slot"}


def _write(path, st):
    try:
        os.mkdir(path[:path.rfind("/")])
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        # compact, no false/zero fields: at most 128 bytes LittleFS keeps the file inside its
        # directory's metadata, a small commit; a bigger one costs a sector erase per write
        f.write(json.dumps(_compact(st), separators=(",", ":")))
    try:
        os.rename(tmp, path)            # LittleFS: atomic replace
    except OSError:
        try:
            os.remove(path)             # FAT: rename does not replace
        except OSError:
            pass
        os.rename(tmp, path)


def _stretch_watchdog():
    # A watchdog the application armed keeps running after a soft reset, unfed: give the
    # session DEPLOY_WDT_MS (a new WDT() reconfigures the running one, machine_wdt.c).
    # If none ran, this arms one: a board left at the REPL resets into its app.
    try:
        import machine
        machine.WDT(timeout=DEPLOY_WDT_MS)
        _log("I", "soft reset: watchdog %d s for this session" % (DEPLOY_WDT_MS // 1000))
    except (ImportError, AttributeError, ValueError, OSError):
        pass


def run(root=""):
    path = root + "/state/boot.json"
    try:
        with open(path) as f:
            st = json.load(f)
        if not isinstance(st, dict):
            st = {}
    except (OSError, ValueError):
        st = {}
    before = _compact(st)
    slot = st.get("slot")
    if slot not in ("a", "b"):
        slot = "a"
    tries = st.get("tries", 0)
    if not isinstance(tries, int):
        tries = 0
    rc, wr = _causes()
    if st.get("pending") and (rc in ("hard", "wdt", "deepsleep", "unknown")
                              or (rc == "power_on" and st.get("trial"))):
        tries = min(tries + 1, TRIES_CAP)   # the previous boot never became healthy or clean
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
    st["slot"] = slot
    st["tries"] = tries
    st["pending"] = rc != "soft"
    st["reset_cause"] = rc
    st["wake_reason"] = wr
    st["version"] = _version(root, slot)
    if _compact(st) != before:          # nothing new (a crash loop at TRIES_CAP): no write
        try:
            _write(path, st)
        except OSError as ex:
            _log("E", "cannot write %s: %s" % (path, ex))
    if rc == "soft":
        _stretch_watchdog()
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
