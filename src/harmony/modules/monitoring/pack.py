"""The default alert pack: what a site running Harmony wants to hear about, on Harmony's own metrics.

Job names are the contract with the scrape Scores (``DEVICE_JOB`` for fleet device agents, ``FAILOVER_JOB``
for failover agents, ``FLEET_JOB`` for the fleet control side, ``NODE_JOB`` for host exporters); metric names
are the contract with the agents, which export them (``harmony.infra.metrics_endpoint``).
"""

from __future__ import annotations

from datetime import timedelta

from harmony.domain.capabilities.metrics import (
    AlertRule,
    AlertRuleGroup,
    AlertRuleTest,
    ExpectedAlert,
    SeriesInput,
    Severity,
)
from harmony.domain.names import ResourceName
from harmony.modules.monitoring.rules import AlertRules

DEVICE_JOB = "harmony-devices"
FAILOVER_JOB = "harmony-failover"
FLEET_JOB = "harmony-fleet"
NODE_JOB = "node"

FENCED = "harmony_failover_fenced"
LAST_PROMOTION = "harmony_failover_last_promotion_timestamp_seconds"
ROLLOUT_HALTED = "harmony_rollout_halted"


_DISK = 'instance="h:9100",mountpoint="/",fstype="ext4"'
_TMPFS = 'instance="h:9100",mountpoint="/run",fstype="tmpfs"'


def _secs(t: timedelta) -> int:
    return max(1, round(t.total_seconds()))


def default_alert_rules(
    *,
    offline_for: timedelta = timedelta(minutes=1),
    failover_window: timedelta = timedelta(minutes=10),
    disk_for: timedelta = timedelta(minutes=10),
) -> AlertRuleGroup:
    """Device offline, agent down, failover happened (old and new primary as labels), primary fenced,
    rollout halted, disk above 90 %, node down. ``offline_for`` is the ``for`` of the liveness alerts."""
    window = _secs(failover_window)
    return AlertRuleGroup(
        name=ResourceName("harmony-default"),
        rules=(
            AlertRule(
                name="DeviceOffline",
                expr=f'up{{job="{DEVICE_JOB}"}} == 0',
                for_=offline_for,
                severity=Severity.WARNING,
                annotations={"summary": "device {{ $labels.device }} is offline (its agent does not answer)"},
                tests=(
                    AlertRuleTest(
                        interval=timedelta(seconds=15),
                        input_series=(
                            SeriesInput(series=f'up{{job="{DEVICE_JOB}",device="d1",instance="a:1"}}', values="1 0x20"),
                        ),
                        eval_time=timedelta(seconds=15) + offline_for + timedelta(seconds=15),
                        expected=(
                            ExpectedAlert(
                                labels={"job": DEVICE_JOB, "device": "d1", "instance": "a:1"},
                                annotations={"summary": "device d1 is offline (its agent does not answer)"},
                            ),
                        ),
                    ),
                ),
            ),
            AlertRule(
                name="AgentDown",
                expr=f'up{{job="{FAILOVER_JOB}"}} == 0',
                for_=offline_for,
                severity=Severity.CRITICAL,
                annotations={"summary": "failover agent {{ $labels.node }} of {{ $labels.cluster }} is down"},
            ),
            AlertRule(
                name="FailoverHappened",
                expr=f"max by (cluster, old_primary, new_primary) (time() - {LAST_PROMOTION} < {window})",
                severity=Severity.WARNING,
                annotations={
                    "summary": (
                        "{{ $labels.cluster }}: {{ $labels.new_primary }} took over from {{ $labels.old_primary }}"
                    )
                },
                tests=(
                    AlertRuleTest(
                        interval=timedelta(seconds=60),
                        input_series=(
                            SeriesInput(
                                series=f'{LAST_PROMOTION}{{cluster="pg",node="b",old_primary="a",new_primary="b"}}',
                                values="60 60 60",
                            ),
                        ),
                        eval_time=timedelta(seconds=120),
                        expected=(
                            ExpectedAlert(
                                labels={"cluster": "pg", "old_primary": "a", "new_primary": "b"},
                                annotations={"summary": "pg: b took over from a"},
                            ),
                        ),
                    ),
                ),
            ),
            AlertRule(
                name="PrimaryFenced",
                expr=f"{FENCED} == 1",
                severity=Severity.CRITICAL,
                annotations={"summary": "{{ $labels.node }} of {{ $labels.cluster }} fenced itself (lost the mesh)"},
                tests=(
                    AlertRuleTest(
                        interval=timedelta(seconds=15),
                        input_series=(
                            SeriesInput(series=f'{FENCED}{{cluster="pg",node="a"}}', values="0 1 1"),
                            SeriesInput(series=f'{FENCED}{{cluster="pg",node="b"}}', values="0 0 0"),
                        ),
                        eval_time=timedelta(seconds=30),
                        expected=(
                            ExpectedAlert(
                                labels={"cluster": "pg", "node": "a"},
                                annotations={"summary": "a of pg fenced itself (lost the mesh)"},
                            ),
                        ),
                    ),
                ),
            ),
            AlertRule(
                name="RolloutHalted",
                expr=f"{ROLLOUT_HALTED} == 1",
                severity=Severity.WARNING,
                annotations={"summary": "rollout {{ $labels.deployment }} halted: too many devices failed"},
            ),
            AlertRule(
                name="DiskAlmostFull",
                expr=(
                    'node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs"}'
                    ' / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs"} < 0.10'
                ),
                for_=disk_for,
                severity=Severity.WARNING,
                annotations={"summary": "{{ $labels.instance }} {{ $labels.mountpoint }} is more than 90 % full"},
                tests=(
                    AlertRuleTest(
                        interval=timedelta(minutes=1),
                        input_series=(
                            SeriesInput(series=f"node_filesystem_avail_bytes{{{_DISK}}}", values="50 5x30"),
                            SeriesInput(series=f"node_filesystem_size_bytes{{{_DISK}}}", values="100x31"),
                            SeriesInput(series=f"node_filesystem_avail_bytes{{{_TMPFS}}}", values="1x31"),
                            SeriesInput(series=f"node_filesystem_size_bytes{{{_TMPFS}}}", values="100x31"),
                        ),
                        eval_time=timedelta(minutes=2) + disk_for,
                        expected=(
                            ExpectedAlert(
                                labels={"instance": "h:9100", "mountpoint": "/", "fstype": "ext4"},
                                annotations={"summary": "h:9100 / is more than 90 % full"},
                            ),
                        ),
                    ),
                ),
            ),
            AlertRule(
                name="NodeDown",
                expr=f'up{{job="{NODE_JOB}"}} == 0',
                for_=offline_for,
                severity=Severity.CRITICAL,
                annotations={"summary": "host {{ $labels.instance }} does not answer"},
            ),
        ),
    )


def default_alert_pack(
    *,
    offline_for: timedelta = timedelta(minutes=1),
    failover_window: timedelta = timedelta(minutes=10),
    disk_for: timedelta = timedelta(minutes=10),
) -> AlertRules:
    """The default rules as a Score (see ``default_alert_rules``)."""
    return AlertRules(
        group=default_alert_rules(offline_for=offline_for, failover_window=failover_window, disk_for=disk_for)
    )
