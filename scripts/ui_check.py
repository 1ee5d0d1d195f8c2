"""Look at Lookback in a real browser, as a user of `scripts/develop` would (not part of CI).

Run it against a running `scripts/develop` (HA on http://127.0.0.1:8123 with the demo camera):

    scripts/develop &                      # or in another terminal
    python3 scripts/ui_check.py            # screenshots and a report in /tmp/ui/

What it needs and installs, all outside the repository:
- Debian's `chromium` (`apt-get install -y chromium`); it is driven headless through Playwright,
  told to use that binary (Playwright cannot download its own browsers here).
- Playwright from PyPI in a throwaway venv, by default ~/.cache/lookback-ui-check/venv
  (LOOKBACK_UI_VENV overrides): the first run creates it and re-runs itself there. Nothing goes
  into .venv or the requirements.

What it does:
1. Onboards a user through HA's onboarding API when HA is not onboarded yet (user `dev`,
   password `dev-password`, or --username/--password; country US, as the wizard would ask),
   else logs in with those through the login flow; the tokens go to the browser's localStorage
   (hassTokens), where the frontend keeps them. Then waits until HA runs and the camera is
   connected.
2. Over REST/websocket: the action lists (/api/services, websocket get_services), repair issues,
   the Lookback entities' states (unavailable ones are problems), the camera picture.
3. In the browser, with screenshots NN_*.png in OUT (default /tmp/ui): the integrations
   dashboard (the Lookback card and its brand icon), the Lookback NVR page (the camera subentry
   and its device), the NVR and Demo camera device pages, the camera's live view (more-info
   dialog: the HLS video plays), the "Add camera" dialog (every field's label and description;
   a wrong stream path gives its error; the demo stream under another host name gives the
   probe's findings; then the dialog is closed, so nothing is added), Media > Lookback and a clip
   opened there as a user does, folder by folder (lookback.save_clip makes one when there is
   none): the video plays (readyState, currentTime) and its URL answers 200 video/mp4.
4. Reports raw translation keys ("component.lookback...") on every page, the browser's console
   errors and failed requests, and the lookback lines of config/home-assistant.log at WARNING or
   above.
The screenshots are for a person to look at; the exit code is 1 when a check failed.
"""

# A developer's tool: it runs its own venv's pip and python (S603, S606), opens the URL it is
# given (S310) and writes screenshots to /tmp/ui by default (S108).
# ruff: noqa: S603, S606, S310, S108

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import re
import shutil
import smtplib
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("LOOKBACK_UI_VENV", Path.home() / ".cache/lookback-ui-check/venv"))
DOMAIN = "lookback"
MEDIA_PATH = "/media-browser/browser/app%2Cmedia-source%3A%2F%2Flookback"
RAW_KEY = re.compile(r"component\.lookback\.|\[%key:|ui\.panel\.|state\.lookback")


