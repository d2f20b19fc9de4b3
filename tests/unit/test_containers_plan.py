"""The pure halves of the container Scores and the podman adapter: observed state -> exact changes/argv."""

from __future__ import annotations

import io
import itertools
import tarfile
from pathlib import PurePosixPath

import pytest

from harmony import Action, InvalidValueError
from harmony.agent.container_supervisor import History, decide, decide_health
from harmony.domain.capabilities.containers import (
    MANAGED_LABEL,
    MANAGED_POD_LABEL,
    POD_LABEL,
    RESTART_LABEL,
    ContainerHealthCheck,
    ContainerInfo,
    ContainerName,
    ContainerSpec,
    EnvName,
    ImageInfo,
    ImageRef,
    PortMapping,
    PublishedPort,
    ResourceLimits,
    VolumeMount,
)
from harmony.domain.capabilities.dns import ARecord, DnsRecordSet
from harmony.domain.capabilities.load_balancer import Frontend
from harmony.domain.image_refs import ImageDigest
from harmony.domain.names import ResourceName
from harmony.domain.units import MiB
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.infra.podman import pod_create_argv, run_argv
from harmony.modules.application import Application, BusyboxImage, Container, HttpCheck
from harmony.modules.application.application import APP_LABEL, VERSION_LABEL, free_pod, plan_application
from harmony.modules.application.container import SPEC_LABEL, plan_container, spec_digest
from harmony.modules.application.exposure import Exposure, backend_for, frontend_for
from harmony.modules.application.image import CONTENT_LABEL, plan_image
from harmony.modules.application.rootfs import busybox_rootfs_tar, content_digest
from harmony.modules.application.smoke import waits

IMG = ImageRef("localhost/web:1")
SPEC = ContainerSpec(name=ContainerName("web"), image=IMG, command=("httpd", "-f"))


def info(
    name: str = "web", *, state: str = "running", labels: dict[str, str] | None = None, exit_code: int = 0
) -> ContainerInfo:
    return ContainerInfo.model_validate(
        {
            "id": "c0ffee",
            "name": name,
            "image": IMG.qualified,
            "state": state,
            "exit_code": exit_code,
            "labels": labels if labels is not None else {MANAGED_LABEL: "true", SPEC_LABEL: spec_digest(SPEC)},
            "ports": [PublishedPort(container=8080, host=41000, host_ip="127.0.0.1", protocol="tcp")],
        }
    )


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, [Action.CREATE]),
        (info(), []),
        (info(state="exited", exit_code=137), [Action.UPDATE]),
        (info(labels={MANAGED_LABEL: "true", SPEC_LABEL: "older"}), [Action.UPDATE]),
    ],
    ids=["missing", "same", "stopped", "changed-spec"],
)
def test_plan_container(current: ContainerInfo | None, expected: list[Action]) -> None:
    assert [c.action for c in plan_container(Container(spec=SPEC), current)] == expected


def test_a_local_tag_pins_to_its_digest() -> None:
    digest = ImageDigest("sha256:" + "ab" * 32)
    assert ImageRef("web").pinned(digest) == f"localhost/web@{digest}"
    assert ImageRef("localhost/apps/web:2").pinned(digest) == f"localhost/apps/web@{digest}"
    assert ImageInfo(id="x", digest=digest).pinned(ImageRef("web:1")) == f"localhost/web@{digest}"
    assert ImageInfo(id="x").pinned(ImageRef("web:1")) == "web:1"  # no digest known: left as given


def test_a_rebuilt_local_tag_plans_the_digest_change() -> None:
    old, new = (ImageDigest("sha256:" + c * 64) for c in "ab")
    running_spec = SPEC.model_copy(update={"image": IMG.pinned(old)})
    current = info(labels={MANAGED_LABEL: "true", SPEC_LABEL: spec_digest(running_spec)}).model_copy(
        update={"image": IMG.pinned(old)}
    )
    resolved = SPEC.model_copy(update={"image": IMG.pinned(new)})
    assert plan_container(Container(spec=SPEC), current, running_spec) == []
    (change,) = plan_container(Container(spec=SPEC), current, resolved)
    assert change.action is Action.UPDATE
    assert change.diff == f"image localhost/web@{old} -> localhost/web@{new}: replace\n"


def test_plan_container_refuses_a_foreign_container() -> None:
    with pytest.raises(Exception, match="not managed by Harmony"):
        plan_container(Container(spec=SPEC), info(labels={}))


