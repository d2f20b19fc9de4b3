"""Prometheus behind ``MetricsCollector``: scrape jobs with file-based discovery, alert rules checked by promtool.

Layout under ``state_dir``: ``settings.json`` (the ``CollectorSettings``), ``jobs/<name>.json`` (each
``ScrapeJob``), ``targets/<name>.json`` (its targets, in file-based discovery form), ``groups/<name>.json``
(each ``AlertRuleGroup``, tests included) and ``rules/<name>.yml`` (its rendering), ``prometheus.yml``,
``data/``, ``prometheus.pid``, ``prometheus.log``. YAML files are written as JSON (a subset of YAML). Files,
checks (promtool) and the daemon (``harmony.infra.daemon``: a systemd unit or a pid-file daemon) all go
through the host's connector, so the server runs on this machine, in a namespace or on an SSH host alike.

How the contract is kept:
- a change of targets only rewrites ``targets/<name>.json``; Prometheus watches those files, so a new device
  is scraped without a reload;
- any other change renders ``prometheus.yml`` (checked by ``promtool check config`` on a staged copy) and
  reloads through ``POST /-/reload``, which answers only once the reload succeeded or failed;
- a rule group is checked by ``promtool check rules`` and its tests by ``promtool test rules`` in a
  temporary directory before its file is written.
Not guaranteed: a retention or evaluation-interval change restarts the server (a gap of a few seconds in
scraping).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError

from harmony.domain.capabilities.files import FileState
from harmony.domain.capabilities.metrics import (
    AlertRule,
    AlertRuleGroup,
    AlertRuleTest,
    CollectorSettings,
    ScrapeJob,
    format_duration,
)
from harmony.domain.errors import MetricsError, MissingProgramError
from harmony.domain.names import ResourceName
from harmony.domain.values import Port
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on, find_programs, kept_in, start_until_ready
from harmony.infra.http_api import HttpCallError, answers, http_call
from harmony.infra.programs import PROMETHEUS, PROMTOOL, START_STOP_DAEMON, Program


def render_rule(rule: AlertRule) -> dict[str, Any]:
    rendered: dict[str, Any] = {"alert": rule.name, "expr": rule.expr}
    if rule.for_:
        rendered["for"] = format_duration(rule.for_)
    rendered["labels"] = {**rule.labels, "severity": rule.severity.value}
    if rule.annotations:
        rendered["annotations"] = dict(rule.annotations)
    return rendered


def render_rule_file(group: AlertRuleGroup) -> str:
    rendered: dict[str, Any] = {"name": group.name, "rules": [render_rule(r) for r in group.rules]}
    if group.interval is not None:
        rendered["interval"] = format_duration(group.interval)
    return json.dumps({"groups": [rendered]}, indent=2) + "\n"


def _expected_labels(rule: AlertRule, given: dict[str, str]) -> dict[str, str]:
    static = {k: v for k, v in rule.labels.items() if "{{" not in v}
    return {**static, "severity": rule.severity.value, **given}


def render_rule_tests(group: AlertRuleGroup, rule_file: str) -> str | None:
    """promtool's unit-test file for the rules of ``group`` that ship tests, or ``None`` when none does."""
    tests: list[dict[str, Any]] = []
    for rule in group.rules:
        for test in rule.tests:
            tests.append(_render_test(rule, test))
    if not tests:
        return None
    # evaluate as often as the group does, or as finely as the tests' samples when the group has no interval
    every = group.interval or min(t.interval for r in group.rules for t in r.tests)
    interval = format_duration(every)
    return json.dumps({"rule_files": [rule_file], "evaluation_interval": interval, "tests": tests}, indent=2)


def _render_test(rule: AlertRule, test: AlertRuleTest) -> dict[str, Any]:
    expected = [
        {"exp_labels": _expected_labels(rule, dict(e.labels)), "exp_annotations": dict(e.annotations)}
        for e in test.expected
    ]
    return {
        "interval": format_duration(test.interval),
        "input_series": [{"series": s.series, "values": s.values} for s in test.input_series],
        "alert_rule_test": [
            {"eval_time": format_duration(test.eval_time), "alertname": rule.name, "exp_alerts": expected}
        ],
    }


