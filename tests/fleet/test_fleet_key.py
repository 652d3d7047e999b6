"""The fleet key (the file that encrypts device secrets) is made once, whole, even when a server
and CLI commands start together: every process reads the same 32 bytes, none a half-written file."""

import multiprocessing
import stat

from fleet.core.security import SecretBox


def _open_box(path, barrier, out):
    barrier.wait()                                  # all at once, on a key that does not exist yet
    out.put(SecretBox.from_file(path).seal("dev-1", "ab" * 32))      # sealed with the key it read


def test_processes_starting_together_share_one_whole_key(tmp_path):
    path = tmp_path / "var" / "fleet.key"
    ctx = multiprocessing.get_context("fork")
    n = 8
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open_box, args=(path, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * n
    key = path.read_bytes()
    box = SecretBox.from_file(path)
    # what every process sealed opens with the one key on disk: they all read the same key
    assert [box.open("dev-1", out.get(timeout=5)) for _ in range(n)] == [b"\xab" * 32] * n
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["fleet.key"]      # no temporary file left
    # and a key made earlier is kept, not replaced
    assert SecretBox.from_file(path) and path.read_bytes() == key
