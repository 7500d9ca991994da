"""App configs in the stack's config store, as operators see them: stored text, YAML
renderings, the difference a push would make, and the push itself (the Lambdas only read)."""

from __future__ import annotations

import difflib
import json
import re
import typing
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import yaml
from botocore.exceptions import ClientError
from msgspec import NODEFAULT, Struct
from msgspec.structs import FieldInfo, fields

from ecs_deployer.aws.ssm import not_a_string
from ecs_deployer.config.models import AppConfig
from ecs_deployer.config.parsing import load_document, parse_app_config
from ecs_deployer.domain.scope import names
from ecs_deployer.errors import ConfigError, FieldError
from ecs_deployer.structs import encode, encode_json

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from ecs_deployer_tools.operator.stack import Deployer, DeployerStack


STANDARD_TIER_LIMIT = 4096
ADVANCED_TIER_LIMIT = 8192
Tier = Literal["Standard", "Advanced"]


def parameter_tier(value: str, current: Tier | None = None) -> Tier:
    """The cheapest tier that holds ``value``; SSM cannot move Advanced back to Standard."""
    size = len(value.encode())
    if size > ADVANCED_TIER_LIMIT:
        raise ConfigError(
            f"config is {size} bytes; Parameter Store holds at most {ADVANCED_TIER_LIMIT}"
        )
    if size > STANDARD_TIER_LIMIT or current == "Advanced":
        return "Advanced"
    return "Standard"


def canonical_text(config: AppConfig) -> str:
    """What is stored: compact JSON of the config, every value at its default left out (one
    written out too: a stored config follows the deployer's defaults), words in lowercase."""
    return encode_json(_written(config)).decode()


def _written(value: Any) -> Any:
    """``value`` as JSON data, each Struct in it (the config's, or a list's item) without
    its fields at their default."""
    if isinstance(value, Struct):
        return {
            field.encode_name: _written(getattr(value, field.name))
            for field in fields(value)
            if getattr(value, field.name) != _default(field)
        }
    if isinstance(value, list):
        return [_written(item) for item in value]
    return encode(value)


def _default(field: FieldInfo) -> Any:
    """A field's default (NODEFAULT, equal to no value, for a required field)."""
    return field.default if field.default_factory is NODEFAULT else field.default_factory()


def current_tier(ssm: SSMClient, app: str, name: str) -> Tier | None:
    """The stored config's tier; None when nothing is stored. A parameter the deployer cannot
    read (a SecureString) is refused: SSM would not let a push change its type either."""
    response = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    )
    parameters = response.get("Parameters", [])
    if not parameters:
        return None
    refused = not_a_string(app, name, parameters[0].get("Type", "String"))
    if refused is not None:
        raise refused
    tier = parameters[0].get("Tier", "Standard")
    return "Advanced" if tier == "Advanced" else "Standard"


def stored_text(ssm: SSMClient, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name)["Parameter"].get("Value")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise


def push_config(ssm: SSMClient, prefix: str, app: str, config: AppConfig) -> Tier:
    """Store ``config`` (already validated) for ``app``; returns the tier chosen by size."""
    name = f"{prefix.rstrip('/')}/{app}"
    text = canonical_text(config)
    tier = parameter_tier(text, current_tier(ssm, app, name))
    ssm.put_parameter(
        Name=name,
        Value=text,
        Type="String",
        Tier=tier,
        Overwrite=True,
        Description=f"ECS Deployer config of app {app}",
    )
    return tier


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def canonical_yaml(config: AppConfig) -> str:
    """What a push stores, as YAML."""
    return as_yaml(json.loads(canonical_text(config)))


@dataclass(frozen=True)
class StoredConfig:
    app: str
    parameter: str
    text: str | None  # None: nothing stored
    tier: Tier | None

    def document(self) -> Any:
        """The stored document (the text itself if it is not even YAML)."""
        try:
            return load_document(self.text or "", self.parameter)
        except ConfigError:
            return self.text

    def problems(self) -> list[str]:
        """Why the stored config would be rejected by the deployer; empty when valid."""
        try:
            parse_app_config(self.text or "", self.parameter, self.app)
        except ConfigError as exc:
            return [str(error) for error in exc.errors] or [str(exc)]
        return []

    def normalized_yaml(self) -> str:
        """Rendered as a push would store it when valid, so formatting never shows as a
        change; as written otherwise; empty when nothing is stored."""
        if self.text is None:
            return ""
        try:
            return canonical_yaml(parse_app_config(self.text, self.parameter, self.app))
        except ConfigError:
            document = self.document()
            return document if isinstance(document, str) else as_yaml(document)