def render_config(state_dir: PurePosixPath, settings: CollectorSettings, jobs: Sequence[ScrapeJob]) -> str:
    global_: dict[str, Any] = {
        "scrape_interval": format_duration(settings.scrape_interval),
        "evaluation_interval": format_duration(settings.evaluation_interval),
    }
    if settings.external_labels:
        global_["external_labels"] = dict(settings.external_labels)
    config: dict[str, Any] = {"global": global_, "rule_files": [str(state_dir / "rules" / "*.yml")]}
    if settings.alert_routers:
        targets = [str(a) for a in settings.alert_routers]
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": targets}]}]}
    config["scrape_configs"] = [_render_job(state_dir, job) for job in sorted(jobs, key=lambda j: j.name)]
    return json.dumps(config, indent=2) + "\n"


def _render_job(state_dir: PurePosixPath, job: ScrapeJob) -> dict[str, Any]:
    rendered: dict[str, Any] = {"job_name": job.name, "metrics_path": job.metrics_path}
    if job.interval is not None:
        rendered["scrape_interval"] = format_duration(job.interval)
    if job.timeout is not None:
        rendered["scrape_timeout"] = format_duration(job.timeout)
    rendered["file_sd_configs"] = [{"files": [str(state_dir / "targets" / f"{job.name}.json")]}]
    return rendered


def render_targets(job: ScrapeJob) -> str:
    return json.dumps([{"targets": [t.address], "labels": dict(t.labels)} for t in job.targets], indent=2) + "\n"


