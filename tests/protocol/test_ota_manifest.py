"""Signed OTA manifests in CPython: the fleet signs (fleet.ota.signing) and checks with the code
the board runs (devproto.ota, and the board's trust store firmware/app/otatrust.py run here too),
against the vectors the real MicroPython interpreter checks as well
(tests/firmware/mp/test_ota_manifest.py). docs/ota.md."""

import json
import sys
import types
from pathlib import Path

import pytest

from devproto import ota
from fleet.errors import Invalid
from fleet.ota import signing

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "tests" / "protocol" / "vectors" / "ota_manifest.json").read_text())


@pytest.fixture
def board(tmp_path, monkeypatch):
    """The board's trust store (firmware/app/otatrust.py, unchanged) on a directory: the keys of
    the vectors in /keys, the revoked one listed in /state/trust.json."""
    monkeypatch.syspath_prepend(str(REPO / "firmware" / "app"))
    monkeypatch.setitem(sys.modules, "micropython", types.SimpleNamespace(const=lambda v: v))
    for name in ("store", "otatrust"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import otatrust
    import store
    monkeypatch.setattr(store, "ROOT", str(tmp_path))
    (tmp_path / "keys").mkdir()
    for kid, n in VECTORS["keys"].items():
        (tmp_path / "keys" / (kid + ".rsa")).write_bytes(bytes.fromhex(n))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "trust.json").write_text(json.dumps({"sv": VECTORS["sv"], "revoked": VECTORS["revoked"]}))
    return otatrust


def answer(otatrust, envelope):
    """What the board does with an envelope: verify, check the target, apply a rotation."""
    trust = otatrust.Trust()
    v = VECTORS
    try:
        m = ota.verify(envelope, trust.lookup)
        ota.check_target(m, "keys" if m["kind"] == "keys" else v["kind"], v["board"], v["role"], v["now"],
                         v["current"], trust.sv)
        if m["kind"] == "keys":
            trust.rotate(m)
    except ota.Refused as refused:
        return refused.reason
    return "ok"


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_each_vector_gets_the_answer_a_board_must_give(board, case):
    assert answer(board, case["envelope"]) == case["expect"]


def test_key_rotation_hands_over_and_revokes(board):
    got = [(step["name"], answer(board, step["envelope"])) for step in VECTORS["rotation"]]
    assert got == [(step["name"], step["expect"]) for step in VECTORS["rotation"]]


def test_the_vectors_cover_every_refusal_a_signature_or_target_can_cause():
    expected = {c["expect"] for c in VECTORS["cases"] + VECTORS["rotation"]}
    assert expected >= {"ok", "bad_signature", "unknown_key", "revoked_key", "downgrade", "expired", "wrong_board",
                        "wrong_role", "wrong_kind", "not_newer", "too_old", "bad_manifest", "bad_envelope", "bad_keys"}
    assert expected <= set(ota.REASONS) | {"ok"}


def test_a_key_made_by_keygen_signs_what_the_board_verifies(tmp_path):
    kid = signing.generate(tmp_path)
    private = tmp_path / ("%s.pem" % kid)
    assert private.stat().st_mode & 0o777 == 0o600
    key = signing.load_private(private)
    pub_kid, modulus = signing.load_public((tmp_path / ("%s.pub.pem" % kid)).read_bytes())
    assert pub_kid == kid == ota.key_id(modulus) and len(modulus) == ota.KEY_BYTES
    text = signing.manifest_text({"format": 1, "kind": "app", "version": "2.0.0", "sv": 0, "boards": ["*"],
                                  "roles": ["*"], "size": 1, "sha256": "00" * 32, "expires": 2, "created": 1})
    m = ota.verify(signing.sign_text(key, text), lambda k: modulus if k == kid else None)
    assert m["version"] == "2.0.0" and m["key"] == kid


def test_an_encrypted_key_needs_its_passphrase(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.PASSPHRASE_ENV, "correct horse")
    kid = signing.generate(tmp_path)
    assert b"ENCRYPTED" in (tmp_path / ("%s.pem" % kid)).read_bytes()
    monkeypatch.setenv(signing.PASSPHRASE_ENV, "wrong")
    with pytest.raises(Invalid, match="cannot read the release key"):
        signing.load_private(tmp_path / ("%s.pem" % kid))


def test_a_weaker_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa
    weak = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Invalid, match="RSA-3072"):
        signing.load_public(signing.public_pem(weak.public_key()))
