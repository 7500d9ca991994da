"""The sample app the demo deploys: an ECS app made of a web service (with a log-router
sidecar), a worker, a database-migration task run before the rollout and a smoke test
run after it, all on Fargate, with its image in ECR and its config in the config store.

Seeded through plain boto3 clients, so it works in process and against ``local up``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecs_deployer.config import models
from ecs_deployer_tools.localcloud import images
from ecs_deployer_tools.operator.configs import push_config

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_ssm import SSMClient

APP = "shop"
CLUSTER = "shop-demo"
REPOSITORY = "shop"
WEB, WORKER = "shop-web", "shop-worker"
MIGRATE, SMOKE_TEST = "shop-migrate", "shop-smoke-test"
FAMILY_PREFIX = "shop-"  # every family of the app starts with it
ROLES = "shop-execution", "shop-task"  # its task definitions' execution and task roles
# What a migration that fails prints (scenario migration-fails).
FAILED_MIGRATION_LOG = (
    "Operations to perform: Apply all migrations: orders",
    "Applying orders.0042_add_discount_column...",
    'django.db.utils.ProgrammingError: column "discount" of relation "orders" already exists',
)
INITIAL_TAG = "v1.0.0"
# A blue/green sample app (`seed(..., blue_green=True)`): its web service is deployed by
# CodeDeploy, from this application and deployment group, behind this load balancer.
CODEDEPLOY_APPLICATION, CODEDEPLOY_GROUP = "shop", "shop-web"
# As the stack parameter CodeDeployDeploymentGroups names it.
CODEDEPLOY_DEPLOYMENT_GROUP = f"{CODEDEPLOY_APPLICATION}/{CODEDEPLOY_GROUP}"
WEB_TARGET_GROUPS = tuple(
    f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-{color}/0123456789abcdef"
    for color in ("blue", "green")
)
WEB_PORT = 8000


@dataclass(frozen=True)
class Clients:
    ecs: ECSClient
    ecr: ECRClient
    ssm: SSMClient
    ec2: EC2Client
    iam: IAMClient
    codedeploy: Any  # the dev lock has no stubs for it
    cloudwatch: Any  # likewise

    @classmethod
    def of(cls, client: Callable[..., Any]) -> Clients:
        """From a client factory: ``boto3.client``, or a local cloud's ``client``."""
        return cls(
            ecs=client("ecs"),
            ecr=client("ecr"),
            ssm=client("ssm"),
            ec2=client("ec2"),
            iam=client("iam"),
            codedeploy=client("codedeploy"),
            cloudwatch=client("cloudwatch"),
        )


@dataclass
class SeededApp:
    app: str
    cluster: str
    repository: str
    registry: str
    initial_image: str
    services: list[str]
    subnet: str
    security_group: str
    task_definitions: dict[str, str] = field(default_factory=dict)  # family → first ARN

    @property
    def network_parameters(self) -> dict[str, str]:
        """The stack parameters that let its one-off tasks run in its subnet and group."""
        return network_parameters([self])

    @property
    def network_configuration(self) -> dict[str, Any]:
        """Its one-off tasks' network, as a config writes it."""
        return network_configuration(self.subnet, self.security_group)


def network_parameters(apps: Sequence[SeededApp]) -> dict[str, str]:
    """The stack parameters that let the apps' one-off tasks run in their subnets and groups
    (the app seeded in each account of a promotion chain)."""
    return {
        "AllowedSubnets": ",".join(app.subnet for app in apps),
        "AllowedSecurityGroups": ",".join(app.security_group for app in apps),
    }


def network_configuration(subnet: str, security_group: str) -> dict[str, Any]:
    """A one-off task's network in ``subnet`` and ``security_group``, as a config writes it."""
    return {
        "vpc_configuration": {
            "assign_public_ip": False,
            "security_groups": [security_group],
            "subnets": [subnet],
        }
    }


