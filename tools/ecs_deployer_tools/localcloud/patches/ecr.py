"""ECR: the events ECR emits, and push times as ECR records them, which moto's ECR lacks.

1. `PutImage` emits the "ECR Image Action" PUSH event on the default bus, one per call
   (one tag per call, as ECR does), and `BatchDeleteImage` emits one DELETE event per
   deleted image tag. moto's own re-tagging deletes inside PutImage emit nothing.
2. `imagePushedAt` comes from the virtual clock (`virtual_time.py`), in milliseconds as
   ECR records it; moto keeps whole seconds.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from moto.ecr.models import ECRBackend, Image

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.patches.events import put_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher


def install(patcher: Patcher) -> None:
    """Apply this module's patches."""
    patcher.around(ECRBackend, "put_image", _put_image)
    patcher.around(ECRBackend, "batch_delete_image", _batch_delete_image)
    patcher.around(Image, "__init__", _image_pushed_now)


# --- 1. ECR events ---------------------------------------------------------------------

# Depth of ECR backend calls on this thread: PutImage re-tags through BatchDeleteImage.
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
    original: Callable[..., Image],
    backend: ECRBackend,
    repository_name: str,
    image_manifest: str,
    image_tag: str,
    image_manifest_mediatype: str | None = None,
    digest: str | None = None,
) -> Image:
    with _ecr_call() as outermost:
        image = original(
            backend, repository_name, image_manifest, image_tag, image_manifest_mediatype, digest
        )
    if outermost:
        detail = _ecr_detail("PUSH", repository_name, image.get_image_digest(), image_tag)
        detail["manifest-media-type"] = image.image_manifest_media_type
        config = json.loads(image_manifest).get("config", {})
        if "mediaType" in config:
            detail["artifact-media-type"] = config["mediaType"]
        _emit_ecr_event(backend, detail)
    return image


def _batch_delete_image(
    original: Callable[..., dict[str, Any]],
    backend: ECRBackend,
    repository_name: str,
    registry_id: str | None = None,
    image_ids: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    with _ecr_call() as outermost:
        response = original(backend, repository_name, registry_id, image_ids)
    if outermost:
        for deleted in response["imageIds"]:
            detail = _ecr_detail("DELETE", repository_name, deleted.image_digest, deleted.image_tag)
            _emit_ecr_event(backend, detail)
    return response


def _ecr_detail(action: str, repository: str, digest: str, tag: str | None) -> dict[str, Any]:
    detail = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    return detail


def _emit_ecr_event(backend: ECRBackend, detail: dict[str, Any]) -> None:
    put_event(
        backend.account_id,
        backend.region_name,
        source="aws.ecr",
        detail_type="ECR Image Action",
        detail=detail,
    )


# --- 2. Push times from the virtual clock -----------------------------------------------


def _image_pushed_now(
    original: Callable[..., None], image: Image, *args: Any, **kwargs: Any
) -> None:
    original(image, *args, **kwargs)
    pushed = virtual_time.now()
    # moto annotates whole seconds (int); its serializer takes a datetime as well.
    image.image_pushed_at = pushed.replace(microsecond=pushed.microsecond // 1000 * 1000)  # type: ignore[assignment]
