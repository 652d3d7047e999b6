"""Helpers of the OTA tests: release keys (made once a session: RSA-3072 takes a moment), release
folders built, signed and uploaded the way `fleet release` does it."""

from pathlib import Path

from fleet.domain import users
from fleet.ota import releases

ADMIN = users.Principal("cli", "tester", "admin")


def make_release(folder, key, version="0.2.0", kind="app", sv=0, boards=("*",), roles=("*",), expires_s=86400,
                 min_version=None, firmware_dir=None, image=None):
    """A built and signed release folder (key: the private key file)."""
    releases.build(folder, kind, version, sv, list(boards), list(roles), expires_s, min_version, firmware_dir, image)
    releases.sign(folder, key)
    return Path(folder)


def publish(db, settings, folder):
    return releases.upload_folder(db, settings, ADMIN, folder)


def firmware_release(folder, key, version="2.0.0", **kw):
    """A signed firmware release of a stand-in image (no mpy-cross: quick)."""
    from boards import espimage
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fw.bin").write_bytes(espimage.stand_in(version, size=8192))
    return make_release(folder / "release", key, version=version, kind="firmware", image=folder / "fw.bin", **kw)


def settle(client, n=2):
    """Run the rollout engine now, n passes, and wait for them."""
    import time
    rt = client.app.state.fleet
    service = rt.services["ota"]
    for _ in range(n):
        start = service.ticks
        rt.loop.call_soon_threadsafe(service.poke)
        deadline = time.monotonic() + 10
        while service.ticks == start and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.ticks > start, "the rollout engine did not run"


class Board:
    """A device that answers update offers the way the firmware does, in protocol events: from
    the offer to `installed`, a hello of the new version, `pending`, then `succeeded` (or the
    outcome it is told to have). Fetches what the offer names through the fleet's download route."""

    def __init__(self, client, device, app="0.1.0", fw="1.29.0"):
        self.client = client
        self.device = device
        self.app = app
        self.fw = fw
        self.seq = 0
        self.got = None

    @property
    def id(self):
        return self.device.id

    def hello(self):
        r = self.device.hello(app=self.app, fw=self.fw, seq=self.seq)
        assert r.status_code == 200, r.text
        return r.json()["down"]

    def offer(self):
        return self.hello().get("update")

    def send(self, stage, offer, **data):
        self.seq += 1
        ev = {"seq": self.seq, "t": int(__import__("time").time()), "type": "ota",
              "data": dict({"id": offer["id"], "stage": stage}, **data)}
        r = self.device.events([ev])
        assert r.status_code == 200, r.text
        return r.json()["down"]

    def fetch(self, url, headers=None):
        return self.client.get(url, headers=headers or {})

    def update(self, outcome="succeeded", reason=None):
        """Take the offer and report as far as outcome ("succeeded", "failed", "rolled_back")."""
        offer = self.offer()
        assert offer is not None, "no offer for %s" % self.id
        self.got = self.fetch(offer["manifest"]).json()
        if offer.get("url"):
            data = self.fetch(offer["url"]).content
            assert len(data) == offer["size"]
        self.send("downloading", offer, progress=0)
        if outcome == "failed":
            return self.send("failed", offer, reason=reason or "hash_mismatch")
        self.send("verifying", offer)
        self.send("installed", offer, version=offer["version"])
        old = self.app if offer["kind"] == "app" else self.fw
        if offer["kind"] == "app":
            self.app = offer["version"]
        else:
            self.fw = offer["version"]
        if outcome == "rolled_back":
            if offer["kind"] == "app":
                self.app = old
            else:
                self.fw = old
            self.hello()
            return self.send("rolled_back", offer, reason=reason or "crash", version=old)
        self.hello()
        self.send("pending", offer, version=offer["version"])
        return self.send("succeeded", offer, version=offer["version"])
