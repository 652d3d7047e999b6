"""Who is this device? Checking a signed request, in the order docs/protocol.md gives.

The hot path of every device request: no database write, at most one primary-key read
(identities are cached), one HMAC. The order of checks is part of the protocol, so that a
device learns the most useful thing first: headers present, device known, not revoked,
timestamp in the window, signature, nonce not replayed. (Body size is checked before,
body content after, by the caller.)
"""

import hmac
import time
from typing import NamedTuple, Optional

import devproto

from fleet.core import clock
from fleet.store.db import row

class DeviceIdentity(NamedTuple):
    """What a request handler needs to know about the device behind a request.

    Plain values only: the directory keeps each one as an exact tuple (CPython stops tracking a
    tuple of strings and numbers at its first collection, but never a subclass), so a cache of
    10,000 identities costs a full garbage collection nothing (docs/performance.md)."""

    id: str
    hw_id: str
    role: str
    board: str
    site: Optional[str]
    generation: int
    revoked: bool
    key: bytes              # raw secret bytes; never logged, never serialised
    loaded: float

    @classmethod
    def from_row(cls, rec, key):
        return cls(rec["id"], rec["hw_id"], rec["role"], rec["board"], rec["site"], rec["generation"],
                   rec["revoked_at"] is not None, key, time.monotonic())

    def __repr__(self):
        return "<DeviceIdentity %s %s gen %d%s>" % (self.id, self.role, self.generation,
                                                    " revoked" if self.revoked else "")


class DeviceDirectory:
    """Device identities by id, cached in memory.

    Changes made in this process call invalidate() and apply at once; changes made by another
    process (the CLI revoking a device) are invalidated from the device change log
    (fleet.domain.changes) within a fraction of a second. `ttl` is a backstop: an entry older
    than that is re-read anyway.
    """

    def __init__(self, db, box, ttl=600.0):
        self._db = db
        self._box = box
        self._ttl = ttl
        self._cache = {}

    def get(self, device_id):
        cached = self._cache.get(device_id)        # a plain tuple: see DeviceIdentity
        if cached is not None and time.monotonic() - cached[-1] < self._ttl:
            return DeviceIdentity._make(cached)
        rec = row(self._db, "SELECT id, hw_id, role, board, site, generation, revoked_at, secret_enc "
                            "FROM devices WHERE id = ?", (device_id,))
        if rec is None:
            self._cache.pop(device_id, None)
            return None
        ident = DeviceIdentity.from_row(rec, self._box.open(rec["id"], rec["secret_enc"]))
        self._cache[device_id] = tuple(ident)
        return ident

    def invalidate(self, device_id=None):
        if device_id is None:
            self._cache.clear()
        else:
            self._cache.pop(device_id, None)


def _fail(code, message, signer=None):
    exc = devproto.ProtocolError(code, message)
    exc.signer = signer          # the device whose secret signs this refusal (v1.1), if any
    raise exc


def authenticate(directory, nonces, method, path, headers, body, now=None):
    """The DeviceIdentity behind a signed request, or ProtocolError.

    headers: a mapping with lower-case names; path: path and query exactly as sent.
    A refusal of a request whose signature is good (revoked, stale_timestamp, replay) names
    the device as its `signer`, so a v1.1 reply to it is signed: a device sets its clock
    from a signed stale_timestamp answer. A refusal of a forged request is never signed.
    """
    device_id = headers.get("x-device-id")
    stamp = headers.get("x-timestamp")
    nonce = headers.get("x-nonce")
    signature = headers.get("x-signature")
    if not (device_id and stamp and nonce and signature):
        missing = [h for h, v in ((devproto.H_DEVICE, device_id), (devproto.H_TIME, stamp),
                                  (devproto.H_NONCE, nonce), (devproto.H_SIG, signature)) if not v]
        _fail("missing_signature", "missing header(s): " + ", ".join(missing))
    if not stamp.isdigit() or len(stamp) > 12:
        _fail("bad_signature", "%s must be integer Unix seconds" % devproto.H_TIME)
    if not devproto.is_hex(nonce, devproto.NONCE_MIN, devproto.NONCE_MAX):
        _fail("bad_signature", "%s must be %d-%d lowercase hex characters"
              % (devproto.H_NONCE, devproto.NONCE_MIN, devproto.NONCE_MAX))
    if len(signature) != 64:
        _fail("bad_signature", "%s must be 64 lowercase hex characters" % devproto.H_SIG)

    ident = directory.get(device_id) if len(device_id) <= 64 else None
    if ident is None:
        _fail("unknown_device", "no device %r: enroll again" % device_id[:64])
    canonical = devproto.canonical(method, path, stamp, nonce, body)
    expected = devproto.hexstr(devproto.hmac_sha256(ident.key, canonical))
    genuine = ident if hmac.compare_digest(expected, signature) else None
    if ident.revoked:
        _fail("revoked", "device %s was revoked by an admin" % device_id, genuine)

    now = clock.now() if now is None else now
    timestamp = int(stamp)
    if abs(now - timestamp) > devproto.CLOCK_WINDOW:
        _fail("stale_timestamp", "timestamp is %d s away from server time" % round(timestamp - now), genuine)

    if genuine is None:
        _fail("bad_signature", "signature does not match: check the secret and the canonical string")

    if not nonces.add(device_id, nonce, timestamp, now):
        _fail("replay", "nonce %s was already used by this device, or the request was signed before the "
                        "server can vouch for it: sign again with a fresh time and nonce" % nonce, ident)
    return ident
