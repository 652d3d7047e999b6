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