def _ensure_playwright() -> None:
    """Re-run this script in the throwaway venv that has Playwright (made on first use)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        pass
    else:
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"[ui_check] creating {VENV} with Playwright (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "playwright",
            ],
            check=True,
        )
    if Path(sys.prefix).resolve() == VENV.resolve():
        sys.exit(f"[ui_check] {VENV} has no Playwright: delete it and run again")
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


class Check:
    """Collects findings; each is printed as it comes."""

    def __init__(self) -> None:
        """No findings yet."""
        self.problems: list[str] = []

    def ok(self, message: str) -> None:
        """A check that passed."""
        print(f"  ok    {message}", flush=True)

    def info(self, message: str) -> None:
        """Something to know, not a problem."""
        print(f"  info  {message}", flush=True)

    def fail(self, message: str) -> None:
        """A problem: the exit code becomes 1."""
        self.problems.append(message)
        print(f"  FAIL  {message}", flush=True)

    def expect(self, condition: bool, message: str) -> bool:
        """Pass or fail as condition says; returns condition."""
        (self.ok if condition else self.fail)(message)
        return condition


class Api:
    """HA's REST API and onboarding/auth endpoints, with urllib."""

    def __init__(self, base: str) -> None:
        """HA at base, e.g. http://127.0.0.1:8123; no token yet."""
        self.base = base.rstrip("/")
        self.client_id = f"{self.base}/"
        self.token: str | None = None

    def request(
        self, method: str, path: str, data: Any = None, *, form: bool = False, raw: bool = False
    ) -> tuple[int, Any, dict[str, str]]:
        """Status, body (JSON-decoded unless raw or not JSON) and headers; HTTP errors too."""
        headers: dict[str, str] = {}
        body = None
        if data is not None:
            if form:
                body = urllib.parse.urlencode(data).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(data).encode()
                headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = path if path.startswith("http") else self.base + path
        req = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                payload = resp.read()
                status, resp_headers = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            payload, status, resp_headers = err.read(), err.code, dict(err.headers)
        if raw:
            return status, payload, resp_headers
        try:
            return status, json.loads(payload or b"null"), resp_headers
        except ValueError:
            return status, payload.decode(errors="replace"), resp_headers

    def wait_up(self, timeout: float) -> None:
        """Until the frontend answers; exits when it does not within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _, _ = self.request("GET", "/manifest.json")  # the frontend is up
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(
                    f"[ui_check] no Home Assistant at {self.base} (is scripts/develop running?)"
                )
            time.sleep(2)

    def _token(self, code: str) -> dict[str, Any]:
        status, tokens, _ = self.request(
            "POST",
            "/auth/token",
            {"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
            form=True,
        )
        if status != 200:
            sys.exit(f"[ui_check] /auth/token: {status} {tokens}")
        self.token = tokens["access_token"]
        return tokens

    def sign_in(self, username: str, password: str, check: Check) -> dict[str, Any]:
        """Onboard (when not done) or log in; the tokens as the frontend stores them."""
        status, steps, _ = self.request("GET", "/api/onboarding")  # 404 once all are done
        done = (
            {step["step"] for step in steps if step["done"]}
            if status == 200
            else {"user", "core_config", "analytics", "integration"}
        )
        if "user" not in done:
            status, result, _ = self.request(
                "POST",
                "/api/onboarding/users",
                {
                    "name": "Dev",
                    "username": username,
                    "password": password,
                    "client_id": self.client_id,
                    "language": "en",
                },
            )
            if status != 200:
                sys.exit(f"[ui_check] onboarding user: {status} {result}")
            tokens = self._token(result["auth_code"])
            check.info(f"onboarded user {username!r}")
        else:
            status, flow, _ = self.request(
                "POST",
                "/auth/login_flow",
                {
                    "client_id": self.client_id,
                    "handler": ["homeassistant", None],
                    "redirect_uri": f"{self.client_id}?auth_callback=1",
                },
            )
            status, result, _ = self.request(
                "POST",
                f"/auth/login_flow/{flow['flow_id']}",
                {"username": username, "password": password, "client_id": self.client_id},
            )
            if status != 200 or result.get("type") != "create_entry":
                sys.exit(
                    f"[ui_check] login as {username!r} failed ({result}): HA was onboarded with"
                    " another user, pass --username/--password"
                )
            tokens = self._token(result["result"])
            check.info(f"logged in as {username!r}")
        # The remaining steps, as the onboarding wizard does them (core_config also starts the
        # integrations HA sets up on onboarding: met, radio_browser, ...).
        for step, data in (
            ("core_config", {}),
            ("analytics", {}),
            (
                "integration",
                {"client_id": self.client_id, "redirect_uri": f"{self.client_id}?auth_callback=1"},
            ),
        ):
            if step not in done:
                status, result, _ = self.request("POST", f"/api/onboarding/{step}", data)
                check.expect(status == 200, f"onboarding step {step}: {status}")
        return {
            **tokens,
            "hassUrl": self.base,
            "clientId": self.client_id,
            "expires": int(time.time() * 1000) + tokens["expires_in"] * 1000,
        }


def ws_call(page: Any, message: dict[str, Any]) -> Any:
    """A websocket command through the frontend's own connection."""
    return page.evaluate(
        "(msg) => document.querySelector('home-assistant').hass.callWS(msg)", message
    )


def wait_hass(page: Any, timeout_ms: int = 60_000) -> None:
    """Until the frontend is connected and has states."""
    page.wait_for_function(
        "() => { const h = document.querySelector('home-assistant');"
        " return !!(h && h.hass && h.hass.connected && h.hass.states && Object.keys(h.hass.states).length); }",
        timeout=timeout_ms,
    )


