"""Passwords, bearer tokens and device secrets at rest.

- User passwords: argon2id (slow on purpose).
- API tokens, session ids, enrollment tokens: 128+ random bits, so a fast SHA-256 of them is
  enough to store; the clear value is shown once.
- Device secrets: the server needs the secret itself to check HMACs, so it is stored
  encrypted (AES-256-GCM, the device id as associated data) under a key file kept next to the
  database, never in it. A copied database alone does not reveal any device secret.
"""

import hashlib
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_hasher = PasswordHasher()

MIN_PASSWORD = 10


def hash_password(password):
    return _hasher.hash(password)


def verify_password(stored_hash, password):
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password():
    # 16 url-safe characters ~ 96 bits: strong, and still typeable from a terminal.
    return secrets.token_urlsafe(12)


def new_token(prefix):
    """A bearer token like 'ft_Zk3...'; the prefix says what kind it is when one leaks into a log."""
    return prefix + secrets.token_urlsafe(24)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def new_device_secret():
    """32 random bytes as 64 lowercase hex characters (the protocol's format)."""
    return secrets.token_hex(32)


class SecretBox:
    """Encrypts device secrets with a key that lives in a file outside the database."""

    NONCE = 12

    def __init__(self, key):
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path):
        """Load the key, creating it (mode 0600) on first use."""
        path = Path(path)
        if not path.exists():
            cls._create(path)
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError("%s is not a 32-byte fleet key" % path)
        return cls(key)

    @staticmethod
    def _create(path):
        # Written whole to a temporary file, then linked into place: a server and a CLI command
        # starting together never read a half-written key, and the first one's key wins.
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(AESGCM.generate_key(bit_length=256))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass                    # another process made it first: use theirs
        finally:
            os.unlink(tmp)

    def seal(self, device_id, secret_hex):
        nonce = os.urandom(self.NONCE)
        return nonce + self._aead.encrypt(nonce, bytes.fromhex(secret_hex), device_id.encode())

    def open(self, device_id, sealed):
        """The raw secret bytes (what the HMAC needs)."""
        return self._aead.decrypt(sealed[: self.NONCE], sealed[self.NONCE:], device_id.encode())