class Prometheus:
    """One Prometheus server listening on ``host:port``, configured under ``state_dir`` on the connector's host.

    ``host`` is the listen address; Harmony checks readiness and reloads over HTTP at that address, so it
    must be reachable from where Harmony runs.
    """

    def __init__(self, *, state_dir: PurePosixPath, port: Port, connector: Connector, host: str = "127.0.0.1") -> None:
        self.state_dir = state_dir
        self.port = port
        self.host = host
        self._c = connector
        self._tools: dict[str, str | None] = {}
        self._control: DaemonControl | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> PurePosixPath:
        return self.state_dir / "prometheus.pid"

    async def pid(self) -> int | None:
        """The running server's pid."""
        return (await self._c.read_pids([self.pid_file]))[self.pid_file]

    # reads

    async def collector_settings(self) -> CollectorSettings | None:
        path = self.state_dir / "settings.json"
        found, pids = await asyncio.gather(
            self._c.stat_files([path], with_content=True), self._c.read_pids([self.pid_file])
        )
        text = _text(found[path])
        if text is None or pids[self.pid_file] is None:
            return None
        return _parse(CollectorSettings, text, "settings.json")

    async def scrape_jobs(self) -> Sequence[ScrapeJob]:
        return await self._models(self.state_dir / "jobs", ScrapeJob)

    async def alert_rule_groups(self) -> Sequence[AlertRuleGroup]:
        return await self._models(self.state_dir / "groups", AlertRuleGroup)

    async def _models[M: (ScrapeJob, AlertRuleGroup)](self, folder: PurePosixPath, model: type[M]) -> list[M]:
        files = (await self._c.read_directories([folder]))[folder] or {}
        return [
            _parse(model, files[name].decode(), str(folder / name)) for name in sorted(files) if name.endswith(".json")
        ]

    # changes

    async def apply_collector_settings(self, settings: CollectorSettings) -> None:
        previous = await self._read(self.state_dir / "settings.json")
        restart = previous is not None and _flags(_parse(CollectorSettings, previous, "settings")) != _flags(settings)
        await self._write_config(settings, await self.scrape_jobs())
        await self._write(self.state_dir / "settings.json", settings.model_dump_json(indent=2))
        if await self.pid() is not None and not restart:
            await self._reload()
            return
        control = await self._daemons()
        await control.stop(self._daemon(""))
        await self._start(settings)

    async def put_scrape_job(self, job: ScrapeJob) -> None:
        current = next((j for j in await self.scrape_jobs() if j.name == job.name), None)
        await self._ensure_dirs()
        await self._write(self.state_dir / "targets" / f"{job.name}.json", render_targets(job))
        if current is not None and current.same_config(job):
            await self._write(self._job_file(job.name), job.model_dump_json(indent=2))
            return
        jobs = [j for j in await self.scrape_jobs() if j.name != job.name] + [job]
        await self._reconfigure(jobs)
        await self._write(self._job_file(job.name), job.model_dump_json(indent=2))

    async def remove_scrape_job(self, name: ResourceName) -> None:
        jobs = [j for j in await self.scrape_jobs() if j.name != name]
        await self._c.remove_path(self._job_file(name))
        await self._reconfigure(jobs)
        await self._c.remove_path(self.state_dir / "targets" / f"{name}.json")

    async def check_alert_rule_group(self, group: AlertRuleGroup) -> None:
        made = await self._c.run_command(["mktemp", "-d", "/tmp/harmony-rules-XXXXXXXX"], timeout=30)
        if not made.ok:
            raise MetricsError(f"alert rule group {group.name}", f"cannot make a scratch directory: {made.stderr}")
        tmp = PurePosixPath(made.stdout.strip())
        try:
            rule_file = tmp / f"{group.name}.yml"
            await self._write(rule_file, render_rule_file(group))
            await self._promtool(f"alert rule group {group.name}", "check", "rules", str(rule_file))
            tests = render_rule_tests(group, rule_file.name)
            if tests is not None:
                test_file = tmp / "tests.yml"
                await self._write(test_file, tests)
                await self._promtool(f"alert rule group {group.name}: rule tests", "test", "rules", str(test_file))
        finally:
            await self._c.run_command(["rm", "-rf", "--", str(tmp)], timeout=30)

    async def put_alert_rule_group(self, group: AlertRuleGroup) -> None:
        await self.check_alert_rule_group(group)
        await self._ensure_dirs()
        await self._write(self.state_dir / "rules" / f"{group.name}.yml", render_rule_file(group))
        await self._write(self._group_file(group.name), group.model_dump_json(indent=2))
        await self._reload_if_running()

    async def remove_alert_rule_group(self, name: ResourceName) -> None:
        await self._c.remove_path(self.state_dir / "rules" / f"{name}.yml")
        await self._c.remove_path(self._group_file(name))
        await self._reload_if_running()

    async def stop(self) -> None:
        await (await self._daemons()).stop(self._daemon(""))

    # internals

    def _job_file(self, name: str) -> PurePosixPath:
        return self.state_dir / "jobs" / f"{name}.json"

    def _group_file(self, name: str) -> PurePosixPath:
        return self.state_dir / "groups" / f"{name}.json"

    async def _read(self, path: PurePosixPath) -> str | None:
        return _text((await self._c.stat_files([path], with_content=True))[path])

    async def _write(self, path: PurePosixPath, text: str) -> None:
        await self._c.write_file(path, text.encode(), mode=0o644, owner=None, group=None)

    async def _ensure_dirs(self) -> None:
        dirs = [str(self.state_dir / d) for d in ("rules", "targets", "jobs", "groups", "data")]
        made = await self._c.run_command(["mkdir", "-p", "--", *dirs], timeout=30)
        if not made.ok:
            raise MetricsError(f"prometheus {self.url}", f"cannot create {self.state_dir}: {made.stderr.strip()}")

    async def _reconfigure(self, jobs: Sequence[ScrapeJob]) -> None:
        text = await self._read(self.state_dir / "settings.json")
        settings = _parse(CollectorSettings, text, "settings.json") if text is not None else CollectorSettings()
        await self._write_config(settings, jobs)
        await self._reload_if_running()

    async def _write_config(self, settings: CollectorSettings, jobs: Sequence[ScrapeJob]) -> None:
        config = render_config(self.state_dir, settings, jobs)
        await self._ensure_dirs()
        staged = self.state_dir / ".prometheus.yml.check"
        await self._write(staged, config)
        try:
            await self._promtool("prometheus configuration", "check", "config", "--syntax-only", str(staged))
        finally:
            await self._c.remove_path(staged)
        await self._write(self.state_dir / "prometheus.yml", config)

    async def _tool(self, program: Program) -> str:
        if program.name not in self._tools:
            self._tools |= await find_programs(self._c, [PROMETHEUS.name, PROMTOOL.name, START_STOP_DAEMON.name])
        path = self._tools.get(program.name)
        if path is None:
            raise MissingProgramError(program.name, program.package, program.purpose)
        return path

    async def _promtool(self, subject: str, *args: str) -> None:
        try:
            argv = [await self._tool(PROMTOOL), *args]
        except MissingProgramError as e:
            raise MetricsError(subject, str(e)) from e
        result = await self._c.run_command(argv, timeout=60)
        if not result.ok:
            detail = (result.stderr.strip() or result.stdout.strip())[-2000:]
            raise MetricsError(subject, f"rejected by promtool {args[0]} {args[1]}: {detail}")

    async def _reload_if_running(self) -> None:
        if await self.pid() is not None:
            await self._reload()

    async def _reload(self) -> None:
        try:
            await http_call(f"{self.url}/-/reload", method="POST", timeout=30)
        except HttpCallError as e:
            raise MetricsError(f"prometheus {self.url}", f"reload failed: {e.detail}") from e

    async def _daemons(self) -> DaemonControl:
        if self._control is None:
            self._control = await daemons_on(self._c)
        return self._control

    def _daemon(self, executable: str, *args: str, launcher: str = "") -> Daemon:
        """The server as a daemon (``executable``/``launcher`` matter only to start it)."""
        return kept_in(
            "prometheus", self.state_dir, (executable, *args), launcher=launcher, pid_file=self.pid_file,
            description="Prometheus (metrics collector)",
        )  # fmt: skip

    async def _start(self, settings: CollectorSettings) -> None:
        try:
            executable, launcher = await self._tool(PROMETHEUS), await self._tool(START_STOP_DAEMON)
        except MissingProgramError as e:
            raise MetricsError(f"prometheus {self.url}", str(e)) from e
        daemon = self._daemon(
            executable,
            f"--config.file={self.state_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.state_dir / 'data'}",
            *_flags(settings),
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            launcher=launcher,
        )
        problem = await start_until_ready(
            self._c, await self._daemons(), daemon, ready=lambda: answers(f"{self.url}/-/ready")
        )
        if problem is not None:
            raise MetricsError(f"prometheus {self.url}", problem)


def _flags(settings: CollectorSettings) -> list[str]:
    """Settings that are command-line flags (a change restarts the server).

    Firing alerts are resent every evaluation interval (at most every minute, Prometheus's default): an alert
    that fires right after a start or reload may be evaluated before the alert routers are discovered, and
    would otherwise reach them only a minute later.
    """
    resend = min(settings.evaluation_interval, timedelta(minutes=1))
    return [
        f"--storage.tsdb.retention.time={format_duration(settings.retention)}",
        f"--rules.alert.resend-delay={format_duration(resend)}",
    ]


def _text(state: FileState) -> str | None:
    return state.content.decode() if state.kind == "file" and state.content is not None else None


def _parse[M: (CollectorSettings, ScrapeJob, AlertRuleGroup)](model: type[M], text: str, where: str) -> M:
    try:
        return model.model_validate_json(text)
    except ValidationError as e:
        raise MetricsError(where, f"unreadable state file (edited by hand?): {e.errors()[0]['msg']}") from e
