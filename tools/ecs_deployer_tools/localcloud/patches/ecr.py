"""ECR: images, tags and the events ECR emits, where moto's ECR differs from ECR.

1. `PutImage` emits the "ECR Image Action" PUSH event on the default bus, one per call
   (one tag per call, as ECR does), and `BatchDeleteImage` emits one DELETE event per
   deleted image tag. An untagged push's event has no `image-tag`, or `"image-tag": ""`:
   AWS documents neither, both are seen, so untagged pushes alternate between the two.
2. `imagePushedAt` comes from the virtual clock (`virtual_time.py`), in milliseconds as
   ECR records it; moto keeps whole seconds.
3. A digest is the sha256 of the manifest's bytes as pushed, and a given `imageDigest`
   that differs is refused (`ImageDigestDoesNotMatchException`). moto hashes the layer
   digests (two images with the same layers got one digest), or draws one of 101 random
   digests for a manifest without layers (an image index), and trusts `imageDigest`.
4. Tags: a tag pushed onto another image leaves the image it was on in the repository,
   untagged; moto deleted that image when it was its only tag. Pushing an image that is
   already there with no new tag is refused (`ImageAlreadyExistsException`); moto set its
   tag to null. Pushing into a repository that does not exist is a
   `RepositoryNotFoundException`, not moto's bare Exception.
5. An image index (or manifest list) is refused while an image it lists is not in the
   repository (`ReferencedImagesNotFoundException`), which is why clients such as
   `docker buildx` push the platforms' manifests first, untagged, then the tagged index.
6. Replication: a PutImage into a repository that the registry's replication
   configuration matches (PREFIX_MATCH filters, or none: every repository) puts the same
   image, with the same tag, into each destination registry (region, account), creating
   the repository there, and emits "ECR Replication Action" REPLICATE in the destination's
   region instead of a PUSH; one hop only. moto stores the configuration and does nothing.
7. Another account's registry: `DescribeRepositories` and `DescribeImages` with a
   `registryId` of another account read that account's registry (moto looked in the
   caller's own, and found nothing), when the repository's policy allows the action to the
   caller's account (or a principal in it) and no statement of it denies it
   (`resource_policy_decision`), as ECR's repository policies do; otherwise an
   `AccessDeniedException`. The caller's own identity policy is the local IAM guard's.
8. `AccessDeniedException` is one of the errors common to every AWS API (HTTP 400, with a
   message; "Common Errors", AWS API references), so ECR returns it although ECR's service
   model names no such shape. moto serializes an error only by its service's model, and
   warned that it found none; it is given the common error's shape instead.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.model import ShapeResolver
from moto.core import serialize
from moto.core.errors import ErrorShape
from moto.core.exceptions import ServiceException
from moto.ecr.exceptions import ImageAlreadyExistsException
from moto.ecr.models import ECRBackend, Image, Repository, ecr_backends

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.iam.guard import resource_policy_decision
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest
from ecs_deployer_tools.localcloud.images import DOCKER_MANIFEST_LIST, OCI_INDEX, manifest_digest
from ecs_deployer_tools.localcloud.patches.events import put_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher

# Media types of a manifest that lists other manifests (OCI's, and Docker's older one).
_INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})


def install(patcher: Patcher) -> None:
    """Apply this module's patches."""
    # Whether the next untagged push's event says `"image-tag": ""` (item 1): a cycle of
    # this cloud's own, so every run sees the same events.
    empty_tags = itertools.cycle((False, True))
    patcher.around(ECRBackend, "put_image", functools.partial(_put_image, empty_tags))
    patcher.around(ECRBackend, "batch_delete_image", _batch_delete_image)
    patcher.around(Image, "__init__", _image_pushed_now)
    patcher.around(ECRBackend, "describe_repositories", _describe_repositories)
    patcher.around(ECRBackend, "describe_images", _describe_images)
    patcher.around(serialize, "get_error_model", _common_error_model)


class ImageDigestDoesNotMatchException(ServiceException):
    code = "ImageDigestDoesNotMatchException"


class ReferencedImagesNotFoundException(ServiceException):
    code = "ReferencedImagesNotFoundException"


# --- ECR calls: events (1), digests (3), tags (4), indexes (5), replication (6) ----------

# Depth of ECR backend calls on this thread: PutImage re-tags through BatchDeleteImage,
# and replicates through the destination's PutImage.
_ecr_depth = threading.local()


