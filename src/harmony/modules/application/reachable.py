"""``ApplicationReachable``: the companion smoke test of an ``Application``, through its public endpoint.

The deploy itself already blocked on the application's check against the new version; this companion runs
the same check the way users arrive — at the load balancer, with the application's host name — after the
apply (and on a NOOP run, so a run reports what works now). A command check runs inside a container, not
through the load balancer, so here it becomes a TCP connect to the frontend.
"""

from __future__ import annotations

from harmony.domain.companion import SmokeTest
from harmony.domain.outcome import Outcome
from harmony.modules.application.application import AppHost, Application
from harmony.modules.application.smoke import CommandCheck, Target, TcpCheck, wait_for


class ApplicationReachable(SmokeTest[Application]):
    """Runs the application's smoke check against its load-balancer frontend, probing from ``host``."""

    def __init__(self, host: AppHost) -> None:
        self.host = host

    async def run(self, score: Application) -> Outcome:
        e = score.expose
        target = Target(address=e.address, port=e.port, container="", host=str(e.hostname))
        check = TcpCheck(timeout=score.smoke.timeout) if isinstance(score.smoke, CommandCheck) else score.smoke
        result = await wait_for(check, target, prober=self.host, runtime=self.host)
        if result.ok:
            return Outcome.success(f"{score.app} answers at {score.url}", result.detail)
        return Outcome.failure(f"{score.app} does not answer at {score.url}", f"probe: {result.detail}")
