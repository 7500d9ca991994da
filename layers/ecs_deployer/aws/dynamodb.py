"""The deployments table: history records and per-app locks, in one DynamoDB table.

The key schema lives here alone. Every item of an app shares the partition key
``APP#<app>``; a deployment's record sorts under ``DEPLOYMENT#<order>#<deployment id>`` (in
deployment order, see ``domain.locks.deployment_order``, so a query lists the history in the
order the deployments happened, pushes of one second included), its working document under
``DOCUMENT#<deployment id>``, and the app's lock is the item ``LOCK``; an app with
environments has one lock per environment, ``LOCK#<environment>``, and its records of
every environment share the partition (a record names its environment), so that the
history lists a promotion chain in the order it ran.

The config index (``domain/config_index.py``) is one partition, ``CONFIG_INDEX``: each app's
entry ``APP#<app>`` (the repositories its config wants), each repository's listing of an app
``REPOSITORY#<repository>#<app>`` (a push reads its repository's with one Query; neither
name can hold a ``#``), and the item ``INDEX`` (``built_at`` once a full read built the
index; ``unreadable``, the apps whose parameter is not a String).

Waiters, the task tokens of waiting deployments, have their partitions in the same table
(``aws/waiter_items.py``).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable
from ecs_deployer.aws.items import from_attribute, from_item, to_item
from ecs_deployer.aws.waiter_items import WaiterItems
from ecs_deployer.document import Deployment
from ecs_deployer.domain.config_index import ConfigIndex
from ecs_deployer.domain.locks import LockEntry, LockRecord
from ecs_deployer.history import ApprovalRecord, HistoryRecord, iso
from ecs_deployer.outcome import FINAL_STATUSES
from ecs_deployer.structs import decode, decode_json, encode, encode_json

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from mypy_boto3_dynamodb import DynamoDBClient

    from ecs_deployer.domain.config_index import AppUpdate
    from ecs_deployer.history import RecordRef, RecordUpdate

_LOCK_KEY = "LOCK"
_RECORD_PREFIX = "DEPLOYMENT#"
_DOCUMENT_PREFIX = "DOCUMENT#"
# A document outlives its execution (closing an unfinished one reads it), not for ever.
_DOCUMENT_DAYS = 30


def _app_key(app: str) -> str:
    return f"APP#{app}"


def _record_key(record: RecordRef) -> dict[str, Any]:
    return {
        "pk": _app_key(record.app),
        "sk": f"{_RECORD_PREFIX}{record.order}#{record.deployment_id}",
    }


def _lock_key(app: str, environment: str | None) -> dict[str, Any]:
    key = _LOCK_KEY if environment is None else f"{_LOCK_KEY}#{environment}"
    return {"pk": _app_key(app), "sk": key}


def _document_key(app: str, deployment_id: str) -> dict[str, Any]:
    return {"pk": _app_key(app), "sk": f"{_DOCUMENT_PREFIX}{deployment_id}"}


def _entry(data: dict[str, Any]) -> LockEntry:
    return LockEntry(
        deployment_id=data["deployment_id"],
        execution_arn=data["execution_arn"],
        order=data["order"],
        image=data["image"],
        expires_at=int(data["expires_at"]),
        rollback=bool(data.get("rollback", False)),
    )


def _entry_data(entry: LockEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "deployment_id": entry.deployment_id,
        "execution_arn": entry.execution_arn,
        "order": entry.order,
        "image": entry.image,
        "expires_at": entry.expires_at,
        "rollback": entry.rollback,
    }


class DeploymentsTable:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = client
        self._table = table_name
        self.waiter_items = WaiterItems(client, table_name)

    # History -----------------------------------------------------------------------------

    def create_record(self, record: HistoryRecord) -> None:
        """Create the record once; a retried step finds it there and leaves it alone."""
        data = {**_record_key(record), **encode(record)}
        try:
            with transient_errors_as_retryable():
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=to_item(data),
                    ConditionExpression="attribute_not_exists(sk)",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def update_record(
        self, record: RecordRef, update: RecordUpdate, *, while_pending: str | None = None
    ) -> bool:
        """Apply ``update`` unless the record is already final; False when it was. With
        ``while_pending`` (the ``requested_at`` of the approval the writer read pending),
        only while the record's approval is still that pending request: an operator's
        answer and a newer request are never overwritten by a writer that did not see them."""
        fields = update.fields()
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        values = {f":v{index}": value for index, value in enumerate(fields.values())}
        assignments = ", ".join(f"{name} = :v{index}" for index, name in enumerate(names))
        finals = {f":final{index}": status for index, status in enumerate(sorted(FINAL_STATUSES))}
        condition = f"attribute_exists(sk) AND NOT (#status IN ({', '.join(finals)}))"
        if while_pending is not None:
            condition += (
                " AND approval.#status = :pending AND approval.requested_at = :requested_at"
            )
            values |= {":pending": "PENDING", ":requested_at": while_pending}
        try:
            with transient_errors_as_retryable():
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=to_item(_record_key(record)),
                    UpdateExpression=f"SET {assignments}",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={**names, "#status": "status"},
                    ExpressionAttributeValues=to_item({**values, **finals}),
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def read_approval(self, record: RecordRef) -> ApprovalRecord | None:
        """The approval on a deployment's record (GetItem): an operator's answer to it is
        written there, where CheckServices reads it."""
        with transient_errors_as_retryable():
            response = self._dynamodb.get_item(
                TableName=self._table,
                Key=to_item(_record_key(record)),
                ProjectionExpression="approval",
                ConsistentRead=True,
            )
        approval = from_item(response.get("Item", {})).get("approval")
        return None if approval is None else decode(approval, ApprovalRecord)

    def history(self, app: str, limit: int = 20) -> list[HistoryRecord]:
        """The app's deployments, newest first."""
        with transient_errors_as_retryable():
            response = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=to_item(
                    {":pk": _app_key(app), ":prefix": _RECORD_PREFIX}
                ),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [_record(item) for item in response.get("Items", [])]

    def find_record(self, app: str, deployment_id: str) -> HistoryRecord | None:
        """The record of one deployment of ``app`` (keys sort by time, so it is a filter)."""
        return next(self._records_where(app, "deployment_id", deployment_id), None)

    def records_of_digest(self, app: str, digest: str) -> Iterator[HistoryRecord]:
        """The app's deployments of one image digest, newest first, read lazily."""
        return self._records_where(app, "digest", digest)

    def _records_where(self, app: str, attribute: str, value: str) -> Iterator[HistoryRecord]:
        """The app's records whose ``attribute`` is ``value``, newest first, read lazily."""
        paginator = self._dynamodb.get_paginator("query")
        with transient_errors_as_retryable():
            for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                FilterExpression="#attribute = :value",
                ExpressionAttributeNames={"#attribute": attribute},
                ExpressionAttributeValues=to_item(
                    {":pk": _app_key(app), ":prefix": _RECORD_PREFIX, ":value": value}
                ),
                ScanIndexForward=False,
            ):
                yield from (_record(item) for item in page.get("Items", []))

    def all_records(self) -> list[HistoryRecord]:
        """Every record of every app (for a status overview; the table is small)."""
        records: list[HistoryRecord] = []
        paginator = self._dynamodb.get_paginator("scan")
        with transient_errors_as_retryable():
            for page in paginator.paginate(
                TableName=self._table,
                FilterExpression="begins_with(sk, :prefix)",
                ExpressionAttributeValues=to_item({":prefix": _RECORD_PREFIX}),
            ):
                records += [_record(item) for item in page.get("Items", [])]
        return records

    # Documents ---------------------------------------------------------------------------

    def save_document(self, deployment: Deployment, now: datetime) -> None:
        """Store the working document, compressed: an item holds at most 400 KB, and an app's
        image URIs and revision ARNs repeat from service to service."""
        text = encode_json(deployment)
        data = {
            **_document_key(deployment.app, deployment.deployment_id),
            "document": zlib.compress(text),
            "expires_at": int(now.timestamp()) + _DOCUMENT_DAYS * 86_400,
        }
        with transient_errors_as_retryable():
            self._dynamodb.put_item(TableName=self._table, Item=to_item(data))

    def load_document(self, app: str, deployment_id: str) -> Deployment | None:
        with transient_errors_as_retryable():
            response = self._dynamodb.get_item(
                TableName=self._table,
                Key=to_item(_document_key(app, deployment_id)),
                ConsistentRead=True,
            )
        if "Item" not in response:
            return None
        compressed: bytes = from_attribute(response["Item"]["document"])
        return decode_json(zlib.decompress(compressed), Deployment)

    # Locks -------------------------------------------------------------------------------

    def read_lock(self, app: str, environment: str | None) -> LockRecord:
        with transient_errors_as_retryable():
            response = self._dynamodb.get_item(
                TableName=self._table,
                Key=to_item(_lock_key(app, environment)),
                ConsistentRead=True,
            )
        if "Item" not in response:
            return LockRecord()
        data = from_item(response["Item"])
        holder, latest = data.get("holder"), data.get("latest")
        return LockRecord(
            version=int(data["version"]),
            holder=_entry(holder) if holder else None,
            waiting=tuple(_entry(entry) for entry in data.get("waiting", [])),
            latest=_entry(latest) if latest else None,
        )

    def write_lock(self, app: str, environment: str | None, record: LockRecord) -> bool:
        """Write ``record`` if nobody wrote since it was read; False when someone did."""
        data = {
            **_lock_key(app, environment),
            "version": record.version + 1,
            "holder": _entry_data(record.holder),
            "waiting": [_entry_data(entry) for entry in record.waiting],
            "latest": _entry_data(record.latest),
        }
        try:
            with transient_errors_as_retryable():
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=to_item(data),
                    ConditionExpression="attribute_not_exists(sk) OR version = :version",
                    ExpressionAttributeValues=to_item({":version": record.version}),
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _record(item: dict[str, Any]) -> HistoryRecord:
    data = from_item(item)
    data.pop("pk", None)
    data.pop("sk", None)
    return decode(data, HistoryRecord)


