"""The deployment files, checked without Docker or a cluster (none is available here).

- every Kubernetes manifest, as ``kubectl kustomize`` renders the base and each overlay, is
  valid for the Kubernetes API (``kubernetes-validate``, strict); the custom resources it does
  not know (Strimzi KafkaTopic, KEDA ScaledObject) are checked against the schemas in
  ``tests/data/crd-schemas/`` (a subset of the real CRDs, see tests/data/README.md);
- ``docker-compose.yml`` is valid for the Compose Specification's JSON Schema
  (``tests/data/compose-spec.json``);
- ``checkov`` finds nothing in ``deploy/`` but the findings skipped, with a reason, on the
  workloads;
- what the manifests and the compose file name matches the code, both ways: every service
  (the ``copa.services`` entry points), every topic (``ALL_TOPICS`` and each ``.dlq``), every
  consumer group (as ``BatchConsumer`` names them), every environment variable the code reads
  (the runtime's and each service's pydantic-settings classes, and direct ``os.environ``
  reads), and nothing else.

Expectations come from the code, never from lists copied here.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points, requires
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY
from pydantic_settings import BaseSettings

from copa.up import database_name
from copa_contracts.topic import dead_letter_topic
from copa_contracts.topics import ALL_TOPICS
from copa_runtime.consumer import BatchConsumer
from copa_runtime.service import ENTRY_POINT_GROUP, ServiceDefinition, load_service, service_names
from copa_runtime.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
DATA = Path(__file__).resolve().parent / "data"
COMPOSE_FILE = REPO / "docker-compose.yml"
KUBERNETES_VERSION = "1.33.0"  # the oldest minor that race-day clusters are expected to run

OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
RENDERINGS = ["base", *OVERLAYS]


# -- what the code says ---------------------------------------------------------------------


@cache
def definitions() -> dict[str, ServiceDefinition]:
    return {name: load_service(name) for name in service_names()}


def expected_topics() -> dict[str, int]:
    """Every topic and dead-letter topic with the partitions the code declares (at least)."""
    wanted = {topic.name: topic.partitions for topic in ALL_TOPICS}
    wanted.update({dead_letter_topic(topic.name): 1 for topic in ALL_TOPICS})
    return wanted


def consumer_groups(definition: ServiceDefinition) -> dict[str, list[str]]:
    """Consumer group id -> topics, named exactly as the runtime's consumer names them."""
    groups = {}
    for subscription in definition.subscriptions:
        consumer = BatchConsumer(subscription, None, "unused:9092", service=definition.name)  # type: ignore[arg-type]
        groups[consumer.group_id] = [topic.name for topic in subscription.topics]
    return groups


def _service_package(service: str) -> str:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == service:
            return entry.value.partition(":")[0].partition(".")[0]
    raise LookupError(service)


def _package_modules(package_name: str) -> Iterator[Any]:
    package = importlib.import_module(package_name)
    yield package
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        if ".migrations" in info.name:  # a migration's env.py runs Alembic when imported
            continue
        yield importlib.import_module(info.name)


@cache
def settings_classes(service: str) -> tuple[type[BaseSettings], ...]:
    """The runtime's Settings and every BaseSettings class in the service's own package."""
    found: list[type[BaseSettings]] = [Settings]
    for module in _package_modules(_service_package(service)):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return tuple(found)


def _settings_variables(settings_class: type[BaseSettings]) -> dict[str, Any]:
    prefix = settings_class.model_config.get("env_prefix") or ""
    return {
        field.alias or (prefix + name).upper(): field.default
        for name, field in settings_class.model_fields.items()
    }


def _constant(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets) and isinstance(
                node.value, ast.Constant
            ):
                return str(node.value.value)
    return None


def direct_environment_reads(roots: list[Path]) -> set[str]:
    """Variables read with ``os.environ.get`` / ``os.getenv`` / ``os.environ[...]``."""
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                argument: ast.expr | None = None
                if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                    "os.environ.get",
                    "os.getenv",
                ):
                    argument = node.args[0] if node.args else None
                elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                    argument = node.slice
                if argument is None:
                    continue
                if isinstance(argument, ast.Constant):
                    found.add(str(argument.value))
                elif isinstance(argument, ast.Name) and _constant(tree, argument.id):
                    found.add(str(_constant(tree, argument.id)))
                else:
                    pytest.fail(f"{path}: cannot tell which variable {ast.unparse(node)} reads")
    return found


