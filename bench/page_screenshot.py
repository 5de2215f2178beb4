"""Run ``infersight demo`` as a new user would (default speed), measure how soon the API
and the page show drift and the retraining recommendation, and write the page's
screenshot for the README (``docs/screenshot.png``).

    .venv/bin/python bench/page_screenshot.py [--speed 30] [--settle 20] [--out docs/screenshot.png]

Needs the Debian ``chromium`` (``/usr/bin/chromium``) and the ``playwright`` package (test
extra); playwright never downloads a browser here.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MODEL = "credit-default"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds to keep running after the alert fired, for the charts")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs" / "screenshot.png")
    args = parser.parse_args()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERSIGHT_")}
    env["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="infersight-demo-")
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "infersight", "demo", "--speed", str(args.speed),
         "--duration", "10m", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    marks: dict[str, float] = {}
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            while "retraining_recommended" not in marks:
                if time.monotonic() - started > 180:
                    raise SystemExit("no retraining recommendation within 180 s")
                time.sleep(0.25)
                try:
                    if "api_up" not in marks:
                        client.get("/healthz").raise_for_status()
                        marks["api_up"] = time.monotonic() - started
                    shares = client.get(f"/v1/models/{MODEL}/metrics",
                                        params={"metric": "drift_share", "feature": ""}).json()
                    if "drift" not in marks and any((p["value"] or 0) > 0.3 for p in shares):
                        marks["drift"] = time.monotonic() - started
                    for alert in client.get("/v1/alerts", params={"state": "firing"}).json():
                        marks.setdefault(alert["rule"], time.monotonic() - started)
                except (httpx.HTTPError, ValueError):
                    continue
        time.sleep(args.settle)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{base}/#{MODEL}")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            page.locator("#rank tbody tr[data-feature='interest_rate']").click()
            page.wait_for_function(
                "document.getElementById('feature-name').textContent === 'interest_rate'")
            time.sleep(1.0)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(30)
    print(f"infersight demo --speed {args.speed:g} (1-minute windows, drift injected "
          f"{8 * 60 / args.speed:.0f} s in):")
    for name, seconds in sorted(marks.items(), key=lambda kv: kv[1]):
        print(f"  {name:<28} {seconds:6.1f} s after start")
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
