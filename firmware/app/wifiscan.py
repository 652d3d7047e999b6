# After a Wi-Fi connect by SSID: remember the BSSID of the strongest access point with
# our SSID on the channel we joined, in RTC memory, so the next wake joins that one. (Not
# the channel: the ESP32 port's connect() forgets it, see wifi.py.) It needs one
# wlan.scan(), which blocks the loop ~1-2 s on ESP32: done only when the runtime is idle.
import binascii
import log


def learn(wifi, w):
    try:
        ch = w.config("channel")
    except Exception:
        ch = None
    bssid = None
    if not wifi.busy:
        try:
            best = None
            for ap in w.scan():          # (ssid, bssid, channel, rssi, security, hidden)
                name = ap[0].decode() if isinstance(ap[0], bytes) else ap[0]
                if name == wifi.ssid and (ch is None or ap[2] == ch):
                    if best is None or ap[3] > best[3]:
                        best = ap
            if best is not None:
                bssid = binascii.hexlify(best[1]).decode()
                ch = best[2]
        except Exception as ex:
            log.w("wifi", "scan: %s" % ex)
    if bssid:
        wifi.rtc.set("wifi", {"b": bssid})
        log.i("wifi", "cached bssid=%s (channel %s)" % (bssid, ch))