def shot(page: Any, out: Path, name: str, check: Check, settle_ms: int = 2500) -> str:
    """Screenshot the page after it settled; report raw translation keys in its text."""
    page.wait_for_timeout(settle_ms)
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    text = page.evaluate(
        """() => { const out = [];
          const walk = (n) => { if (!n) return;
            if (n.nodeType === 3) out.push(n.textContent);
            if (n.shadowRoot) walk(n.shadowRoot);
            for (const c of n.childNodes || []) walk(c); };
          walk(document.body); return out.join(' '); }"""
    )
    raw = sorted(set(RAW_KEY.findall(text)))
    if raw:
        hits = [m.group(0) for m in re.finditer(r"\S*(?:component\.lookback\.|\[%key:)\S*", text)]
        check.fail(f"{path}: raw translation keys shown: {hits[:8] or raw}")
    check.info(f"screenshot {path}")
    return text


def open_more_info(page: Any, entity_id: str) -> None:
    """Open an entity's more-info dialog, as a click on its row does."""
    page.evaluate(
        """(entityId) => document.querySelector('home-assistant').dispatchEvent(
          new CustomEvent('hass-more-info', {detail: {entityId}, bubbles: true,
          composed: true}))""",
        entity_id,
    )


def open_camera_step(page: Any, base: str, menu_label: str) -> None:
    """On a fresh integration page, open the camera's Reconfigure menu and pick a step.

    A fresh page each time: a dialog closed with Escape may still be fading out.
    """
    page.goto(f"{base}/config/integrations/integration/{DOMAIN}")
    wait_hass(page)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name=re.compile("^Configure$")).filter(visible=True).first.click(
        timeout=10_000
    )
    page.wait_for_selector("dialog-data-entry-flow", state="attached", timeout=10_000)
    page.wait_for_timeout(1500)
    page.get_by_text(menu_label).first.click(timeout=10_000)
    page.wait_for_timeout(2500)


def lookback_entities(page: Any) -> list[dict[str, Any]]:
    """The entity registry entries of Lookback."""
    entries = ws_call(page, {"type": "config/entity_registry/list"})
    return [e for e in entries if e.get("platform") == DOMAIN]


def find_clip(
    page: Any, identifier: str = f"media-source://{DOMAIN}", path: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[str]] | None:
    """Depth-first through Media > Lookback: the first clip (video) and its folders' titles."""
    node = ws_call(page, {"type": "media_source/browse_media", "media_content_id": identifier})
    for child in node.get("children") or []:
        if child.get("can_play") and child.get("media_class") == "video":
            return child, list(path)
    for child in node.get("children") or []:
        if child.get("can_expand"):
            found = find_clip(page, child["media_content_id"], (*path, child["title"]))
            if found:
                return found
    return None


