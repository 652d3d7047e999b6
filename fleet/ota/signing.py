"""Release keys and signatures, on the machine where the key is (offline): `fleet release keygen`
and `fleet release sign`. The fleet server never holds a private key: it checks signatures with
the same code the board runs (devproto.ota) against the public keys it trusts.

Keys are RSA-3072 (docs/ota.md "Why RSA"); the private key is a PEM file (PKCS#8), encrypted
when a passphrase is given (FLEET_SIGNING_PASSPHRASE), written with mode 0600; the public key is a
PEM beside it. A key's id is devproto.ota.key_id of its modulus: the board's /keys/<id>.rsa file.
"""

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devproto import ota
from fleet.errors import Invalid

PASSPHRASE_ENV = "FLEET_SIGNING_PASSPHRASE"


def modulus_of(public_key):
    """The big-endian modulus bytes of an RSA public key (what a board stores)."""
    n = public_key.public_numbers().n
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _check_public(public_key):
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size != ota.KEY_BITS \
            or public_key.public_numbers().e != ota.E:
        raise Invalid("a release key must be RSA-%d with exponent %d" % (ota.KEY_BITS, ota.E))


def _passphrase():
    p = os.environ.get(PASSPHRASE_ENV)
    return p.encode() if p else None


def generate(folder):
    """A new release key in folder: <id>.pem (private, 0600) and <id>.pub.pem. Returns the id."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=ota.E, key_size=ota.KEY_BITS)
    kid = ota.key_id(modulus_of(key.public_key()))
    secret = _passphrase()
    enc = serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    private = folder / ("%s.pem" % kid)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    (folder / ("%s.pub.pem" % kid)).write_bytes(public_pem(key.public_key()))
    return kid


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(path):
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase())
    except (ValueError, TypeError) as exc:
        raise Invalid("cannot read the release key %s: %s (is %s set for an encrypted key?)"
                      % (path, exc, PASSPHRASE_ENV))
    _check_public(key.public_key())
    return key


def load_public(data):
    """A trusted public key from PEM bytes -> (key id, modulus bytes)."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise Invalid("not a PEM public key: %s" % exc)
    _check_public(key)
    n = modulus_of(key)
    return ota.key_id(n), n


def sign_text(private_key, manifest_text):
    """The envelope a board receives, as compact JSON text."""
    sig = private_key.sign(manifest_text.encode(), padding.PKCS1v15(), hashes.SHA256())
    kid = ota.key_id(modulus_of(private_key.public_key()))
    return json.dumps({"manifest": manifest_text, "key": kid, "sig": sig.hex()}, separators=(",", ":"))


def manifest_text(manifest):
    """The exact text that is signed: compact JSON with sorted keys."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"))
