"""App configs: the models (ECS Toolkit's v1 format plus our keys), parsing and storage."""

from ecs_deployer.config.models import AppConfig, ServiceConfig, TaskConfig
from ecs_deployer.config.parsing import parse_app_config

__all__ = ["AppConfig", "ServiceConfig", "TaskConfig", "parse_app_config"]
