"""build_fs: exactly what goes onto a board's filesystem."""

import json

import pytest

from boards import FirmwareError, build_fs, file_hashes, load_board, write_fs

CONFIG = {"role": "call_button", "board": "esp32-devkitc", "fleet_url": "http://fleet.example:8000",
          "wifi": {"ssid": "lab", "password": "secret"}, "site": "xialu-1", "enroll_token": "et_abc"}


@pytest.fixture
def firmware(tmp_path):
    fw = tmp_path / "firmware"
    (fw / "app" / "drivers" / "__pycache__").mkdir(parents=True)
    (fw / "boot.py").write_text("print('boot')\n")
    (fw / "main.py").write_text("print('main')\n")
    (fw / "app" / "app.json").write_text('{"version": "0.1.0"}')
    (fw / "app" / "supervisor.py").write_text("def main(): pass\n")
    (fw / "app" / "drivers" / "led.py").write_text("class Led: pass\n")
    (fw / "app" / "drivers" / "__pycache__" / "led.cpython-311.pyc").write_bytes(b"\0junk")
    (fw / "app" / "stale.pyc").write_bytes(b"\0")
    (fw / "app" / ".hidden").write_text("x")
    (fw / "README.md").write_text("not on the board")
    return fw


def test_image_holds_exactly_the_board_files(firmware):
    files = build_fs("esp32-devkitc", CONFIG, firmware_dir=firmware)
    assert sorted(files) == ["/app_a/app.json", "/app_a/drivers/led.py", "/app_a/supervisor.py",
                             "/board.json", "/boot.py", "/config.json", "/main.py"]
    assert files["/boot.py"] == b"print('boot')\n"
    assert files["/app_a/drivers/led.py"] == b"class Led: pass\n"
    board = json.loads(files["/board.json"])
    expected = load_board("esp32-devkitc")
    expected.pop("notes")
    assert board == expected
    assert board["pins"]["button"] == 27 and board["micropython"]["offset"] == 0x1000
    assert json.loads(files["/config.json"]) == CONFIG
    assert all(isinstance(v, bytes) for v in files.values())


def test_slot_b_and_board_from_argument(firmware):
    cfg = dict(CONFIG)
    cfg.pop("board")
    files = build_fs("esp32-c3-devkitm-1", cfg, firmware_dir=firmware, slot="b")
    assert "/app_b/supervisor.py" in files and not any(p.startswith("/app_a/") for p in files)
    assert json.loads(files["/config.json"])["board"] == "esp32-c3-devkitm-1"
    assert json.loads(files["/board.json"])["chip"] == "esp32c3"


@pytest.mark.parametrize("change, needle", [
    ({"role": "toaster"}, "role"),
    ({"fleet_url": "ftp://x"}, "fleet_url"),
    ({"wifi": {"password": "x"}}, "wifi"),
    ({"board": "virtual"}, "built for 'esp32-devkitc'"),
    ({"site": 5}, "site"),
    ({"fleet_url": "https://fleet.example"}, "an https:// fleet_url needs"),   # no CA: never unverified
    ({"fleet_url": "https://fleet.example", "tls_insecure": "yes"}, "tls_insecure"),
    ({"ca": 1}, "ca"),
])
def test_invalid_settings_are_refused(firmware, change, needle):
    cfg = dict(CONFIG)
    cfg.update(change)
    with pytest.raises(FirmwareError) as e:
        build_fs("esp32-devkitc", cfg, firmware_dir=firmware)
    assert any(needle in p for p in e.value.problems), e.value.problems


def test_https_with_a_pinned_ca_or_explicitly_insecure_is_accepted(firmware):
    for extra in ({"ca": "/fleet-ca.pem"}, {"tls_insecure": True}):
        cfg = dict(CONFIG, fleet_url="https://fleet.example", **extra)
        assert json.loads(build_fs("esp32-devkitc", cfg, firmware_dir=firmware)["/config.json"]) == cfg


def test_missing_firmware_is_a_clear_error(tmp_path):
    with pytest.raises(FirmwareError, match="does not exist"):
        build_fs("virtual", CONFIG | {"board": "virtual"}, firmware_dir=tmp_path / "nope")
    (tmp_path / "empty" / "app").mkdir(parents=True)
    with pytest.raises(FirmwareError, match="neither boot.py nor main.py"):
        build_fs("virtual", CONFIG | {"board": "virtual"}, firmware_dir=tmp_path / "empty")
    with pytest.raises(FirmwareError, match="slot"):
        build_fs("virtual", CONFIG | {"board": "virtual"}, firmware_dir=tmp_path / "empty", slot="c")


def test_write_fs_and_hashes(tmp_path, firmware):
    files = build_fs("virtual", CONFIG | {"board": "virtual"}, firmware_dir=firmware)
    root = tmp_path / "flash"
    (root / "old").mkdir(parents=True)
    (root / "old" / "x.txt").write_text("old")
    write_fs(files, root, clean=True)
    on_disk = {"/" + p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert on_disk == files
    h = file_hashes(files)
    assert len(h) == len(files) and all(len(v) == 64 for v in h.values())
    with pytest.raises(FirmwareError, match="escapes"):
        write_fs({"/../evil.py": b"x"}, root)
    with pytest.raises(FirmwareError, match="must start with '/'"):
        write_fs({"main.py": b"x"}, root)


def test_repository_firmware_builds():
    files = build_fs("virtual", CONFIG | {"board": "virtual"})
    assert "/boot.py" in files and "/main.py" in files
    assert any(p.startswith("/app_a/") for p in files)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in files)
