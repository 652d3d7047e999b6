# Eddystone frames for the facility beacon (docs/facilities.md "BLE"): one definition for the
# firmware (roles/beacon.py advertises them) and the fleet (which checks that an asset's public
# URL fits before it sends it to a beacon). Plain Python that MicroPython also runs.
#
# Eddystone-URL (frame type 0x10): tx power at 0 m (signed dBm), a scheme byte, then the URL
# after its scheme in at most 17 bytes, with one-byte expansion codes for ".com/" and the like.
# Eddystone-UID (0x00): tx power, a 10-byte namespace, a 6-byte instance (the asset's id).
# Both ride in an advertisement as service data of the 16-bit UUID 0xFEAA.

SERVICE = 0xFEAA
URL_FRAME = 0x10
UID_FRAME = 0x00
MAX_URL = 17
SCHEMES = ("http://www.", "https://www.", "http://", "https://")
EXPANSIONS = (".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
              ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov")
# The district's namespace: the first 10 bytes of SHA-1("district-devices facilities"), as the
# Eddystone spec suggests for a namespace of one's own (truncated hash of a name one owns).
NAMESPACE = b"\x8f\xc7\x71\x21\x3b\xcd\xa2\x83\xa5\xb7"


def encode_url(url):
    """The scheme byte and the encoded rest of url; ValueError when it cannot be advertised."""
    scheme = None
    for i in range(len(SCHEMES)):
        if url.startswith(SCHEMES[i]):
            scheme = i                      # "https://www." before "https://": checked in order
            break
    if scheme is None:
        raise ValueError("an Eddystone URL starts with http:// or https://")
    rest = url[len(SCHEMES[scheme]):]
    out = bytearray((scheme,))
    i = 0
    while i < len(rest):
        for code in range(len(EXPANSIONS)):
            word = EXPANSIONS[code]
            if rest[i:i + len(word)] == word:
                out.append(code)
                i += len(word)
                break
        else:
            c = ord(rest[i])
            if c <= 0x20 or c >= 0x7F:
                raise ValueError("an Eddystone URL holds printable ASCII only")
            out.append(c)
            i += 1
    if len(out) - 1 > MAX_URL:
        raise ValueError("%s is %d bytes encoded: an Eddystone-URL holds at most %d" % (url, len(out) - 1, MAX_URL))
    return bytes(out)


def decode_url(data):
    """The URL of an encoded scheme byte + body (what a scanner shows)."""
    out = SCHEMES[data[0]]
    for b in data[1:]:
        out += EXPANSIONS[b] if b < len(EXPANSIONS) else chr(b)
    return out


def _tx(tx_dbm):
    return tx_dbm & 0xFF


def url_frame(url, tx_dbm=-20):
    return bytes((URL_FRAME, _tx(tx_dbm))) + encode_url(url)


def uid_frame(instance, tx_dbm=-20, namespace=NAMESPACE):
    """instance: 6 bytes (the asset's id, big-endian)."""
    if len(instance) != 6 or len(namespace) != 10:
        raise ValueError("a UID is a 10-byte namespace and a 6-byte instance")
    return bytes((UID_FRAME, _tx(tx_dbm))) + namespace + instance + b"\x00\x00"


def instance_of(asset_id):
    """An asset id as the 6-byte UID instance."""
    out = bytearray(6)
    for i in range(5, -1, -1):
        out[i] = asset_id & 0xFF
        asset_id >>= 8
    return bytes(out)


def advert(frame):
    """A whole advertising payload (<= 31 bytes): flags, the Eddystone UUID, the frame."""
    uuid = bytes((SERVICE & 0xFF, SERVICE >> 8))
    data = uuid + frame
    return b"\x02\x01\x06" + bytes((3, 0x03)) + uuid + bytes((len(data) + 1, 0x16)) + data