def image_manifest(version: str) -> str:
    """The manifest of the sample app's image ``version``: one digest per version."""
    return images.image_manifest(f"{APP} {version}")


def multi_platform_image(version: str, platforms: Sequence[str]) -> images.MultiPlatformImage:
    """The sample app's image ``version`` built for ``platforms`` by `docker buildx`."""
    return images.multi_platform_image(platforms, f"{APP} {version}")


def app_config(
    subnet: str, security_group: str, *, blue_green: bool = False, **overrides: Any
) -> models.AppConfig:
    network = network_configuration(subnet, security_group)
    document: dict[str, Any] = {
        "version": "v1",
        "app": APP,
        "cluster": CLUSTER,
        "trigger": {"repositories": [REPOSITORY], "tags": ["v*"]},
        # The demo's pace (the default is 60): a rollout without a fault takes two polls.
        "poll_seconds": 10,
        "tasks": {
            "pre": [
                {
                    "family": MIGRATE,
                    "count": 1,
                    "containers": ["app"],
                    "launch_type": "fargate",
                    "network_configuration": network,
                }
            ],
            "post": [
                {
                    "family": SMOKE_TEST,
                    "count": 1,
                    "containers": ["app"],
                    "launch_type": "fargate",
                    "network_configuration": network,
                }
            ],
        },
        "services": [
            {"name": WEB, "containers": ["app"]}
            | (
                {
                    "codedeploy": {
                        "application": CODEDEPLOY_APPLICATION,
                        "deployment_group": CODEDEPLOY_GROUP,
                    }
                }
                if blue_green
                else {}
            ),
            {"name": WORKER, "containers": ["app"]},
        ],
        **overrides,
    }
    return models.app_config(document)


def _container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "essential": True,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{APP}",
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": name,
            },
        },
        **extra,
    }


def _containers_by_family(image: str) -> dict[str, list[dict[str, Any]]]:
    secret = [
        {
            "name": "DATABASE_URL",
            "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/shop/database-url",
        }
    ]
    return {
        WEB: [
            _container(
                "app",
                image,
                portMappings=[{"containerPort": WEB_PORT, "protocol": "tcp"}],
                secrets=secret,
            ),
            _container(
                "log-router",
                "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.34.3",
                essential=False,
            ),
        ],
        WORKER: [_container("app", image, command=["celery", "worker"], secrets=secret)],
        MIGRATE: [
            _container("app", image, command=["python", "manage.py", "migrate"], secrets=secret)
        ],
        SMOKE_TEST: [_container("app", image, command=["python", "manage.py", "smoke_test"])],
    }


