"""``AgentService``: the agent running as a service, applied only once its first heartbeat is seen.

Plan: not running, or running another revision (binary or credentials changed) -> (re)start; else nothing.
Apply: note where the agent's heartbeats are, (re)start the service, then wait for a heartbeat *after*
that mark. A service that starts but never beats is a failure naming the wait, not a success.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import Field

from harmony.domain.capabilities.services import HeartbeatMonitor, ServiceManager, ServiceSpec, ServiceState
from harmony.domain.change import Change
from harmony.domain.errors import InterpretError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score


class AgentHostServices(ServiceManager, HeartbeatMonitor, Protocol):
    """Running services, and seeing the agent's heartbeats."""


class AgentService(Score[AgentHostServices]):
    kind: Literal["agent_service"] = "agent_service"
    agent: str
    """Whose heartbeats prove it runs (the device name)."""
    service: ServiceSpec
    heartbeat_timeout: float = Field(default=120.0, gt=0)

    @property
    def name(self) -> str:
        return f"agent-service:{self.service.name}"

    def interpret(self) -> Interpret[AgentHostServices]:
        return AgentServiceInterpret(self)


class AgentServiceInterpret(Interpret[AgentHostServices]):
    def __init__(self, score: AgentService) -> None:
        self.score = score

    async def plan(self, topology: AgentHostServices) -> Sequence[Change]:
        return plan_service(self.score, await topology.service_state(self.score.service))

    async def apply(self, topology: AgentHostServices, changes: Sequence[Change]) -> Outcome:
        s = self.score
        mark = await topology.heartbeat_mark(s.agent)
        await topology.start_service(s.service)
        if not await topology.wait_heartbeat(s.agent, after=mark, timeout=s.heartbeat_timeout):
            raise InterpretError(
                s.name, "apply",
                f"service {s.service.name} started but agent {s.agent} sent no heartbeat within "
                f"{s.heartbeat_timeout:g}s: check its log and that it reaches NATS",
            )  # fmt: skip
        return Outcome.success(f"agent {s.agent} runs as service {s.service.name} and heartbeats")


def plan_service(score: AgentService, state: ServiceState) -> list[Change]:
    target = f"service {score.service.name} ({state.manager})"
    if not state.running:
        return [Change.create(target, f"start {' '.join(score.service.argv[:3])} …, then wait for a heartbeat\n")]
    if state.revision != score.service.revision:
        return [Change.update(target, f"restart: revision {state.revision} -> {score.service.revision}\n")]
    return []
