#!/usr/bin/env python3
"""Drives a real headless Chromium through the tend web console over the
DevTools protocol (``--remote-debugging-pipe``: no port, no websocket
library, only the standard library).

Usage: console_browser.py CHROMIUM BASE_URL USER PASSWORD SHOTS_DIR PAGES_JSON

PAGES_JSON is a list of {"name": ..., "path": ...}, optionally with "fill"
({element id: value}) and "submit" (a form's CSS selector) to act through
the page's own form after it is checked. The script signs in with
the real form, opens every page, and prints one JSON object on stdout:

  {"pages": {name: {"url", "title", "lang", "unlabelled", "low_contrast",
                    "console_errors", "text", "frames"}}, "login_url": ...}

``frames`` holds the visible text of each child frame (the preview's
sandboxed iframe), read in an isolated world of that frame. Screenshots go
to SHOTS_DIR/NAME.png (desktop, full page) and overview-phone.png.
"""

import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.TemporaryDirectory()
        # fd 3: commands to Chromium; fd 4: its answers and events.
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            # Keep the sandboxed preview frame in this renderer, so an
            # isolated world can read it.
            "--disable-site-isolation-trials",
            "--disable-features=IsolateSandboxedIframes",
            "--remote-debugging-pipe",
            "--user-data-dir=" + self.profile.name,
            "about:blank",
        ]

        # The shell puts the pipes where Chromium expects them (3 and 4).
        wire = 'exec "$0" "$@" 3<&%d 4>&%d' % (to_r, from_w)
        self.proc = subprocess.Popen(
            ["sh", "-c", wire, chromium] + flags,
            pass_fds=(to_r, from_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Chromium has its copies; keep only our ends.
        os.close(to_r)
        os.close(from_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.profile.cleanup()

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.time() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed its pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_w, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method, timeout=60):
        deadline = time.time() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            e = self._read_message(deadline)
            if e.get("method") == method:
                return e
            self.events.append(e)

    def open_tab(self):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.call(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression, context=None):
        params = {"expression": expression, "returnByValue": True}
        if context is not None:
            params["contextId"] = context
        result = self.call("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}…: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self):
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(params["entry"].get("text", ""))
        return out

    def frame_texts(self):
        tree = self.call("Page.getFrameTree")["frameTree"]
        texts = []
        for child in tree.get("childFrames", []):
            world = self.call(
                "Page.createIsolatedWorld",
                {"frameId": child["frame"]["id"], "worldName": "tend-test"},
            )
            texts.append(
                self.evaluate(
                    "document.body ? document.body.innerText : ''",
                    world["executionContextId"],
                )
            )
        return texts

    def screenshot(self, path, width, height, mobile=False):
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": max(width, size["width"]),
                    "height": min(size["height"], 6000),
                    "scale": 1,
                },
            },
        )
        import base64

        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))


# Runs in the page: the accessibility checks (labels, lang, contrast).
AUDIT = r"""
(() => {
  const lum = (rgb) => {
    const c = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const parse = (s) => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(',').map(x => parseFloat(x)); return { rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1 }; };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.backgroundImage && st.backgroundImage !== 'none') return null; // a pattern: not judged here
      const b = parse(st.backgroundColor); if (b && b.a > 0.5) return b.rgb;
    }
    return [255, 255, 255];
  };
  const unlabelled = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const byFor = el.id && document.querySelector('label[for="' + el.id + '"]');
    if (!byFor && !el.closest('label') && !el.getAttribute('aria-label')) unlabelled.push(el.name || el.id || el.outerHTML.slice(0, 60));
  }
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode; const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim()) continue; seen.add(el);
    if (el.closest('svg')) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none') continue;
    const fg = parse(st.color); const bg = background(el); if (!fg || !bg) continue;
    const l1 = lum(fg.rgb), l2 = lum(bg); const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize); const bold = parseInt(st.fontWeight) >= 700;
    const needed = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < needed) low.push(node.textContent.trim().slice(0, 40) + ' (' + ratio.toFixed(2) + ')');
  }
  return { lang: document.documentElement.lang, title: document.title, unlabelled, low_contrast: low,
           text: document.body.innerText, url: location.href };
})()
"""


def main():
    chromium, base, user, password, shots, pages = sys.argv[1:7]
    pages = json.loads(pages)
    os.makedirs(shots, exist_ok=True)
    browser = Browser(chromium)
    out = {"pages": {}}
    try:
        browser.open_tab()
        browser.navigate(base + "/console/")
        out["login_url"] = browser.evaluate("location.href")
        login = browser.evaluate(AUDIT)
        out["pages"]["login"] = dict(login, console_errors=browser.errors(), frames=[])
        # Sign in with the real form, as a person would.
        browser.events.clear()
        browser.evaluate(
            "document.getElementById('user').value = %s;"
            "document.getElementById('password').value = %s;"
            "document.querySelector('form').submit(); true"
            % (json.dumps(user), json.dumps(password))
        )
        browser.wait_event("Page.loadEventFired")
        for page in pages:
            browser.call("Emulation.clearDeviceMetricsOverride")
            browser.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            )
            browser.navigate(base + page["path"])
            result = browser.evaluate(AUDIT)
            result["frames"] = browser.frame_texts()
            result["console_errors"] = browser.errors()
            out["pages"][page["name"]] = result
            if page.get("shot", True):
                browser.screenshot(os.path.join(shots, page["name"] + ".png"), 1280, 900)
            # An action through the page's own form, as a person would do it.
            if page.get("submit"):
                for field, value in page.get("fill", {}).items():
                    browser.evaluate(
                        "document.getElementById(%s).value = %s; true"
                        % (json.dumps(field), json.dumps(value))
                    )
                browser.events.clear()
                browser.evaluate(
                    "document.querySelector(%s).submit(); true" % json.dumps(page["submit"])
                )
                browser.wait_event("Page.loadEventFired")
                result["after_submit"] = browser.evaluate("location.href")
                result["console_errors"] += browser.errors()
            if page["name"] == "overview":
                browser.screenshot(os.path.join(shots, "overview-phone.png"), 390, 844, mobile=True)
                browser.call("Emulation.clearDeviceMetricsOverride")
    finally:
        browser.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
