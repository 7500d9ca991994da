"""A waiting deployment's task token, stored once per awaited ECS resource, in the
deployments table: in the resource's partition ``WAITER#<key>`` (keys: ``domain/waiters.py``)
under the sort key ``<app>#<deployment id>``. A newer wait of the deployment replaces its
older token, and an event reads every waiter of its resource with one Query. A waiter
expires (TTL) once its wait's safety poll is long over.

Apart from the rest of the table's gateway (``aws/dynamodb.py``) so that NotifyWaiters, which
an ECS event of every deployer's cluster invokes, loads none of the deployment document's
models at its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable
from ecs_deployer.aws.items import from_attribute, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

_WAITER_PREFIX = "WAITER#"
# BatchWriteItem's limit of requests per call.
_BATCH_WRITES = 25


class WaiterItems:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = client
        self._table = table_name

    # Waiters -----------------------------------------------------------------------------

    def store_waiter(
        self, keys: list[str], app: str, deployment_id: str, token: str, expires_at: int
    ) -> None:
        """Store `token` under each awaited resource's key, 25 to a BatchWriteItem."""
        requests: list[WriteRequestTypeDef] = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {
                            "pk": f"{_WAITER_PREFIX}{key}",
                            "sk": f"{app}#{deployment_id}",
                            "token": token,
                            "expires_at": expires_at,
                        }
                    )
                }
            }
            for key in keys
        ]
        for start in range(0, len(requests), _BATCH_WRITES):
            # A write left unprocessed (throttled) is not sent again: that resource's event
            # wakes nothing, and the wait's safety poll ends it.
            with transient_errors_as_retryable():
                self._dynamodb.batch_write_item(
                    RequestItems={self._table: requests[start : start + _BATCH_WRITES]}
                )

    def waiters(self, key: str) -> list[tuple[str, str]]:
        """The (sort key, token) of every waiter of a resource's `key`."""
        found: list[tuple[str, str]] = []
        paginator = self._dynamodb.get_paginator("query")
        with transient_errors_as_retryable():
            for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": f"{_WAITER_PREFIX}{key}"}),
            ):
                found += [
                    (from_attribute(item["sk"]), from_attribute(item["token"]))
                    for item in page.get("Items", [])
                ]
        return found

    def delete_waiter(self, key: str, waiter: str, token: str) -> None:
        """Forget a woken waiter, unless a newer wait of its deployment replaced the token."""
        try:
            with transient_errors_as_retryable():
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key=to_item({"pk": f"{_WAITER_PREFIX}{key}", "sk": waiter}),
                    ConditionExpression="#token = :token",
                    ExpressionAttributeNames={"#token": "token"},
                    ExpressionAttributeValues=to_item({":token": token}),
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
