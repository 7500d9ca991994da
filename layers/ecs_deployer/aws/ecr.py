"""The ECR adapter: turn a repository plus a tag or digest into a pinned image reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable
from ecs_deployer.errors import ImageNotFound
from ecs_deployer.image import ImageRef

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import (
        DescribeImagesRequestTypeDef,
        DescribeRepositoriesRequestTypeDef,
        ImageIdentifierTypeDef,
    )


class EcrGateway:
    def __init__(self, client: ECRClient) -> None:
        self._ecr = client

    def resolve(
        self, repository: str, tag: str | None, digest: str | None, registry_id: str | None
    ) -> ImageRef:
        """The image, pinned by digest; a tag is resolved to the digest it points at now.

        ``registry_id``: another account's registry (a central ECR), read with the
        functions' own role, which that repository's policy allows; None: this account's."""
        image_id: ImageIdentifierTypeDef = (
            {"imageDigest": digest} if digest else {"imageTag": tag or ""}
        )
        shown = digest or f"tag '{tag}'"
        repository_query: DescribeRepositoriesRequestTypeDef = {"repositoryNames": [repository]}
        image_query: DescribeImagesRequestTypeDef = {
            "repositoryName": repository,
            "imageIds": [image_id],
        }
        if registry_id:
            repository_query["registryId"] = image_query["registryId"] = registry_id
        try:
            with transient_errors_as_retryable():
                repositories = self._ecr.describe_repositories(**repository_query)
                images = self._ecr.describe_images(**image_query)
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                raise ImageNotFound(f"ECR repository '{repository}' does not exist") from exc
            if error_code(exc) == "ImageNotFoundException":
                raise ImageNotFound(f"{shown} not found in ECR repository '{repository}'") from exc
            raise
        details = images.get("imageDetails", [])
        if not details:
            raise ImageNotFound(f"{shown} not found in ECR repository '{repository}'")
        registry = repositories["repositories"][0]["repositoryUri"].split("/", 1)[0]
        return ImageRef(
            registry=registry,
            repository=repository,
            digest=details[0]["imageDigest"],
            tag=tag,
            pushed_at=details[0].get("imagePushedAt"),
        )
