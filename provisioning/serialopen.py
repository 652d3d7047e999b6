"""Opening a serial port for esptool: a device path, or an RFC 2217 URL (a virtual board, a
remote serial server) through pyserial's RFC 2217 client with two of its delays taken out.

pyserial 3.5's client (serial/rfc2217.py) costs ~0.25 s per esptool command over RFC 2217,
and no server can help it:

- Setting `timeout` calls `_reconfigure_port()`, which sends baud rate, data size, parity and
  stop bits again and waits for their four acknowledgements, then SET_CONTROL (flow control)
  and its acknowledgement. esptool's `command()` sets the read timeout before a command and
  back after it whenever it differs, so most commands pay this twice. The read timeout is the
  client's own business (read() waits on a local queue): RFC 2217 does not carry it.
- Every acknowledged request sleeps 50 ms *before* it first looks for the answer, so even an
  answer sent at once (the virtual board's server answers in the loop turn that reads the
  request) costs 50 ms.

`Rfc2217Serial` negotiates the line settings only when one of them changed, and waits for
acknowledgements on a condition the reader thread signals - also when the connection drops, so a
pulled cable is reported at once instead of after pyserial's 3 s wait per request. The wire format, DTR/RTS, purge and
the read path are pyserial's. esptool's CLI run by a user gets plain pyserial and works the
same, only slower.
"""

import struct
import threading

import serial
from serial import rfc2217


class Rfc2217Serial(rfc2217.Serial):
    """pyserial's RFC 2217 client, minus the renegotiation on every read-timeout change and
    the 50 ms sleep before each acknowledgement is looked at."""

    def open(self):
        self._answers = threading.Condition()
        self._negotiated = None
        super().open()

    def _telnet_process_subnegotiation(self, suboption):
        super()._telnet_process_subnegotiation(suboption)      # in the reader thread
        with self._answers:
            self._answers.notify_all()

    def _telnet_read_loop(self):
        try:
            super()._telnet_read_loop()
        finally:                                                # the connection is gone: waiters learn it now
            with self._answers:
                self._answers.notify_all()

    def _wait(self, items, what):
        def answered_or_gone():
            return all(o.active for o in items) or not self._thread.is_alive()

        with self._answers:
            answered = self._answers.wait_for(answered_or_gone, self._network_timeout)
        if not self._thread.is_alive():
            raise serial.SerialException("connection failed (the server closed it) while waiting for %s" % what)
        if not answered:
            raise serial.SerialException("timeout while waiting for the server to acknowledge %s: %r" % (what, items))

    def _line_settings(self):
        return (self._baudrate, self._bytesize, self._parity, self._stopbits, self._rtscts, self._xonxoff)

    def _reconfigure_port(self):
        if self._socket is None:
            raise serial.SerialException("Can only operate on open ports")
        if self._write_timeout is not None:
            # as pyserial does: esptool learns from this that the port is RFC 2217
            raise NotImplementedError("write_timeout is currently not supported")
        if self._line_settings() == self._negotiated:
            return                                  # only the (local) read timeout changed
        if not 0 < self._baudrate < 2 ** 32:
            raise ValueError("invalid baudrate: {!r}".format(self._baudrate))
        if self._rtscts and self._xonxoff:
            raise ValueError("xonxoff and rtscts together are not supported")
        settings = self._rfc2217_port_settings
        settings["baudrate"].set(struct.pack("!I", self._baudrate))
        settings["datasize"].set(struct.pack("!B", self._bytesize))
        settings["parity"].set(struct.pack("!B", rfc2217.RFC2217_PARITY_MAP[self._parity]))
        settings["stopsize"].set(struct.pack("!B", rfc2217.RFC2217_STOPBIT_MAP[self._stopbits]))
        self._wait(list(settings.values()), "the port settings")
        self.rfc2217_set_control(rfc2217.SET_CONTROL_USE_HW_FLOW_CONTROL if self._rtscts else
                                 rfc2217.SET_CONTROL_USE_SW_FLOW_CONTROL if self._xonxoff else
                                 rfc2217.SET_CONTROL_USE_NO_FLOW_CONTROL)
        self._negotiated = self._line_settings()

    def rfc2217_set_control(self, value):
        item = self._rfc2217_options["control"]
        item.set(value)
        self._wait([item], "a control line change")

    def rfc2217_send_purge(self, value):
        item = self._rfc2217_options["purge"]
        item.set(value)
        self._wait([item], "a purge")


def open_port(port, baud=115200):
    """An open pyserial port for esptool: Rfc2217Serial for rfc2217:// URLs, else pyserial's own."""
    if str(port).startswith("rfc2217://"):
        s = Rfc2217Serial(None, baudrate=baud)
        s.port = port
        s.open()
        return s
    return serial.serial_for_url(port, baudrate=baud, exclusive=True)


def use_for_urls():
    """Make serial.serial_for_url() (what esptool and mpremote call with a port string) open
    rfc2217:// URLs with Rfc2217Serial in this process, through pyserial's documented
    `protocol_handler_packages` list."""
    if "provisioning.urlhandler" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.insert(0, "provisioning.urlhandler")
