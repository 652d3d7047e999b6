"""Provisioning: a technician takes a blank ESP32 to an enrolled, labelled device.

The `provision` command (provisioning/cli.py) is thin; this package is the API:

- flow.flash_board(FlashJob) / flow.provision_board(FlashJob, Fleet): flash, verify, start, enroll;
- flasher.Flasher: esptool's Python API on one port; image: firmware checks, filesystem image;
- deploy.deploy(): changed application files over mpremote; enroll.enroll(): token over the REPL;
- label: QR SVGs and A4 PDF sheets; batch.Batch: a plan of many boards on several ports;
- doctor.run(): the usual problems, each with its fix; errors: every failure, typed, with its fix.

docs/technician.md is the technician's guide.
"""

from .errors import ProvisionError
from .flow import FlashJob, Result, flash_board, provision_board

__all__ = ["FlashJob", "ProvisionError", "Result", "flash_board", "provision_board"]
