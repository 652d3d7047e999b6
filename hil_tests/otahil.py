"""What the OTA scenarios share: a release key for the session, releases built from the firmware
tree and signed the way an operator does it (`fleet release build|sign`), uploaded through the
admin API, boards provisioned with the key in /keys, and waiting on rollouts."""

import shutil
from pathlib import Path

from boards.fsimage import FIRMWARE_DIR
from fleet.ota import releases, signing
from hil_tests.polling import wait_until


class ReleaseKit:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.kid = signing.generate(self.folder / "keys")
        self.private = self.folder / "keys" / (self.kid + ".pem")
        self.public = (self.folder / "keys" / (self.kid + ".pub.pem")).read_bytes()
        self.modulus = signing.load_public(self.public)[1]
        self._built = {}

    def key_files(self):
        """What provisioning puts on a board: the trusted key."""
        return {"/keys/%s.rsa" % self.kid: self.modulus}

    def build(self, version, firmware_dir=None, **kw):
        """A signed app release folder (cached per version and firmware tree)."""
        key = (version, str(firmware_dir))
        if key not in self._built:
            out = self.folder / ("app-%s-%d" % (version, len(self._built)))
            releases.build(out, "app", version, kw.pop("sv", 1), ["*"], ["*"], 86400, firmware_dir=firmware_dir, **kw)
            releases.sign(out, self.private)
            self._built[key] = out
        return self._built[key]

    def build_image(self, version, boards, size=64 * 1024):
        """A signed firmware release: a stand-in ESP32 image of `version` (boards/espimage.py)."""
        from boards import espimage
        out = self.folder / ("firmware-%s" % version)
        if not out.exists():
            out.mkdir(parents=True)
            (out / "image.bin").write_bytes(espimage.stand_in(version, size=size))
            releases.build(out / "release", "firmware", version, 1, boards, ["*"], 86400, image=out / "image.bin")
            releases.sign(out / "release", self.private)
        return out / "release"

    def rotation(self, seq, add=(), revoke=()):
        """A key rotation (`fleet release rotate`) signed with this kit's key: trust the keys of the
        kits in `add`, revoke the key ids in `revoke`."""
        out = self.folder / ("keys-%d" % seq)
        releases.build_rotation(out, seq, [k.public for k in add], list(revoke), 86400)
        releases.sign(out, self.private)
        return out

    def broken_firmware(self, name, crash_when):
        """A copy of the firmware tree whose supervisor raises at import on boards where
        crash_when (a MicroPython expression over `cfg`, the board's /config.json) is true."""
        tree = self.folder / name
        if not tree.exists():
            shutil.copytree(FIRMWARE_DIR, tree, ignore=shutil.ignore_patterns("__pycache__"))
            sup = tree / "app" / "supervisor.py"
            sup.write_text("import json as _j\n"
                           "with open('/config.json') as _f:\n    cfg = _j.load(_f)\n"
                           "if %s:\n    raise RuntimeError('broken release: crashes at boot')\n" % crash_when
                           + sup.read_text())
        return tree


def post_release(fleet, folder):
    """The upload's response, whatever it is."""
    with fleet.client(timeout=60) as c:
        files = {"envelope": (folder / releases.SIGNED).read_bytes()}
        if (folder / releases.ARTIFACT).is_file():
            files["artifact"] = (folder / releases.ARTIFACT).read_bytes()
        return c.post("/api/v1/ota/releases", files=files)


def upload(fleet, folder):
    r = post_release(fleet, folder)
    assert r.status_code == 201, r.text
    return r.json()


def trust(fleet, kit):
    fleet.api("POST", "/api/v1/ota/keys", json={"pem": kit.public.decode()})


def start_rollout(fleet, release_id, **plan):
    body = {"release_id": release_id, "plan": dict({"rate_per_min": 6000, "gate_s": 60}, **plan)}
    return fleet.api("POST", "/api/v1/ota/rollouts", json=body)


def rollout(fleet, rid):
    return fleet.api("GET", "/api/v1/ota/rollouts/%d" % rid)


def wait_rollout(fleet, rid, states, timeout):
    return wait_until(lambda: (lambda r: r if r["state"] in states else None)(rollout(fleet, rid)),
                      "rollout %d to be %s" % (rid, "/".join(states)), timeout)


def app_versions(fleet):
    return {d["id"]: d["app"] for d in fleet.devices(limit=10000)}


