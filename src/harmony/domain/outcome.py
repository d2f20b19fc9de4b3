"""What running one Score produced: SUCCESS, NOOP or FAILURE, with a message, details and timing."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    SUCCESS = "success"
    NOOP = "noop"
    FAILURE = "failure"


class Outcome(BaseModel):
    """The result of applying one Score. ``duration`` is in seconds and filled in by the Maestro."""

    model_config = ConfigDict(frozen=True)

    status: Status
    message: str
    details: tuple[str, ...] = ()
    duration: float = Field(default=0.0, ge=0.0)

    @classmethod
    def success(cls, message: str, *details: str) -> Outcome:
        return cls(status=Status.SUCCESS, message=message, details=details)

    @classmethod
    def noop(cls, message: str = "already in the desired state") -> Outcome:
        return cls(status=Status.NOOP, message=message)

    @classmethod
    def failure(cls, message: str, *details: str) -> Outcome:
        return cls(status=Status.FAILURE, message=message, details=details)

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAILURE

    def timed(self, duration: float) -> Outcome:
        return self.model_copy(update={"duration": duration})