def _roles(iam: IAMClient) -> tuple[str, str]:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    arns = []
    for role in ROLES:
        arns.append(iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
    return arns[0], arns[1]


def seed(
    clients: Clients,
    config_prefix: str,
    *,
    blue_green: bool = False,
    initial_image: str | None = None,
    web_deployment: Mapping[str, Any] | None = None,
    **config_overrides: Any,
) -> SeededApp:
    """Create the sample app (`seed_resources`) and store its config; returns what a
    scenario needs to know."""
    seeded = seed_resources(
        clients, blue_green=blue_green, initial_image=initial_image, web_deployment=web_deployment
    )
    config = app_config(
        seeded.subnet, seeded.security_group, blue_green=blue_green, **config_overrides
    )
    push_config(clients.ssm, config_prefix, APP, config)
    return seeded


def seed_resources(
    clients: Clients,
    *,
    blue_green: bool = False,
    initial_image: str | None = None,
    web_deployment: Mapping[str, Any] | None = None,
) -> SeededApp:
    """Create the sample app's network, image, cluster, task definitions and services.
    With ``blue_green``, CodeDeploy deploys its web service (`seed_blue_green`);
    ``web_deployment`` adds to web's deploymentConfiguration (an ECS strategy, its bake
    time and lifecycle hooks). With ``initial_image``, its repository is already there (the
    app seeded in another account of a promotion chain) and the services start on that
    image."""
    vpc = clients.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    clients.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = clients.ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = clients.ec2.create_security_group(
        GroupName="shop", Description="shop tasks", VpcId=vpc
    )["GroupId"]
    execution_role, task_role = _roles(clients.iam)

    if initial_image is None:
        repository = clients.ecr.create_repository(repositoryName=REPOSITORY)["repository"]
        pushed = clients.ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=image_manifest(INITIAL_TAG),
            imageTag=INITIAL_TAG,
        )
        digest = pushed["image"]["imageId"]["imageDigest"]
        initial_image = f"{repository['repositoryUri']}@{digest}"
    registry = initial_image.split("/", 1)[0]

    clients.ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    seeded = SeededApp(
        APP,
        CLUSTER,
        REPOSITORY,
        registry,
        initial_image,
        [WEB, WORKER],
        subnet=subnet,
        security_group=group,
    )
    for family, containers in _containers_by_family(initial_image).items():
        response = clients.ecs.register_task_definition(
            family=family,
            containerDefinitions=containers,  # type: ignore[arg-type]
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            executionRoleArn=execution_role,
            taskRoleArn=task_role,
            runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            tags=[{"key": "app", "value": APP}],
        )
        seeded.task_definitions[family] = response["taskDefinition"]["taskDefinitionArn"]
    network = {
        "awsvpcConfiguration": {
            "subnets": [subnet],
            "securityGroups": [group],
            "assignPublicIp": "DISABLED",
        }
    }
    for alarm in ((web_deployment or {}).get("alarms") or {}).get("alarmNames") or ():
        _web_alarm(clients.cloudwatch, alarm)
    for service, count in ((WEB, 2), (WORKER, 1)):
        if service == WEB and blue_green:
            _blue_green_web(clients, seeded, network)
            continue
        clients.ecs.create_service(
            cluster=CLUSTER,
            serviceName=service,
            taskDefinition=seeded.task_definitions[service],
            desiredCount=count,
            launchType="FARGATE",
            networkConfiguration=network,  # type: ignore[arg-type]
            deploymentConfiguration={  # type: ignore[arg-type]
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
                **((web_deployment or {}) if service == WEB else {}),
            },
        )
    return seeded


def _web_alarm(cloudwatch: Any, name: str) -> None:
    """A CloudWatch alarm on web's load balancer's 5xx count, which web's deployments
    watch (its deploymentConfiguration.alarms)."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )


def _blue_green_web(clients: Clients, seeded: SeededApp, network: dict[str, Any]) -> None:
    """The web service with the CODE_DEPLOY controller behind a load balancer, and the
    CodeDeploy application and deployment group that deploy it (blue/green, all traffic at
    once, rolled back on failure, the blue task set gone as soon as green serves)."""
    clients.ecs.create_service(
        cluster=CLUSTER,
        serviceName=WEB,
        taskDefinition=seeded.task_definitions[WEB],
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration=network,  # type: ignore[arg-type]
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {
                "targetGroupArn": WEB_TARGET_GROUPS[0],
                "containerName": "app",
                "containerPort": WEB_PORT,
            }
        ],
    )
    clients.codedeploy.create_application(
        applicationName=CODEDEPLOY_APPLICATION, computePlatform="ECS"
    )
    clients.codedeploy.create_deployment_group(
        applicationName=CODEDEPLOY_APPLICATION,
        deploymentGroupName=CODEDEPLOY_GROUP,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        serviceRoleArn="arn:aws:iam::123456789012:role/shop-codedeploy",
        ecsServices=[{"serviceName": WEB, "clusterName": CLUSTER}],
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 0,
            },
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
        },
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": arn.split("/")[-2]} for arn in WEB_TARGET_GROUPS],
                    "prodTrafficRoute": {
                        "listenerArns": [
                            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/"
                            "shop/0123456789abcdef/0123456789abcdef"
                        ]
                    },
                }
            ]
        },
    )
