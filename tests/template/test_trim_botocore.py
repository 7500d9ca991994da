"""The layer's botocore trim (layers/trim_botocore.py) removes only what the clients never read:
other services' models and endpoints, documentation, examples. Checked against botocore's own
data, the same version the layer ships."""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore
import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.regions import EndpointResolver

from ecs_deployer.aws.service_models import SERVICE_MODELS
from tests.template.cfn import REPO_ROOT

if TYPE_CHECKING:
    from types import ModuleType

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"
LOADER = Loader(extra_search_paths=[str(BOTOCORE_DATA)], include_default_search_paths=False)


def load_trim() -> ModuleType:
    """The build script, which the layer's Makefile runs (it is no package)."""
    spec = importlib.util.spec_from_file_location(
        "trim_botocore", REPO_ROOT / "layers" / "trim_botocore.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


trim_botocore = load_trim()


def model(service: str) -> dict[str, Any]:
    document: dict[str, Any] = LOADER.load_service_model(service, "service-2")
    return copy.deepcopy(document)


def described_shapes(service_model: ServiceModel) -> dict[str, tuple[Any, ...]]:
    """What botocore's clients read of each shape: its type, members and their
    serialisation, its constraints."""
    shapes = {}
    for name in service_model.shape_names:
        shape = service_model.shape_for(name)
        members = getattr(shape, "members", {})
        shapes[name] = (
            shape.type_name,
            shape.metadata,
            shape.serialization,
            {member: (ref.name, ref.serialization) for member, ref in members.items()},
        )
    return shapes


def operations(service_model: ServiceModel) -> dict[str, tuple[Any, ...]]:
    """Each operation's HTTP binding and the names of its input, output and error shapes."""
    return {
        name: (
            operation.http,
            operation.input_shape and operation.input_shape.name,
            operation.output_shape and operation.output_shape.name,
            [shape.name for shape in operation.error_shapes],
        )
        for name in service_model.operation_names
        for operation in [service_model.operation_model(name)]
    }


@pytest.mark.parametrize("service", sorted(SERVICE_MODELS))
def test_a_model_without_documentation_describes_the_same_api(service: str) -> None:
    full = ServiceModel(model(service), service)
    trimmed = trim_botocore.without_documentation(model(service))

    assert '"documentation' not in json.dumps(trimmed)
    assert ServiceModel(trimmed, service).metadata == full.metadata
    assert described_shapes(ServiceModel(trimmed, service)) == described_shapes(full)
    assert operations(ServiceModel(trimmed, service)) == operations(full)


def test_a_member_named_documentation_is_kept() -> None:
    shape = {
        "type": "structure",
        "members": {"documentation": {"shape": "String", "documentation": "<p>Its text.</p>"}},
        "documentation": "<p>A shape.</p>",
    }
    trimmed = trim_botocore.without_documentation({"shapes": {"Document": shape}})

    assert trimmed["shapes"]["Document"] == {
        "type": "structure",
        "members": {"documentation": {"shape": "String"}},
    }


def test_the_endpoints_of_the_called_services_resolve_as_botocores_own() -> None:
    full = LOADER.load_data("endpoints")
    prefixes = {model(service)["metadata"]["endpointPrefix"] for service in SERVICE_MODELS}
    trimmed = trim_botocore.endpoints_of(copy.deepcopy(full), prefixes)
    resolvers = EndpointResolver(full), EndpointResolver(trimmed)

    assert {prefix for partition in trimmed["partitions"] for prefix in partition["services"]} == (
        prefixes
    )
    for partition in full["partitions"]:
        for region in partition["regions"]:
            for prefix in prefixes:
                endpoint, trimmed_endpoint = (
                    resolver.construct_endpoint(prefix, region) for resolver in resolvers
                )
                assert trimmed_endpoint == endpoint, (prefix, region)


def test_trim_keeps_only_what_the_called_services_read(tmp_path: Path) -> None:
    data = tmp_path / "botocore" / "data"
    for name in ("ecs", "sts", "s3"):
        shutil.copytree(BOTOCORE_DATA / name, data / name)
    for name in ("endpoints.json", "partitions.json", "_retry.json"):
        shutil.copy(BOTOCORE_DATA / name, data / name)

    trim_botocore.trim(tmp_path, frozenset({"ecs", "sts"}))

    assert {path.name for path in data.iterdir() if path.is_dir()} == {"ecs", "sts"}
    assert not list(data.glob("*/*/examples-1.json*"))
    (ecs,) = data.glob("ecs/*/service-2.json.gz")
    assert b'"documentation' not in gzip.decompress(ecs.read_bytes())
    layer_loader = Loader(extra_search_paths=[str(data)], include_default_search_paths=False)
    assert layer_loader.load_service_model("ecs", "service-2") == (
        trim_botocore.without_documentation(model("ecs"))
    )
    assert {
        prefix
        for partition in layer_loader.load_data("endpoints")["partitions"]
        for prefix in partition["services"]
    } == {"ecs", "sts"}
    partitions = data / "partitions.json"
    assert partitions.read_bytes() == (BOTOCORE_DATA / "partitions.json").read_bytes()
