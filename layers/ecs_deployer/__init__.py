"""ECS Deployer's shared library: everything the step Lambdas do, behind thin handlers."""

__version__ = "0.1.0"
