"""The public vocabulary is small and pinned: changing it is a decision, not an accident."""

import harmony


def test_exported_names() -> None:
    assert harmony.__all__ == sorted(harmony.__all__)
    assert set(harmony.__all__) == {
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
    }
    for name in harmony.__all__:
        assert getattr(harmony, name) is not None