@cache
def direct_reads(service: str) -> frozenset[str]:
    """What the service's processes read from ``os.environ`` themselves (runtime, contracts,
    the service's package)."""
    package = importlib.import_module(_service_package(service))
    roots = [
        REPO / "libs" / "runtime" / "src",
        REPO / "libs" / "contracts" / "src",
        Path(str(package.__file__)).parent,
    ]
    return frozenset(direct_environment_reads(roots))


@cache
def code_environment(service: str) -> dict[str, Any]:
    """Every variable the service's processes read -> its default (None: unset means off)."""
    variables: dict[str, Any] = dict.fromkeys(direct_reads(service))
    for settings_class in settings_classes(service):
        variables.update(_settings_variables(settings_class))
    return variables


def required_environment(service: str) -> set[str]:
    """What a deployment must set: every settings variable that has a default (a value the
    deployment decides on) and every direct read (the image relies on them, e.g. the editions
    folder). A settings variable whose default is None means "off" and may stay unset."""
    with_default = {
        name for name, default in code_environment(service).items() if default is not None
    }
    return with_default | set(direct_reads(service))


def is_secret(variable: str) -> bool:
    return variable in ("DATABASE_URL", "SMTP_URL") or any(
        word in variable for word in ("SECRET", "PASSWORD", "TOKEN", "API_KEY")
    )


def sends_mail(service: str) -> bool:
    """A service sends mail when its distribution depends on an SMTP client."""
    return any(
        re.match(r"aiosmtplib\b", requirement) for requirement in requires(f"copa-{service}") or []
    )


def check_values(service: str, values: dict[str, str], where: str) -> None:
    """The literal values a deployment sets parse as the code's settings classes want."""
    for settings_class in settings_classes(service):
        known = _settings_variables(settings_class)
        given = {name: value for name, value in values.items() if name in known}
        try:
            settings_class(**given)
        except Exception as error:
            pytest.fail(f"{where}: {settings_class.__name__} refuses {given}: {error}")


# -- rendering the manifests ----------------------------------------------------------------


def _kubectl() -> str:
    candidate = Path(sys.executable).parent / "kubectl"
    return str(candidate) if candidate.exists() else "kubectl"


