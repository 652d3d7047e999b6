"""Releases: building and signing one (offline, where the key is), uploading it to the fleet (the
signature checked against the keys the fleet trusts, the artifact against the manifest), the keys
the fleet trusts, and listing releases with the devices that run them. docs/ota.md.

A release folder, as `fleet release build` writes it and `sign`/`upload` read it:
    artifact.bin            the app bundle (fleet.ota.bundle) or the firmware image
    manifest.json           the manifest, the exact text that is signed
    manifest.signed.json    the envelope (manifest text, key id, signature) after `sign`
"""

import hashlib
import json
import os
import time
from pathlib import Path

from devproto import ota
from fleet.core import clock
from fleet.domain import audit
from fleet.errors import Conflict, Invalid, NotFound
from fleet.ota import bundle, signing
from fleet.store.db import row, rows, write_tx

ARTIFACT = "artifact.bin"
MANIFEST = "manifest.json"
SIGNED = "manifest.signed.json"


def release_id(manifest):
    if manifest["kind"] == "keys":
        return "keys-%d" % manifest["seq"]
    return "%s-%s" % (manifest["kind"], manifest["version"])


def _names(values, what):
    out = [v.strip() for v in values if v.strip()]
    if not out:
        raise Invalid("%s: name at least one (or *)" % what)
    return out


# ---- offline: build and sign --------------------------------------------------------------

def build(folder, kind, version, sv, boards, roles, expires_s, min_version=None, firmware_dir=None, image=None,
          now=None):
    """Write a release folder (artifact + unsigned manifest); returns the manifest."""
    now = int(now if now is not None else time.time())
    if kind == "app":
        data = bundle.pack(bundle.app_files(version, firmware_dir))
    elif kind == "firmware":
        if image is None:
            raise Invalid("a firmware release needs --image (a MicroPython .bin for the OTA partition table)")
        from boards import espimage
        data = Path(image).read_bytes()
        try:
            espimage.parse_image(data)               # what the bootloader checks: magic, checksum, SHA-256
        except espimage.ImageError as exc:
            raise Invalid("%s is not an ESP32 app image: %s (a MicroPython .bin for the OTA partition table, "
                          "not the merged image written at 0x1000)" % (image, exc))
        got = espimage.app_version(data)
        if got is not None and got != version:
            raise Invalid("the image says version %s, the release %s: build it with --version %s" % (got, version, got))
    else:
        raise Invalid("kind must be app or firmware")
    if ota.parse_version(version) is None:
        raise Invalid("version %r: use three numbers, x.y.z" % version)
    if min_version is not None and ota.parse_version(min_version) is None:
        raise Invalid("min version %r: use three numbers, x.y.z" % min_version)
    if sv < 0:
        raise Invalid("the security version is a number >= 0")
    if expires_s <= 0:
        raise Invalid("the manifest must expire in the future")
    manifest = {"format": ota.FORMAT, "kind": kind, "version": version, "sv": sv,
                "boards": _names(boards, "boards"), "roles": _names(roles, "roles"), "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "expires": now + int(expires_s), "created": now}
    if min_version:
        manifest["min_version"] = min_version
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ARTIFACT).write_bytes(data)
    (folder / MANIFEST).write_text(signing.manifest_text(manifest))
    (folder / SIGNED).unlink(missing_ok=True)
    return manifest


def build_rotation(folder, seq, add_pems, revoke, expires_s, now=None):
    """A key rotation (kind "keys"): new keys to trust, keys to revoke; signed with a key the boards
    trust now. No artifact."""
    now = int(now if now is not None else time.time())
    add = {}
    for pem in add_pems:
        kid, modulus = signing.load_public(pem)
        add[kid] = modulus.hex()
    if not add and not revoke:
        raise Invalid("a rotation adds or revokes at least one key")
    manifest = {"format": ota.FORMAT, "kind": "keys", "seq": seq, "add": add, "revoke": list(revoke),
                "boards": ["*"], "roles": ["*"], "expires": now + int(expires_s), "created": now}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(signing.manifest_text(manifest))
    (folder / ARTIFACT).unlink(missing_ok=True)
    (folder / SIGNED).unlink(missing_ok=True)
    return manifest


