"""The virtual board's shims compiled once to .mpy, also when boards start together.

A board boots the shims as .mpy: the .py files need the compiler's memory, which a board with
a gated heap (-X heapsize=72k) does not have. Two compilations at once (two boards of one host
starting together, or two hosts sharing a cache) once shared one temporary directory: one removed
it under the other, which then fell back to the .py shims, and the board failed its heap gate
with a MemoryError before its firmware ran.
"""

import asyncio
import threading

from boards.virtual.host import Host
from boards.virtual.runtime import SHIMS_DIR, compiled_shims, find_micropython


def _is_compiled(path):
    return path != SHIMS_DIR and (path / ".ok").exists() and (path / "_vbsim.mpy").exists()


def test_compilations_at_once_all_get_the_compiled_shims(tmp_path):
    results, errors = [], []
    start = threading.Barrier(4)

    def compile_now():
        start.wait()
        try:
            results.append(compiled_shims(tmp_path, find_micropython()))
        except Exception as e:  # noqa: BLE001 - shown by the assertion
            errors.append(e)

    threads = [threading.Thread(target=compile_now) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    assert len(results) == 4 and all(_is_compiled(p) for p in results), results
    assert len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]     # no temporary left behind


def test_a_host_compiles_once_for_boards_starting_together(tmp_path, monkeypatch):
    import boards.virtual.runtime as runtime
    calls = []
    real = runtime.compiled_shims

    def counting(*a):
        calls.append(a)
        return real(*a)

    monkeypatch.setattr(runtime, "compiled_shims", counting)
    host = Host(tmp_path / "home")

    async def boards_starting():
        return await asyncio.gather(*(host.get_shims() for _ in range(5)))

    got = asyncio.run(boards_starting())
    assert len(calls) == 1
    assert len(set(got)) == 1 and _is_compiled(got[0])