@cache
def rendered(target: str) -> tuple[dict[str, Any], ...]:
    path = K8S / "base" if target == "base" else K8S / "overlays" / target
    finished = subprocess.run(
        [_kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, finished.stderr
    return tuple(doc for doc in yaml.safe_load_all(finished.stdout) if doc)


def by_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def container_environment(
    docs: tuple[dict[str, Any], ...], container: dict[str, Any]
) -> tuple[set[str], dict[str, str]]:
    """Names a container gets (env and ConfigMaps) and the literal values among them."""
    config_maps = by_kind(docs, "ConfigMap")
    names: set[str] = set()
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"only ConfigMaps come in whole: {source}"
        data = config_maps[source["configMapRef"]["name"]]["data"]
        names |= set(data)
        values.update(data)
    for entry in container.get("env", []):
        names.add(entry["name"])
        if "value" in entry:
            values[entry["name"]] = entry["value"]
    return names, values


CUSTOM_SCHEMAS = {
    (schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"]): schema
    for schema in (
        json.loads(path.read_text()) for path in sorted((DATA / "crd-schemas").glob("*.json"))
    )
}


def validate_manifest(doc: dict[str, Any]) -> None:
    schema = CUSTOM_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if schema is not None:
        jsonschema.Draft202012Validator(schema).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


# -- Kubernetes -----------------------------------------------------------------------------


def test_the_overlays_are_staging_and_race_day() -> None:
    assert {"staging", "race-day"} <= set(OVERLAYS)


@pytest.mark.parametrize("target", RENDERINGS)
def test_every_manifest_is_valid_for_kubernetes(target: str) -> None:
    docs = rendered(target)
    assert docs
    for doc in docs:
        try:
            validate_manifest(doc)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            pytest.fail(f"{target}: {doc['kind']} {doc['metadata']['name']}: {error}")


def test_the_validators_refuse_a_mistake() -> None:
    docs = rendered("base")
    deployment = json.loads(json.dumps(next(d for d in docs if d["kind"] == "Deployment")))
    pod_spec(deployment)["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(deployment)
    topic = json.loads(json.dumps(next(d for d in docs if d["kind"] == "KafkaTopic")))
    topic["spec"]["partition"] = topic["spec"].pop("partitions")
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(topic)
    scaled = json.loads(json.dumps(next(d for d in docs if d["kind"] == "ScaledObject")))
    scaled["spec"]["triggers"][0]["metadata"]["consumergroup"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(scaled)


@pytest.mark.parametrize("target", RENDERINGS)
def test_every_service_runs_an_api_a_worker_and_a_migration(target: str) -> None:
    docs = rendered(target)
    deployments, jobs = by_kind(docs, "Deployment"), by_kind(docs, "Job")
    services, hpas = by_kind(docs, "Service"), by_kind(docs, "HorizontalPodAutoscaler")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    for name in service_names():
        for role in ("api", "worker"):
            deployment = deployments[f"{name}-{role}"]
            (main,) = pod_spec(deployment)["containers"]
            assert main["args"] == ["--role", role, "--no-migrate"]
            assert main["image"].split("/")[-1].startswith(f"copa-{name}:")
            labels = deployment["spec"]["selector"]["matchLabels"]
            assert services[f"{name}-{role}"]["spec"]["selector"] == labels
            assert pdbs[f"{name}-{role}"]["spec"]["selector"]["matchLabels"] == labels
        assert hpas[f"{name}-api"]["spec"]["scaleTargetRef"]["name"] == f"{name}-api"
        (migrate,) = pod_spec(jobs[f"{name}-migrate"])["containers"]
        assert migrate["args"] == ["--migrate-only"]
        assert migrate["image"] == pod_spec(deployments[f"{name}-api"])["containers"][0]["image"]
    # Nothing for a service that does not exist (any more).
    for doc in docs:
        owner = doc["metadata"].get("labels", {}).get("app.kubernetes.io/name")
        assert owner is None or owner in service_names(), f"{doc['kind']} of unknown {owner}"
    assert set(hpas) == {f"{name}-api" for name in service_names()}, "HPAs on the API only"


@pytest.mark.parametrize("target", RENDERINGS)
def test_pods_have_probes_resources_and_no_privileges(target: str) -> None:
    docs = rendered(target)
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        spec = pod_spec(doc)
        where = f"{target}: {doc['kind']} {doc['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        for container in spec["containers"]:
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            if doc["kind"] == "Deployment":
                ports = {port["name"] for port in container["ports"]}
                for probe, path in (
                    ("startupProbe", "/livez"),
                    ("livenessProbe", "/livez"),
                    ("readinessProbe", "/readyz"),
                ):
                    assert container[probe]["httpGet"]["path"] == path, where
                    assert container[probe]["httpGet"]["port"] in ports, where


@pytest.mark.parametrize("target", RENDERINGS)
def test_kafka_topics_are_the_contracts_topics(target: str) -> None:
    topics = {
        doc["spec"]["topicName"]: doc for doc in rendered(target) if doc["kind"] == "KafkaTopic"
    }
    wanted = expected_topics()
    assert set(topics) == set(wanted), (
        f"missing {sorted(set(wanted) - set(topics))}, stale {sorted(set(topics) - set(wanted))}"
    )
    for name, doc in topics.items():
        spec = doc["spec"]
        assert spec["partitions"] >= wanted[name], f"{name}: fewer partitions than the code's"
        assert int(spec["config"]["retention.ms"]) > 0, name
        assert int(spec["config"]["min.insync.replicas"]) <= spec["replicas"], name


@pytest.mark.parametrize("target", RENDERINGS)
def test_workers_scale_on_their_consumer_groups_up_to_the_partitions(target: str) -> None:
    docs = rendered(target)
    scaled = by_kind(docs, "ScaledObject")
    partitions = {
        doc["spec"]["topicName"]: doc["spec"]["partitions"]
        for doc in docs
        if doc["kind"] == "KafkaTopic"
    }
    config = by_kind(docs, "ConfigMap")
    consumers = {name: d for name, d in definitions().items() if d.subscriptions}
    assert set(scaled) == {f"{name}-worker" for name in consumers}
    for name, definition in consumers.items():
        spec = scaled[f"{name}-worker"]["spec"]
        assert spec["scaleTargetRef"]["name"] == f"{name}-worker"
        groups = consumer_groups(definition)
        triggers = {t["metadata"]["consumerGroup"]: t["metadata"] for t in spec["triggers"]}
        assert set(triggers) == set(groups)
        for group, metadata in triggers.items():
            if "topic" in metadata:
                assert [metadata["topic"]] == groups[group]
            bootstrap = config[f"{name}-config"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
            assert metadata["bootstrapServers"] == bootstrap
        most = max(partitions[topic] for topics in groups.values() for topic in topics)
        assert spec["maxReplicaCount"] <= most, f"{name}: replicas beyond {most} partitions idle"
        # Never zero: the worker is also the service's outbox relay.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]


@pytest.mark.parametrize("target", RENDERINGS)
def test_every_variable_the_code_reads_is_set_and_no_other(target: str) -> None:
    docs = rendered(target)
    assert not [doc for doc in docs if doc["kind"] == "Secret"], "Secrets are referenced only"
    for name in service_names():
        allowed, required = set(code_environment(name)), required_environment(name)
        for doc in docs:
            labels = doc["metadata"].get("labels", {})
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            if labels.get("app.kubernetes.io/name") != name:
                continue
            where = f"{target}: {doc['kind']} {doc['metadata']['name']}"
            for container in pod_spec(doc)["containers"]:
                names, values = container_environment(docs, container)
                assert names <= allowed, f"{where}: stale {sorted(names - allowed)}"
                if doc["kind"] == "Deployment":
                    assert required <= names, f"{where}: missing {sorted(required - names)}"
                else:
                    assert "DATABASE_URL" in names, where
                assert values.get("COPA_SERVICE") == name, where
                check_values(name, values, where)
                for entry in container.get("env", []):
                    if is_secret(entry["name"]) and "value" in entry:
                        # Only an empty SMTP_URL, for services that send no mail.
                        assert entry == {"name": "SMTP_URL", "value": ""}, where
                        assert not sends_mail(name), f"{where}: a mail sender without SMTP"
                    if "valueFrom" in entry:
                        assert entry["valueFrom"]["secretKeyRef"]["key"] == entry["name"], where
        for config in by_kind(docs, "ConfigMap").values():
            secret_keys = [key for key in config["data"] if is_secret(key) and config["data"][key]]
            assert not secret_keys, f"{config['metadata']['name']} holds secrets {secret_keys}"


@pytest.mark.parametrize("target", RENDERINGS)
def test_network_policies_let_only_what_must_talk_talk(target: str) -> None:
    policies = [doc for doc in rendered(target) if doc["kind"] == "NetworkPolicy"]
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "a default-deny policy for every pod"
    for policy in policies:
        spec = policy["spec"]
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                # Services never call each other over HTTP (ARCHITECTURE.md): no peer from
                # the app's own namespace, only other namespaces (ingress, monitoring).
                assert "namespaceSelector" in peer, policy["metadata"]["name"]
        selected = spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in spec.get("egress", []):
            ports = {port["port"] for port in rule["ports"]}
            if ports & {25, 465, 587}:
                assert selected is not None, policy["metadata"]["name"]
                assert sends_mail(selected), policy["metadata"]["name"]
            assert ports <= {53, 5432, 9092, 25, 465, 587}, policy["metadata"]["name"]
    for name in service_names():
        selecting = [
            p
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == name
        ]
        assert selecting, f"no policy opens {name}'s database and brokers"


# -- docker compose -------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_schema() -> dict[str, Any]:
    return json.loads((DATA / "compose-spec.json").read_text())


def test_compose_file_follows_the_compose_specification() -> None:
    jsonschema.Draft201909Validator(compose_schema()).validate(compose())


def test_the_compose_schema_refuses_a_mistake() -> None:
    broken = json.loads(json.dumps(compose()))
    broken["services"]["postgres"]["healthcheck"]["intervall"] = "5s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(compose_schema()).validate(broken)


def _env_file(path: str) -> dict[str, str]:
    values = {}
    for line in (REPO / path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env_files = service.get("env_file", [])
    values: dict[str, str] = {}
    for path in [env_files] if isinstance(env_files, str) else env_files:
        values.update(_env_file(path))
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    for key, value in environment.items():
        # ${VAR:-default} is the developer's value or the default.
        match = re.fullmatch(r"\$\{\w+:-(.*)\}", str(value))
        values[key] = match.group(1) if match else str(value)
    return values


def test_compose_runs_every_service_and_no_other() -> None:
    services = compose()["services"]
    dockerfile = None
    for name in service_names():
        roles = {
            f"{name}-migrate": ["--migrate-only"],
            f"{name}-api": ["--role", "api", "--no-migrate"],
            f"{name}-worker": ["--role", "worker", "--no-migrate"],
        }
        for container, command in roles.items():
            service = services[container]
            assert service["command"] == command, container
            assert service["build"]["args"]["SERVICE"] == name, container
            dockerfile = REPO / service["build"]["context"] / service["build"]["dockerfile"]
            assert dockerfile.is_file()
            depends = service["depends_on"]
            assert depends["postgres"]["condition"] == "service_healthy", container
            if container != f"{name}-migrate":
                assert depends[f"{name}-migrate"]["condition"] == ("service_completed_successfully")
                assert depends["kafka-topics"]["condition"] == "service_completed_successfully"
    built = {
        service["build"]["args"]["SERVICE"] for service in services.values() if "build" in service
    }
    assert built == set(service_names()), f"stale: {sorted(built - set(service_names()))}"
    images = {service.get("image", "").split(":")[0] for service in services.values()}
    assert {"apache/kafka", "postgres", "axllent/mailpit"} <= images


def test_compose_kafka_is_one_kraft_node_that_never_invents_topics() -> None:
    environment = compose()["services"]["kafka"]["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert str(environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"


def test_compose_creates_every_topic_with_its_partitions() -> None:
    creator = compose()["services"]["kafka-topics"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in creator["volumes"]}
    script = (REPO / mounts["/topics/create-topics.sh"]).read_text()
    assert "/topics/topics.txt" in script
    assert "--partitions" in script
    created: dict[str, int] = {}
    for line in (REPO / mounts["/topics/topics.txt"]).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, partitions, retention_ms = line.split()
            created[name] = int(partitions)
            assert int(retention_ms) > 0
    wanted = expected_topics()
    assert set(created) == set(wanted)
    assert all(created[name] >= wanted[name] for name in wanted)


def test_compose_gives_each_service_its_own_database() -> None:
    init = compose()["services"]["postgres"]["volumes"]
    script = next(v.split(":")[0] for v in init if "docker-entrypoint-initdb.d" in v)
    created = set(re.findall(r"CREATE DATABASE (\w+);", (REPO / script).read_text()))
    assert created == {database_name(name) for name in service_names()}
    for name in service_names():
        url = compose_environment(compose()["services"][f"{name}-api"])["DATABASE_URL"]
        assert url.rsplit("/", 1)[1] == database_name(name)
        assert Settings(DATABASE_URL=url).sqlalchemy_url.startswith("postgresql+asyncpg://")


def test_compose_sets_every_variable_the_code_reads_and_no_other() -> None:
    for name in service_names():
        allowed, required = set(code_environment(name)), required_environment(name)
        for role in ("migrate", "api", "worker"):
            values = compose_environment(compose()["services"][f"{name}-{role}"])
            where = f"compose {name}-{role}"
            assert set(values) <= allowed, f"{where}: stale {sorted(set(values) - allowed)}"
            if role != "migrate":
                assert required <= set(values), f"{where}: missing {sorted(required - set(values))}"
            assert values["COPA_SERVICE"] == name
            check_values(name, values, where)


def test_the_image_is_multi_stage_non_root_with_a_health_check() -> None:
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.MULTILINE)
    assert len(stages) >= 3
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*/readyz", dockerfile, re.MULTILINE | re.DOTALL)
    assert 'uv sync --frozen --no-dev --no-editable --package "copa-${SERVICE}"' in dockerfile
    for name in service_names():
        # The build argument names the workspace member the image installs.
        pyproject = REPO / "services" / name / "pyproject.toml"
        assert f'name = "copa-{name}"' in pyproject.read_text()
    entry = DEPLOY / "docker" / "serve.sh"
    assert os.access(entry, os.X_OK)
    assert "copa_runtime.serve" in entry.read_text()
    assert "0.0.0.0" in entry.read_text()


# -- generated files, checkov, runbook ------------------------------------------------------


def test_generated_files_are_current() -> None:
    spec = importlib.util.spec_from_file_location("copa_deploy_generate", DEPLOY / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    stale = [
        str(path.relative_to(REPO))
        for path, content in generate.rendered().items()
        if not path.exists() or path.read_text() != content
    ]
    assert not stale, f"run `uv run python deploy/generate.py`: {stale}"


@pytest.fixture(scope="module")
def checkov_report() -> list[dict[str, Any]]:
    """One checkov run over deploy/ (about 20 s), shared by the tests that read it."""
    command = [
        str(Path(sys.executable).parent / "checkov"),
        *shlex.split("-d deploy --config-file deploy/.checkov.yaml --quiet --compact -o json"),
    ]
    finished = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=False, timeout=240
    )
    report = json.loads(finished.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_finds_nothing_but_the_explained_skips(
    checkov_report: list[dict[str, Any]],
) -> None:
    scanned = {part["check_type"]: part for part in checkov_report}
    assert {"kustomize", "dockerfile"} <= set(scanned), f"checkov ran {sorted(scanned)}"
    for check_type, part in scanned.items():
        assert part["summary"]["resource_count"] > 0, check_type
        assert part["summary"]["parsing_errors"] == 0, check_type
        failed = [
            f"{f['check_id']} {f['check_name']} ({f['resource']})"
            for f in part["results"]["failed_checks"]
        ]
        assert not failed, "\n".join(failed)
    # --quiet lists failures only: the skips are counted against the annotations that declare
    # them, each "CHECK_ID=reason" on a workload of a rendering checkov scans.
    declared = 0
    for target in RENDERINGS:
        for doc in rendered(target):
            for key, value in doc["metadata"].get("annotations", {}).items():
                if key.startswith("checkov.io/skip"):
                    check_id, _, reason = value.partition("=")
                    assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check_id), value
                    assert len(reason) > 40, f"{check_id} skipped without a reason"
                    declared += 1
    assert scanned["kustomize"]["summary"]["skipped"] == declared
    assert scanned["dockerfile"]["summary"]["skipped"] == 0


def test_the_runbook_names_exactly_the_metrics_the_services_export() -> None:
    for name in service_names():
        for _ in _package_modules(_service_package(name)):
            pass  # importing registers each service's own metrics too
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported: set[str] = set()
    families = set()
    for family in REGISTRY.collect():
        if family.name.startswith("copa_"):
            families.add(family.name)
            exported |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    runbook = (REPO / "docs" / "runbook.md").read_text()
    mentioned = set(re.findall(r"\bcopa_[a-z_]+[a-z]", runbook))
    mentioned -= {database_name(name) for name in service_names()}  # database names
    mentioned = {m for m in mentioned if importlib.util.find_spec(m) is None}  # packages
    exported |= families
    assert mentioned <= exported, f"unknown metrics in the runbook: {sorted(mentioned - exported)}"
    unmentioned = {
        family for family in families if not any(m.startswith(family) for m in mentioned)
    }
    assert not unmentioned, f"metrics the runbook does not explain: {sorted(unmentioned)}"
