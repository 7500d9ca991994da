"""``python -m ecs_deployer_tools.cli``: the same as ``ecs-deployer``."""

from ecs_deployer_tools.cli import main

main()
