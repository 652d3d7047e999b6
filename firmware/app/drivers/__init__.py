# Device drivers: each module is small, usable alone, and takes its pins from the
# board definition (board.json) through the runtime -- never from literals.
