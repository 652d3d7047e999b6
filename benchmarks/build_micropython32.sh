#!/usr/bin/env bash
# Build MicroPython's unix port 32-bit with single-precision floats -- an ESP32's word size and
# float -- to run the firmware's tests and heap benchmarks as the chip computes them
# (docs/firmware.md "Tests on a 32-bit build"). Needs gcc-multilib and git access to the
# sources (github.com: CI has none, so this is not part of `make test`).
#
#   benchmarks/build_micropython32.sh [DIR]      (default build/micropython32)
#
# prints the interpreter's path last; give it to the tests as FW_MICROPYTHON. The sources can
# come from mirrors: MICROPYTHON_GIT, MBEDTLS_GIT, MICROPYTHON_LIB_GIT.
set -euo pipefail
VERSION=${MICROPYTHON_VERSION:-v1.28.0}
if ! echo 'int main(void) { return 0; }' | gcc -m32 -x c - -o /dev/null 2>/dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gcc-multilib
fi
DIR=${1:-build/micropython32}
if [ ! -d "$DIR/.git" ]; then
    git clone -q --branch "$VERSION" "${MICROPYTHON_GIT:-https://github.com/micropython/micropython}" "$DIR"
fi
# only what the unix port needs: mbedTLS (the ssl module) and micropython-lib (frozen modules)
if [ ! -d "$DIR/lib/mbedtls/include" ] || [ ! -d "$DIR/lib/micropython-lib/python-stdlib" ]; then
    git -C "$DIR" -c protocol.file.allow=always \
        -c submodule.lib/mbedtls.url="${MBEDTLS_GIT:-https://github.com/Mbed-TLS/mbedtls}" \
        -c submodule.lib/micropython-lib.url="${MICROPYTHON_LIB_GIT:-https://github.com/micropython/micropython-lib}" \
        submodule update -q --init lib/mbedtls lib/micropython-lib
fi
make -s -C "$DIR/mpy-cross" -j"$(nproc)" >/dev/null
# berkeley-db and libffi are left out (their submodules are not needed by the firmware)
make -s -C "$DIR/ports/unix" -j"$(nproc)" MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 \
    CFLAGS_EXTRA="-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT" >/dev/null
MP="$DIR/ports/unix/build-standard/micropython"
"$MP" -c "import sys; assert sys.maxsize == (1 << 31) - 1 and str(1.1 * 3) == '3.3000002', 'not 32-bit single precision'"
echo "$MP"