@contextmanager
def _ecr_call() -> Iterator[bool]:
    """Yield whether this is the outermost ECR call on this thread (the API action)."""
    depth = getattr(_ecr_depth, "value", 0)
    _ecr_depth.value = depth + 1
    try:
        yield depth == 0
    finally:
        _ecr_depth.value = depth


def _put_image(  # noqa: PLR0917 - moto's positional signature
    empty_tags: Iterator[bool],
    original: Callable[..., Image],
    backend: ECRBackend,
    repository_name: str,
    image_manifest: str,
    image_tag: str | None,
    image_manifest_mediatype: str | None = None,
    digest: str | None = None,
) -> Image:
    repository = backend._get_repository(repository_name)
    computed = manifest_digest(image_manifest)
    if digest is not None and digest != computed:
        raise ImageDigestDoesNotMatchException(
            f"Invalid parameter at 'imageDigest': '{digest}' does not match the digest of "
            f"the manifest, '{computed}'"
        )
    if image_tag is None and _image(repository, computed) is not None:
        raise ImageAlreadyExistsException(repository_name, repository.registry_id, computed, "null")
    _check_references(repository, image_manifest, image_manifest_mediatype)
    with _ecr_call() as outermost:
        image = original(
            backend, repository_name, image_manifest, image_tag, image_manifest_mediatype, computed
        )
        replicas = _replicate(backend, repository_name, image, image_tag) if outermost else []
    if outermost:
        detail = _ecr_detail("PUSH", repository_name, computed, image_tag, empty_tags)
        detail["manifest-media-type"] = image.image_manifest_media_type
        config = json.loads(image_manifest).get("config", {})
        if "mediaType" in config:
            detail["artifact-media-type"] = config["mediaType"]
        _emit_ecr_event(backend, "ECR Image Action", detail)
        for destination in replicas:
            detail = _ecr_detail("REPLICATE", repository_name, computed, image_tag, empty_tags)
            detail |= {"source-account": backend.account_id, "source-region": backend.region_name}
            arn = destination.repositories[repository_name].arn
            _emit_ecr_event(destination, "ECR Replication Action", detail, resources=[arn])
    return image


def _image(repository: Repository, digest: str) -> Image | None:
    return next((i for i in repository.images if i.get_image_digest() == digest), None)


def _check_references(repository: Repository, manifest: str, media_type: str | None) -> None:
    """An index may only list images the repository holds (item 5)."""
    try:
        parsed = json.loads(manifest)
    except ValueError:
        return  # moto's PutImage refuses it
    if (media_type or parsed.get("mediaType")) not in _INDEX_MEDIA_TYPES:
        return
    missing = [
        listed["digest"]
        for listed in parsed.get("manifests", [])
        if _image(repository, listed["digest"]) is None
    ]
    if missing:
        raise ReferencedImagesNotFoundException(
            f"Some of the images referenced by the manifest list are not in the repository "
            f"'{repository.name}': {', '.join(missing)}"
        )


def _replicate(
    backend: ECRBackend, repository_name: str, image: Image, tag: str | None
) -> list[ECRBackend]:
    """Put the pushed image and tag into every destination the registry replicates this
    repository to (item 6); return the destinations' backends. Runs inside the source's
    PutImage, so the destinations' PutImage calls are inner calls: no PUSH, no next hop."""
    destinations: list[ECRBackend] = []
    for rule in backend.replication_config.get("rules", []):
        filters = rule.get("repositoryFilters") or [{"filter": ""}]
        if not any(repository_name.startswith(f["filter"]) for f in filters):
            continue
        for target in rule["destinations"]:
            destination = ecr_backends[target["registryId"]][target["region"]]
            if repository_name not in destination.repositories:
                destination.create_repository(
                    repository_name=repository_name,
                    registry_id=None,
                    encryption_config={"encryptionType": "AES256"},
                    image_scan_config=None,
                    image_tag_mutability="MUTABLE",
                    tags=[],
                )
            existing = _image(destination.repositories[repository_name], image.image_digest)
            if existing is None or (tag is not None and tag not in existing.image_tags):
                destination.put_image(
                    repository_name,
                    image.image_manifest,
                    tag,  # type: ignore[arg-type]  # None: untagged, as moto's PutImage allows
                    image.image_manifest_media_type,
                    image.image_digest,
                )
            destinations.append(destination)
    return destinations