def sign(folder, key_path):
    """Sign folder/manifest.json with the private key at key_path; returns the key id."""
    folder = Path(folder)
    text = (folder / MANIFEST).read_text()
    try:
        ota.check_fields(json.loads(text))
    except (ValueError, ota.Refused):
        raise Invalid("%s is not a manifest `fleet release build` wrote" % (folder / MANIFEST))
    key = signing.load_private(key_path)
    envelope = signing.sign_text(key, text)
    (folder / SIGNED).write_text(envelope)
    return json.loads(envelope)["key"]


# ---- the fleet: trusted keys ----------------------------------------------------------------

def trust_key(db, actor, pem):
    kid, _modulus = signing.load_public(pem)
    with write_tx(db):
        found = row(db, "SELECT revoked_at FROM ota_keys WHERE id = ?", (kid,))
        if found is not None:
            if found["revoked_at"]:
                raise Conflict("key %s was revoked; a revoked key is never trusted again" % kid)
            return kid
        db.conn.execute("INSERT INTO ota_keys (id, pem, added_at, added_by) VALUES (?, ?, ?, ?)",
                        (kid, pem.decode() if isinstance(pem, bytes) else pem, clock.iso(), str(actor)))
        audit.record(db, actor, "ota.key.trust", kid)
    return kid


