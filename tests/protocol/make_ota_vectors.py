"""Writes tests/protocol/vectors/ota_manifest.json: signed OTA manifests and what a board must
answer to each (docs/ota.md). The same file is checked by CPython (tests/protocol/test_ota_manifest.py)
and by the real MicroPython interpreter (tests/firmware/mp/test_ota_manifest.py).

Run it only to change the vectors: `python tests/protocol/make_ota_vectors.py`. The private keys
live in memory and are thrown away; the file holds public keys and signatures only.
"""

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from devproto import ota
from fleet.ota import signing

OUT = Path(__file__).resolve().parent / "vectors" / "ota_manifest.json"
NOW = 1796031157
SHA = "ab" * 32


def main():
    keys = [rsa.generate_private_key(public_exponent=ota.E, key_size=ota.KEY_BITS) for _ in range(4)]
    trusted, revoked, stranger, successor = keys
    kid = [ota.key_id(signing.modulus_of(k.public_key())) for k in keys]
    base = {"format": 1, "kind": "app", "version": "1.1.0", "sv": 2, "boards": ["virtual", "esp32-devkitc"],
            "roles": ["call_button"], "size": 65000, "sha256": SHA, "min_version": "0.9.0",
            "expires": NOW + 86400, "created": NOW - 60}

    def env(changes=None, key=trusted, drop=()):
        m = dict(base, **(changes or {}))
        for f in drop:
            m.pop(f)
        return signing.sign_text(key, signing.manifest_text(m))

    cases = [("good", env(), "ok"),
             ("any_board", env({"boards": ["*"]}), "ok")]
    good = json.loads(env())
    tampered = dict(good, manifest=good["manifest"].replace('"size":65000', '"size":65001'))
    cases.append(("tampered_byte", json.dumps(tampered), "bad_signature"))
    forged = json.loads(env(key=stranger))
    forged["key"] = kid[0]                       # another key's signature, claiming the trusted key
    cases.append(("wrong_signature", json.dumps(forged), "bad_signature"))
    flipped = dict(good, sig=good["sig"][:-2] + ("00" if good["sig"][-2:] != "00" else "01"))
    cases.append(("flipped_signature_bit", json.dumps(flipped), "bad_signature"))
    big = dict(good, sig=signing.modulus_of(trusted.public_key()).hex())
    cases.append(("signature_not_below_modulus", json.dumps(big), "bad_signature"))
    cases.append(("short_signature", json.dumps(dict(good, sig=good["sig"][:-2])), "bad_signature"))
    cases += [
        ("unknown_key", env(key=stranger), "unknown_key"),
        ("revoked_key", env(key=revoked), "revoked_key"),
        ("downgrade_security_version", env({"sv": 1}), "downgrade"),
        ("downgrade_version", env({"version": "0.9.9"}), "downgrade"),
        ("same_version", env({"version": "1.0.0"}), "not_newer"),
        ("too_old_to_update", env({"min_version": "1.0.1"}), "too_old"),
        ("expired", env({"expires": NOW - 1}), "expired"),
        ("wrong_board", env({"boards": ["esp32-c3-devkitm-1"]}), "wrong_board"),
        ("wrong_role", env({"roles": ["smart_bin"]}), "wrong_role"),
        ("wrong_kind", env({"kind": "firmware"}), "wrong_kind"),
        ("missing_hash", env(drop=("sha256",)), "bad_manifest"),
        ("bad_version", env({"version": "1.1"}), "bad_manifest"),
        ("not_json", "{manifest", "bad_envelope"),
        ("no_signature", json.dumps({"manifest": good["manifest"], "key": kid[0]}), "bad_envelope"),
    ]
    # Key rotation, applied in this order on one board: the trusted key hands over to its
    # successor and is revoked; a replay, a revoked signer, a rotation that would leave no key and
    # a key whose id does not match are refused; then only the successor's signatures count.
    def keys_env(seq, key, add=(), revoke=(), bad_id=False):
        added = {}
        for k in add:
            n = signing.modulus_of(k.public_key())
            added[("0" * 16) if bad_id else ota.key_id(n)] = n.hex()
        m = {"format": 1, "kind": "keys", "seq": seq, "add": added, "revoke": [kid[keys.index(k)] for k in revoke],
             "boards": ["*"], "roles": ["*"], "expires": NOW + 86400, "created": NOW - 60}
        return signing.sign_text(key, signing.manifest_text(m))

    rotation = [
        ("hand_over", keys_env(1, trusted, add=[successor], revoke=[trusted]), "ok"),
        ("replayed", keys_env(1, trusted, add=[successor], revoke=[trusted]), "revoked_key"),
        ("old_seq_from_successor", keys_env(1, successor, add=[stranger]), "not_newer"),
        ("signed_by_revoked", keys_env(2, revoked, add=[stranger]), "revoked_key"),
        ("leaves_no_key", keys_env(2, successor, revoke=[successor]), "bad_keys"),
        ("id_mismatch", keys_env(2, successor, add=[stranger], bad_id=True), "bad_keys"),
        ("release_by_old_key", env(key=trusted), "revoked_key"),
        ("release_by_successor", env(key=successor), "ok"),
    ]
    vectors = {
        "about": "signed OTA manifests and the answer a board must give (tests/protocol/make_ota_vectors.py)",
        "board": "virtual", "role": "call_button", "kind": "app", "now": NOW, "current": "1.0.0", "sv": 2,
        "keys": {kid[0]: signing.modulus_of(trusted.public_key()).hex(),
                 kid[1]: signing.modulus_of(revoked.public_key()).hex()},
        "revoked": [kid[1]],
        "cases": [{"name": n, "envelope": e, "expect": x} for n, e, x in cases],
        "rotation": [{"name": n, "envelope": e, "expect": x} for n, e, x in rotation],
    }
    OUT.write_text(json.dumps(vectors, indent=1) + "\n")
    print("wrote %s (%d cases)" % (OUT, len(cases)))


if __name__ == "__main__":
    main()
