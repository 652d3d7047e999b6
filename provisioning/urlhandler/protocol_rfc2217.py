"""rfc2217:// for serial.serial_for_url(): the provisioning tool's RFC 2217 client (serialopen)."""

from ..serialopen import Rfc2217Serial as Serial  # noqa: F401  (the name pyserial looks up)
