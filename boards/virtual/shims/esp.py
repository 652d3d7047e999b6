# Virtual board: the ESP32 port's `esp` module (the parts that make sense without a flash chip).
import _vb

LOG_NONE = 0
LOG_ERROR = 1
LOG_WARNING = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_VERBOSE = 5


def osdebug(uart_no, level=LOG_ERROR):
    pass


def flash_size():
    return (_vb.board.get("flash") or {}).get("size_bytes", 4194304)


def flash_user_start():
    return 0x200000


def sleep_type(sleep_type=None):
    return 0


def flash_read(byte_offset, length_or_buffer):
    raise OSError("flash_read is not simulated on the virtual board")


def flash_write(byte_offset, buf):
    raise OSError("flash_write is not simulated on the virtual board")


def flash_erase(sector_no):
    raise OSError("flash_erase is not simulated on the virtual board")
