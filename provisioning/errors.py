"""What can go wrong while provisioning, each with the fix a technician can do.

Every error is a ProvisionError: `str(e)` says what happened, `e.fix` what to do, `e.code` a
stable name (the batch result CSV and the fleet's run list use it), `e.stage` where it happened.
"""


class ProvisionError(Exception):
    code = "error"
    fix = "Read the message above; `provision doctor --port PORT` checks the usual causes."

    def __init__(self, message, fix=None, stage=None):
        super().__init__(message)
        if fix is not None:
            self.fix = fix
        self.stage = stage

    def describe(self):
        return "%s\n  fix: %s" % (self, self.fix)


class PortNotFound(ProvisionError):
    code = "port_not_found"
    fix = "Check the USB cable (a charge-only cable has no data lines) and run `provision doctor` to list ports."


class PortPermission(ProvisionError):
    code = "port_permission"
    fix = "Add yourself to the dialout group: `sudo usermod -aG dialout $USER`, then log out and in again."


class PortBusy(ProvisionError):
    code = "port_busy"
    fix = "Another program holds the port: close it (serial monitor, mpremote, another provision run)."


class NotInDownloadMode(ProvisionError):
    code = "no_download_mode"
    fix = ("The board did not enter download mode: hold BOOT and tap EN (RST), then retry; "
           "or try `--baud 115200` and another USB cable.")


class ConnectionLost(ProvisionError):
    code = "connection_lost"
    fix = ("The board went away mid-way (cable pulled or loose). Plug it in again and run the same "
           "command: what was written and verified is skipped, the rest is written again.")


class WrongChip(ProvisionError):
    code = "wrong_chip"
    fix = "Use the firmware image built for this chip (see boards/definitions/ and `provision doctor`)."


class FlashTooSmall(ProvisionError):
    code = "flash_too_small"
    fix = "This module's flash is too small for the partition table: use a board with more flash (4 MB)."


class ImageInvalid(ProvisionError):
    code = "image_invalid"
    fix = "Download the firmware .bin again from the release page and check its name."


class VerifyFailed(ProvisionError):
    code = "verify_failed"
    fix = "Run the same command again; if it fails twice, try `--baud 115200` or another cable."


class AppDidNotStart(ProvisionError):
    code = "app_not_started"
    fix = "Read the console lines above; `provision deploy --port PORT` rewrites the application files."


class FleetUnreachable(ProvisionError):
    code = "fleet_unreachable"
    fix = "Check the fleet URL and this laptop's network (`provision doctor --fleet URL`)."


class FleetRefused(ProvisionError):
    code = "fleet_refused"
    fix = "Check your API token (`--token` or PROVISION_TOKEN): it must belong to a technician or an admin."


class EnrollRefused(ProvisionError):
    code = "enroll_refused"
    fix = "Get a new enrollment token for this role, board and site (`provision enroll` mints one)."


class NoHello(ProvisionError):
    code = "no_hello"
    fix = ("The device did not reach the fleet: check its Wi-Fi (`provision wifi`), the fleet URL in its "
           "config, and the access point.")


class PlanError(ProvisionError):
    code = "plan_invalid"
    fix = "Correct the rows listed and run the batch again: nothing was flashed."

    def __init__(self, message, problems=(), fix=None):
        super().__init__(message + "".join("\n  " + p for p in problems), fix=fix)
        self.problems = list(problems)


class DuplicateBoard(ProvisionError):
    code = "duplicate_board"
    fix = ("This board (same MAC) was already provisioned in this batch: take it out, it is done; "
           "put the next blank board on the port.")


class WifiRejected(ProvisionError):
    code = "wifi_unable_to_connect"
    fix = ("Check the network name and password (letters and case must match) and that the access point is "
           "in range of the board; nothing was kept on the board, run the command again.")


class NotAuthorized(ProvisionError):
    code = "not_authorized"
    fix = "Press the board's button once, then run the command again within a minute."


class NoImprov(ProvisionError):
    code = "no_improv"
    fix = ("The board is not in Wi-Fi setup mode. It enters it by itself when it has no Wi-Fi set; otherwise "
           "hold its button while you press EN (reset) and keep holding it for 5 seconds, then run again.")