def test_run_argv_carries_every_setting_and_the_ownership_labels() -> None:
    spec = ContainerSpec(
        name=ContainerName("api"),
        image=ImageRef("api:2"),
        command=("serve", "--port", "80"),
        env={EnvName("MODE"): "prod"},
        ports=(PortMapping(container=Port(80)), PortMapping(container=Port(53), host=Port(5353), protocol="udp")),
        volumes=(VolumeMount(source=PurePosixPath("/srv/data"), target=PurePosixPath("/data"), read_only=True),),
        labels={"team": "a"},
        limits=ResourceLimits(memory=MiB(64), cpus=0.5, pids=100),
        health=ContainerHealthCheck(command=("wget", "-q", "-O-", "http://127.0.0.1/")),
        restart="always",
    )
    assert run_argv(spec) == [
        "run", "-d", "--pull=never", "--name", "api", "--network=bridge",
        f"--label={MANAGED_LABEL}=true", f"--label={RESTART_LABEL}=always", "--label=team=a",
        "--env=MODE=prod",
        "--publish=127.0.0.1::80/tcp", "--publish=127.0.0.1:5353:53/udp",
        "--volume=/srv/data:/data:ro",
        "--memory=64m", "--cpus=0.5", "--pids-limit=100",
        '--health-cmd=["wget", "-q", "-O-", "http://127.0.0.1/"]', "--health-interval=disable", "--health-retries=3",
        "--init",
        "localhost/api:2", "serve", "--port", "80",
    ]  # fmt: skip


def test_a_container_in_a_pod_takes_the_pods_network_and_ports() -> None:
    spec = SPEC.model_copy(update={"ports": (PortMapping(container=Port(8080)),), "pod": ContainerName("web-a1-8080")})
    argv = run_argv(spec)
    assert "--pod=web-a1-8080" in argv and f"--label={POD_LABEL}=web-a1-8080" in argv
    assert not [a for a in argv if a.startswith(("--network", "--publish"))], argv
    assert pod_create_argv("web-a1-8080", spec.ports) == [
        "pod", "create", "--name", "web-a1-8080", "--share=net", f"--label={MANAGED_POD_LABEL}=true",
        "--publish=127.0.0.1::8080/tcp",
    ]  # fmt: skip


def _in_pod(name: str, pod: str, *, running: bool = True) -> ContainerInfo:
    return info(name, state="running" if running else "exited", labels={MANAGED_LABEL: "true", POD_LABEL: pod})


PODS = (ContainerName("web-a1-8080"), ContainerName("web-b1-8080"))


@pytest.mark.parametrize(
    ("containers", "in_load_balancer", "expected"),
    [
        ([], set(), "web-a1-8080"),  # a first deploy
        ([_in_pod("v1", "web-a1-8080")], {"v1"}, "web-b1-8080"),  # the other one, while v1 serves
        ([_in_pod("v2", "web-b1-8080")], {"v2"}, "web-a1-8080"),  # and back
        # an interrupted apply left v2 running in b, out of the load balancer: b all the same (v2 is removed first)
        ([_in_pod("v1", "web-a1-8080"), _in_pod("v2", "web-b1-8080")], {"v1"}, "web-b1-8080"),
        # the load balancer was lost (a host rebuilt): the one nothing runs in
        ([_in_pod("v1", "web-a1-8080")], set(), "web-b1-8080"),
        ([_in_pod("v1", "web-a1-8080", running=False)], set(), "web-a1-8080"),
        # containers from before pods (each its own network): any
        ([info("v0")], {"v0"}, "web-a1-8080"),
        # an interrupted switch left both in the load balancer: a network of its own
        ([_in_pod("v1", "web-a1-8080"), _in_pod("v2", "web-b1-8080")], {"v1", "v2"}, None),
    ],
)
def test_a_new_version_joins_the_pod_no_serving_container_is_in(
    containers: list[ContainerInfo], in_load_balancer: set[str], expected: str | None
) -> None:
    assert free_pod(PODS, containers, in_load_balancer) == expected


