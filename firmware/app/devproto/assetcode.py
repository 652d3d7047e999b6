# An asset's public code: the one definition shared by the fleet (fleet/facilities: the
# registry makes codes, the public page /a/<code> reads them), the provisioning CLI
# (`provision label` prints the QR label) and the beacon firmware (the URL it advertises).
# Plain Python that MicroPython also runs; docs/facilities.md "Public codes".
#
# A code is 7 random symbols and 1 check symbol of Crockford's base 32 (digits and capitals
# without I, L, O, U): 35 random bits, so with 100,000 assets registered a guess hits one in
# ~340,000 tries - and the public form is rate-limited per address. Printed as K7QM-4XPA;
# typed in any case, with or without the dash, O for 0 and I/L for 1 are accepted. The check
# symbol (odd weights, mod 32) catches every single wrong symbol and most swapped neighbours,
# so a mistyped code is told apart from an unknown one without a database look-up.

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LEN = 7
LENGTH = RANDOM_LEN + 1
PATH = "/a/"                                       # the public page: <base>/a/<code>
_WEIGHTS = (1, 3, 5, 7, 9, 11, 13)                 # odd: no single change is a multiple of 32
_SAME = {"O": "0", "I": "1", "L": "1"}             # what people type for what they read


def check_symbol(body):
    """The check symbol of 7 code symbols."""
    total = 0
    for i in range(RANDOM_LEN):
        total += _WEIGHTS[i] * ALPHABET.index(body[i])
    return ALPHABET[total % 32]


def from_random(raw):
    """A code from at least 5 random bytes (os.urandom(5)): 7 symbols of 5 bits each + check."""
    if len(raw) < 5:
        raise ValueError("need 5 random bytes")
    n = 0
    for b in raw[:5]:
        n = (n << 8) | b
    body = ""
    for _ in range(RANDOM_LEN):
        body = ALPHABET[n & 31] + body
        n >>= 5
    return body + check_symbol(body)


def new_code():
    import os
    return from_random(os.urandom(5))


def normalise(text):
    """What someone typed or scanned -> the canonical code (upper case, no dash or space,
    O->0, I/L->1), or None when it cannot be one (wrong length, foreign symbols)."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    out = ""
    for c in text.strip().upper():
        if c in "- ":
            continue
        c = _SAME.get(c, c)
        if c not in ALPHABET:
            return None
        out += c
    return out if len(out) == LENGTH else None


def is_valid(code):
    """True for a canonical code whose check symbol agrees."""
    return isinstance(code, str) and len(code) == LENGTH and normalise(code) == code \
        and check_symbol(code[:RANDOM_LEN]) == code[RANDOM_LEN]


def label(code):
    """How a label prints it: K7QM-4XPA."""
    return code[:4] + "-" + code[4:]


def public_url(base, code):
    """The URL on the QR label and in the Eddystone-URL frame: <base>/a/<code>."""
    return base.rstrip("/") + PATH + code
