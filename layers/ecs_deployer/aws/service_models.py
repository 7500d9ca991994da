"""The AWS services the deployer's Lambdas call: the only botocore models the layer ships.

botocore carries the models of every AWS service (28 MB of the layer's 47 MB); the layer
build (layers/trim_botocore.py) keeps only these, and `clients.py` refuses a client for any
other, so a new service is added here or fails in the first test that makes its client.
Kept free of imports: the layer build reads it without the layer's dependencies.
"""

from typing import Final

SERVICE_MODELS: Final = frozenset(
    {"codedeploy", "dynamodb", "ecr", "ecs", "events", "logs", "sns", "ssm", "stepfunctions", "sts"}
)
