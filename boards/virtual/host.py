"""The vboard host: one asyncio loop that runs many virtual boards.

It runs either inside a Python process (BoardFarm, in a background thread - what pytest uses) or
as a daemon (`vboard up`). Either way it serves a small JSON-lines RPC on 127.0.0.1 described in
$VBOARD_HOME/host.json, so the CLI reaches boards started by a test or a demo, and vice versa.
"""

import asyncio
import base64
import json
import os
import secrets
import threading
import time
from pathlib import Path

from ..catalog import load_board
from .. import flashimage
from ..fsimage import build_fs
from . import store
from .errors import ERRORS, ExpectTimeout, VBoardError
from .runtime import BoardRuntime, find_micropython

RPC_TIMEOUT_PAD = 30.0


def encode(obj):
    """JSON-safe copy: bytes become {"__b64__": ...}."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"__b64__": base64.b64encode(bytes(obj)).decode()}
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def decode(obj):
    if isinstance(obj, dict):
        if set(obj) == {"__b64__"}:
            return base64.b64decode(obj["__b64__"])
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


class Host:
    def __init__(self, home=None, *, micropython=None, heapsize=None, mode="embedded"):
        self.home = store.resolve_home(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.micropython = micropython or find_micropython()
        self.heapsize = heapsize or os.environ.get("VBOARD_HEAPSIZE") or None
        self.mode = mode
        self.boards = {}
        self.loop = None
        self.thread = None
        self.ctl_port = None
        self.rpc_port = None
        self.token = secrets.token_hex(16)
        self._ctl_server = None
        self._rpc_server = None
        self._stopped = None
        self._opening = {}
        self._overhead = {}
        self._shims = None
        self._shims_lock = asyncio.Lock()

    # ------------------------------------------------------------------ start / stop
    def _check_free(self):
        info = store.read_host(self.home)
        if info and info.get("pid") != os.getpid() and store.pid_alive(info.get("pid", -1)):
            from .rpc import RemoteTransport
            try:
                RemoteTransport(self.home, autostart=False).call("ping", timeout=3)
            except Exception:
                return
            raise VBoardError("another vboard host (pid %s, %s) already runs the boards in %s; use "
                              "BoardFarm.connect(%r) to talk to it, or stop it with `vboard stop --all`"
                              % (info.get("pid"), info.get("mode"), self.home, str(self.home)))

    async def start(self):
        self._check_free()
        self._stopped = asyncio.Event()
        self._ctl_server = await asyncio.start_server(self._ctl_client, "127.0.0.1", 0)
        self.ctl_port = self._ctl_server.sockets[0].getsockname()[1]
        self._rpc_server = await asyncio.start_server(self._rpc_client, "127.0.0.1", 0)
        self.rpc_port = self._rpc_server.sockets[0].getsockname()[1]
        hf = store.host_file(self.home)
        tmp = hf.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "rpc_port": self.rpc_port, "token": self.token,
                                   "mode": self.mode, "started": time.time(), "home": str(self.home)}))
        os.chmod(tmp, 0o600)
        os.replace(tmp, hf)

    async def stop(self):
        for rt in list(self.boards.values()):
            try:
                await rt.close()
            except Exception:
                pass
        self.boards.clear()
        for srv in (self._ctl_server, self._rpc_server):
            if srv is not None:
                srv.close()
        info = store.read_host(self.home)
        if info and info.get("pid") == os.getpid() and info.get("token") == self.token:
            try:
                store.host_file(self.home).unlink()
            except OSError:
                pass
        if self._stopped is not None:
            self._stopped.set()

    def start_thread(self):
        """Run the host's loop in a daemon thread (in-process use, e.g. from pytest)."""
        ready = threading.Event()
        failure = []

        def run():
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as e:
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._stopped.wait())
            finally:
                loop.run_until_complete(asyncio.sleep(0.05))
                loop.close()

        self.thread = threading.Thread(target=run, name="vboard-host", daemon=True)
        self.thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]

    def stop_thread(self):
        if self.loop is None or self.thread is None:
            return
        if self.loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self.stop(), self.loop)
            try:
                fut.result(60)
            except Exception:
                pass
        self.thread.join(10)

    def call_sync(self, op, args, timeout=None):
        fut = asyncio.run_coroutine_threadsafe(self.call(op, args), self.loop)
        return fut.result(timeout)

    async def serve_forever(self):
        await self.start()
        await self._stopped.wait()

    async def get_shims(self):
        # One compilation per host: boards starting together must not compile into one
        # directory at once (one removed it under the other, which then booted the .py shims,
        # whose compiler needs more heap than a gated board has).
        async with self._shims_lock:
            if self._shims is None:
                from .runtime import compiled_shims
                self._shims = await asyncio.get_running_loop().run_in_executor(
                    None, compiled_shims, self.home / ".cache", self.micropython)
        return self._shims

    async def shim_overhead(self, rt):
        """Heap bytes the shims take on the unix port (measured once per board definition)."""
        key = rt.definition["name"]
        if key in self._overhead:
            return self._overhead[key]
        import tempfile
        from .runtime import LAUNCHER
        with tempfile.TemporaryDirectory(prefix="vboard-cal-") as tmp:
            flash = os.path.join(tmp, "flash.bin")
            flashimage.write_files(flash, rt.definition, {})     # an empty filesystem
            with open(os.path.join(tmp, "init.json"), "w") as f:
                json.dump(rt.init_message({"reset_cause": 1, "wake_reason": 0, "wake_pins": [], "raw": False}), f)
            env = {k: v for k, v in os.environ.items() if not k.startswith("VBOARD_")}
            shims = str(await self.get_shims())
            env.update({"VBOARD_CALIBRATE": "/.flash/init.json", "VBOARD_FLASH": flash, "VBOARD_SHIMS": shims,
                        "VBOARD_NAME": rt.name})
            proc = await asyncio.create_subprocess_exec(
                self.micropython, str(LAUNCHER), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=tmp)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        text = out.decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("VBOARD-HEAP "):
                n = int(line.split()[1]) + 4096          # margin for the shims' own later allocations
                self._overhead[key] = n
                return n
        raise VBoardError("cannot measure the shims' heap use: %s" % text[-500:])

    # ------------------------------------------------------------------ board control channel
    async def _ctl_client(self, reader, writer):
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            hello = json.loads(line)
        except (asyncio.TimeoutError, ValueError, ConnectionError, OSError):
            writer.close()
            return
        rt = self.boards.get(hello.get("name"))
        if rt is None or not rt.token or hello.get("token") != rt.token:
            writer.close()               # a process from an earlier boot: it is being killed
            return
        await rt.attach(hello.get("chan"), reader, writer)

    # ------------------------------------------------------------------ RPC
    async def _rpc_client(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    req = json.loads(line)
                except ValueError:
                    break
                if req.get("token") != self.token:
                    resp = {"ok": False, "error": {"type": "VBoardError", "message": "bad host token"}}
                else:
                    resp = await self._answer(req.get("op"), decode(req.get("args") or {}))
                writer.write((json.dumps(encode(resp)) + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def _answer(self, op, args):
        try:
            return {"ok": True, "result": await self.call(op, args)}
        except ExpectTimeout as e:
            return {"ok": False, "error": {"type": "ExpectTimeout", "message": str(e), "tail": e.tail}}
        except Exception as e:
            kind = type(e).__name__ if type(e).__name__ in ERRORS else "VBoardError"
            msg = str(e) if kind != "VBoardError" or isinstance(e, VBoardError) else "%s: %s" % (type(e).__name__, e)
            return {"ok": False, "error": {"type": kind, "message": msg}}

    async def call(self, op, args):
        fn = getattr(self, "op_" + str(op), None)
        if fn is None:
            raise VBoardError("unknown operation %r" % (op,))
        return await fn(**args)

    # ------------------------------------------------------------------ boards
    async def runtime(self, name):
        rt = self.boards.get(name)
        if rt is not None:
            return rt
        fut = self._opening.get(name)
        if fut is not None:
            return await fut
        fut = asyncio.get_running_loop().create_future()
        self._opening[name] = fut
        try:
            rec = store.load_record(self.home, name)
            rt = BoardRuntime(self, rec)
            await rt.open()
            self.boards[name] = rt
            fut.set_result(rt)
            return rt
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()
            raise
        finally:
            self._opening.pop(name, None)

    async def op_ping(self):
        return {"pid": os.getpid(), "home": str(self.home), "mode": self.mode, "boards": len(self.boards)}

    async def op_list(self):
        out = []
        for name in store.list_names(self.home):
            rt = self.boards.get(name)
            if rt is not None:
                out.append(rt.info())
            else:
                try:
                    rec = store.load_record(self.home, name)
                except VBoardError:
                    continue
                out.append({"name": name, "board": rec.get("board"), "role": rec.get("role"), "state": "off",
                            "console_url": None, "fleet_url": rec.get("fleet_url"), "led": None})
        return out

    async def op_create(self, name, board="virtual", role=None, config=None, files=None, firmware_dir=None,
                        mac=None, replace=False, heapsize=None, heap_trace=None, blank=False, flash_size=None,
                        auto_reset=None):
        store.check_name(name)
        definition = load_board(board)
        if flash_size:
            flash_size = int(flash_size)
            if flash_size < (1 << 20) or flash_size & (flash_size - 1):
                raise VBoardError("flash_size must be a power of two of at least 1 MB, got %r" % flash_size)
            definition = dict(definition, flash=dict(definition["flash"], size_bytes=flash_size))
        if store.exists(self.home, name):
            if not replace:
                raise VBoardError("virtual board %r already exists in %s; destroy it first or create it with "
                                  "replace=True (CLI: --force)" % (name, self.home))
            rt = self.boards.get(name)
            if rt is not None and rt.state != "off":
                raise VBoardError("virtual board %r is %s; stop it before re-creating it" % (name, rt.state))
            if rt is not None:
                await rt.close()
                self.boards.pop(name, None)
            store.remove_board(self.home, name)
        # a definition outside the repository is kept by its path (the board reloads it at each start)
        board_ref = str(Path(board).resolve()) if str(board).endswith(".json") else definition["name"]
        if blank:
            files = {}
        elif files is None:
            if config is None:
                raise VBoardError("give either config (to build the filesystem with build_fs) or files")
            cfg = dict(config)
            if role is not None:
                cfg.setdefault("role", role)
            cfg.setdefault("board", definition["name"])
            files = build_fs(board_ref, cfg, firmware_dir=firmware_dir)
        files = {k: (v.encode() if isinstance(v, str) else bytes(v)) for k, v in files.items()}
        fleet_url = None
        try:
            cfgj = json.loads(files.get("/config.json", b"{}"))
            fleet_url = cfgj.get("fleet_url")
            role = role or cfgj.get("role")
        except ValueError:
            pass
        rec = store.new_record(name, board_ref, role, fleet_url, mac=mac, heapsize=heapsize,
                               heap_trace=heap_trace, blank=blank, flash_size=flash_size,
                               auto_reset=auto_reset)
        store.save_record(self.home, rec)
        try:
            flashimage.Flash.create(store.board_dir(self.home, name) / "flash" / "flash.bin", definition,
                                    blank=blank).close()
            if not blank:
                flashimage.write_files(store.board_dir(self.home, name) / "flash" / "flash.bin", definition, files)
        except flashimage.FlashError as e:
            raise VBoardError(str(e))
        rt = await self.runtime(name)
        rt.note("created: board %s, role %s, %d files" % (definition["name"], role, len(files)))
        rt._fix_fleet_url()
        return rt.info()

    async def op_destroy(self, name):
        store.check_name(name)
        rt = self.boards.pop(name, None)
        if rt is not None:
            await rt.close()
        if not store.exists(self.home, name):
            raise VBoardError("no virtual board %r in %s" % (name, self.home))
        store.remove_board(self.home, name)
        return True

    async def op_info(self, name):
        return (await self.runtime(name)).info()

    async def op_power_on(self, name):
        rt = await self.runtime(name)
        await rt.power_on()
        return rt.info()

    async def op_power_cut(self, name, after_flash_ops=None):
        rt = await self.runtime(name)
        await rt.power_cut(after_flash_ops=after_flash_ops)
        return rt.info()

    async def op_hold_boot(self, name, held):
        rt = await self.runtime(name)
        rt.boot_button = bool(held)
        rt.note("BOOT button %s" % ("held (IO0 low)" if held else "released"))
        return True

    async def op_unplug(self, name):
        rt = await self.runtime(name)
        await rt.unplug()
        return rt.info()

    async def op_brownout(self, name):
        rt = await self._powered(name)
        await rt.brownout()
        return rt.info()

    async def op_reset(self, name):
        rt = await self.runtime(name)
        await rt.reset()
        return rt.info()

    async def op_stop_all(self):
        names = []
        for rt in list(self.boards.values()):
            if rt.state != "off":
                await rt.power_cut(note="stopped")
                names.append(rt.name)
        return names

    async def _powered(self, name):
        rt = await self.runtime(name)
        if rt.state == "off":
            raise VBoardError("virtual board %r is off; power it on first (`vboard up %s`)" % (name, name))
        return rt

    async def op_press(self, name, ms=200, bounces=0):
        rt = await self._powered(name)
        rt.press(ms, bounces)
        return True

    # Held and released on a board without power too (a finger on the button as the power
    # returns: the firmware reads it held at boot). A press is refused there: it would be lost.
    async def op_hold(self, name):
        (await self.runtime(name)).hold()
        return True

    async def op_release(self, name):
        (await self.runtime(name)).release()
        return True

    async def op_set_world(self, name, values):
        return (await self.runtime(name)).set_world(values)

    async def op_wifi(self, name, up):
        (await self.runtime(name)).set_wifi(up)
        return True

    async def op_link(self, name, up, mode=None):
        (await self.runtime(name)).set_link(up, mode)
        return True

    async def op_tamper(self, name, find=None, replace=None):
        (await self.runtime(name)).set_tamper(find, replace)
        return True

    async def op_deploy(self, name, files, clean=False):
        rt = await self.runtime(name)
        rt.deploy({k: (v.encode() if isinstance(v, str) else bytes(v)) for k, v in files.items()}, clean=clean)
        return sorted(files)

    async def op_console(self, name, since=0):
        rt = await self.runtime(name)
        text, start = rt.console.text(since)
        return {"text": text, "start": start, "end": start + len(text)}

    async def op_expect(self, name, pattern, timeout=10.0, since=0):
        rt = await self.runtime(name)
        m = await rt.console.expect(pattern, timeout, since)
        if m is None:
            text, _start = rt.console.text(since)
            raise ExpectTimeout("%s: %r not seen on the console within %.1f s (board %s)"
                                % (name, pattern, timeout, rt.state), tail=text[-2000:])
        return m

    async def op_write(self, name, data):
        (await self._powered(name)).write(data)
        return True

    async def op_outputs(self, name, since=0.0, only=None):
        rt = await self.runtime(name)
        return [o for o in rt.outputs if o["t"] >= since and (only is None or o["name"] == only)]

    async def op_output_now(self, name, output):
        return (await self.runtime(name)).output_now(output)

    async def op_adverts(self, name, since=0.0):
        rt = await self.runtime(name)
        return [a for a in rt.adverts if a["t"] >= since]

    async def op_boots(self, name):
        return list((await self.runtime(name)).boots)

    async def op_timeline(self, name):
        return [list(x) for x in (await self.runtime(name)).timeline]

    async def op_wait_state(self, name, state, timeout=10.0):
        rt = await self.runtime(name)
        states = state if isinstance(state, list) else [state]
        deadline = time.monotonic() + timeout
        while rt.state not in states:
            if time.monotonic() > deadline:
                raise VBoardError("%s: still %s after %.1f s (waited for %s)"
                                  % (name, rt.state, timeout, "/".join(states)))
            await asyncio.sleep(0.005)
        return rt.info()

    async def op_fast_forward(self, name):
        return await (await self.runtime(name)).fast_forward()

    async def op_set_fleet(self, name, url):
        (await self.runtime(name)).set_fleet(url)
        return True

    async def op_read_file(self, name, path):
        rt = await self.runtime(name)
        if not isinstance(path, str) or ".." in path.split("/"):
            raise VBoardError("path %r is outside the board's filesystem" % (path,))
        return rt.read_file(path)

    async def op_stats(self, name):
        rt = await self.runtime(name)
        return {"net": dict(rt.proxy.stats), "boots": len(rt.boots)}

    async def op_shutdown(self):
        asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(self.stop()))
        return True
