"""`make build` (sam build) produces python3.13/arm64 artefacts on this x86_64 machine.

The build goes to a private directory, without sam's cache: pytest-xdist workers, or
several test runs in one checkout, would otherwise build into .aws-sam/ at the same time
and corrupt each other's artefacts.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest
from botocore.loaders import Loader

from ecs_deployer.aws.service_models import SERVICE_MODELS
from tests.template.cfn import FUNCTION_DIRS, REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.build

EM_AARCH64 = 183  # ELF e_machine of arm64
# The magic number of CPython 3.13's bytecode (3571, importlib.util.MAGIC_NUMBER), and the
# flags of a bytecode file that is loaded without checking its source (PEP 552).
PYTHON313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = (0b01).to_bytes(4, "little")


def missing_handlers() -> list[str]:
    return [
        f"functions/{folder}/app.py"
        for folder in FUNCTION_DIRS.values()
        if not (REPO_ROOT / "functions" / folder / "app.py").exists()
    ]


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs `make build` once for the module; the directory holding the artefacts."""
    missing = missing_handlers()
    if missing:
        pytest.skip(f"handlers not written yet, nothing to build: {', '.join(missing)}")
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "build",
            f"SAM_BUILD_FLAGS=--no-cached --build-dir {build_dir}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env=os.environ | {"SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build_dir


@pytest.fixture(scope="module")
def layer_dir(build_dir: Path) -> Path:
    return build_dir / "SharedLayer" / "python"


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def test_layer_contains_the_library(layer_dir: Path) -> None:
    package = layer_dir / "ecs_deployer"

    assert (package / "__init__.py").is_file()
    assert (package / "py.typed").is_file()
    # Its sources stay beside its bytecode, so that its tracebacks show its code.
    assert (package / "__pycache__" / "__init__.cpython-313.pyc").is_file()


def test_layer_bytecode_is_python313s_for_every_module(layer_dir: Path) -> None:
    # A cold start imports bytecode instead of compiling the layer (compile_layer.py):
    # python3.13's, the runtime's (bytecode of another version would be ignored), loaded
    # without checking the source's modification time (PEP 552 unchecked hash: flags 0b01).
    bytecode = list(layer_dir.rglob("*.pyc"))
    dependency_sources = [
        path
        for path in layer_dir.rglob("*.py")
        if not path.is_relative_to(layer_dir / "ecs_deployer")
    ]
    own_sources = list((layer_dir / "ecs_deployer").rglob("*.py"))

    assert bytecode
    assert {path.read_bytes()[:8] for path in bytecode} == {PYTHON313_MAGIC + UNCHECKED_HASH}
    assert not dependency_sources  # sourceless: the 20 MB budget
    assert all(
        (source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc").is_file()
        for source in own_sources
    )
    assert (layer_dir / "botocore" / "client.pyc").is_file()


def test_layer_has_no_operator_tooling(layer_dir: Path) -> None:
    assert not list(layer_dir.glob("ecs_deployer_tools*"))
    assert not list(layer_dir.glob("moto*"))


def test_layer_msgspec_core_is_cp313_aarch64(layer_dir: Path) -> None:
    (binary,) = layer_dir.glob("msgspec/_core*.so")
    (wheel_metadata,) = layer_dir.glob("msgspec-*.dist-info/WHEEL")
    tags = [
        line.removeprefix("Tag: ")
        for line in wheel_metadata.read_text().splitlines()
        if line.startswith("Tag: ")
    ]

    assert binary.name == "_core.cpython-313-aarch64-linux-gnu.so"
    assert elf_machine(binary) == EM_AARCH64
    assert tags
    assert all(tag.startswith("cp313-cp313-") and tag.endswith("aarch64") for tag in tags)


def test_layer_has_every_locked_requirement(layer_dir: Path) -> None:
    locked = {
        line.split("==")[0].lower().replace("-", "_")
        for line in (REPO_ROOT / "layers" / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    installed = {path.name.split("-")[0].lower() for path in layer_dir.glob("*.dist-info")}

    assert locked
    assert installed == locked


def test_layer_is_at_most_20_mb_unzipped(layer_dir: Path) -> None:
    size = sum(path.stat().st_size for path in layer_dir.rglob("*") if path.is_file())

    assert size <= 20_000_000, f"layer is {size / 1e6:.1f} MB unzipped"
    # Powertools' Swagger UI serves API Gateway resolvers' documentation: the deployer has none.
    assert not list(layer_dir.glob("aws_lambda_powertools/**/swagger-ui*"))


def test_layer_botocore_models_are_the_called_services(layer_dir: Path) -> None:
    data = layer_dir / "botocore" / "data"
    # Read with the layer's own data only, as the layer's botocore does on Lambda.
    loader = Loader(extra_search_paths=[str(data)], include_default_search_paths=False)

    assert {path.name for path in data.iterdir() if path.is_dir()} == SERVICE_MODELS
    for service in SERVICE_MODELS:
        model = loader.load_service_model(service, "service-2")
        assert model["metadata"]["endpointPrefix"]
        assert loader.load_service_model(service, "endpoint-rule-set-1")
    assert (data / "endpoints.json").is_file()
    # The task-definition clone reads RegisterTaskDefinition's input shape.
    ecs = loader.load_service_model("ecs", "service-2")
    assert "RegisterTaskDefinitionRequest" in ecs["shapes"]
    # What a cold start parses is trimmed too (tests/template/test_trim_botocore.py).
    assert "documentation" not in ecs["shapes"]["RegisterTaskDefinitionRequest"]
    assert not list(data.glob("*/*/examples-1.json*"))
    assert "s3" not in loader.load_data("endpoints")["partitions"][0]["services"]


@pytest.mark.parametrize(("logical_id", "folder"), sorted(FUNCTION_DIRS.items()))
def test_function_artefact_is_its_handler(build_dir: Path, logical_id: str, folder: str) -> None:
    artefact = build_dir / logical_id
    source = REPO_ROOT / "functions" / folder

    assert (artefact / "app.py").read_text() == (source / "app.py").read_text()
    # Only the function's own modules: the library comes from the layer.
    assert {path.name for path in artefact.iterdir()} == {path.name for path in source.glob("*.py")}


def test_built_template_uses_the_artefacts(build_dir: Path) -> None:
    built = (build_dir / "template.yaml").read_text()

    for logical_id in FUNCTION_DIRS:
        assert f"CodeUri: {logical_id}" in built
    assert "ContentUri: SharedLayer" in built