_INDEX_PARTITION = "CONFIG_INDEX"
_INDEX_STATE_KEY = "INDEX"
_INDEX_APP_PREFIX = "APP#"
_INDEX_REPOSITORY_PREFIX = "REPOSITORY#"


def _index_key(sort_key: str) -> dict[str, Any]:
    return to_item({"pk": _INDEX_PARTITION, "sk": sort_key})


def _listing_prefix(repository: str) -> str:
    return f"{_INDEX_REPOSITORY_PREFIX}{repository}#"


class ConfigIndexTable:
    """The config index, in the deployments table (its keys: this module's docstring)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = client
        self._table = table_name

    def apps_to_read(self, repository: str) -> frozenset[str] | None:
        """The apps whose config a push to ``repository`` must read: those its repository
        lists, and those whose parameter is unreadable (they may want it). None until a full
        read has built the index."""
        with transient_errors_as_retryable():
            response = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=to_item(
                    {":pk": _INDEX_PARTITION, ":prefix": _listing_prefix(repository)}
                ),
                ProjectionExpression="app",
            )
        listed = {from_item(item)["app"] for item in response.get("Items", [])}
        state = self._state()
        if state is None:
            return None
        return frozenset(listed) | state.unreadable

    def _state(self) -> ConfigIndex | None:
        """The unreadable apps (no repositories: the entries hold those), or None before a
        full read built the index."""
        with transient_errors_as_retryable():
            response = self._dynamodb.get_item(
                TableName=self._table, Key=_index_key(_INDEX_STATE_KEY), ConsistentRead=True
            )
        data = from_item(response.get("Item", {}))
        if "built_at" not in data:
            return None
        return ConfigIndex(unreadable=data.get("unreadable", frozenset()))

    def entry(self, app: str) -> ConfigIndex | None:
        """The stored index as far as ``app`` goes (its entry, or it as unreadable); None
        before a full read built the index."""
        state = self._state()
        if state is None:
            return None
        with transient_errors_as_retryable():
            response = self._dynamodb.get_item(
                TableName=self._table,
                Key=_index_key(f"{_INDEX_APP_PREFIX}{app}"),
                ConsistentRead=True,
            )
        item = from_item(response.get("Item", {}))
        wanted = {app: frozenset(item["repositories"])} if "repositories" in item else {}
        return ConfigIndex(wanted, state.unreadable & {app})

    def read(self) -> tuple[ConfigIndex, dict[str, frozenset[str]]]:
        """The whole stored index: the apps' entries (and the unreadable apps), and which
        repositories list each app."""
        entries: dict[str, frozenset[str]] = {}
        listed: dict[str, set[str]] = {}
        unreadable: frozenset[str] = frozenset()
        paginator = self._dynamodb.get_paginator("query")
        with transient_errors_as_retryable():
            for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": _INDEX_PARTITION}),
                ConsistentRead=True,
            ):
                for item in page.get("Items", []):
                    data = from_item(item)
                    sort_key: str = data["sk"]
                    if sort_key == _INDEX_STATE_KEY:
                        unreadable = data.get("unreadable", frozenset())
                    elif sort_key.startswith(_INDEX_APP_PREFIX):
                        app = sort_key.removeprefix(_INDEX_APP_PREFIX)
                        entries[app] = frozenset(data["repositories"])
                    else:
                        repository = sort_key.removeprefix(_INDEX_REPOSITORY_PREFIX)
                        repository = repository.removesuffix(f"#{data['app']}")
                        listed.setdefault(data["app"], set()).add(repository)
        listings = {app: frozenset(repositories) for app, repositories in listed.items()}
        return ConfigIndex(entries, unreadable), listings

    def apply(self, update: AppUpdate) -> None:
        """Write one app's part of the index as its config wants it: each write is
        idempotent, so a retried or repeated update does no harm."""
        app = update.app
        for repository in sorted(update.to_list):
            self._put(f"{_listing_prefix(repository)}{app}", {"app": app})
        for repository in sorted(update.to_unlist):
            self._delete(f"{_listing_prefix(repository)}{app}")
        if not update.entry_changed:
            return
        if update.wanted:
            self._put(f"{_INDEX_APP_PREFIX}{app}", {"repositories": sorted(update.wanted)})
        elif update.stored:
            self._delete(f"{_INDEX_APP_PREFIX}{app}")
        if (update.wanted is None) != (update.stored is None):
            action = "ADD" if update.wanted is None else "DELETE"
            with transient_errors_as_retryable():
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=_index_key(_INDEX_STATE_KEY),
                    UpdateExpression=f"{action} unreadable :app",
                    ExpressionAttributeValues={":app": {"SS": [app]}},
                )

    def mark_built(self, now: datetime) -> None:
        """Record that a full read built the index: pushes read it from now on."""
        with transient_errors_as_retryable():
            self._dynamodb.update_item(
                TableName=self._table,
                Key=_index_key(_INDEX_STATE_KEY),
                UpdateExpression="SET built_at = :now",
                ExpressionAttributeValues=to_item({":now": iso(now)}),
            )

    def _put(self, sort_key: str, data: dict[str, Any]) -> None:
        item = to_item({"pk": _INDEX_PARTITION, "sk": sort_key, **data})
        with transient_errors_as_retryable():
            self._dynamodb.put_item(TableName=self._table, Item=item)

    def _delete(self, sort_key: str) -> None:
        with transient_errors_as_retryable():
            self._dynamodb.delete_item(TableName=self._table, Key=_index_key(sort_key))
