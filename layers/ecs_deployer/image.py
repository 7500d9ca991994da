"""Image references: the repository plus a digest (pinned) or a tag."""

from __future__ import annotations

from datetime import datetime

from ecs_deployer.structs import Frozen


class ImageRef(Frozen, kw_only=True, frozen=True):
    registry: str  # 123456789012.dkr.ecr.us-east-1.amazonaws.com
    repository: str
    digest: str | None = None
    tag: str | None = None
    pushed_at: datetime | None = None  # ECR's imagePushedAt: orders pushes of one second

    @classmethod
    def from_uri(cls, uri: str) -> ImageRef:
        """``<registry>/<repository>@<digest>`` or ``<registry>/<repository>[:<tag>]``."""
        registry, _, path = uri.partition("/")
        if "@" in path:
            repository, _, digest = path.partition("@")
            return cls(registry=registry, repository=repository, digest=digest)
        repository, _, tag = path.partition(":")
        return cls(registry=registry, repository=repository, tag=tag or "latest")

    @property
    def uri(self) -> str:
        """Pinned by digest whenever the digest is known: a tag can move, a digest cannot."""
        base = f"{self.registry}/{self.repository}"
        return f"{base}@{self.digest}" if self.digest else f"{base}:{self.tag}"
