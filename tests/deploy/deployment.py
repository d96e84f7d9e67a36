"""What the deployment files in deploy/ say, read into plain Python, and what the services accept."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import yaml
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from assay_common.config import CommonSettings, expand_vars

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
COMPOSE_FILE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SECRET_TEMPLATE = K8S / "secret.template.yaml"
SECRETS_SCRIPT = DEPLOY / "scripts" / "generate_secrets.py"
DEPLOY_DOC = REPO / "docs" / "deploy.md"

SERVICES = ("workflow", "auth", "vault", "gateway", "dashboard")
# Where both compose.yaml and the Deployments mount the secrets (the `assay-secrets` volume / Secret).
SECRETS_DIR = "/etc/assay/secrets"
# The oldest Kubernetes minor the manifests are written for; kubernetes-validate ships 1.25 and newer.
K8S_VERSION = "1.31"

Json = Any


# ---- the services -------------------------------------------------------------------------------


@cache
def settings_class(service: str) -> type[CommonSettings]:
    """The settings model of `service`, found in `assay_<service>.settings`."""
    module = importlib.import_module(f"assay_{service}.settings")
    for _, member in inspect.getmembers(module, inspect.isclass):
        if issubclass(member, CommonSettings) and member.service_name == service:
            return member
    raise LookupError(f"assay_{service}.settings defines no settings model for {service!r}")


def accepted_variables(service: str) -> set[str]:
    """Every environment variable `service` reads (see `assay_common.config`)."""
    names = {"ASSAY_CONFIG_FILE"}
    for field_name in settings_class(service).model_fields:
        for prefix in (f"ASSAY_{service.upper()}_", "ASSAY_"):
            key = f"{prefix}{field_name.upper()}"
            names |= {key, f"{key}_FILE"}
    return names


def keeps_data(service: str) -> bool:
    """Whether `service` has a store of its own (Alembic migrations), hence needs the database."""
    spec = importlib.util.find_spec(f"assay_{service}")
    assert spec is not None
    assert spec.origin is not None
    return (Path(spec.origin).parent / "store" / "migrations").is_dir()


def platform_variables() -> set[str]:
    """The variables every service reads alike."""
    accepted = [accepted_variables(s) for s in SERVICES]
    return set.intersection(*accepted)


def is_runnable_module(module: str) -> bool:
    """`python -m module` would run: the module or its package's `__main__` exists."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations is None:
        return True
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def module_of(command: list[str]) -> str:
    """`assay_x` of `["python", "-m", "assay_x", …]`."""
    assert command[:2] == ["python", "-m"], f"not a `python -m` command: {command}"
    return command[2]


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None, f"{url} names no host"
    assert parts.port is not None, f"{url} names no port"
    return parts.hostname, parts.port


def workspace_members() -> list[Path]:
    """The member folders of the uv workspace, from the root pyproject.toml."""
    document = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns: list[str] = document["tool"]["uv"]["workspace"]["members"]
    return sorted(p for pattern in patterns for p in REPO.glob(pattern) if (p / "pyproject.toml").is_file())


# ---- Dockerfile ---------------------------------------------------------------------------------


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for name, value in self.instructions if name == instruction]

    def copies(self) -> list[tuple[str | None, list[str], str]]:
        """Each COPY as (--from stage or None, sources, destination)."""
        out: list[tuple[str | None, list[str], str]] = []
        for value in self.values("COPY"):
            words = shlex.split(value)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            out.append((origin, paths[:-1], paths[-1]))
        return out


@cache
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def dockerfile_stages() -> list[Stage]:
    stages: list[Stage] = []
    for item in dockerfile().structure:
        instruction, value = str(item["instruction"]), str(item["value"])
        if instruction == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        elif instruction != "COMMENT":
            stages[-1].instructions.append((instruction, " ".join(value.split())))
    return stages


def image_command() -> list[str]:
    command = json.loads(str(dockerfile().cmd))
    return cast(list[str], command)


def image_env() -> dict[str, str]:
    return cast(dict[str, str], dockerfile().envs)