def run(args: argparse.Namespace) -> int:
    """All checks; 1 when any failed."""
    from playwright.sync_api import sync_playwright

    check = Check()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    api = Api(args.url)
    api.wait_up(args.wait)
    print("[ui_check] signing in", flush=True)
    tokens = api.sign_in(args.username, args.password, check)
    deadline = time.monotonic() + args.wait  # until HA has started and the camera is connected
    while time.monotonic() < deadline:
        _, config, _ = api.request("GET", "/api/config")
        _, states, _ = api.request("GET", "/api/states")
        connected = any(
            s["entity_id"].startswith("binary_sensor.")
            and s["entity_id"].endswith("_connectivity")
            and s["state"] == "on"
            for s in states
            if isinstance(s, dict)
        )
        if config.get("state") == "RUNNING" and connected:
            break
        time.sleep(2)
    else:
        check.fail("HA not running with the camera connected in time")

    print("[ui_check] actions (REST)", flush=True)
    status, services, _ = api.request("GET", "/api/services")
    if check.expect(status == 200, f"GET /api/services: {status}"):
        domains = {s["domain"]: s["services"] for s in services}
        check.expect(
            {"save_clip", "snapshot"} <= set(domains.get(DOMAIN, {})),
            f"lookback actions listed: {sorted(domains.get(DOMAIN, {}))}",
        )
    else:
        check.info(str(services)[:300])

    chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("[ui_check] no chromium: apt-get install -y chromium")
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
        context.add_init_script(
            f"window.localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))});"
        )
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                console.append(f"{msg.type}: {msg.text}")
                if msg.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
        page.on(
            "response",
            lambda resp: (
                console.append(f"error: HTTP {resp.status} {resp.url[:160]}")
                if resp.status >= 400
                else None
            ),
        )
        base = api.base

        print("[ui_check] websocket get_services", flush=True)
        page.goto(f"{base}/config/integrations/dashboard")
        wait_hass(page)
        services = ws_call(page, {"type": "get_services"})
        check.expect(DOMAIN in services, f"websocket get_services lists {DOMAIN}")

        # The onboarding wizard asks for the country; without one HA raises a repair issue.
        if not page.evaluate("() => document.querySelector('home-assistant').hass.config.country"):
            ws_call(page, {"type": "config/core/update", "country": "US"})
        issues = ws_call(page, {"type": "repairs/list_issues"})["issues"]
        for issue in issues:
            (check.fail if DOMAIN in (issue["domain"], issue.get("issue_domain")) else check.info)(
                f"repair issue {issue['domain']}.{issue['issue_id']} ({issue['severity']})"
            )

        print("[ui_check] integrations dashboard", flush=True)
        text = shot(page, out, "01_integrations", check)
        check.expect("Lookback NVR" in text, "integrations dashboard shows the Lookback NVR card")
        icon = page.evaluate(
            """() => { const found = [];
              const walk = (n) => { if (!n) return;
                if (n.tagName === 'IMG' && /lookback/.test(n.src)) found.push(
                  {src: n.src, ok: n.complete && n.naturalWidth > 0});
                if (n.shadowRoot) walk(n.shadowRoot);
                for (const c of n.children || []) walk(c); };
              walk(document.body); return found; }"""
        )
        if check.expect(bool(icon), f"brand icon <img> on the card: {icon[:1]}"):
            check.expect(all(i["ok"] for i in icon), "brand icon loaded")
            status, _, headers = api.request("GET", icon[0]["src"], raw=True)
            check.expect(
                status == 200 and headers.get("Content-Type", "").startswith("image/"),
                f"brand icon URL {icon[0]['src']}: {status} {headers.get('Content-Type')}",
            )

        print("[ui_check] Lookback NVR integration page", flush=True)
        page.goto(f"{base}/config/integrations/integration/{DOMAIN}")
        wait_hass(page)
        text = shot(page, out, "02_integration_lookback", check)
        check.expect("Demo camera" in text, "integration page shows the Demo camera subentry")

        print("[ui_check] entities", flush=True)
        states = {
            s["entity_id"]: s
            for s in page.evaluate(
                "() => Object.values(document.querySelector('home-assistant').hass.states)"
            )
        }
        entities = lookback_entities(page)
        check.expect(bool(entities), f"{len(entities)} lookback entities registered")
        for entry in entities:
            eid = entry["entity_id"]
            state = states.get(eid, {}).get("state")
            if entry.get("disabled_by"):
                check.info(f"{eid}: disabled by {entry['disabled_by']}")
            elif state in (None, "unavailable", "unknown"):
                (check.fail if state != "unknown" or eid.startswith("camera.") else check.info)(
                    f"{eid}: {state}"
                )
            else:
                name = states[eid]["attributes"].get("friendly_name")
                check.ok(f"{eid}: {state!r} ({name})")

        print("[ui_check] Demo camera device page", flush=True)
        devices = ws_call(page, {"type": "config/device_registry/list"})
        entry_ids = {e["config_entry_id"] for e in entities}
        cams = [
            d
            for d in devices
            if set(d["config_entries"]) & entry_ids and d["name"] == "Demo camera"
        ]
        if check.expect(bool(cams), "Demo camera device registered"):
            page.set_viewport_size({"width": 1400, "height": 1600})  # all of the device page
            page.goto(f"{base}/config/devices/device/{cams[0]['id']}")
            wait_hass(page)
            page.wait_for_timeout(4000)  # the camera picture
            text = shot(page, out, "03_device_demo_camera", check)
            nvr = [
                d
                for d in devices
                if set(d["config_entries"]) & entry_ids and d["id"] != cams[0]["id"]
            ]
            if nvr:
                page.goto(f"{base}/config/devices/device/{nvr[0]['id']}")
                wait_hass(page)
                shot(page, out, "03a_device_nvr", check)
                page.goto(f"{base}/config/devices/device/{cams[0]['id']}")
                wait_hass(page)
                page.wait_for_timeout(1500)
            page.set_viewport_size({"width": 1400, "height": 1000})
            # The entities the device page folds away ("+N entities not shown"): diagnostics.
            try:
                page.get_by_text(re.compile(r"entit(y|ies) not shown")).first.click(timeout=3000)
                page.wait_for_timeout(1000)
                page.mouse.wheel(0, 2000)
                shot(page, out, "03b_device_demo_camera_all_entities", check, settle_ms=1500)
            except Exception:  # noqa: BLE001 - nothing folded away
                check.info("the device page folds no entities away")
            camera_entity = next(
                (e["entity_id"] for e in entities if e["entity_id"].startswith("camera.")), None
            )
            status, body, headers = api.request(
                "GET", f"/api/camera_proxy/{camera_entity}", raw=True
            )
            check.expect(
                status == 200 and headers.get("Content-Type", "").startswith("image/"),
                f"camera picture /api/camera_proxy/{camera_entity}: {status}"
                f" {headers.get('Content-Type')} {len(body)} bytes",
            )
            # The camera's more-info dialog (a click on the camera row opens the same).
            open_more_info(page, camera_entity)
            media: list[dict[str, Any]] = []
            for _ in range(30):  # the HLS stream needs a few segments
                page.wait_for_timeout(1000)
                media = page.evaluate(
                    """() => { const found = [];
                      const walk = (n) => { if (!n) return;
                        if (n.tagName === 'IMG' && /camera_proxy/.test(n.src)) found.push(
                          {img: n.src.split('?')[0], w: n.naturalWidth, h: n.naturalHeight,
                           shown: n.getBoundingClientRect().width});
                        if (n.tagName === 'VIDEO') found.push({video: true, rs: n.readyState,
                          t: n.currentTime, w: n.videoWidth, h: n.videoHeight,
                          err: n.error && n.error.code});
                        if (n.shadowRoot) walk(n.shadowRoot);
                        for (const c of n.children || []) walk(c); };
                      walk(document.body); return found; }"""
                )
                if any(m.get("video") and m["t"] > 1 for m in media):
                    break
            shot(page, out, "03c_camera_more_info", check, settle_ms=500)
            check.expect(
                any(m.get("video") and m["w"] > 0 and m["t"] > 0 for m in media),
                f"live view in the camera's more-info dialog: {media[:2]}",
            )
            page.keyboard.press("Escape")

        print("[ui_check] Add camera (subentry flow)", flush=True)
        page.goto(f"{base}/config/integrations/integration/{DOMAIN}")
        wait_hass(page)
        page.wait_for_timeout(1500)
        try:
            page.get_by_role("button", name=re.compile("Add camera", re.I)).first.click(
                timeout=10_000
            )
            page.wait_for_selector("dialog-data-entry-flow", state="attached", timeout=10_000)
            text = shot(page, out, "04_add_camera_dialog", check, settle_ms=3000)
            step = json.loads(
                (ROOT / "custom_components" / DOMAIN / "translations" / "en.json").read_text()
            )["config_subentries"]["camera"]["step"]["user"]
            text = " ".join(text.split())
            missing = [
                k for k, v in step["data_description"].items() if " ".join(v.split()) not in text
            ]
            labels = [k for k, v in step["data"].items() if v not in text]
            check.expect(
                not missing and not labels,
                "Add camera form shows every field's label and description"
                + (
                    f" (missing descriptions: {missing}, labels: {labels})"
                    if missing or labels
                    else ""
                ),
            )
            page.mouse.move(700, 500)
            page.mouse.wheel(0, 5000)
            shot(page, out, "04b_add_camera_dialog_end", check, settle_ms=1000)
            # A path the demo camera does not serve: the form comes back with the error.
            errors = json.loads(
                (ROOT / "custom_components" / DOMAIN / "translations" / "en.json").read_text()
            )["config_subentries"]["camera"]["error"]
            port = os.environ.get("LOOKBACK_DEMO_PORT", "8554")
            page.get_by_role("textbox", name=re.compile("^Name")).first.fill("Test camera")
            url_box = page.get_by_role("textbox", name=re.compile("^Main stream URL")).first
            url_box.fill(f"rtsp://127.0.0.1:{port}/nothing")
            page.get_by_role("button", name="Submit").click()
            page.wait_for_timeout(8000)
            text = " ".join(shot(page, out, "04c_add_camera_not_found", check).split())
            check.expect(
                errors["not_found"] in text, "a wrong stream path shows the not_found error"
            )
            # The demo stream under another host name: the probe's findings, not added.
            url_box.fill(f"rtsp://localhost:{port}/stream1")
            page.get_by_role("button", name="Submit").click()
            page.wait_for_timeout(10_000)
            text = shot(page, out, "04d_add_camera_confirm", check)
            check.expect(
                "Add Test camera?" in text and "H.264" in text,
                "the probe's findings are shown before adding (Add Test camera?, H.264)",
            )
            page.keyboard.press("Escape")  # closing the dialog aborts the flow: nothing added
        except Exception as err:  # noqa: BLE001 - report and go on
            check.fail(f"Add camera dialog: {err}")
            shot(page, out, "04_add_camera_dialog", check)

        print("[ui_check] motion: tuning view and the camera's motion settings", flush=True)
        motion_view = next(
            (e["entity_id"] for e in entities if e["entity_id"].endswith("_motion_detection_view")),
            None,
        )
        if check.expect(motion_view is not None, f"motion detection view entity: {motion_view}"):
            status, body, headers = api.request("GET", f"/api/camera_proxy/{motion_view}", raw=True)
            check.expect(
                status == 200 and headers.get("Content-Type", "").startswith("image/"),
                f"motion detection view /api/camera_proxy/{motion_view}: {status}"
                f" {headers.get('Content-Type')} {len(body)} bytes",
            )
            open_more_info(page, motion_view)
            page.wait_for_timeout(3000)
            shot(page, out, "03d_motion_detection_view", check, settle_ms=500)
            page.keyboard.press("Escape")
        page.goto(f"{base}/config/integrations/integration/{DOMAIN}")
        wait_hass(page)
        page.wait_for_timeout(1500)
        strings = json.loads(
            (ROOT / "custom_components" / DOMAIN / "translations" / "en.json").read_text()
        )["config_subentries"]["camera"]
        try:
            # The camera subentry's gear button on its row (labelled "Configure").
            page.get_by_role("button", name=re.compile("^Configure$")).filter(
                visible=True
            ).first.click(timeout=10_000)
            page.wait_for_selector("dialog-data-entry-flow", state="attached", timeout=10_000)
            menu = strings["step"]["reconfigure"]["menu_options"]
            text = shot(page, out, "10_camera_reconfigure_menu", check, settle_ms=2000)
            check.expect(
                all(label in text for label in menu.values()),
                f"the camera's Reconfigure menu offers {list(menu.values())}",
            )
            page.get_by_text(menu["motion"]).first.click(timeout=10_000)
            page.wait_for_timeout(2500)
            text = " ".join(shot(page, out, "11_motion_settings", check).split())
            labels = [v for v in strings["step"]["motion"]["data"].values() if v not in text]
            check.expect(not labels, f"the motion form shows every field (missing: {labels})")
            masks = page.get_by_role("textbox", name=re.compile("^Masks")).first
            masks.fill("0,0 1,0 1,0.1 0,0.1\n0,0 0.5;0.5 1,1")
            page.get_by_role("button", name="Submit").click()
            page.wait_for_timeout(2000)
            text = " ".join(shot(page, out, "12_motion_settings_error", check).split())
            expected = strings["error"]["polygon_bad_point"].format(line=2, text="0.5;0.5")
            check.expect(expected in text, f"a wrong mask line shows: {expected!r}")
            page.keyboard.press("Escape")  # closing the dialog aborts: nothing saved
        except Exception as err:  # noqa: BLE001 - report and go on
            check.fail(f"camera motion settings dialog: {err}")
            shot(page, out, "10_camera_reconfigure_menu", check)

        print(
            "[ui_check] alerts: the camera's alerts form, then a mail to the SMTP server",
            flush=True,
        )
        try:
            open_camera_step(page, base, menu["alerts"])
            text = " ".join(shot(page, out, "13_alert_settings", check).split())
            labels = [v for v in strings["step"]["alerts"]["data"].values() if v not in text]
            check.expect(not labels, f"the alerts form shows every field (missing: {labels})")
            check.expect("demo@lookback" in text, "the alerts form shows the camera's address")
            check.expect("/api/webhook/" in text, "the alerts form shows the webhook URL")
            address = page.get_by_role("textbox", name=re.compile("^E-mail address")).first
            address.fill("front door")
            page.get_by_role("button", name="Submit").click()
            page.wait_for_timeout(2000)
            text = " ".join(shot(page, out, "14_alert_settings_error", check).split())
            expected = strings["error"]["invalid_mail_address"]
            check.expect(expected in text, f"a wrong address shows: {expected!r}")
            page.keyboard.press("Escape")
        except Exception as err:  # noqa: BLE001 - report and go on
            check.fail(f"camera alerts dialog: {err}")
        alert_entity = next(
            (e["entity_id"] for e in entities if e["entity_id"].endswith("_camera_alert")), None
        )
        try:
            mail = (
                "From: cam@example.com\r\nTo: demo@lookback\r\nSubject: Motion alarm\r\n\r\n"
                "EVENT TYPE: Motion Detection\r\n"
            )
            with smtplib.SMTP("127.0.0.1", 2525, local_hostname="localhost", timeout=10) as client:
                client.sendmail("cam@example.com", ["demo@lookback"], mail)
            deadline = time.monotonic() + 10
            state: Any = None
            while time.monotonic() < deadline:
                _status, state, _ = api.request("GET", f"/api/states/{alert_entity}")
                if isinstance(state, dict) and state.get("state") == "on":
                    break
                time.sleep(0.5)
            check.expect(
                isinstance(state, dict) and state.get("state") == "on",
                f"an alarm mail turns {alert_entity} on: {state}",
            )
            open_more_info(page, str(alert_entity))
            shot(page, out, "15_camera_alert", check, settle_ms=1000)
            page.keyboard.press("Escape")
        except Exception as err:  # noqa: BLE001 - report and go on
            check.fail(f"alarm mail to the SMTP server: {err}")

        print("[ui_check] objects: the camera's objects form, then the person sensor", flush=True)
        try:
            open_camera_step(page, base, menu["objects"])
            text = " ".join(shot(page, out, "16_object_settings", check).split())
            labels = [v for v in strings["step"]["objects"]["data"].values() if v not in text]
            check.expect(not labels, f"the objects form shows every field (missing: {labels})")
            check.expect("local" in text, "the objects form names the NVR's detector")
            page.keyboard.press("Escape")
        except Exception as err:  # noqa: BLE001 - report and go on
            check.fail(f"camera objects dialog: {err}")
        person = next(
            (e["entity_id"] for e in entities if e["entity_id"].endswith("_person")), None
        )
        check.expect(person is not None, f"the demo camera has a person sensor: {person}")
        if person is not None:
            deadline = time.monotonic() + 75  # the demo's person crosses twice a minute
            state = None
            while time.monotonic() < deadline:
                _status, state, _ = api.request("GET", f"/api/states/{person}")
                if isinstance(state, dict) and state.get("state") == "on":
                    break
                time.sleep(0.5)
            check.expect(
                isinstance(state, dict) and state.get("state") == "on",
                f"the walking person turns {person} on: {state}",
            )
            open_more_info(page, person)
            shot(page, out, "17_person_sensor", check, settle_ms=1000)
            page.keyboard.press("Escape")

        print("[ui_check] Media > Lookback", flush=True)
        found = find_clip(page)
        if found is None:
            entity = next(
                (e["entity_id"] for e in entities if e["entity_id"].startswith("camera.")), None
            )
            check.info(f"no clip yet: lookback.save_clip on {entity}")
            status, result, _ = api.request(
                "POST",
                "/api/services/lookback/save_clip?return_response",
                {"entity_id": entity, "pre_roll": 5, "post_roll": 3},
            )
            check.info(f"save_clip: {status} {str(result)[:300]}")
            deadline = time.monotonic() + 60
            while found is None and time.monotonic() < deadline:
                time.sleep(3)
                found = find_clip(page)
        clip, clip_path = found or (None, [])
        page.goto(f"{base}{MEDIA_PATH}")
        wait_hass(page)
        shot(page, out, "05_media_lookback", check)
        if check.expect(
            clip is not None, f"a clip under Media > Lookback: {clip and clip['title']}"
        ):
            resolved = ws_call(
                page,
                {
                    "type": "media_source/resolve_media",
                    "media_content_id": clip["media_content_id"],
                },
            )
            status, body, headers = api.request("GET", resolved["url"], raw=True)
            check.expect(
                status == 200 and headers.get("Content-Type") == "video/mp4" and len(body) > 1000,
                f"clip URL {resolved['url'][:80]}...: {status} {headers.get('Content-Type')}"
                f" {len(body)} bytes",
            )
            # Open it as a user does: from Media > Lookback, folder by folder, then the clip.
            for title in [*clip_path, clip["title"]]:
                try:
                    page.get_by_text(title, exact=True).filter(visible=True).first.click(
                        timeout=10_000
                    )
                except Exception as err:  # noqa: BLE001 - report and go on
                    check.fail(f"clicking {title!r} in the media browser: {err}")
                    break
                page.wait_for_timeout(2500)
                if title != clip["title"]:
                    shot(page, out, "06_media_clip_folder", check, settle_ms=500)
            page.wait_for_timeout(1500)
            video = None
            for _ in range(20):
                video = page.evaluate(
                    """() => { let v = null;
                      const walk = (n) => { if (!n || v) return;
                        if (n.tagName === 'VIDEO') { v = n; return; }
                        if (n.shadowRoot) walk(n.shadowRoot);
                        for (const c of n.children || []) walk(c); };
                      walk(document.body);
                      return v && {rs: v.readyState, t: v.currentTime, d: v.duration,
                        err: v.error && v.error.code, src: v.currentSrc,
                        w: v.videoWidth, h: v.videoHeight, paused: v.paused}; }"""
                )
                if video and video["t"] > 1.0:
                    break
                page.wait_for_timeout(500)
            shot(page, out, "07_media_clip_playing", check, settle_ms=500)
            check.expect(
                bool(video) and video["rs"] >= 2 and video["t"] > 0 and not video["err"],
                f"the clip plays in the browser: {video}",
            )

        print("[ui_check] the automation editor's action picker", flush=True)
        page.goto(f"{base}/config/automation/edit/new")
        wait_hass(page)
        page.wait_for_timeout(2000)
        try:
            page.get_by_role("button", name=re.compile("Add action", re.I)).first.click(
                timeout=10_000
            )
            page.wait_for_timeout(1500)
            page.keyboard.type("Lookback")
            text = shot(page, out, "08_action_picker", check, settle_ms=2000)
            names = [
                f"Lookback NVR: {service['name']}"
                for service in json.loads(
                    (ROOT / "custom_components" / DOMAIN / "translations" / "en.json").read_text()
                )["services"].values()
            ]
            if check.expect(
                all(name in text for name in names),
                f"the action picker lists Lookback NVR's actions {names}",
            ):
                page.get_by_text(names[0]).first.click(timeout=10_000)
                shot(page, out, "09_action_save_clip", check, settle_ms=2500)
        except Exception as err:  # noqa: BLE001 - report and go on
            check.fail(f"action picker: {err}")
        browser.close()

    errors = [line for line in console if "lookback" in line.lower() or "error" in line[:10]]
    for line in errors[:20]:
        check.info(f"browser console {line[:300]}")
    log = Path(args.log)
    if log.exists():
        bad = [
            line.rstrip()
            for line in log.read_text(errors="replace").splitlines()
            if re.search(r" (WARNING|ERROR|CRITICAL) ", line)
            and "lookback" in line.lower()
            and "has not been tested by Home Assistant" not in line
        ]
        for line in bad[-20:]:
            check.fail(f"log: {line[:300]}")
        if not bad:
            check.ok(f"{log}: no lookback warnings or errors")
    print(f"\n[ui_check] {len(check.problems)} problem(s); screenshots in {out}")
    for problem in check.problems:
        print(f"  - {problem}")
    return 1 if check.problems else 0


def main() -> int:
    """Parse the command line, get Playwright, run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--username", default="dev")
    parser.add_argument("--password", default="dev-password")
    parser.add_argument("--out", default="/tmp/ui", help="screenshot folder")
    parser.add_argument("--log", default=str(ROOT / "config" / "home-assistant.log"))
    parser.add_argument("--chromium", help="browser binary (default: chromium on PATH)")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for HA")
    args = parser.parse_args()
    _ensure_playwright()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
