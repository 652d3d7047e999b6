# Signed OTA manifests on the real MicroPython interpreter: devproto.ota (RSA-3072 verify, target
# checks) and otatrust (keys on the board's LittleFS, security version, rotation, revocation),
# against the vectors CPython checks too (tests/protocol/vectors/ota_manifest.json). MicroPython.
import os
import gc
import json
import time
import binascii
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
SRC = os.getenv("FW_SRC")
import store  # noqa: E402
import otatrust  # noqa: E402
from devproto import ota  # noqa: E402

with open(SRC + "/../tests/protocol/vectors/ota_manifest.json") as _f:
    V = json.load(_f)


def _board():
    store.makedirs("/keys")
    for kid in V["keys"]:
        store.write_atomic("/keys/" + kid + ".rsa", binascii.unhexlify(V["keys"][kid]))
    store.write_json("/state/trust.json", {"sv": V["sv"], "revoked": V["revoked"]})


def _answer(envelope):
    trust = otatrust.Trust()
    try:
        m = ota.verify(envelope, trust.lookup)
        ota.check_target(m, "keys" if m["kind"] == "keys" else V["kind"], V["board"], V["role"], V["now"],
                         V["current"], trust.sv)
        if m["kind"] == "keys":
            trust.rotate(m)
    except ota.Refused as r:
        return r.reason
    return "ok"


def test_every_vector_gets_the_same_answer_as_in_cpython():
    _board()
    for c in V["cases"]:
        eq(_answer(c["envelope"]), c["expect"], c["name"])


def test_key_rotation_hands_over_and_revokes():
    _board()
    for c in V["rotation"]:
        eq(_answer(c["envelope"]), c["expect"], c["name"])
    # the old key's file is gone; the revoked list and the rotation seq are on flash
    st = store.read_json("/state/trust.json")
    eq(st["kseq"], 1)
    eq(len(st["revoked"]), 2)
    eq(len(otatrust.Trust().keys()), 1)


def test_security_version_only_rises_and_is_kept():
    _board()
    t = otatrust.Trust()
    t.raise_sv(5)
    t.raise_sv(3)
    eq(otatrust.Trust().sv, 5)
    eq(_answer(V["cases"][0]["envelope"]), "downgrade")     # sv 2 < 5 now


def test_a_damaged_key_file_trusts_nothing():
    _board()
    kid = list(V["keys"])[0]
    with open(store.path("/keys/" + kid + ".rsa"), "r+b") as f:
        f.seek(100)
        f.write(b"\x00")
    eq(_answer(V["cases"][0]["envelope"]), "unknown_key")


def test_verify_heap_and_time():
    # One RSA-3072 verify of the good vector: peak allocation and time on this interpreter
    # (docs/ota.md records the figures; the benchmark measures them on a virtual board).
    _board()
    env = V["cases"][0]["envelope"]
    trust = otatrust.Trust()
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    t0 = time.ticks_us()
    ota.verify(env, trust.lookup)
    dt = time.ticks_diff(time.ticks_us(), t0)
    used = gc.mem_alloc() - a
    gc.enable()
    print("OTA verify: %d bytes allocated, %d us" % (used, dt))
    ok(used < 24000, "verify allocated %d bytes" % used)


mptest.main(globals())