def image_user() -> int:
    user = dockerfile_stages()[-1].values("USER")[-1]
    return int(user.split(":", 1)[0])


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# ---- compose.yaml -------------------------------------------------------------------------------


def interpolate(node: Json) -> Json:
    """Apply compose's `${VAR:-default}` interpolation with no variable set: what a bare `up` sees."""
    if isinstance(node, str):
        return expand_vars(node, {})
    if isinstance(node, list):
        return [interpolate(item) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value) for key, value in node.items()}
    return node


@cache
def compose_raw() -> dict[str, Json]:
    return cast(dict[str, Json], yaml.safe_load(COMPOSE_FILE.read_text()))


def compose() -> dict[str, Json]:
    return cast(dict[str, Json], interpolate(compose_raw()))


def compose_service(name: str) -> dict[str, Json]:
    return cast(dict[str, Json], compose()["services"][name])


def compose_env(name: str) -> dict[str, str]:
    environment = compose_service(name).get("environment", {})
    assert isinstance(environment, dict), f"{name}: environment is written as a mapping"
    return {str(k): str(v) for k, v in environment.items()}


def compose_schema() -> dict[str, Json]:
    """The Compose Specification's JSON schema, as shipped by check-jsonschema."""
    resource = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return cast(dict[str, Json], json.loads(resource.read_text()))


# ---- Kubernetes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    path: Path
    body: dict[str, Json]

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def label(self) -> str:
        return f"{self.path.name}:{self.kind}/{self.name}"


@cache
def load_manifests(path: Path) -> tuple[Manifest, ...]:
    """The documents of one manifest file (parsed once: callers must not modify them)."""
    return tuple(Manifest(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)


@cache
def kustomization() -> dict[str, Json]:
    return cast(dict[str, Json], yaml.safe_load(KUSTOMIZATION.read_text()))


def applied_manifests() -> list[Manifest]:
    """Everything `kubectl apply -k deploy/k8s` creates."""
    return [m for resource in kustomization()["resources"] for m in load_manifests(K8S / resource)]


def all_manifests() -> list[Manifest]:
    return [m for path in sorted(K8S.glob("*.yaml")) if path != KUSTOMIZATION for m in load_manifests(path)]


def find(kind: str, name: str) -> dict[str, Json]:
    matches = [m.body for m in applied_manifests() if m.kind == kind and m.name == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def deployment(service: str) -> dict[str, Json]:
    return find("Deployment", f"assay-{service}")


def pod_spec(workload: dict[str, Json]) -> dict[str, Json]:
    return cast(dict[str, Json], workload["spec"]["template"]["spec"])


def container(workload: dict[str, Json]) -> dict[str, Json]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, "one container per pod"
    return cast(dict[str, Json], containers[0])


def container_env(workload: dict[str, Json]) -> dict[str, str]:
    """The environment of the pod's container: ConfigMaps of envFrom, then env (which wins)."""
    spec = container(workload)
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"unexpected envFrom source {source}"
        env.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in spec.get("env", []):
        assert "value" in item, f"{item['name']}: only literal values are used"
        env[item["name"]] = str(item["value"])
    return env


def named_port(workload: dict[str, Json], port: str | int) -> int:
    if isinstance(port, int):
        return port
    matches = [p["containerPort"] for p in container(workload)["ports"] if p.get("name") == port]
    assert len(matches) == 1, f"no container port named {port!r}"
    return int(matches[0])


def secret_files(workload: dict[str, Json]) -> dict[str, str]:
    """Path inside the container → key of the Secret it holds, for every mounted secret item."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    mounted: dict[str, str] = {}
    for mount in container(workload).get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        for item in secret["items"]:
            mounted[f"{mount['mountPath']}/{item['path']}"] = item["key"]
    return mounted


def secret_template_keys() -> set[str]:
    (secret,) = [m.body for m in load_manifests(SECRET_TEMPLATE)]
    return set(secret["stringData"])


def workloads() -> Iterator[Manifest]:
    return (m for m in applied_manifests() if m.kind in ("Deployment", "StatefulSet"))
