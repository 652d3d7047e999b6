# Reading the pinned CA certificate: DER from PEM (mbedTLS here may lack PEM parsing), and
# its notBefore (PEM or DER), in Unix seconds: the clock floor that
# lets a board whose clock restarted at 2000 (a power cut) verify the fleet's certificate,
# which the device CA issues with the CA's own notBefore (docs/operations.md). Loaded by
# the link only while the clock is unset, then dropped.
import binascii
import time
from micropython import const

_EPOCH = const(946684800)   # time.mktime counts from 2000 on the ESP32


def der(data):
    """DER bytes of a certificate given as PEM (its first certificate) or DER."""
    if data[:5] != b"-----":
        return data
    body = []
    for line in data.split(b"\n")[1:]:     # the first certificate of a PEM file
        line = line.strip()
        if line.startswith(b"-----"):
            break
        body.append(line)
    return binascii.a2b_base64(b"".join(body))


def _tlv(b, i):
    """DER element at i -> (tag, first byte of its value, end of its value)."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def _unix(text, generalized):
    # UTCTime YYMMDDHHMMSSZ (years 1950-2049) or GeneralizedTime YYYYMMDDHHMMSSZ
    if generalized:
        y, text = int(text[:4]), text[4:]
    else:
        y, text = int(text[:2]), text[2:]
        y += 1900 if y >= 50 else 2000
    f = [int(text[i:i + 2]) for i in range(0, 10, 2)]
    return time.mktime((y, f[0], f[1], f[2], f[3], f[4], 0, 0)) + _EPOCH


def not_before(data):
    b = der(data)
    _, i, _ = _tlv(b, 0)            # Certificate
    _, i, _ = _tlv(b, i)            # TBSCertificate
    tag, _, end = _tlv(b, i)
    if tag == 0xA0:                 # [0] version
        i = end
    for _ in range(3):              # serialNumber, signature, issuer
        _, _, i = _tlv(b, i)
    _, i, _ = _tlv(b, i)            # Validity
    tag, s, e = _tlv(b, i)          # notBefore
    return _unix(bytes(b[s:e]).decode(), tag == 0x18)
