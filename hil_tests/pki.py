"""A test PKI made at test time with `cryptography`: a device CA and the fleet's server certificate.

The server certificate follows docs/operations.md: issued by the device CA with the CA's own
notBefore, so a board whose clock restarted at 2000 and was raised to the CA's notBefore (the
firmware's clock floor) verifies it. `leaf_not_before` makes one that breaks that rule, for the
test that shows what a board does then.
"""

import base64
import datetime as dt
import hashlib
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Pki:
    def __init__(self, directory, ca_pem, ca_der, cert_path, key_path, spki_sha256):
        self.directory = Path(directory)
        self.ca_pem = ca_pem
        self.ca_der = ca_der                  # bytes: what a board gets as its pinned CA
        self.ca_path = self.directory / "device-ca.pem"
        self.cert_path = cert_path
        self.key_path = key_path
        self.spki_sha256 = spki_sha256        # base64 SHA-256 of the server key (Chromium's pin)


def make_pki(directory, hosts=("127.0.0.1", "localhost"), days=30, leaf_not_before=None):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "district devices test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start)
          .not_valid_after(start + dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    names = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(leaf_not_before or start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (directory / "device-ca.pem").write_bytes(ca_pem)
    cert_path, key_path = directory / "fleet.pem", directory / "fleet.key"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca_pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Pki(directory, ca_pem, ca.public_bytes(serialization.Encoding.DER), cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode())