def revoke_key(db, actor, kid):
    with write_tx(db):
        cur = db.conn.execute("UPDATE ota_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                              (clock.iso(), str(actor), kid))
        if cur.rowcount == 0:
            raise NotFound("no trusted key %s" % kid)
        audit.record(db, actor, "ota.key.revoke", kid)


def list_keys(db):
    return rows(db, "SELECT id, added_at, added_by, revoked_at, revoked_by FROM ota_keys ORDER BY added_at")


def _lookup(db):
    def lookup(kid):
        found = row(db, "SELECT pem, revoked_at FROM ota_keys WHERE id = ?", (kid,))
        if found is None:
            raise ota.Refused("unknown_key")
        if found["revoked_at"]:
            raise ota.Refused("revoked_key")
        return signing.load_public(found["pem"].encode())[1]
    return lookup


# ---- the fleet: upload and list -------------------------------------------------------------

def check_upload(db, envelope, artifact):
    """The manifest of an envelope the fleet would accept with this artifact, else Invalid."""
    try:
        manifest = ota.verify(envelope, _lookup(db))
    except ota.Refused as refused:
        raise Invalid("the release is refused: %s (the signature must verify with a key the fleet trusts: "
                      "`fleet release trust KEY.pub.pem`)" % refused.reason)
    if manifest["expires"] <= time.time():
        raise Invalid("the manifest expired at %s: build and sign it again" % clock.iso(manifest["expires"]))
    if manifest["kind"] == "keys":
        if artifact:
            raise Invalid("a key rotation has no artifact")
        return manifest
    if artifact is None or len(artifact) != manifest["size"]:
        raise Invalid("the artifact is %s bytes; the manifest says %d"
                      % ("missing:" if artifact is None else len(artifact), manifest["size"]))
    if hashlib.sha256(artifact).hexdigest() != manifest["sha256"]:
        raise Invalid("the artifact's SHA-256 does not match the manifest")
    if manifest["kind"] == "app":
        bundle.unpack(artifact)
    else:
        from boards import espimage
        try:
            espimage.parse_image(artifact)
        except espimage.ImageError as exc:
            raise Invalid("the firmware image is not one a bootloader would take: %s" % exc)
    return manifest


def upload(db, settings, actor, envelope, artifact):
    """Store a signed release (envelope text, artifact bytes or None); returns its row."""
    manifest = check_upload(db, envelope, artifact)
    rid = release_id(manifest)
    if row(db, "SELECT id FROM ota_releases WHERE id = ?", (rid,)) is not None:
        raise Conflict("release %s exists already" % rid)
    name = None
    if artifact is not None:
        folder = settings.ota_path
        folder.mkdir(parents=True, exist_ok=True)
        name = "%s.%s.bin" % (rid, manifest["sha256"][:12])
        tmp = folder / (name + ".part")
        with open(tmp, "wb") as f:
            f.write(artifact)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    with write_tx(db):
        db.conn.execute(
            "INSERT INTO ota_releases (id, kind, version, sv, boards, roles, size, sha256, key_id, envelope, file, "
            "expires_at, created_at, uploaded_at, uploaded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, manifest["kind"], manifest.get("version"), manifest.get("sv"), json.dumps(manifest["boards"]),
             json.dumps(manifest["roles"]), manifest.get("size", 0), manifest.get("sha256"), manifest["key"],
             envelope, name, clock.iso(manifest["expires"]), clock.iso(manifest["created"]), clock.iso(), str(actor)))
        if manifest["kind"] == "keys":            # the fleet follows the boards' trust
            for kid in manifest["add"]:
                if row(db, "SELECT id FROM ota_keys WHERE id = ?", (kid,)) is None:
                    pem = signing.public_pem(_public_from_modulus(manifest["add"][kid])).decode()
                    db.conn.execute("INSERT INTO ota_keys (id, pem, added_at, added_by) VALUES (?, ?, ?, ?)",
                                    (kid, pem, clock.iso(), "rotation %s" % rid))
            for kid in manifest["revoke"]:
                db.conn.execute("UPDATE ota_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                                (clock.iso(), "rotation %s" % rid, kid))
        audit.record(db, actor, "ota.release.upload", rid, {"key": manifest["key"], "size": manifest.get("size")})
    return get_release(db, rid)


def upload_folder(db, settings, actor, folder):
    folder = Path(folder)
    if not (folder / SIGNED).is_file():
        raise Invalid("%s has no %s: sign it first (`fleet release sign %s --key KEY.pem`)" % (folder, SIGNED, folder))
    artifact = (folder / ARTIFACT).read_bytes() if (folder / ARTIFACT).is_file() else None
    return upload(db, settings, actor, (folder / SIGNED).read_text(), artifact)


def _public_from_modulus(hex_modulus):
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.RSAPublicNumbers(ota.E, int(hex_modulus, 16)).public_key()


def _decorate(release):
    release["boards"] = json.loads(release["boards"])
    release["roles"] = json.loads(release["roles"])
    release["manifest"] = json.loads(json.loads(release["envelope"])["manifest"])
    return release


def get_release(db, rid):
    found = row(db, "SELECT * FROM ota_releases WHERE id = ?", (rid,))
    if found is None:
        raise NotFound("no release %s" % rid)
    release = _decorate(found)
    release["devices"] = running(db, release)
    return release


def running(db, release):
    """How many devices report running this release (hello's app or fw)."""
    column = {"app": "app", "firmware": "fw"}.get(release["kind"])
    if column is None:
        return 0
    return db.conn.execute("SELECT count(*) FROM devices WHERE revoked_at IS NULL AND %s = ?" % column,
                           (release["version"],)).fetchone()[0]


def list_releases(db):
    out = []
    for release in rows(db, "SELECT * FROM ota_releases ORDER BY uploaded_at DESC"):
        release = _decorate(release)
        release["devices"] = running(db, release)
        out.append(release)
    return out


def artifact_path(settings, release):
    if not release.get("file"):
        raise NotFound("release %s has no artifact" % release["id"])
    return settings.ota_path / release["file"]


def delete_artifact_tmp(settings):
    """Left-over partial uploads (a crash during upload) go at start."""
    for p in settings.ota_path.glob("*.part"):
        p.unlink(missing_ok=True)


__all__ = ["build", "build_rotation", "sign", "upload", "upload_folder", "trust_key", "revoke_key", "list_keys",
           "list_releases", "get_release", "artifact_path", "release_id"]
