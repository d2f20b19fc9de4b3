"""Harmony: typed infrastructure as Python for decentralized micro datacenters.

The user vocabulary: a ``Score`` (desired state) runs on a ``Topology`` (where) through the capabilities
the topology provides; a ``Maestro`` plans and applies Scores and reports an ``Outcome``.
"""

from harmony.config.model import ConfigModel, ConfigSection
from harmony.config.secret import Secret
from harmony.domain.capabilities import ManagedFiles
from harmony.domain.change import Action, Change
from harmony.domain.companion import SmokeTest, Verification, verify
from harmony.domain.deployment import Deployment
from harmony.domain.errors import (
    CapabilityError,
    ConfigError,
    DeploymentError,
    HarmonyError,
    InterpretError,
    InvalidValueError,
    MissingConfigError,
    TopologyError,
)
from harmony.domain.interpret import Interpret
from harmony.domain.inventory import Host, Inventory
from harmony.domain.outcome import Outcome, Status
from harmony.domain.score import AnyScore, Score
from harmony.domain.topology import Topology
from harmony.domain.values import Hostname, MacAddress, Port
from harmony.maestro import Journal, Maestro, RunReport

__all__ = [
    "Action",
    "AnyScore",
    "CapabilityError",
    "Change",
    "ConfigError",
    "ConfigModel",
    "ConfigSection",
    "Deployment",
    "DeploymentError",
    "HarmonyError",
    "Host",
    "Hostname",
    "Interpret",
    "InterpretError",
    "InvalidValueError",
    "Inventory",
    "Journal",
    "MacAddress",
    "Maestro",
    "ManagedFiles",
    "MissingConfigError",
    "Outcome",
    "Port",
    "RunReport",
    "Score",
    "Secret",
    "SmokeTest",
    "Status",
    "Topology",
    "TopologyError",
    "Verification",
    "verify",
]