def stored_config(deployer: Deployer, app: str) -> StoredConfig:
    name = deployer.configs.parameter_name(app)
    ssm = deployer.aws.ssm
    tier = current_tier(ssm, app, name)  # first: it refuses what is not a String parameter
    return StoredConfig(app, name, stored_text(ssm, name), tier)


def config_diff(stored: StoredConfig, config: AppConfig, source: str) -> str:
    """Unified diff from what is stored to what pushing ``config`` would store."""
    lines = difflib.unified_diff(
        stored.normalized_yaml().splitlines(keepends=True),
        canonical_yaml(config).splitlines(keepends=True),
        fromfile=stored.parameter if stored.text is not None else "/dev/null",
        tofile=source,
    )
    return "".join(lines)


# An unknown key this close to a known one (difflib's ratio) is taken for a typo of it.
_NEAR_MISS = 0.75
_UNKNOWN_FIELD = "unknown field"  # ecs_deployer.validation's message for an extra key


def _model_in(annotation: Any) -> type[Struct] | None:
    """The config Struct a field holds, through list[...], X | None and Annotated[...]."""
    if isinstance(annotation, type) and issubclass(annotation, Struct):
        return annotation
    for argument in typing.get_args(annotation):
        model = _model_in(argument)
        if model is not None:
            return model
    return None


def known_keys(path: str) -> list[str]:
    """The keys a config allows where ``path`` (``services[0].max_wiat``) ends; none when
    the path leads nowhere a model describes."""
    *parents, _ = [segment for segment in re.split(r"\.|\[\d+\]", path) if segment] or [""]
    model: type[Struct] | None = AppConfig
    for segment in parents:
        field = _fields_of(model).get(segment)
        model = _model_in(field.type) if field is not None else None
    return list(_fields_of(model))


def _fields_of(model: type[Struct] | None) -> dict[str, FieldInfo]:
    return {field.encode_name: field for field in fields(model)} if model is not None else {}


def with_suggestion(error: FieldError) -> FieldError:
    """An unknown key's error, saying which known key it is a near miss of (if one is)."""
    if error.message != _UNKNOWN_FIELD:
        return error
    key = re.split(r"\.|\[\d+\]", error.path)[-1]
    meant = difflib.get_close_matches(key, known_keys(error.path), n=1, cutoff=_NEAR_MISS)
    return (
        replace(error, message=f"{error.message}; did you mean `{meant[0]}`?") if meant else error
    )


def config_warnings(config: AppConfig) -> list[str]:
    """What is valid but probably not meant."""
    if config.trigger is None:
        app = config.app or "APP"
        return [
            "no `trigger`: pushes never deploy this app; deploy it by hand with "
            f"`ecs-deployer deploy {app} --repository REPOSITORY --tag TAG`"
        ]
    return []


def check_against_stack(stack: DeployerStack, app: str, config: AppConfig) -> None:
    """Refuse a config the stack would refuse or never act on, naming every field: what
    its parameters do not let the deployer reach (clusters, task families, networks), and
    trigger repositories whose pushes its rule never receives."""
    problems: list[FieldError] = []
    try:
        stack.scope.check_config(app, config)
    except ConfigError as exc:
        problems += exc.errors
    listened = names(stack.parameters.get("RepositoryNames", ""))
    for index, repository in enumerate(config.trigger.repositories if config.trigger else []):
        if repository not in listened:
            problems.append(
                FieldError(
                    f"trigger.repositories[{index}]",
                    f"'{repository}' is not a repository whose pushes reach this stack "
                    f"(RepositoryNames: {', '.join(sorted(listened)) or 'none'})",
                )
            )
    if problems:
        raise ConfigError(
            f"config of app '{app}' asks for more than stack '{stack.name}' allows", problems
        )