def test_an_application_owns_its_pods_of_any_replica_and_port_and_no_others() -> None:
    app = Application.model_validate(APP.model_dump() | {"app": "web", "replicas": 2})
    assert app.pod_names(2) == ("web-a2-8080", "web-b2-8080")
    assert [app.owns_pod(n) for n in ("web-a1-8080", "web-b2-9000", "web-a1-a1-8080", "webx-a1-8080", "web-c1-1")] == [
        True, True, False, False, False
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("ref", "qualified"),
    [("web", "localhost/web:latest"), ("web:1", "localhost/web:1"), ("localhost/web:1", "localhost/web:1"),
     ("registry.lan/team/web:2", "registry.lan/team/web:2"), ("team/web", "localhost/team/web:latest")],
)  # fmt: skip
def test_image_refs_are_qualified_like_podman_stores_them(ref: str, qualified: str) -> None:
    assert ImageRef(ref).qualified == qualified


@pytest.mark.parametrize(
    ("make", "value", "field"),
    [
        (EnvName, "1ST", "environment variable name"),
        (EnvName, "MY-VAR", "environment variable name"),
        (ContainerName, "-web", "container name"),
        (ImageRef, "Web:1", "image reference"),
    ],
)
def test_bad_names_are_rejected_naming_the_field_and_value(make: type[str], value: str, field: str) -> None:
    with pytest.raises(InvalidValueError) as e:
        make(value)
    assert e.value.field == field and e.value.value == value and e.value.expected


def test_env_name_is_checked_when_a_spec_is_loaded_from_data() -> None:
    with pytest.raises(ValueError, match="environment variable name: 'BAD NAME'"):
        ContainerSpec.model_validate({"name": "web", "image": "web:1", "env": {"BAD NAME": "x"}})


def test_rootfs_tar_is_reproducible_and_holds_busybox_applets_and_files() -> None:
    files = {"www/index.html": "hi\n"}
    first = busybox_rootfs_tar(b"\x7fELF-busybox", files)
    assert first == busybox_rootfs_tar(b"\x7fELF-busybox", files)
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
        assert {"bin/busybox", "bin/sh", "bin/httpd", "etc/passwd", "www/index.html"} <= set(names)
        member = tar.extractfile("www/index.html")
        assert member is not None and member.read() == b"hi\n"
    assert content_digest(files) != content_digest({"www/index.html": "hi!\n"})


def test_plan_image() -> None:
    image = BusyboxImage(ref=IMG, files={"a": "1"})
    assert [c.action for c in plan_image(image, None)] == [Action.CREATE]
    assert plan_image(image, {CONTENT_LABEL: content_digest({"a": "1"})}) == []
    assert [c.action for c in plan_image(image, {CONTENT_LABEL: "other"})] == [Action.UPDATE]


EXPOSE = Exposure(hostname=Hostname("web.apps.lan"), zone=Hostname("apps.lan"), port=Port(8000))
APP = Application(
    app=ResourceName("web"),
    image=BusyboxImage(ref=IMG, files={"www/index.html": "v1"}),
    port=Port(8080),
    expose=EXPOSE,
    smoke=HttpCheck(),
)
V = APP.version(None)
DNS = DnsRecordSet(
    owner=ResourceName("web"),
    zone=Hostname("apps.lan"),
    records=(ARecord(name=Hostname("web.apps.lan"), address=IPv4Address("127.0.0.1")),),
)


def app_container(version: str, *, state: str = "running") -> ContainerInfo:
    labels = {MANAGED_LABEL: "true", APP_LABEL: "web", VERSION_LABEL: version}
    return info(f"web-{version}-1", state=state, labels=labels)


def lb_on(version: str) -> list[Frontend]:
    return [frontend_for(ResourceName("web"), EXPOSE, (backend_for(f"web-{version}-1", 41000),))]


@pytest.mark.parametrize(
    ("containers", "frontends", "dns", "expected"),
    [
        ([], [], [], [Action.CREATE, Action.UPDATE, Action.UPDATE]),
        ([app_container(V)], lb_on(V), [DNS], []),
        ([app_container(V)], lb_on(V), [], [Action.UPDATE]),
        ([app_container(V)], lb_on("old"), [DNS], [Action.UPDATE]),
        ([app_container("old")], lb_on("old"), [DNS], [Action.UPDATE, Action.UPDATE, Action.DELETE]),
        ([app_container(V), app_container("old")], lb_on(V), [DNS], [Action.DELETE]),
        ([app_container(V, state="exited")], lb_on(V), [DNS], [Action.CREATE, Action.UPDATE, Action.DELETE]),
    ],
    ids=["first", "serving", "dns-missing", "lb-on-old", "upgrade", "old-left-over", "crashed"],
)
def test_plan_application(
    containers: list[ContainerInfo], frontends: list[Frontend], dns: list[DnsRecordSet], expected: list[Action]
) -> None:
    changes = plan_application(APP, V, containers, frontends, dns)
    assert [c.action for c in changes] == expected


