# BLE advertising of the facility beacon with MicroPython's `bluetooth` API: Eddystone-URL (the
# asset's public URL) and Eddystone-UID (its id), alternated at each turn(), as non-connectable
# advertisements at the interval the fleet sets (adv_ms).
#
# TX power: MicroPython's BLE.config() has no TX-power setting on the ESP32 (ports/esp32 and
# extmod/modbluetooth.c: config keys mac, addr_mode, gap_name, rxbuf, mtu, bond, mitm, io, le_secure;
# NimBLE's default is used, +3 dBm on ESP32 at the time of writing), so the frames announce a
# calibrated -20 dBm at 0 m (devproto.eddystone's default) rather than a power we set.
# Energy: each advertising event costs ~0.15 mAs (3 channels, radio wake-up): at 1 s that is
# ~3.6 mAh a day - nothing for a streetlight on mains, the whole budget of a battery manhole
# board (beaconpower.daily_mah), which therefore does not advertise unless the fleet asks.
import sys
import bluetooth


class Advertiser:
    def __init__(self):
        self.ble = bluetooth.BLE()
        self.ble.active(True)
        self.frames = []
        self.i = 0
        self.us = 1000000

    def set(self, url, uid, ms):
        """The frames of this asset (those that can be made) and the interval; starts advertising.
        devproto/eddystone.py is loaded for the moment: the frames are bytes once made."""
        __import__("devproto.eddystone")
        eddystone = sys.modules.pop("devproto.eddystone")
        sys.modules["devproto"].__dict__.pop("eddystone", None)
        frames = []
        if url:
            try:
                frames.append(eddystone.advert(eddystone.url_frame(url)))
            except ValueError:
                pass                    # the fleet checks the URL fits; an old one may not
        if uid:
            frames.append(eddystone.advert(eddystone.uid_frame(eddystone.instance_of(uid))))
        self.frames, self.us, self.i = frames, ms * 1000, 0
        self.turn()

    def turn(self):
        """Advertise the next frame (URL, UID, URL, ...); nothing when there is none."""
        if not self.frames:
            self.ble.gap_advertise(None, None, True)
            return
        self.ble.gap_advertise(self.us, adv_data=self.frames[self.i % len(self.frames)], connectable=False)
        self.i += 1

    def stop(self):
        self.ble.gap_advertise(None)
