"""Board definitions and the virtual ESP32 board.

    from boards import list_boards, load_board, BoardError, build_fs

- list_boards() -> names of the definitions in boards/definitions/
- load_board(name) -> validated definition dict (BoardError if unknown or invalid)
- build_fs(board, config, firmware_dir=None, slot="a") -> {"/path": bytes} for a board's filesystem
- boards.virtual: VirtualBoard / BoardFarm, the virtual ESP32 board (see docs/virtual-board.md)
"""

from .catalog import (ACCELS, PIN_NAMES, BoardError, board_path, board_summary, definitions_dir,
                      list_boards, load_board, validate_board)
from .chips import CHIPS
from .fsimage import FirmwareError, build_fs, compile_app, file_hashes, validate_config, write_fs

__all__ = [
    "ACCELS", "CHIPS", "PIN_NAMES", "BoardError", "FirmwareError", "board_path", "board_summary",
    "build_fs", "compile_app", "definitions_dir", "file_hashes", "list_boards", "load_board", "validate_board",
    "validate_config", "write_fs",
]
