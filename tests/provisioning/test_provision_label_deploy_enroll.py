"""Labels (segno SVG, reportlab PDF), deploy over mpremote with the watchdog running and the board
asleep, and enrolling a flashed board over its REPL."""

import re
import xml.etree.ElementTree as ET

import segno

from provisioning import FlashJob, flash_board, label
from provisioning.deploy import deploy
from provisioning.enroll import enroll
from provisioning.fleetapi import Fleet
from provkit import WIFI, provision


def test_labels_as_svg_and_an_a4_sheet(tmp_path):
    labels = [label.device_label("https://fleet.example", "cb-%010x" % i, "call_button", "block-7", "24:0a:c4:00:00:%02x" % i)
              for i in range(30)]
    svg = label.svg(labels[0])
    root = ET.fromstring(svg)                                  # well-formed SVG
    assert root.tag.endswith("svg") and "cb-0000000000" in svg
    # the code in the SVG is the QR of the device's URL, module for module
    qr = segno.make("https://fleet.example/devices?id=cb-0000000000", error="m")
    assert labels[0].url == "https://fleet.example/devices?id=cb-0000000000"
    expected_path = re.search(r'<path[^>]* d="([^"]+)"', _svg_of(qr)).group(1)
    assert expected_path in svg
    r = provision("label", "cb-1", "cb-2", "--fleet", "https://fleet.example", "--out", str(tmp_path / "out"),
                  "--grid", "4x10")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.svg")) == ["cb-1.svg", "cb-2.svg"]
    pages = label.pdf_sheet(labels, tmp_path / "sheet.pdf", "3x8")
    assert pages == 2                                          # 30 labels, 24 per page
    data = (tmp_path / "sheet.pdf").read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 2
    # a facility asset's label is its public identity: the code from the asset registry (devproto.assetcode)
    from devproto import assetcode
    code = assetcode.from_random(b"\x12\x34\x56\x78\x9a")
    r = provision("label", "--asset", assetcode.label(code), "--fleet", "https://fleet.example", "--out",
                  str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "a" / ("%s.svg" % assetcode.label(code))).read_text()
    assert assetcode.label(code) in svg
    assert label.asset_label("https://fleet.example", code).url == "https://fleet.example/a/" + code
    r = provision("label", "--asset", code[:-1] + ("0" if code[-1] != "0" else "1"), "--fleet",
                  "https://fleet.example", "--out", str(tmp_path / "b"))
    assert r.returncode == 1 and "not a valid asset code" in r.stderr


def _svg_of(qr):
    import io
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return buf.getvalue().decode()


def test_enroll_a_flashed_board_over_its_repl(blank, firmware, fleet):
    b = blank()
    res = flash_board(FlashJob(port=b.serial_url, firmware=str(firmware), board="virtual", role="smart_bin",
                               fleet_url=fleet.url, wifi_ssid=WIFI["ssid"], wifi_password=WIFI["password"]))
    assert res.ok, res.error
    assert fleet.device_by_hw(b.info()["hw_id"]) is None          # flashed, not enrolled
    with Fleet(fleet.url, fleet.tech_token) as f:
        dev = enroll(b.serial_url, f, "smart_bin", "virtual", site="depot-2", hello_timeout=60)
    assert dev["hw_id"] == b.info()["hw_id"] and dev["site"] == "depot-2" and dev["last_hello"]
    assert '"device_id":"%s"' % dev["id"] in b.read_file("/config.json").decode()


def test_deploy_copies_only_changed_files_with_the_watchdog_running_and_the_board_asleep(blank, firmware, fleet,
                                                                                         tmp_path):
    import shutil
    from boards.fsimage import FIRMWARE_DIR
    fw_dir = tmp_path / "fw"
    shutil.copytree(FIRMWARE_DIR, fw_dir)
    b = blank()
    res = flash_board(FlashJob(port=b.serial_url, firmware=str(firmware), board="virtual", role="call_button",
                               fleet_url=fleet.url, wifi_ssid=WIFI["ssid"], wifi_password=WIFI["password"],
                               firmware_dir=str(fw_dir), enroll_token=fleet.enrollment_token(role="call_button")))
    assert res.ok, res.error
    # the call button runs with its watchdog armed, enrolls, says hello and deep-sleeps (battery)
    b.wait_for(lambda x: x.info()["wdt_ms"], timeout=30, what="the watchdog armed")
    b.wait_state("sleeping", timeout=60)
    out = deploy(b.serial_url, "virtual", firmware_dir=str(fw_dir))
    assert out["copied"] == [] and len(out["unchanged"]) > 10     # nothing changed: nothing written
    (fw_dir / "app" / "log.py").write_text((fw_dir / "app" / "log.py").read_text() + "\nDEPLOYED = 2\n")
    out = deploy(b.serial_url, "virtual", firmware_dir=str(fw_dir))
    assert out["copied"] == ["/app_%s/log.mpy" % out["slot"]]
    b.expect("supervisor: start", timeout=30)                      # reset afterwards: the app runs again
    # with its watchdog, armed by the runtime's watchdog task a moment after that line
    b.wait_for(lambda x: x.info()["wdt_ms"], timeout=30, what="the watchdog armed again")
    text = b.console_text()
    assert "soft reset: watchdog" in text and "task_wdt" not in text
