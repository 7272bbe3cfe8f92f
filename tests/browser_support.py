"""What the browser tests (and others) share: the system's Chromium driven by Playwright, and a running service.

Chromium comes from the system (Debian's ``chromium`` package; ``.ci/run`` installs it);
Playwright only drives it. When Chromium is missing the tests are skipped — unless
``RETURNRISK_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["CHROMIUM_ARGS", "chromium_path", "free_port", "launched_browser", "running_service"]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def launched_browser() -> Iterator:
    """The system's Chromium, headless, driven by Playwright (skipped, or failed in CI, without it)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("RETURNRISK_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (RETURNRISK_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def running_service(env: dict[str, str], work: Path, ready_within: float = 300,
                    args: tuple[str, ...] = ()) -> Iterator[str]:
    """``returnrisk serve [args]`` on a free port with ``env`` (cwd ``work``, log ``work/service.log``);
    yields its base URL once ``/readyz`` answers 200, stops it afterwards."""
    port = free_port()
    log_path = work / "service.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "returnrisk", "serve", *args, "--port", str(port),
                                 "--log-level", "warning"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + ready_within
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the service stopped: {log_path.read_text()[-2000:]}")
                if time.time() > deadline:
                    pytest.fail(f"the service did not become ready in {ready_within:.0f} s: "
                                f"{log_path.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
