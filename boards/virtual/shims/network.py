# Virtual board: the ESP32 port's `network` module. Wi-Fi state (scan list, association,
# DHCP, losses and reconnects) is decided by the host from the simulated access points and
# pushed here; this module mirrors it with the ESP32 port's API and status rules.
import time
import _vb

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY = 210
STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD = 211
STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD = 212
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
AUTH_WPA2_ENTERPRISE = 5
AUTH_WPA3_PSK = 6
AUTH_WPA2_WPA3_PSK = 7
AUTH_WAPI_PSK = 8
AUTH_OWE = 9
AUTH_MAX = 17
MODE_11B = 1
MODE_11G = 2
MODE_11N = 4
MODE_LR = 8
PHY_GENERIC = 8

_net = {"hostname": None, "country": "01"}


def hostname(name=None):
    if name is None:
        return _net["hostname"] or ("mpy-" + _vb.chip.get("name", "esp32"))
    if len(name) > 32:
        raise ValueError("hostname too long")
    _net["hostname"] = name


def country(code=None):
    if code is None:
        return _net["country"]
    _net["country"] = code


def ipconfig(*args, **kw):
    if args and args[0] == "prefer":
        return 4
    return None


def phy_mode(mode=None):
    return MODE_11B | MODE_11G | MODE_11N if mode is None else None


_ifaces = {}


