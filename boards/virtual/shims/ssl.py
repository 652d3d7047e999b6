# Virtual board: the ESP32's ssl, checking certificate dates against the board's clock.
# mbedTLS checks every certificate's validity against the system clock. On the ESP32 that is
# the clock machine.RTC().datetime() sets: ports/esp32/main.c hands mbedTLS
# platform_mbedtls_time() = gettimeofday() + TIMEUTILS_SECONDS_1970_TO_2000, and
# ports/esp32/machine_rtc.c sets it with settimeofday(). On the unix port mbedTLS reads the
# host's clock (ports/unix/mbedtls/mbedtls_config_port.h sets no time hook), so a board whose
# clock restarted at 2000 after a power cut would verify here and fail on the chip. This shim
# makes the board honest: it is the frozen ssl module (micropython-lib) with a verify
# callback on every context that refuses the handshake when a certificate of the chain is
# not valid at the board's clock (the time shim's time(), what the RTC holds).
# Where it differs from the chip: the chip raises ValueError("The certificate validity
# starts in the future"); here mbedTLS turns a callback's refusal into
# OSError(-12288, 'MBEDTLS_ERR_X509_FATAL_ERROR'), and the host's console log says why.
# The host's own clock is still checked too (the unix port's mbedTLS does that anyway).
import sys
import time
import _vb
import _vbsim

_self = sys.modules.pop("ssl")
_path = sys.path
sys.path = [".frozen"]
try:
    import ssl as _frozen       # micropython-lib's ssl (frozen into the unix port), over tls
finally:
    sys.path = _path
    sys.modules["ssl"] = _self
    del _self, _path

_REFUSE = -0x2700           # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED (mbedTLS reports it as fatal)


def _tlv(b, i):
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(bytes(b[i:i + k]), "big")
        i += k
    return tag, i, i + n


def _when(b, tag, s, e):
    t = bytes(b[s:e]).decode()
    if tag == 0x17:             # UTCTime YYMMDDHHMMSSZ: 1950-2049
        y = int(t[:2])
        y += 1900 if y >= 50 else 2000
        t = t[2:]
    else:                       # GeneralizedTime YYYYMMDDHHMMSSZ
        y = int(t[:4])
        t = t[4:]
    days = _vbsim.days_from_civil(y, int(t[0:2]), int(t[2:4]))
    return days * 86400 + int(t[4:6]) * 3600 + int(t[6:8]) * 60 + int(t[8:10])


def _validity(der):
    """(notBefore, notAfter) of a DER certificate, Unix seconds. (The firmware's certtime.py
    walks a certificate the same way; this stands for mbedTLS on the chip, so it must not
    depend on application code.)"""
    _, i, _ = _tlv(der, 0)      # Certificate
    _, i, _ = _tlv(der, i)      # TBSCertificate
    tag, _, end = _tlv(der, i)
    if tag == 0xA0:             # [0] version
        i = end
    for _ in range(3):          # serialNumber, signature, issuer
        _, _, i = _tlv(der, i)
    _, i, _ = _tlv(der, i)      # Validity
    tag, s, e = _tlv(der, i)
    before = _when(der, tag, s, e)
    tag, s, e = _tlv(der, e)
    return before, _when(der, tag, s, e)


def _check_dates(cert, depth):
    now = time.time() + _vbsim.EPOCH_2000     # the board's clock, Unix seconds
    try:
        before, after = _validity(cert)
    except (IndexError, ValueError):
        return 0                # not ours to judge: mbedTLS parsed it, it decides
    if before <= now <= after:
        return 0
    why = "starts in the future" if now < before else "has expired"
    _vb.send("tls_refused", depth=depth, why=why, board_time=now, not_before=before, not_after=after)
    return _REFUSE


class SSLContext(_frozen.SSLContext):
    def __init__(self, *args):
        super().__init__(*args)
        self._context.verify_callback = _check_dates


_frozen.SSLContext = SSLContext   # its wrap_socket() makes contexts by this name
for _k in dir(_frozen):
    if not _k.startswith("_") and _k != "SSLContext":
        globals()[_k] = getattr(_frozen, _k)
del _k
