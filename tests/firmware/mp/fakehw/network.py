# FAKE network module for firmware unit tests: a WLAN station that "connects" to the
# access points in APS after a delay. Tests edit APS / FAIL to script the radio.
import os
import time

MAC = b"\xa4\xcf" + os.urandom(4)   # one per process: each test is a new board

STA_IF = 0

# (ssid, bssid, channel, rssi, password)
APS = [("lab", b"\x11\x22\x33\x44\x55\x66", 6, -60, "pw")]
CONNECT_MS = 300          # time a connect takes (the driver scans every channel)
calls = []
scans = 0


class _WLAN:
    def __init__(self):
        self._active = False
        self._target = None
        self._t = 0
        self._delay = 0
        self._ch = 1

    def active(self, v=None):
        if v is None:
            return self._active
        self._active = bool(v)

    def _ap(self):
        if self._target is None:
            return None
        ssid, pw, bssid = self._target
        for ap in APS:
            if ap[0] == ssid and ap[4] == pw and (bssid is None or ap[1] == bssid):
                return ap
        return None

    def connect(self, *args, bssid=None):
        # as the ESP32 port (network_wlan.c network_wlan_connect): positional arguments rebuild
        # the station config from zero (the channel of config(channel=) is lost); a connect
        # while the driver still connects or reconnects raises "Wifi Internal Error"
        if self._target is not None and not self.isconnected():
            calls.append(("connect-refused", args[0] if args else None, bssid))
            raise OSError("Wifi Internal Error")
        if args:
            self._target = (args[0], args[1] if len(args) > 1 else "", bssid)
            self._ch = 0
        calls.append(("connect", self._target[0], self._target[2]))
        self._t = time.ticks_ms()
        self._delay = CONNECT_MS        # every channel scanned, BSSID or not

    def disconnect(self):
        calls.append(("disconnect",))
        self._target = None

    def isconnected(self):
        ap = self._ap()
        return ap is not None and time.ticks_diff(time.ticks_ms(), self._t) >= self._delay

    def status(self, param=None):
        if param == "rssi":
            ap = self._ap()
            return ap[3] if ap else 0
        if self.isconnected():
            return 1010                 # STAT_GOT_IP
        return 1001 if self._target else 1000   # STAT_CONNECTING (also reconnecting), STAT_IDLE

    def config(self, *args, **kw):
        if "channel" in kw:
            calls.append(("config", "channel", kw["channel"]))
            self._ch = kw["channel"]
            return None
        if args and args[0] == "mac":
            return MAC
        if args and args[0] == "channel":
            ap = self._ap()
            return ap[2] if ap else self._ch
        raise ValueError("unknown config param")

    def scan(self):
        global scans
        scans += 1
        return [(ap[0].encode(), ap[1], ap[2], ap[3], 3, 0) for ap in APS]

    def ifconfig(self):
        return ("10.0.0.2", "255.255.255.0", "10.0.0.1", "10.0.0.1") if self.isconnected() \
            else ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")


_sta = _WLAN()


def WLAN(iface=STA_IF):
    """One station interface, as on ESP32."""
    return _sta
