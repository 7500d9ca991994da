"""App configs in SSM Parameter Store: one String parameter per app under the stack's prefix.

Read with boto3 itself, not powertools' SSMProvider: that wraps every failure in
GetParameterError and returns a value without its type, and the store must tell apart

* a missing config: ``ParameterNotFound`` (GetParameter; the SSM API model's error for it)
  is a ConfigError ("no config for app ..."); GetParametersByPath lists nothing then, and
  GetParameters names it among its ``InvalidParameters`` (a stale index entry: skipped);
* a failure that passes: throttling (``ThrottlingException``, "Rate exceeded" in the
  GetParameter docs), ``InternalServerError`` (the model's fault of both operations),
  ``ServiceUnavailable`` and ``InternalFailure`` (AWS's common errors) and connection errors
  are retried by botocore, then raised as TransientAwsError, which the state machine
  retries (``clients.transient_errors_as_retryable``);
* a denied read: ``AccessDeniedException`` (AWS's common errors: IAM denied the action;
  a KMS key's refusal reaches an SSM caller under the same code) and ``InvalidKeyId``
  (the model lists it for both operations) are ConfigAccessDenied, naming the action and
  the parameter or path whose grant to fix. Anything else is unexpected and propagates.

Codes are from botocore's ``ssm/2014-11-06/service-2.json`` and the AWS API references.

A config must be a String parameter. Values are never decrypted (no WithDecryption), so
the deployer needs no KMS grant: a SecureString comes back as ciphertext with its type and
is refused with a ConfigError saying why (configs hold no secrets; a task's secrets belong
in its task definition's ``secrets``); so is a StringList (a list, not a text).

Cached as powertools cached: successful reads only, for POWERTOOLS_PARAMETERS_MAX_AGE
seconds (the variable it read: default 5, 0 for none; the template sets 60), so a changed
config takes effect without redeploying the stack. Ages are measured on the monotonic clock.
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import (
    error_code,
    error_message,
    ssm_client,
    transient_errors_as_retryable,
)
from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.errors import ConfigAccessDenied, ConfigError, FieldError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_ssm.type_defs import ParameterTypeDef

    from ecs_deployer.config.models import AppConfig

T = TypeVar("T")

_MAX_AGE_VARIABLE = "POWERTOOLS_PARAMETERS_MAX_AGE"
_DEFAULT_MAX_AGE = 5.0  # powertools' DEFAULT_MAX_AGE_SECS
_DENIED_CODES = frozenset({"AccessDeniedException", "InvalidKeyId"})
_NAMES_PER_GET = 10  # GetParameters' Names: at most 10 (the SSM API reference)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def not_a_string(app: str, name: str, parameter_type: str) -> ConfigError | None:
    """Why a parameter of any type but String is refused, and what to do about it."""
    if parameter_type == "String":
        return None
    why = (
        " and never decrypts. A config holds no secrets: they belong in the task "
        "definition's `secrets`"
        if parameter_type == "SecureString"
        else ""
    )
    return ConfigError(
        f"config of app '{app}' ({name}) is a {parameter_type} parameter: the deployer reads "
        f"only String parameters{why}. Delete it (aws ssm delete-parameter --name {name}) "
        "and push the config again (ecs-deployer config push), which stores a String"
    )


@contextmanager
def _reading(what: str, action: str, resource: str) -> Iterator[None]:
    """A passing failure becomes TransientAwsError; a denied read, ConfigAccessDenied."""
    try:
        with transient_errors_as_retryable():
            yield
    except ClientError as exc:
        if error_code(exc) not in _DENIED_CODES:
            raise
        raise ConfigAccessDenied(
            f"the deployer may not read {what}: {action} on {resource} failed with "
            f"{error_code(exc)}: {error_message(exc)}"
        ) from exc


@dataclass(frozen=True)
class LoadedConfig:
    app: str
    config: AppConfig
    digest: str  # identifies the exact text deployed, for history


class ConfigStore:
    def __init__(
        self,
        prefix: str,
        client: SSMClient | None = None,
        *,
        max_age: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self._client: SSMClient = client or ssm_client()
        self._max_age = (
            max_age
            if max_age is not None
            else float(os.environ.get(_MAX_AGE_VARIABLE, _DEFAULT_MAX_AGE))
        )
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, object]] = {}

    def parameter_name(self, app: str) -> str:
        return f"{self.prefix}/{app}"

    def _cached(self, key: tuple[str, str], read: Callable[[], T]) -> T:
        now = self._monotonic()
        hit = self._cache.get(key)
        if hit is not None and now < hit[0]:
            return cast("T", hit[1])
        value = read()
        if self._max_age > 0:
            self._cache[key] = (now + self._max_age, value)
        return value

    def load(self, app: str) -> LoadedConfig:
        name = self.parameter_name(app)
        text = self._cached(("GetParameter", name), lambda: self._read(app, name))
        return self.parse(app, text)

    def _read(self, app: str, name: str) -> str:
        try:
            with _reading(f"the config of app '{app}'", "ssm:GetParameter", name):
                parameter = self._client.get_parameter(Name=name)["Parameter"]
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            raise ConfigError(
                f"no config for app '{app}'",
                [FieldError("app", f"parameter {name} does not exist")],
            ) from exc
        refused = not_a_string(app, name, parameter.get("Type", "String"))
        if refused is not None:
            raise refused
        return parameter.get("Value", "")

    def parse(self, app: str, text: str) -> LoadedConfig:
        config = parse_app_config(text, f"config of app '{app}' ({self.parameter_name(app)})", app)
        return LoadedConfig(app=app, config=config, digest=text_digest(text))

    def load_all_texts(self) -> dict[str, str | ConfigError]:
        """Every app's raw config text by app name (parameters directly under the prefix),
        or the ConfigError refusing a parameter that is not a String."""
        return self._cached(("GetParametersByPath", self.prefix), self._read_all)

    def load_texts(self, apps: Iterable[str]) -> dict[str, str | ConfigError]:
        """``apps``' raw config texts as ``load_all_texts`` has them, read by name
        (GetParameters, ten names a call); an app without a parameter is left out."""
        names = tuple(sorted({self.parameter_name(app) for app in apps}))
        return self._cached(("GetParameters", ",".join(names)), lambda: self._read_named(names))

    def _read_named(self, names: tuple[str, ...]) -> dict[str, str | ConfigError]:
        texts: dict[str, str | ConfigError] = {}
        for start in range(0, len(names), _NAMES_PER_GET):
            batch = list(names[start : start + _NAMES_PER_GET])
            with _reading("the app configs", "ssm:GetParameters", ", ".join(batch)):
                response = self._client.get_parameters(Names=batch)
            texts |= self._texts(response.get("Parameters", []))
        return texts

    def _texts(self, parameters: Iterable[ParameterTypeDef]) -> dict[str, str | ConfigError]:
        """Parameters by app name: each one's value, or why it is refused (not a String)."""
        texts: dict[str, str | ConfigError] = {}
        for parameter in parameters:
            name = parameter.get("Name", "")
            app = name.removeprefix(f"{self.prefix}/")
            refused = not_a_string(app, name, parameter.get("Type", "String"))
            texts[app] = parameter.get("Value", "") if refused is None else refused
        return texts

    def _read_all(self) -> dict[str, str | ConfigError]:
        texts: dict[str, str | ConfigError] = {}
        pages = self._client.get_paginator("get_parameters_by_path")
        with _reading("the app configs", "ssm:GetParametersByPath", self.prefix):
            for page in pages.paginate(Path=self.prefix, Recursive=False):
                texts |= self._texts(page.get("Parameters", []))
        return texts
