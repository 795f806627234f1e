"""A tiny, dependency-free Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

Chromium reads NUL-terminated JSON commands on fd 3 and writes responses and events on
fd 4, so a headless browser can be driven with the standard library only (no websocket
client, no selenium, no browser download).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``$CHROMIUM`` first), or None."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """A headless Chromium driven through the DevTools pipe; use as a context manager."""

    def __init__(
        self, binary: str, user_data_dir: Path, *, width: int = 1400, height: int = 1000
    ) -> None:
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        # Move the child's ends above the low fds so they cannot clash with 3 and 4
        # (bash handles fds > 9).
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 50)
        child_out = fcntl.fcntl(evt_w, fcntl.F_DUPFD, 50)
        os.close(cmd_r)
        os.close(evt_w)
        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-sync",
            "--mute-audio",
            f"--user-data-dir={user_data_dir}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
        self.proc = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                f"exec 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-; exec {quoted}",
            ],
            pass_fds=(child_in, child_out),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(child_in)
        os.close(child_out)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(evt_r, "rb", buffering=0)
        self._next_id = 0
        self._responses: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.all_events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.session_id: str | None = None

    def _read_loop(self) -> None:
        buf = b""
        while True:
            chunk = self._in.read(65536)
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw.decode("utf-8"))
                if "id" in msg:
                    with self._cond:
                        self._responses[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self.all_events.append(msg)
                    self.events.put(msg)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = True,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """Send one command and wait for its result."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session_id:
            msg["sessionId"] = self.session_id
        self._out.write(json.dumps(msg).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._next_id not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise CDPError(f"{method}: no answer from the browser")
                self._cond.wait(left)
            reply = self._responses.pop(self._next_id)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
        """Wait for the next event named ``method``."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"timed out waiting for {method}")
            try:
                evt = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if evt.get("method") == method:
                return evt

    def open_page(self) -> None:
        """Create a tab, attach to it and enable the domains the checks need."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session_id = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        while not self.events.empty():
            self.events.get_nowait()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(
                f"JS error: {result['exceptionDetails'].get('text')} in {expression[:60]!r}"
            )
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the page's viewport."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def console_errors(self) -> list[str]:
        """Uncaught exceptions, ``console.error`` calls and error log entries seen so far."""
        errors = []
        for evt in self.all_events:
            method, params = evt.get("method"), evt.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(
                    " ".join(
                        str(a.get("value", a.get("description"))) for a in params.get("args", [])
                    )
                )
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                errors.append(f"{entry.get('text')} ({entry.get('url', '')})")
        return errors

    def close(self) -> None:
        """Close the browser (terminate it if it does not answer) and reap the process."""
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", session=False, timeout_s=5.0)
            except CDPError:
                self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()
        self._in.close()

    def __enter__(self) -> Browser:
        self.open_page()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
