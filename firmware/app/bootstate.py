# The application's side of the boot contract with /boot.py. Loaded when the boot is read
# (start-up), marked healthy (hello.py) or clean (power.py), and dropped after each: mark()
# reads /state/boot.json again, so nothing of this module stays in the heap meanwhile.
#
# /state/boot.json (written by boot.py at every reset, read here):
#   slot         "a" | "b"   active application slot
#   tries        int         consecutive boots of this slot that failed
#   pending      bool        this boot has not yet been marked healthy or clean
#   good         "a"|"b"|None last slot that reached the fleet (hello ok)
#   trial        bool        slot is on trial (set by OTA): clean sleeps do not count,
#                            only a hello ok confirms it
#   reset_cause, wake_reason protocol names, recorded by boot.py
#   version      str         app.json version of the active slot
#   note         str         set by boot.py after a fallback; reported then removed
# A boot "fails" when it ends while still pending by a watchdog or hard reset (panic), by
# a deep sleep on a trial slot, or by a power-on reset on a trial slot only: the ESP32
# port reports a brownout as PWRON_RESET, and a weak battery must not make a confirmed
# slot look broken. Soft resets (mpremote, Ctrl-D) never count (see /boot.py).
import store
from micropython import const

_PATH = const("/state/boot.json")


class BootState:
    def __init__(self):
        st = store.read_json(_PATH, None)
        self.st = st if isinstance(st, dict) else {}
        self.healthy = False
        s = self.st.get("slot")
        self.slot = s if s in ("a", "b") else "a"

    def get(self, key, default=None):
        return self.st.get(key, default)

    def _save(self):
        store.makedirs("/state")
        # as boot.py writes it: no false/zero fields, so it stays within LittleFS's 128-byte
        # inline files (a metadata commit, not a sector erase, per write)
        store.write_json(_PATH, {k: v for k, v in self.st.items() if v or k == "slot"})

    def mark_healthy(self):
        """Hello ok: the slot works. Resets the failure count, confirms the slot."""
        if self.healthy:
            return
        self.healthy = True
        st = self.st
        changed = st.get("pending") or st.get("tries") or st.get("trial") \
            or st.get("good") != self.slot or "note" in st
        st["pending"] = False
        st["tries"] = 0
        st["trial"] = False
        st["good"] = self.slot
        if "note" in st:
            del st["note"]
        if changed:
            self._save()

    def mark_clean(self):
        """Voluntary deep sleep or reboot: this boot did not crash.

        On a trial slot only a hello ok counts, so nothing changes there."""
        st = self.st
        if st.get("trial") or not st.get("pending"):
            return
        st["pending"] = False
        st["tries"] = 0
        self._save()


def load():
    """The boot state as boot.py left it, for a module that changes it (ota, otagate); this
    module leaves sys.modules now and the heap when the object is dropped."""
    import sys
    sys.modules.pop("bootstate", None)
    return BootState()


def mark(how):
    """Mark this boot "healthy" or "clean" (see BootState), with the module dropped after."""
    import sys
    try:
        st = BootState()
        st.mark_healthy() if how == "healthy" else st.mark_clean()
    finally:
        sys.modules.pop("bootstate", None)