def _batch_delete_image(
    original: Callable[..., dict[str, Any]],
    backend: ECRBackend,
    repository_name: str,
    registry_id: str | None = None,
    image_ids: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    with _ecr_call() as outermost:
        if not outermost:  # moto's PutImage moving a tag (item 4): untag, delete nothing
            repository = backend._get_repository(repository_name, registry_id)
            for image_id in image_ids or []:
                _untag(repository, image_id["imageTag"])
            return {"imageIds": [], "failures": []}
        response = original(backend, repository_name, registry_id, image_ids)
    for deleted in response["imageIds"]:
        detail = _ecr_detail("DELETE", repository_name, deleted.image_digest, deleted.image_tag)
        _emit_ecr_event(backend, "ECR Image Action", detail)
    return response


def _untag(repository: Repository, tag: str) -> None:
    for image in repository.images:
        if tag in image.image_tags:
            image.remove_tag(tag)
            if not image.image_tags:
                image.image_tag = None  # type: ignore[assignment]  # moto's untagged images


def _ecr_detail(
    action: str,
    repository: str,
    digest: str,
    tag: str | None,
    empty_tags: Iterator[bool] | None = None,
) -> dict[str, Any]:
    detail = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    elif empty_tags is not None and next(empty_tags):
        detail["image-tag"] = ""
    return detail


def _emit_ecr_event(
    backend: ECRBackend, detail_type: str, detail: dict[str, Any], resources: Sequence[str] = ()
) -> None:
    put_event(
        backend.account_id,
        backend.region_name,
        source="aws.ecr",
        detail_type=detail_type,
        detail=detail,
        resources=resources,
    )


# --- 2. Push times from the virtual clock -----------------------------------------------


def _image_pushed_now(
    original: Callable[..., None], image: Image, *args: Any, **kwargs: Any
) -> None:
    original(image, *args, **kwargs)
    pushed = virtual_time.now()
    # moto annotates whole seconds (int); its serializer takes a datetime as well.
    image.image_pushed_at = pushed.replace(microsecond=pushed.microsecond // 1000 * 1000)  # type: ignore[assignment]


# --- Another account's registry (7) -------------------------------------------------------


class AccessDeniedException(ServiceException):
    code = "AccessDeniedException"


def _registry_of(
    backend: ECRBackend, registry_id: str | None, repository_names: Sequence[str], action: str
) -> ECRBackend:
    """The backend that holds ``registry_id``'s repositories, for a caller in ``backend``'s
    account: its own, or another account's whose repository policies allow ``action``."""
    if not registry_id or registry_id == backend.account_id:
        return backend
    registry = ecr_backends[registry_id][backend.region_name]
    for name in repository_names:
        repository = registry.repositories.get(name)
        if repository is None:
            continue
        request = AuthorizationRequest(action, repository.arn, {})
        decision = resource_policy_decision(
            repository.policy, repository.arn, backend.account_id, request
        )
        if not decision.allowed:
            reason = (
                "with an explicit deny in a resource-based policy"
                if decision.explicitly_denied
                else f"because no resource-based policy allows the {action} action"
            )
            raise AccessDeniedException(
                f"User in account {backend.account_id} is not authorized to perform: {action} "
                f"on resource: {repository.arn} {reason}"
            )
    return registry


# AWS's common AccessDeniedException (item 8): a client error with a message.
_ACCESS_DENIED_SHAPE = ErrorShape(
    shape_name=AccessDeniedException.code,
    shape_model={
        "type": "structure",
        "members": {"message": {"shape": "String"}},
        "error": {"code": AccessDeniedException.code, "httpStatusCode": 400, "senderFault": True},
        "exception": True,
    },
    shape_resolver=ShapeResolver({"String": {"type": "string"}}),  # type: ignore[dict-item]
)


def _common_error_model(
    original: Callable[..., ErrorShape], error: Exception, service_model: Any
) -> ErrorShape:
    if isinstance(error, AccessDeniedException):
        return _ACCESS_DENIED_SHAPE
    return original(error, service_model)


def _describe_repositories(
    original: Callable[..., list[Repository]],
    backend: ECRBackend,
    registry_id: str | None = None,
    repository_names: list[str] | None = None,
) -> list[Repository]:
    registry = _registry_of(
        backend, registry_id, repository_names or [], "ecr:DescribeRepositories"
    )
    return original(registry, registry_id, repository_names)


def _describe_images(
    original: Callable[..., Any],
    backend: ECRBackend,
    repository_name: str,
    registry_id: str | None = None,
    image_ids: list[dict[str, str]] | None = None,
) -> Any:
    registry = _registry_of(backend, registry_id, [repository_name], "ecr:DescribeImages")
    return original(registry, repository_name, registry_id, image_ids)
