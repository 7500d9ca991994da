"""From a SAM template in the checkout to a CloudFormation template for moto.

What `sam package` + the `AWS::Serverless-2016-10-31` transform do on AWS, offline:

* each function's `CodeUri` directory and each layer's `ContentUri` directory is zipped and
  uploaded to an S3 bucket, and the property is replaced by its `s3://` location; a state
  machine's local `DefinitionUri` file is uploaded as is;
* the template is transformed by aws-sam-translator (the real SAM transform), with the
  parameter overrides and the pseudo parameters of the emulated account and region.

The functions' source directories and handlers are kept aside: the in-process runtime
imports the handlers from the checkout, not from the zips.
"""

from __future__ import annotations

import copy
import hashlib
import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3
import yaml
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import (
    to_py27_compatible_template,
    undo_mark_unicode_str_in_template,
)
from samtranslator.yaml_helper import intrinsics_multi_constructor

from ecs_deployer_tools.localcloud.runtime import FunctionSource

if TYPE_CHECKING:
    from pathlib import Path

# (object key, zip or file bytes) -> the s3:// URI of the stored object
Uploader = Callable[[str, bytes], str]

_EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same code, same zip, same key


@dataclass(frozen=True)
class PackagedTemplate:
    """A CloudFormation template ready for CreateStack, and the functions' sources."""

    template: dict[str, Any]
    functions: dict[str, FunctionSource]


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (`!Ref`, `!GetAtt`, `!Sub`...)."""


def _timestamp_as_string(loader: _TemplateLoader, node: yaml.Node) -> str:
    # An unquoted date (AWSTemplateFormatVersion) stays the string CloudFormation reads.
    return str(loader.construct_scalar(cast("yaml.ScalarNode", node)))


_TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)
_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def load_template(path: Path) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(), Loader=_TemplateLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise ValueError(f"{path} is not a CloudFormation/SAM template")
    return loaded


def package(
    sam_template: Mapping[str, Any],
    base_dir: Path,
    upload: Uploader,
) -> tuple[dict[str, Any], dict[str, FunctionSource]]:
    """Upload local code and definitions; return the SAM template pointing at S3."""
    template = copy.deepcopy(dict(sam_template))
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    functions: dict[str, FunctionSource] = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            code_uri = properties.get("CodeUri", function_globals.get("CodeUri"))
            handler = properties.get("Handler", function_globals.get("Handler"))
            if not isinstance(code_uri, str) or not isinstance(handler, str):
                raise ValueError(f"{logical_id}: a local CodeUri and a Handler are required")
            code_dir = (base_dir / code_uri).resolve()
            properties["CodeUri"] = _upload(upload, logical_id, _zip_dir(code_dir, prefix=""))
            functions[logical_id] = FunctionSource(logical_id, code_dir, handler)
        elif kind == "AWS::Serverless::LayerVersion":
            content_dir = (base_dir / properties["ContentUri"]).resolve()
            properties["ContentUri"] = _upload(upload, logical_id, _zip_layer(content_dir))
        elif kind == "AWS::Serverless::StateMachine" and isinstance(
            properties.get("DefinitionUri"), str
        ):
            definition = (base_dir / properties["DefinitionUri"]).read_bytes()
            properties["DefinitionUri"] = _upload(upload, logical_id, definition)
    return template, functions


def sam_transform(
    sam_template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """Run the SAM transform as `samtranslator.translator.transform.transform` does, with
    the emulated region's session; managed policy names resolve from the translator's
    bundled map, never from IAM."""
    values = {
        **parameters,
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
    }
    template = copy.deepcopy(dict(sam_template))
    to_py27_compatible_template(template, values)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    translated = translator.translate(
        template,
        parameter_values=values,
        get_managed_policy_map=lambda: get_bundled_managed_policy_map("aws") or {},
    )
    translator.metrics.publish()  # to its no-op publisher; unpublished metrics log a warning
    result: dict[str, Any] = undo_mark_unicode_str_in_template(translated)
    return result


def package_and_transform(
    template_path: Path,
    parameters: Mapping[str, str],
    upload: Uploader,
    *,
    region: str,
    account_id: str,
) -> PackagedTemplate:
    sam_template = load_template(template_path)
    packaged, functions = package(sam_template, template_path.parent, upload)
    cfn = sam_transform(packaged, parameters, region=region, account_id=account_id)
    return PackagedTemplate(cfn, functions)


def _upload(upload: Uploader, logical_id: str, content: bytes) -> str:
    # Content-addressed keys, as `sam package` uses: the same code is the same object.
    return upload(f"{logical_id}/{hashlib.sha256(content).hexdigest()}", content)


def _zip_layer(content_dir: Path) -> bytes:
    # Lambda puts /opt/python on sys.path: a package directory goes under python/<name>/,
    # a directory already laid out with python/ goes as is, anything else under python/.
    if (content_dir / "__init__.py").is_file():
        return _zip_dir(content_dir, prefix=f"python/{content_dir.name}/")
    if (content_dir / "python").is_dir():
        return _zip_dir(content_dir, prefix="")
    return _zip_dir(content_dir, prefix="python/")


def _zip_dir(directory: Path, *, prefix: str) -> bytes:
    if not directory.is_dir():
        raise FileNotFoundError(f"code directory {directory} does not exist")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_dir() or _EXCLUDED_PARTS.intersection(relative.parts):
                continue
            if path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(prefix + relative.as_posix(), date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
