"""The dashboard over HTTP, served by a real ``harmony fleet serve`` against a real nats-server.

Security (CSP on every response, cookie flags, CSRF, roles, rate-limited login, the audit log, the 0600 users
file), bad input (404 pages, 400 naming the field) and NATS going away under a running dashboard.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
from ipaddress import ip_address
from pathlib import Path

import httpx

from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer
from harmony.infra.site_ca import SiteCA
from tests.fixtures.fleet_controller import HARMONY, ROOT, Controllers, wait_http
from tests.fixtures.ports import free_port
from tests.fleet.test_fleet_devices import until, web

CSP = "default-src 'self'"
OPERATOR, VIEWER = ("alice", "alice-password-1"), ("bob", "bob-password-12")


def add_user(controllers: Controllers, name: str, password: str, role: str) -> None:
    done = subprocess.run(
        [HARMONY, "fleet", "dashboard-user", "add", name, "--role", role], input=password + "\n",
        env=controllers.env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert password not in done.stdout + done.stderr


def token_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login", data={"csrf": token_in(form.text), "username": user, "password": password, "next": "/rollouts"}
    )


async def test_dashboard_security_bad_input_and_nats_outage(
    controllers: Controllers, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    control = fleet_control
    await control.register("d-1", {"site": "north", "ring": "canary"})
    await control.register("d-2", {"site": "south"})
    await control.deploy("web", web("v1", None), selector={"site": "north"}, strategy=Strategy())
    await control.pause("web")  # before any controller runs: it stays paused for the actions below
    add_user(controllers, *OPERATOR, "operator")
    add_user(controllers, *VIEWER, "viewer")
    users_file = fleet_home.path / "dashboard-users.json"
    assert users_file.stat().st_mode & 0o777 == 0o600
    assert OPERATOR[1] not in users_file.read_text() and "$argon2id$" in users_file.read_text()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    controllers.start("c1", "--listen", f"127.0.0.1:{port}")
    await wait_http(base)

    async with httpx.AsyncClient(base_url=base) as anonymous:
        first = await anonymous.get("/")
        assert (first.status_code, first.headers["location"]) == (303, "/login?next=/")
        for path in ("/", "/login", "/static/dashboard.js", "/no-such-page"):
            response = await anonymous.get(path)
            assert response.headers["content-security-policy"].startswith(CSP), path
            assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        no_token = await anonymous.post("/login", data={"username": OPERATOR[0], "password": OPERATOR[1]})
        assert no_token.status_code == 403
        forged = await anonymous.post("/rollouts/web", data={"action": "abort", "csrf": "x"})
        assert forged.status_code == 401

    async with httpx.AsyncClient(base_url=base) as alice, httpx.AsyncClient(base_url=base) as bob:
        logged = await log_in(alice, *OPERATOR)
        assert (logged.status_code, logged.headers["location"]) == (303, "/rollouts")
        cookie = logged.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # no TLS here; with --tls-cert the cookie is Secure
        assert (await log_in(bob, *VIEWER)).status_code == 303

        for path in ("/", "/devices/d-1", "/rollouts", "/rollouts/web", "/failover", "/journal", "/?site=north"):
            page = await alice.get(path)
            assert page.status_code == 200, (path, page.text)
            assert "<script>" not in page.text and " style=" not in page.text and "onclick" not in page.text
        north = await alice.get("/?site=north")
        assert "d-1" in north.text and "d-2" not in north.text
        labelled = await alice.get("/?label=ring%3Dcanary")
        assert "d-1" in labelled.text and "d-2" not in labelled.text
        for path, status, text in [
            ("/devices/nope", 404, "No device &#39;nope&#39;"),
            ("/rollouts/nope", 404, "No rollout of &#39;nope&#39;"),
            ("/?label=ring", 400, "label: &#39;ring&#39; is not valid; expected key=value"),
            ("/?status=maybe", 400, "status: &#39;maybe&#39; is not valid"),
            ("/nothing/here", 404, "Nothing at /nothing/here"),
        ]:
            page = await alice.get(path)
            assert (page.status_code, text in page.text) == (status, True), (path, page.text)

        csrf = token_in((await alice.get("/rollouts/web")).text)
        assert "act-resume" in (await alice.get("/rollouts/web")).text
        viewer_page = await bob.get("/rollouts/web")
        assert "act-resume" not in viewer_page.text and "Viewers cannot" in viewer_page.text
        bob_csrf = token_in(viewer_page.text)  # the logout form's

        for client, data, status, text in [
            (alice, {"action": "resume"}, 403, "CSRF token is missing or wrong"),
            (alice, {"action": "resume", "csrf": bob_csrf}, 403, "CSRF token is missing or wrong"),
            (bob, {"action": "resume", "csrf": bob_csrf}, 403, "Only operators"),
            (alice, {"csrf": csrf}, 400, "field &#39;action&#39;: missing"),
            (alice, {"csrf": csrf, "action": "explode"}, 400, "field &#39;action&#39;: &#39;explode&#39; is not valid"),
        ]:
            response = await client.post("/rollouts/web", data=data)
            assert (response.status_code, text in response.text) == (status, True), (data, response.text)
        as_json = await alice.post("/rollouts/web", json={"action": "abort", "csrf": csrf})
        assert as_json.status_code == 400 and "field &#39;content-type&#39;" in as_json.text
        missing = await alice.post("/devices/d-1/restart", data={"csrf": csrf, "deployment": "nope"})
        assert missing.status_code == 400 and "field &#39;deployment&#39;" in missing.text
        assert (await control.rollout("web"))[0].phase == "paused"  # nothing above changed anything

        aborted = await alice.post("/rollouts/web", data={"csrf": csrf, "action": "abort"})
        assert (aborted.status_code, aborted.headers["location"]) == (303, "/rollouts/web")
        assert (await control.rollout("web"))[0].phase == "aborted"
        assert "web: abort done; the rollout is aborted" in (await alice.get("/rollouts/web")).text
        again = await alice.post("/rollouts/web", data={"csrf": csrf, "action": "resume"})
        assert again.status_code == 409 and "aborted" in again.text

        async with alice.stream("GET", "/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            seen = ""
            async for chunk in events.aiter_text():
                seen += chunk
                if "event: change" in seen:
                    break
            assert "event: change" in seen

        # NATS goes away: every page still renders, from the last state seen, and says so; actions change nothing.
        await fleet_server.stop()
        banner = "NATS is unreachable"
        down = await until(lambda: alice.get("/rollouts/web"), lambda r: banner in r.text, timeout=30)
        assert banner in down.text and "aborted" in down.text
        for path in ("/", "/devices/d-1", "/rollouts", "/failover", "/journal", "/devices/nope"):
            page = await alice.get(path)
            assert banner in page.text, path
        refused = await alice.post("/rollouts/web", data={"csrf": csrf, "action": "resume"})
        assert refused.status_code == 503 and "nothing was changed" in refused.text
        await fleet_server.start()
        back = await until(lambda: alice.get("/"), lambda r: banner not in r.text, timeout=60)
        assert banner not in back.text and "d-1" in back.text

        out = await alice.post("/logout", data={"csrf": csrf})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert (await alice.get("/")).status_code == 303

    audit_file = fleet_home.path / "dashboard-audit.log"
    assert audit_file.stat().st_mode & 0o777 == 0o600
    audit = [json.loads(line) for line in audit_file.read_text().splitlines()]
    said = {(e["user"], e["action"], e["result"]) for e in audit}
    assert {
        ("alice", "login", "ok"), ("bob", "login", "ok"), ("alice", "rollout", "ok"), ("bob", "rollout", "denied"),
        ("alice", "rollout", "denied"), ("alice", "rollout", "rejected"), ("alice", "rollout", "refused"),
        ("alice", "rollout", "error"), ("alice", "logout", "ok"), ("-", "rollout", "denied"),
    } <= said  # fmt: skip
    assert all(e["client"] == "127.0.0.1" and e["at"] for e in audit)
    assert not any(OPERATOR[1] in line or VIEWER[1] in line for line in audit_file.read_text().splitlines())

    # Rate limit: five failures from one address, then even the right password is refused for a while.
    async with httpx.AsyncClient(base_url=base) as guesser:
        for _ in range(5):
            assert (await log_in(guesser, OPERATOR[0], "wrong-password")).status_code == 401
        limited = await log_in(guesser, *OPERATOR)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert controllers.stop("c1") == 0


async def test_dashboard_user_file_rejects_short_passwords(controllers: Controllers, tmp_path: Path) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [HARMONY, "fleet", "dashboard-user", "add", "carol", "--role", "admin"], input="long-enough-pw\n",
        env=controllers.env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "--role" in done.stderr and "viewer, operator" in done.stderr
    short = await asyncio.to_thread(
        subprocess.run,
        [HARMONY, "fleet", "dashboard-user", "add", "carol"], input="short\n",
        env=controllers.env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert short.returncode != 0 and "password" in short.stderr and "at least 10" in short.stderr


async def test_under_tls_the_session_cookie_is_secure(
    controllers: Controllers, fleet_home: FleetHome, fleet_control: FleetControl, tmp_path: Path
) -> None:
    issued = SiteCA(tmp_path / "ca").issue_server("dashboard", addresses=(ip_address("127.0.0.1"),))
    cert, key = tmp_path / "dashboard.crt", tmp_path / "dashboard.key"
    cert.write_text(issued.certificate_pem)
    key.write_text(issued.key_pem)
    key.chmod(0o600)
    add_user(controllers, *OPERATOR, "operator")
    port = free_port()
    controllers.start("c1", "--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key))
    trust = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.crt"))
    base = f"https://127.0.0.1:{port}"
    await wait_http(base, verify=trust)
    async with httpx.AsyncClient(base_url=base, verify=trust) as alice:
        logged = await log_in(alice, *OPERATOR)
        assert logged.status_code == 303
        cookie = logged.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        page = await alice.get("/")
        assert page.status_code == 200 and page.headers["content-security-policy"].startswith(CSP)


async def test_the_dashboard_serves_before_nats_is_reachable(
    controllers: Controllers, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    await fleet_control.register("d-1", {"site": "north"})
    add_user(controllers, *VIEWER, "viewer")
    await fleet_server.stop()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    controllers.start("c1", "--listen", f"127.0.0.1:{port}")
    await wait_http(base)
    async with httpx.AsyncClient(base_url=base) as bob:
        assert (await log_in(bob, *VIEWER)).status_code == 303
        for path in ("/", "/rollouts", "/failover", "/journal"):
            page = await bob.get(path)
            assert page.status_code == 200 and "NATS is unreachable" in page.text, path
        assert "not connected to NATS yet" in (await bob.get("/")).text
        assert (await bob.get("/devices/d-1")).status_code == 404  # nothing known yet, and it says why not
        await fleet_server.start()
        back = await until(lambda: bob.get("/"), lambda r: "d-1" in r.text and "NATS is unreachable" not in r.text)
        assert "holding the lease, term 1" in back.text
    assert controllers.stop("c1") == 0


async def test_logins_survive_a_restart_until_the_user_is_removed(
    controllers: Controllers, fleet_home: FleetHome, fleet_server: FleetNatsServer
) -> None:
    add_user(controllers, *OPERATOR, "operator")
    add_user(controllers, *VIEWER, "viewer")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    controllers.start("c1", "--listen", f"127.0.0.1:{port}")
    await wait_http(base)
    async with httpx.AsyncClient(base_url=base) as alice, httpx.AsyncClient(base_url=base) as bob:
        assert (await log_in(alice, *OPERATOR)).status_code == 303
        assert (await log_in(bob, *VIEWER)).status_code == 303
        stored = fleet_home.path / "dashboard-sessions.json"
        assert stored.stat().st_mode & 0o777 == 0o600
        for client in (alice, bob):
            sid = client.cookies["harmony_session"]
            assert sid not in stored.read_text()  # only its hash is kept

        assert controllers.stop("c1") == 0
        controllers.start("c1", "--listen", f"127.0.0.1:{port}")
        await wait_http(base)
        page = await alice.get("/rollouts")
        assert page.status_code == 200 and "alice" in page.text, page.text[:300]
        assert (await bob.get("/")).status_code == 200

        removed = subprocess.run(
            [HARMONY, "fleet", "dashboard-user", "remove", VIEWER[0]],
            env=controllers.env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert removed.returncode == 0, removed.stderr
        assert controllers.stop("c1") == 0
        controllers.start("c1", "--listen", f"127.0.0.1:{port}")
        await wait_http(base)
        assert (await alice.get("/rollouts")).status_code == 200
        gone = await bob.get("/")
        assert (gone.status_code, gone.headers["location"]) == (303, "/login?next=/")
    assert controllers.stop("c1") == 0