class WLAN:
    IF_STA = 0
    IF_AP = 1
    SEC_OPEN = 0
    SEC_WEP = 1
    SEC_WPA = 2
    SEC_WPA2 = 3
    SEC_WPA_WPA2 = 4
    SEC_WPA2_ENT = 5
    SEC_WPA3 = 6
    SEC_WPA2_WPA3 = 7
    SEC_WAPI = 8
    SEC_OWE = 9
    SEC_WPA3_ENT_192 = 10
    SEC_WPA3_EXT_PSK = 11
    SEC_WPA3_EXT_PSK_MIXED_MODE = 12
    SEC_DPP = 13
    SEC_WPA3_ENT = 14
    SEC_WPA2_WPA3_ENT = 15
    SEC_WPA_ENT = 16
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    PROTOCOL_DEFAULT = 7
    PROTOCOL_LR = 8
    BANDWIDTH_20 = 1
    BANDWIDTH_40 = 2

    def __init__(self, interface_id=STA_IF):
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        self._if = interface_id
        s = _ifaces.get(interface_id)
        if s is None:
            s = {"active": False, "ssid": "", "key": "", "reconnects": -1, "pm": 1, "txpower": 20,
                 "static": None, "channel": 1, "security": 3, "hidden": False}
            _ifaces[interface_id] = s
        self._s = s

    def __repr__(self):
        return "<WLAN %s>" % ("STA" if self._if == STA_IF else "AP")

    def _w(self):
        _vb.sync()
        return _vb.wlan

    def active(self, is_active=None):
        if is_active is None:
            return self._s["active"]
        on = bool(is_active)
        self._s["active"] = on
        if self._if == STA_IF:
            _vb.wlan["active"] = on
            if not on:
                _vb.wlan["connected"] = False
                _vb.wlan["requested"] = False
                _vb.wlan["reason"] = 0
            _vb.send("wlan_active", on=on)

    def _need_active(self):
        if not self._s["active"]:
            raise OSError("Wifi Not Started")

    def connect(self, *args, bssid=None):
        # ports/esp32/network_wlan.c network_wlan_connect(): with any positional argument the
        # station config is rebuilt from zero (wifi_config_t wifi_sta_config = {0}): ssid, key
        # and bssid as given, everything else -- the channel set by config(channel=) included
        # -- back to 0, so the driver scans every channel. bssid= is only read in that case.
        # Without arguments the config of the last connect (and a later config(channel=))
        # stays. esp_wifi_connect() while the driver is still connecting or reconnecting by
        # itself fails with ESP_ERR_WIFI_CONN: esp_exceptions_helper() raises
        # OSError("Wifi Internal Error") (network_common.c).
        if len(args) > 2:
            raise TypeError("function takes 3 positional arguments but %d were given" % (len(args) + 1))
        if self._if != STA_IF:
            raise OSError("AP interface cannot connect")
        self._need_active()
        s = self._s
        if args:
            ssid = args[0] if args[0] is not None else ""
            key = args[1] if len(args) > 1 and args[1] is not None else ""
            if bssid is not None:
                bssid = bytes(bssid)
                if len(bssid) != 6:
                    raise ValueError()
            s["ssid"], s["key"], s["bssid"], s["sta_channel"] = ssid, key, bssid, 0
        w = self._w()
        if w.get("requested") and not w.get("connected") and w.get("trying"):
            raise OSError("Wifi Internal Error")
        w["requested"] = True
        w["connected"] = False
        w["trying"] = True
        w["reason"] = 0
        w["failures"] = 0
        b = s.get("bssid")
        _vb.send("wlan_connect", ssid=s["ssid"], key=s["key"], bssid=b.hex() if b else None,
                 channel=s.get("sta_channel", 0), reconnects=s["reconnects"])

    def disconnect(self):
        if self._if != STA_IF:
            return
        w = self._w()
        w["requested"] = False
        w["connected"] = False
        w["trying"] = False
        w["reason"] = 0
        _vb.send("wlan_disconnect")

    def isconnected(self):
        if self._if == AP_IF:
            return False
        return self.status() == STAT_GOT_IP

    def status(self, param=None):
        w = self._w()
        if param is not None:
            if param == "rssi":
                if self._if != STA_IF or not w.get("connected"):
                    raise OSError("STA is not connected")
                return int(w.get("rssi", -60))
            if param == "stations":
                return []
            raise ValueError("unknown status param")
        if self._if == AP_IF:
            return STAT_IDLE
        if not self._s["active"]:
            return STAT_IDLE
        if w.get("connected"):
            return STAT_GOT_IP
        rc = self._s["reconnects"]
        if w.get("requested") and (rc < 0 or w.get("failures", 0) <= rc):
            return STAT_CONNECTING
        return w.get("reason") or STAT_IDLE

    def scan(self):
        self._need_active()
        if self._if != STA_IF:
            raise OSError("STA must be active")
        time.sleep_ms(int(_vb.w("wifi_scan_ms", 1500)))
        out = []
        for ap in self._w().get("aps") or ():
            out.append((ap[0].encode(), bytes.fromhex(ap[1]), ap[2], ap[3], ap[4], ap[5]))
        return out

    def config(self, *args, **kw):
        if args and kw:
            raise TypeError("either pos or kw args are allowed")
        if args:
            if len(args) != 1:
                raise TypeError("can query only one param")
            return self._get(args[0])
        for k, v in kw.items():
            self._set(k, v)

    def _mac(self):
        m = bytearray(_vb.mac)
        if self._if == AP_IF:
            m[5] = (m[5] + 1) & 0xFF
        return bytes(m)

    def _get(self, p):
        w = self._w()
        s = self._s
        if p == "mac":
            return self._mac()
        if p in ("ssid", "essid"):
            if self._if == STA_IF and w.get("connected"):
                return w.get("ssid", "")
            return s["ssid"]
        if p == "channel":
            if self._if == STA_IF:
                return w.get("channel", 0) if w.get("connected") else s["channel"]
            return s["channel"]
        if p == "hidden":
            return s["hidden"]
        if p in ("security", "authmode"):
            return s["security"]
        if p == "key":
            if self._if == STA_IF:
                raise ValueError("unknown config param")
            return s["key"]
        if p in ("hostname", "dhcp_hostname"):
            return hostname()
        if p == "reconnects":
            return s["reconnects"]
        if p == "txpower":
            return s["txpower"]
        if p == "pm":
            return s["pm"]
        if p == "protocol":
            return self.PROTOCOL_DEFAULT
        if p == "bandwidth":
            return self.BANDWIDTH_20
        raise ValueError("unknown config param")

    def _set(self, k, v):
        s = self._s
        if k == "mac":
            v = bytes(v)
            if len(v) != 6:
                raise ValueError("invalid buffer length")
            _vb.mac = v if self._if == STA_IF else _vb.mac
        elif k in ("ssid", "essid", "hidden", "security", "authmode", "key", "password") and self._if == STA_IF:
            # network_wlan_config(): these set the AP's config; require_if() refuses the STA
            raise OSError("AP required")
        elif k in ("ssid", "essid"):
            s["ssid"] = v
        elif k == "channel":
            # STA: only the first channel the next connect() without arguments scans
            # (network_wlan_config: "only used to determine the starting channel for a scan")
            s["channel"] = int(v)
            if self._if == STA_IF:
                s["sta_channel"] = int(v)
        elif k == "hidden":
            s["hidden"] = bool(v)
        elif k in ("security", "authmode"):
            s["security"] = int(v)
        elif k in ("key", "password"):
            s["key"] = v
        elif k in ("hostname", "dhcp_hostname"):
            hostname(v)
        elif k == "reconnects":
            s["reconnects"] = int(v)
            if self._if == STA_IF:
                _vb.send("wlan_config", reconnects=s["reconnects"])
        elif k == "txpower":
            s["txpower"] = v
        elif k == "pm":
            s["pm"] = int(v)
        elif k in ("protocol", "bandwidth", "max_clients"):
            pass
        else:
            raise ValueError("unknown config param")

    def ifconfig(self, configtuple=None):
        if configtuple is not None:
            self._s["static"] = tuple(configtuple)
            return
        w = self._w()
        if self._if == STA_IF and w.get("connected"):
            if self._s["static"]:
                return self._s["static"]
            return (w.get("ip", "10.0.0.2"), w.get("mask", "255.255.255.0"), w.get("gw", "10.0.0.1"),
                    w.get("dns", "10.0.0.1"))
        if self._if == AP_IF and self._s["active"]:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def ipconfig(self, *args, **kw):
        ip, mask, gw, dns = self.ifconfig()
        if args:
            p = args[0]
            if p == "addr4":
                return (ip, mask)
            if p == "gw4":
                return gw
            if p == "dhcp4":
                return self._s["static"] is None
            if p == "mac":
                return self._mac()
            raise ValueError("unknown config param")
        return None
