# OTA manifests (docs/ota.md): the one definition of a signed release, shared by the board
# (MicroPython, loaded only while an update is checked) and the fleet (CPython). Plain code:
# no typing, nothing MicroPython lacks.
#
# Signature: RSA-3072, PKCS#1 v1.5 over SHA-256, public exponent 65537. Verifying it is one
# pow() with a 17-bit exponent on MicroPython's big integers: ~4 KB of short-lived heap and
# milliseconds. Ed25519 was measured too and refused: it needs SHA-512 (absent from
# MicroPython's hashlib) written in Python and ~3 MB of allocations per verify (docs/ota.md).
#
# What the board receives (the "envelope"), compact JSON:
#   {"manifest": "<manifest JSON text>", "key": "<key id>", "sig": "<hex signature>"}
# The signature covers the manifest text's UTF-8 bytes exactly as sent. The manifest:
#   format   1
#   kind     "app" (application bundle) | "firmware" (MicroPython image) | "keys" (rotation)
#   version  "x.y.z" (app, firmware)     sv       security version, int >= 0 (never goes back)
#   boards   [board names] or ["*"]      roles    [role names] or ["*"]
#   size     bytes of the artifact       sha256   hex SHA-256 of the artifact
#   min_version  "x.y.z": the running version must be at least this (optional)
#   expires  Unix time after which the manifest is refused      created  Unix time
#   keys only: seq (int, increasing), add {key id: hex modulus}, revoke [key ids]
import hashlib
import binascii
import json

FORMAT = 1
KINDS = ("app", "firmware", "keys")
KEY_BITS = 3072
KEY_BYTES = 384
E = 65537
# ASN.1 DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1)
_DIGEST_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"

# An app bundle (kind "app") is one file: BUNDLE_MAGIC, then per file a record
#   u16 path length | path (UTF-8, relative to the slot) | u32 size | SHA-256 (32 bytes) | data
# and a u16 0 at the end (integers little-endian). The manifest's sha256 covers the whole bundle;
# each record's own hash lets the board check what it wrote into the slot.
BUNDLE_MAGIC = b"OTB1"

# Refusal reasons: the <reason> of a "failed:<reason>" OTA event (docs/protocol.md).
REASONS = ("bad_envelope", "bad_manifest", "unknown_key", "revoked_key", "bad_signature",
           "wrong_kind", "wrong_board", "wrong_role", "expired", "clock_unknown", "downgrade",
           "not_newer", "too_old", "bad_keys")


class Refused(Exception):
    """A manifest the board must not act on; .reason is one of REASONS."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def key_id(modulus):
    """A key's id: the first 16 hex digits of the SHA-256 of its modulus (big-endian bytes)."""
    return binascii.hexlify(hashlib.sha256(modulus).digest()[:8]).decode()


def rsa_verify(modulus, sig, msg):
    """True if sig is the RSA PKCS#1 v1.5 SHA-256 signature of msg under modulus (e = 65537)."""
    k = len(modulus)
    if len(sig) != k or k < 256:
        return False
    n = int.from_bytes(modulus, "big")
    s = int.from_bytes(sig, "big")
    if s >= n:
        return False
    em = pow(s, E, n).to_bytes(k, "big")
    pad = k - 3 - len(_DIGEST_INFO) - 32
    return em == b"\x00\x01" + b"\xff" * pad + b"\x00" + _DIGEST_INFO + hashlib.sha256(msg).digest()


def parse_version(v):
    """'1.2.3' -> (1, 2, 3); None if it is not three dot-separated decimal numbers."""
    if not isinstance(v, str):
        return None
    parts = v.split(".")
    if len(parts) != 3:
        return None
    for p in parts:
        if not p.isdigit() or len(p) > 6:
            return None
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def open_envelope(text):
    """Envelope text -> (manifest text, key id, signature bytes); Refused("bad_envelope")."""
    try:
        env = json.loads(text)
        man, kid, sig = env["manifest"], env["key"], binascii.unhexlify(env["sig"])
    except MemoryError:
        raise                           # the board's heap, not the envelope: no refusal
    except Exception:
        raise Refused("bad_envelope")
    if not isinstance(man, str) or not isinstance(kid, str) or len(kid) != 16:
        raise Refused("bad_envelope")
    return man, kid, sig


def _listed(name, names):
    return isinstance(names, list) and ("*" in names or name in names)


def check_fields(m):
    """Refused("bad_manifest") unless the manifest has the fields its kind needs."""
    if not isinstance(m, dict) or m.get("format") != FORMAT or m.get("kind") not in KINDS:
        raise Refused("bad_manifest")
    for f in ("expires", "created"):
        if not isinstance(m.get(f), int):
            raise Refused("bad_manifest")
    if not isinstance(m.get("boards"), list) or not isinstance(m.get("roles"), list):
        raise Refused("bad_manifest")
    if m["kind"] == "keys":
        if not isinstance(m.get("seq"), int) or not isinstance(m.get("add", {}), dict) \
                or not isinstance(m.get("revoke", []), list):
            raise Refused("bad_manifest")
        return
    sha = m.get("sha256")
    if parse_version(m.get("version")) is None or not isinstance(m.get("sv"), int) or m["sv"] < 0 \
            or not isinstance(m.get("size"), int) or m["size"] <= 0 \
            or not isinstance(sha, str) or len(sha) != 64:
        raise Refused("bad_manifest")
    if "min_version" in m and parse_version(m["min_version"]) is None:
        raise Refused("bad_manifest")


def verify(text, lookup):
    """Check an envelope's signature: lookup(key id) -> modulus bytes, or raises Refused
    ("unknown_key" / "revoked_key"). Returns the parsed manifest (fields checked)."""
    man, kid, sig = open_envelope(text)
    modulus = lookup(kid)
    if not rsa_verify(modulus, sig, man.encode()):
        raise Refused("bad_signature")
    try:
        m = json.loads(man)
    except ValueError:
        raise Refused("bad_manifest")
    check_fields(m)
    m["key"] = kid
    return m


def check_target(m, kind, board, role, now, current, sv):
    """Whether a verified manifest may be installed here. now: Unix time or None when the
    clock is not set from signed fleet time; current: the running version ("x.y.z"); sv: the
    security version the board has reached. Raises Refused."""
    if m["kind"] != kind:
        raise Refused("wrong_kind")
    if not _listed(board, m["boards"]):
        raise Refused("wrong_board")
    if not _listed(role, m["roles"]):
        raise Refused("wrong_role")
    if now is None:
        raise Refused("clock_unknown")
    if now > m["expires"]:
        raise Refused("expired")
    if kind == "keys":
        return
    if m["sv"] < sv:
        raise Refused("downgrade")
    cur = parse_version(current) or (0, 0, 0)
    new = parse_version(m["version"])
    if new < cur:
        raise Refused("downgrade")
    if new == cur:
        raise Refused("not_newer")
    if "min_version" in m and cur < parse_version(m["min_version"]):
        raise Refused("too_old")
