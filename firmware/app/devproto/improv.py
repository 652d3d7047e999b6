# Improv Wi-Fi (improv-wifi.com, BLE spec 2.2, serial spec 1): the codec both the firmware
# (improvmode.py, on a board in provisioning mode only) and the technician's tool
# (provisioning/improv.py, CPython) use. Plain code for both interpreters.
#
# RPC frame (BLE RPC command / result characteristics): command, data length, data,
# checksum = the low byte of the sum of every byte before it. Over serial the RPC sits in a
# packet "IMPROV", version 1, type, length, data, checksum over the whole packet, and has no
# checksum of its own. Result data is a list of strings, each prefixed with its length.

SERVICE = "00467768-6228-2272-4663-277478268000"
CHAR_STATE = "00467768-6228-2272-4663-277478268001"
CHAR_ERROR = "00467768-6228-2272-4663-277478268002"
CHAR_RPC = "00467768-6228-2272-4663-277478268003"
CHAR_RESULT = "00467768-6228-2272-4663-277478268004"
CHAR_CAPS = "00467768-6228-2272-4663-277478268005"
SERVICE_DATA_UUID16 = 0x4677

# current state
AUTH_REQUIRED = 1
AUTHORIZED = 2              # serial: "ready"
PROVISIONING = 3
PROVISIONED = 4

# error state
E_NONE = 0
E_INVALID_RPC = 1
E_UNKNOWN_RPC = 2
E_UNABLE_TO_CONNECT = 3
E_NOT_AUTHORIZED = 4
E_UNKNOWN = 0xFF
ERRORS = {E_NONE: "no error", E_INVALID_RPC: "invalid RPC packet", E_UNKNOWN_RPC: "unknown RPC command",
          E_UNABLE_TO_CONNECT: "unable to connect", E_NOT_AUTHORIZED: "not authorized", E_UNKNOWN: "unknown error"}

# RPC commands
WIFI = 1
IDENTIFY = 2                # BLE; over serial 2 is "request current state"
GET_STATE = 2
DEVICE_INFO = 3
SCAN = 4

# capabilities (BLE)
CAP_IDENTIFY = 1
CAP_DEVICE_INFO = 2
CAP_SCAN = 4

# serial packet types
T_STATE = 1
T_ERROR = 2
T_RPC = 3
T_RESULT = 4
HEADER = b"IMPROV"
VERSION = 1


def uuid_le(uuid):
    """A 128-bit UUID string as the 16 little-endian bytes an advertisement carries."""
    h = uuid.replace("-", "")
    return bytes(int(h[i:i + 2], 16) for i in range(30, -2, -2))


def checksum(data):
    s = 0
    for b in data:
        s += b
    return s & 0xFF


def _enc(s):
    return s if isinstance(s, (bytes, bytearray)) else str(s).encode()


def strings(items):
    """A list of strings as RPC data: each UTF-8, prefixed with its length (at most 255)."""
    out = bytearray()
    for s in items:
        b = _enc(s)
        if len(b) > 255:
            raise ValueError("string too long")
        out.append(len(b))
        out += b
    return bytes(out)


def parse_strings(data):
    out = []
    i = 0
    while i < len(data):
        n = data[i]
        if i + 1 + n > len(data):
            raise ValueError("string runs past the data")
        out.append(bytes(data[i + 1:i + 1 + n]).decode())
        i += 1 + n
    return out


def frame(cmd, data=b"", with_checksum=True):
    """An RPC command or result: command, length, data (+ checksum on BLE)."""
    if len(data) > 255:
        raise ValueError("RPC data longer than 255 bytes")
    b = bytes([cmd, len(data)]) + bytes(data)
    return b + bytes([checksum(b)]) if with_checksum else b


def frame_length(buf):
    """Bytes a BLE RPC frame starting buf needs in all (None until its length byte is there)."""
    return buf[1] + 3 if len(buf) >= 2 else None


def parse_frame(buf, with_checksum=True):
    """(command, data) of a whole RPC frame; ValueError if it is malformed."""
    if len(buf) < 2 or len(buf) != buf[1] + (3 if with_checksum else 2):
        raise ValueError("bad RPC length")
    if with_checksum and checksum(buf[:-1]) != buf[-1]:
        raise ValueError("bad RPC checksum")
    return buf[0], bytes(buf[2:2 + buf[1]])


def wifi_data(ssid, password):
    return strings((ssid, password))


def parse_wifi(data):
    """(ssid, password) from a Wi-Fi RPC's data; ValueError if malformed."""
    s = parse_strings(data)
    if len(s) != 2 or not s[0]:
        raise ValueError("bad Wi-Fi settings")
    return s[0], s[1]


def packet(ptype, data):
    """A serial packet: IMPROV, version, type, length, data, checksum of all before it."""
    b = HEADER + bytes([VERSION, ptype, len(data)]) + bytes(data)
    return b + bytes([checksum(b)])


class SerialParser:
    """Improv packets out of a byte stream that also carries other bytes (a console). feed()
    returns [(type, data)] of the whole packets found; a packet with a bad checksum gives
    (None, None) so the device can answer "invalid RPC"."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        out = []
        b = self.buf + bytes(data)
        while True:
            i = b.find(HEADER)
            if i < 0:
                keep = 0                       # keep a tail that may start a header
                for k in range(min(len(HEADER) - 1, len(b)), 0, -1):
                    if b[len(b) - k:] == HEADER[:k]:
                        keep = k
                        break
                self.buf = b[len(b) - keep:] if keep else b""
                return out
            if len(b) < i + 9:
                self.buf = b[i:]
                return out
            n = b[i + 8]
            end = i + 9 + n + 1
            if len(b) < end:
                self.buf = b[i:]
                return out
            pkt = b[i:end]
            if pkt[6] == VERSION and checksum(pkt[:-1]) == pkt[-1]:
                out.append((pkt[7], pkt[9:9 + n]))
            else:
                out.append((None, None))
            b = b[end:]
