"""Host side of a virtual board's Wi-Fi: the simulated access point and the station's state.

Follows the MicroPython esp32 port's rules: connect() returns at once and the station reports
STAT_CONNECTING; with the default reconnects=-1 it keeps retrying (and keeps reporting
STAT_CONNECTING) while no access point answers; a wrong password stops the attempts with
STAT_WRONG_PASSWORD; a lost access point is noticed after wifi_loss_ms (STAT_BEACON_TIMEOUT),
then the station reconnects on its own. Times come from the world (wifi_fast_ms with a known
BSSID, wifi_scan_ms otherwise).
"""

import asyncio
import hashlib

STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202

NEIGHBOURS = [
    # ssid, bssid, channel, rssi, security, hidden
    ["Xialu-Community", "3c84277f1a20", 1, -78, 0, 0],
    ["TP-LINK_3F2A", "50c7bf3f2a11", 11, -84, 3, 0],
]


def bssid_for(ssid):
    return "ac84c6" + hashlib.sha256(ssid.encode()).hexdigest()[:6]


class WifiSim:
    def __init__(self, rt):
        self.rt = rt
        self._task = None
        self._loss = None
        self.reset()

    def reset(self):
        self._cancel()
        self._aps_sent = None
        self.s = {"active": False, "requested": False, "connected": False, "trying": False, "failures": 0,
                  "reason": 0, "ssid": "", "bssid": None, "channel": 0, "rssi": -60}
        self.want = {"ssid": "", "key": "", "bssid": None, "reconnects": -1}

    def _cancel(self):
        for h in (self._task, self._loss):
            if h is not None:
                h.cancel()
        self._task = None
        self._loss = None

    # ------------------------------------------------------------------ the access point
    def ap(self):
        cfg_wifi = self.rt.config_wifi()
        ssid = self.rt.world.get("ap_ssid") or cfg_wifi.get("ssid") or "vboard-ap"
        pw = self.rt.world.get("ap_password")
        if pw is None:
            pw = cfg_wifi.get("password", "")
        return {"ssid": ssid, "password": pw or "", "bssid": bssid_for(ssid),
                "channel": int(self.rt.world.get("ap_channel") or 6), "rssi": int(self.rt.world.get("rssi", -60)),
                "security": 3 if pw else 0, "up": self.rt.wifi_up}

    def scan_list(self):
        ap = self.ap()
        out = [list(n) for n in NEIGHBOURS]
        if ap["up"]:
            out.insert(0, [ap["ssid"], ap["bssid"], ap["channel"], ap["rssi"], ap["security"], 0])
        return out

    def state(self):
        s = dict(self.s)
        s["aps"] = self.scan_list()
        if s["connected"]:
            mac = self.rt.mac
            s["ip"] = "10.0.%d.%d" % (int(mac[8:10], 16), max(2, int(mac[10:12], 16)))
            s["mask"] = "255.255.0.0"
            s["gw"] = "10.0.0.1"
            s["dns"] = "10.0.0.1"
            s["rssi"] = self.ap()["rssi"]
        return s

    @property
    def associated(self):
        return self.s["connected"]

    def push(self):
        # The scan list rides only when it changed: every byte here is decoded on the board's
        # heap, which on an ESP32 the Wi-Fi driver's events never touch.
        st = self.state()
        if st["aps"] == self._aps_sent:
            del st["aps"]
        else:
            self._aps_sent = st["aps"]
        self.rt.send_board({"op": "wlan", "wlan": st})
        self.rt.path_changed()

    def boot_state(self):
        """The state for a boot's init message (the board starts with this scan list)."""
        st = self.state()
        self._aps_sent = st["aps"]
        return st

    # ------------------------------------------------------------------ station events
    def on_active(self, on):
        self.s["active"] = bool(on)
        if not on:
            self._cancel()
            self.s.update(requested=False, connected=False, trying=False, reason=0)
        self.push()

    def on_config(self, reconnects):
        self.want["reconnects"] = int(reconnects)

    def _transmit(self):
        """The radio transmits (association): a battery under world brownout_below_v sags under
        the current and the brownout detector resets the chip."""
        w = self.rt.world
        limit = w.get("brownout_below_v") or 0
        if limit and w.get("battery_v", 3.0) < limit:
            msg = "brownout: battery %.2f V sagged under the Wi-Fi transmit current" % w.get("battery_v", 3.0)
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(self.rt.brownout(msg)))
            return False
        return True

    def on_connect(self, ssid, key, bssid, reconnects, channel=0):
        self._cancel()
        self.want.update(ssid=ssid or "", key=key or "", bssid=bssid, reconnects=int(reconnects))
        self.s.update(active=True, requested=True, connected=False, trying=True, failures=0, reason=0)
        if not self._transmit():
            self.push()
            return
        ap = self.ap()
        # The driver scans every channel unless the station config still names the AP's channel
        # (only after config(channel=) and a connect() without arguments: connect(ssid, key, ...)
        # zeroes it). A BSSID picks the AP; it does not shorten the scan.
        fast = bool(channel) and channel == ap["channel"] and ap["up"]
        w = self.rt.world
        self._schedule_attempt(w.get("wifi_fast_ms", 300) if fast else w.get("wifi_scan_ms", 1500))
        self.push()

    def on_disconnect(self):
        self._cancel()
        self.s.update(requested=False, connected=False, trying=False, reason=0)
        self.push()
        self.rt.note("wifi: station disconnected by the firmware")

    def _schedule_attempt(self, ms):
        loop = asyncio.get_running_loop()
        self._task = loop.call_later(max(0, ms) / 1000.0, self._attempt)

    def _allowed(self):
        rc = self.want["reconnects"]
        return rc < 0 or self.s["failures"] <= rc

    def _attempt(self):
        self._task = None
        if not self.s["requested"] or self.s["connected"]:
            return
        ap = self.ap()
        if ap["up"] and self.want["ssid"] == ap["ssid"] and (self.want["bssid"] in (None, ap["bssid"])):
            if ap["security"] and self.want["key"] != ap["password"]:
                self.s.update(requested=False, trying=False, reason=STAT_WRONG_PASSWORD)
                self.rt.note("wifi: wrong password for %r" % ap["ssid"])
            else:
                self.s.update(connected=True, trying=False, reason=0, failures=0, ssid=ap["ssid"],
                              bssid=ap["bssid"], channel=ap["channel"])
                self.rt.note("wifi: associated with %r (bssid %s, channel %d), got IP"
                             % (ap["ssid"], ap["bssid"], ap["channel"]))
        else:
            self.s["failures"] += 1
            self.s["reason"] = STAT_NO_AP_FOUND
            if self._allowed():
                self.s["trying"] = True
                self._schedule_attempt(self.rt.world.get("wifi_scan_ms", 1500))
            else:
                self.s["trying"] = False
        self.push()

    # ------------------------------------------------------------------ the AP changes
    def ap_changed(self):
        ap = self.ap()
        if self.s["connected"] and not ap["up"]:
            if self._loss is None:
                loop = asyncio.get_running_loop()
                self._loss = loop.call_later(self.rt.world.get("wifi_loss_ms", 1000) / 1000.0, self._lost)
        elif ap["up"] and self._loss is not None:
            self._loss.cancel()            # back before the station noticed
            self._loss = None
        if self.s["active"]:
            self.push()
        else:
            self.rt.path_changed()

    def _lost(self):
        self._loss = None
        if not self.s["connected"]:
            return
        self.s.update(connected=False, reason=STAT_BEACON_TIMEOUT, failures=0)
        self.rt.note("wifi: beacon timeout, access point lost")
        if self.s["requested"]:
            self.s["trying"] = True
            self._schedule_attempt(self.rt.world.get("wifi_scan_ms", 1500))
        self.push()