def test_within_the_scale_down_delay_the_old_version_is_left_running_and_a_rollback_to_it_is_a_switch() -> None:
    old = app_container("old")
    serving = [app_container(V), old]
    assert plan_application(APP, V, serving, lb_on(V), [DNS], keep_previous=True) == []
    assert [c.action for c in plan_application(APP, V, serving, lb_on(V), [DNS])] == [Action.DELETE]
    # Back to the old version while it still runs: the load balancer only, nothing to start or stop.
    back = plan_application(APP, "old", serving, lb_on(V), [DNS], keep_previous=True)
    assert [(c.action, c.target) for c in back] == [(Action.UPDATE, "frontend web 127.0.0.1:8000")]


def test_two_replicas_need_both_containers_behind_the_load_balancer() -> None:
    two = APP.model_copy(update={"replicas": 2})
    v = two.version(None)
    second_port = PublishedPort(container=8080, host=41001, host_ip="127.0.0.1", protocol="tcp")
    one, other = app_container(v), app_container(v).model_copy(update={"name": f"web-{v}-2", "ports": (second_port,)})
    both = [frontend_for(ResourceName("web"), EXPOSE, (backend_for(one.name, 41000), backend_for(other.name, 41001)))]
    assert plan_application(two, v, [one, other], both, [DNS]) == []
    assert [c.action for c in plan_application(two, v, [one], lb_on(v), [DNS])] == [Action.UPDATE, Action.UPDATE]


def test_a_new_image_content_is_a_new_version() -> None:
    other = APP.model_copy(update={"image": BusyboxImage(ref=IMG, files={"www/index.html": "v2"})})
    assert other.version(None) != V
    assert APP.depends_on() == ("image:localhost/web:1",)


@pytest.mark.parametrize(
    ("policy", "state", "exit_code", "history", "action"),
    [
        ("on-failure", "running", 0, History(), "leave"),
        ("on-failure", "exited", 137, History(), "restart"),
        ("on-failure", "exited", 0, History(), "leave"),
        ("always", "exited", 0, History(), "restart"),
        ("no", "exited", 1, History(), "leave"),
        ("on-failure", "exited", 1, History(failures=3, last_restart=99.0), "wait"),
        ("on-failure", "exited", 1, History(failures=3, last_restart=90.0), "restart"),
    ],
    ids=["running", "killed", "clean-exit", "always", "policy-no", "backing-off", "back-off-over"],
)
def test_supervisor_decision(policy: str, state: str, exit_code: int, history: History, action: str) -> None:
    c = info(state=state, exit_code=exit_code, labels={MANAGED_LABEL: "true", RESTART_LABEL: policy})
    assert decide(c, history, now=100.0, base_delay=1.0, max_delay=30.0).action == action


def test_application_round_trips_through_the_score_wire_union() -> None:
    from harmony.domain.score import score_adapter

    adapter = score_adapter()
    assert adapter.validate_json(adapter.dump_json(APP)) == APP
    by_ref = APP.model_copy(update={"image": IMG})
    assert adapter.validate_json(adapter.dump_json(by_ref)) == by_ref


@pytest.mark.parametrize(
    ("retries", "streak", "healthy", "action"),
    [
        (3, 0, True, "leave"),
        (3, 0, False, "wait"),
        (3, 1, False, "wait"),
        (3, 2, False, "restart"),
        (1, 0, False, "restart"),
    ],
)
def test_supervisor_health_decision(retries: int, streak: int, healthy: bool, action: str) -> None:
    c = info().model_copy(update={"health_retries": retries})
    assert decide_health(c, History(unhealthy=streak), healthy).action == action


def test_an_app_name_leaves_room_for_the_version_in_container_names() -> None:
    with pytest.raises(ValueError, match=r"app: 'a{51}' is not valid; expected at most 50 characters"):
        APP.model_validate(APP.model_dump() | {"app": "a" * 51})


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (0.3, [0.025, 0.05, 0.1, 0.2, 0.3, 0.3]),
        (1.0, [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]),
        (0.01, [0.01, 0.01, 0.01]),
    ],
    ids=["default", "long", "shorter-than-the-first"],
)
def test_a_smoke_check_waits_briefly_at_first_then_doubles_up_to_its_interval(
    interval: float, expected: list[float]
) -> None:
    assert list(itertools.islice(waits(interval), len(expected))) == pytest.approx(expected)
