"""One board from blank to running, as a function: the steps `provision flash` and `provision batch`
take. Each step is timed; the result says what was done and what failed, with the fix."""

import dataclasses
import time

from boards import load_board

from . import errors, image
from .flasher import Flasher, _Reporter

NVS = (0x9000, 0x6000)           # partitions-4MiBplus.csv nvs: erased so no old secret survives a reflash


@dataclasses.dataclass
class FlashJob:
    port: str
    firmware: str                    # path of the MicroPython .bin
    board: str = "esp32-devkitc"
    role: str = None
    fleet_url: str = None
    wifi_ssid: str = None
    wifi_password: str = None
    site: str = None
    enroll_token: str = None
    baud: int = 460800
    ca: str = None                   # device CA path on the board, for https fleets
    ca_pem: bytes = None             # its contents, written into the filesystem image
    firmware_dir: str = None
    wait_app: bool = True
    label: str = None
    power: str = None                # "battery" | "mains"; default: battery for call buttons (they deep-sleep)


@dataclasses.dataclass
class Result:
    port: str
    ok: bool = False
    mac: str = None
    hw_id: str = None
    chip: str = None
    firmware: str = None
    device_id: str = None
    error: str = None
    code: str = None
    fix: str = None
    stage: str = None
    stages: dict = dataclasses.field(default_factory=dict)
    bytes_written: int = 0
    console: str = ""


def device_config(job):
    cfg = {"role": job.role, "board": job.board, "fleet_url": job.fleet_url,
           "wifi": {"ssid": job.wifi_ssid or "", "password": job.wifi_password or ""},
           "power": job.power or ("battery" if job.role == "call_button" else "mains")}
    if job.site:
        cfg["site"] = job.site
    if job.enroll_token:
        cfg["enroll_token"] = job.enroll_token
    if job.ca:
        cfg["ca"] = job.ca
    return cfg


def flash_board(job, on_stage=None, on_progress=None, seen_macs=None, on_identified=None):
    """Flash one board: identify, check the image against the chip, erase NVS, write firmware and
    filesystem, verify, reset, wait for the app. Returns a Result (never raises ProvisionError)."""
    res = Result(port=job.port)
    reporter = _Reporter(stage=on_stage, progress=on_progress)
    t0 = time.monotonic()
    try:
        fw = image.load_firmware(job.firmware)
        board = load_board(job.board)
        with Flasher(job.port, baud=job.baud, reporter=reporter) as fl:
            facts = fl.connect()
            res.mac, res.hw_id, res.chip = facts["mac"], facts["hw_id"], facts["description"]
            if seen_macs is not None:
                seen_macs(res.mac)                     # raises DuplicateBoard
            if on_identified is not None:
                on_identified(res)
            chip = image.chip_key(facts["chip"])
            if chip != board["chip"]:
                raise errors.WrongChip("the board on %s has an %s; the board definition %s is for %s"
                                       % (job.port, facts["chip"], job.board, board["chip"]))
            info = image.check_firmware(fw, chip, facts["flash_size"])
            res.firmware = "%s %s" % (info["project"], info["version"])
            t_prep = time.monotonic()
            cfg = device_config(job)
            files_extra = {}
            if job.ca and job.ca_pem:
                files_extra[job.ca] = job.ca_pem
            fs_off, fs_img = _fs_image(job, cfg, facts["flash_size"], files_extra)
            regions = [(info["offset"], fw), (fs_off, fs_img)]
            fl.stats["stages"]["prepare"] = time.monotonic() - t_prep     # the filesystem image, mpy-cross
            fl.erase_region(*NVS)
            fl.write(regions)
            fl.verify(regions)
            res.bytes_written = fl.stats["bytes_written"]
            if job.wait_app:
                res.console = fl.reset_and_watch()
            res.stages = {k: round(v, 3) for k, v in fl.stats["stages"].items()}
        res.ok = True
    except errors.ProvisionError as e:
        res.error, res.code, res.fix, res.stage = str(e), e.code, e.fix, e.stage
    res.stages["total"] = round(time.monotonic() - t0, 3)
    return res


def _fs_image(job, cfg, flash_size, extra):
    if not extra:
        return image.filesystem_image(job.board, cfg, flash_size, firmware_dir=job.firmware_dir)
    from boards.flashimage import littlefs_image
    files = image.device_files(job.board, cfg, job.firmware_dir)
    files.update(extra)
    part = image.vfs_partition(job.board, flash_size)
    return part["offset"], littlefs_image(files, part["size"])


def provision_board(job, fleet=None, hello_timeout=120.0, **callbacks):
    """flash_board, enrolled: a token bound to role, board and site is minted with the technician's
    API token (unless the job has one) and put into the device's config; then wait for the
    device's first hello and record its device id. Wi-Fi credentials stay on the board. With a
    fleet, the run is reported to it (best effort), refusals before flashing included."""
    res = None
    started = _now_iso()
    token_id = None
    if fleet is not None:
        try:
            if job.enroll_token:
                fleet.check_token(job.enroll_token, job.role, job.board, job.site)
            else:
                tok = fleet.mint_token(job.role, job.board, job.site)
                job = dataclasses.replace(job, enroll_token=tok["token"])
                token_id = tok["id"]
        except errors.ProvisionError as e:
            res = Result(port=job.port, error=str(e), code=e.code, fix=e.fix, stage="enroll")
    if res is None:
        res = flash_board(job, **callbacks)
        if res.ok and fleet is not None:
            t = time.monotonic()
            try:
                dev = fleet.wait_hello(res.hw_id, timeout=hello_timeout, since=started)
                res.device_id = dev["id"]
            except errors.ProvisionError as e:
                res.ok, res.error, res.code, res.fix, res.stage = False, str(e), e.code, e.fix, "hello"
            res.stages["hello"] = round(time.monotonic() - t, 3)
    if fleet is not None:
        fleet.report_run({"port": job.port, "mac": res.mac, "hw_id": res.hw_id, "role": job.role,
                          "board": job.board, "site": job.site, "firmware": res.firmware,
                          "device_id": res.device_id, "token_id": token_id, "ok": res.ok, "code": res.code,
                          "error": res.error, "fix": res.fix, "stage": res.stage, "started_at": started,
                          "seconds": res.stages.get("total"), "stages": res.stages})
    return res


def _now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
