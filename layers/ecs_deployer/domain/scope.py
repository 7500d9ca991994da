"""What this stack may touch, as its parameters say: the clusters, the task-definition
families, the network one-off tasks may run in, and the CodeDeploy deployment groups.

A config writer chooses families, subnets and security groups; without these bounds a
config could clone any family of the account (keeping its task role), or run a task in any
subnet with a public IP. IAM holds the same bounds for clusters, families and deployment
groups (template.yaml); checking them here first refuses such a config before anything
changes (IAM would deny CreateDeployment only after the pre tasks ran), with a ConfigError
that names the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ecs_deployer.domain.accounts import roles_by_account, target_of
from ecs_deployer.errors import AccountNotAllowed, ConfigError, FieldError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ecs_deployer.config.models import AppConfig, CodeDeployConfig, NetworkConfiguration


def names(text: str) -> frozenset[str]:
    """A CloudFormation CommaDelimitedList as it reaches an environment variable."""
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def family_of(reference: str) -> str:
    """The family of a task-definition reference: FAMILY, FAMILY:REVISION or an ARN."""
    return reference.rsplit("/", 1)[-1].split(":", 1)[0]


@dataclass(frozen=True)
class StackScope:
    clusters: frozenset[str]  # ClusterNames
    family_prefixes: frozenset[str]  # TaskFamilyPrefixes
    subnets: frozenset[str]  # AllowedSubnets
    security_groups: frozenset[str]  # AllowedSecurityGroups
    public_ip: bool  # AllowPublicIp
    target_roles: Mapping[str, str] = field(default_factory=dict)  # TargetAccountRoleArns
    # APPLICATION/GROUP pairs (CodeDeployDeploymentGroups), in every account apps run in.
    codedeploy_groups: frozenset[str] = frozenset()

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, str]) -> StackScope:
        """The scope a stack's parameters give (as DescribeStacks shows them: lists as a,b)."""
        return cls(
            clusters=names(parameters.get("ClusterNames", "")),
            family_prefixes=names(parameters.get("TaskFamilyPrefixes", "")),
            subnets=names(parameters.get("AllowedSubnets", "")),
            security_groups=names(parameters.get("AllowedSecurityGroups", "")),
            public_ip=parameters.get("AllowPublicIp", "false") == "true",
            target_roles=roles_by_account(names(parameters.get("TargetAccountRoleArns", ""))),
            codedeploy_groups=names(parameters.get("CodeDeployDeploymentGroups", "")),
        )

    def allows_family(self, family: str) -> bool:
        return any(family.startswith(prefix) for prefix in self.family_prefixes)

    def family_problem(self, family: str) -> str | None:
        if self.allows_family(family):
            return None
        prefixes = ", ".join(sorted(self.family_prefixes)) or "none"
        return (
            f"task definition family '{family}' is not one this stack may register or run "
            f"(TaskFamilyPrefixes: {prefixes})"
        )

    def check_config(self, app: str, config: AppConfig) -> None:
        """Refuse a config that asks for more than the stack allows, naming every field; an
        account the stack lists no deploy role for is AccountNotAllowed. An app with
        environments is checked in every one of them: a chain is refused at its first
        deployment, not halfway."""
        targets: list[tuple[str, AppConfig]] = [("", config)]
        if config.environments is not None:
            targets = [
                (f"environments[{index}].", config.in_environment(environment.name))
                for index, environment in enumerate(config.environments)
            ]
        problems: list[FieldError] = []
        for where, target in targets:
            try:
                target_of(target, self.target_roles)
            except AccountNotAllowed as exc:
                raise AccountNotAllowed(f"{where}account: {exc}" if where else str(exc)) from exc
            if target.cluster_name not in self.clusters:
                allowed = ", ".join(sorted(self.clusters)) or "none"
                problems.append(
                    FieldError(
                        f"{where}cluster",
                        f"'{target.cluster}' is not a cluster this stack may deploy to "
                        f"(ClusterNames: {allowed})",
                    )
                )
        problems.extend(self._task_problems(config))
        for index, service in enumerate(config.services):
            if service.codedeploy is not None and (
                problem := self._codedeploy_problem(f"services[{index}]", service.codedeploy)
            ):
                problems.append(problem)
        if problems:
            raise ConfigError(
                f"config of app '{app}' asks for more than this stack allows", problems
            )

    def _codedeploy_problem(self, where: str, codedeploy: CodeDeployConfig) -> FieldError | None:
        """The application is named when the stack has none of its groups, else the group."""
        application, group = codedeploy.application, codedeploy.deployment_group
        if f"{application}/{group}" in self.codedeploy_groups:
            return None
        listed = ", ".join(sorted(self.codedeploy_groups)) or "none"
        applications = {pair.partition("/")[0] for pair in self.codedeploy_groups}
        if application not in applications:
            return FieldError(
                f"{where}.codedeploy.application",
                f"'{application}' is not a CodeDeploy application this stack may deploy "
                f"through (CodeDeployDeploymentGroups: {listed})",
            )
        return FieldError(
            f"{where}.codedeploy.deployment_group",
            f"'{application}/{group}' is not a CodeDeploy deployment group this stack may "
            f"deploy through (CodeDeployDeploymentGroups: {listed})",
        )

    def _task_problems(self, config: AppConfig) -> list[FieldError]:
        """The one-off tasks' families, and the networks they run in: each environment's,
        and the tasks' own unless every environment replaces them."""
        problems: list[FieldError] = []
        environments = config.environments or []
        tasks_networks = not environments or any(
            environment.network_configuration is None for environment in environments
        )
        for phase in ("pre", "post"):
            for index, task in enumerate(config.phase_tasks(phase)):
                where = f"tasks.{phase}[{index}]"
                family = self.family_problem(family_of(task.family))
                if family is not None:
                    problems.append(FieldError(f"{where}.family", family))
                if task.network_configuration is not None and tasks_networks:
                    problems.extend(
                        self._network_problems(
                            f"{where}.network_configuration", task.network_configuration
                        )
                    )
        for index, environment in enumerate(environments):
            if environment.network_configuration is not None:
                problems.extend(
                    self._network_problems(
                        f"environments[{index}].network_configuration",
                        environment.network_configuration,
                    )
                )
        return problems

    def _network_problems(self, where: str, network: NetworkConfiguration) -> list[FieldError]:
        problems = []
        vpc = network.vpc_configuration
        where = f"{where}.vpc_configuration"
        for key, wanted, allowed, parameter in (
            ("subnets", vpc.subnets, self.subnets, "AllowedSubnets"),
            ("security_groups", vpc.security_groups, self.security_groups, "AllowedSecurityGroups"),
        ):
            for index, value in enumerate(wanted):
                if value not in allowed:
                    listed = ", ".join(sorted(allowed)) or "none"
                    problems.append(
                        FieldError(
                            f"{where}.{key}[{index}]",
                            f"'{value}' is not allowed by this stack ({parameter}: {listed})",
                        )
                    )
        if vpc.assign_public_ip and not self.public_ip:
            problems.append(
                FieldError(
                    f"{where}.assign_public_ip",
                    "this stack gives one-off tasks no public IP (AllowPublicIp: false)",
                )
            )
        return problems
