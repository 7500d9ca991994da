"""What clients push to ECR: an image's manifest, and a multi-platform image the way
`docker buildx build --platform ... --push` pushes it.

buildx pushes, for each platform, the image's manifest and an attestation manifest (its
provenance) by digest, untagged; then the image index that lists them all, with the tag.
The index lists an attestation with the platform unknown/unknown and the annotations
`vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest` (the
manifest it attests). Sources: the OCI image spec (image index, image manifest, descriptor)
and BuildKit's attestation storage document (docs/attestations/attestation-storage.md).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v0.2"


def manifest_digest(manifest: str) -> str:
    """A manifest's digest, as a registry names it: the sha256 of its bytes."""
    return f"sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"


def _blob(seed: str, size: int, media_type: str, **extra: Any) -> dict[str, Any]:
    """A descriptor of a blob (a config, a layer) that only `seed` determines."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return {"mediaType": media_type, "size": size, "digest": f"sha256:{digest}", **extra}


def image_manifest(seed: str | None = None) -> str:
    """A Docker image manifest (v2); the same ``seed`` gives the same image (digest), no
    seed a new, unique one."""
    layer = hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": _blob(layer, 1469, "application/vnd.docker.container.image.v1+json"),
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370706,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


@dataclass(frozen=True)
class MultiPlatformImage:
    """The manifests of one multi-platform image, in the order buildx pushes them."""

    manifests: tuple[str, ...]  # one OCI image manifest per platform
    attestations: tuple[str, ...]  # one attestation manifest per platform
    index: str  # the OCI image index that lists them all: the image its tag names

    @property
    def untagged(self) -> tuple[str, ...]:
        """What is pushed by digest, before the index."""
        return self.manifests + self.attestations


def _descriptor(manifest: str, **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": OCI_MANIFEST,
        "digest": manifest_digest(manifest),
        "size": len(manifest.encode()),
        **extra,
    }


def _platform(platform: str) -> dict[str, str]:
    """ "linux/arm64/v8" → the OCI descriptor's platform."""
    os, architecture, *variant = platform.split("/")
    return {"architecture": architecture, "os": os} | ({"variant": variant[0]} if variant else {})


def multi_platform_image(platforms: Sequence[str], seed: str | None = None) -> MultiPlatformImage:
    """A multi-platform image for ``platforms`` ("linux/amd64", "linux/arm64"...), with a
    provenance attestation per platform; the same ``seed`` gives the same image."""
    seed = seed or uuid.uuid4().hex
    manifests, attestations, listed, attesting = [], [], [], []
    for platform in platforms:
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _blob(f"{seed} {platform} config", 1469, OCI_CONFIG),
                "layers": [_blob(f"{seed} {platform} layer", 3370706, OCI_LAYER)],
            }
        )
        attestation = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _blob(f"{seed} {platform} attestation config", 167, OCI_CONFIG),
                "layers": [
                    _blob(
                        f"{seed} {platform} provenance",
                        1520,
                        IN_TOTO,
                        annotations={"in-toto.io/predicate-type": SLSA_PROVENANCE},
                    )
                ],
            }
        )
        manifests.append(manifest)
        attestations.append(attestation)
        listed.append(_descriptor(manifest, platform=_platform(platform)))
        attesting.append(
            _descriptor(
                attestation,
                annotations={
                    "vnd.docker.reference.digest": manifest_digest(manifest),
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                platform={"architecture": "unknown", "os": "unknown"},
            )
        )
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*listed, *attesting]}
    )
    return MultiPlatformImage(tuple(manifests), tuple(attestations), index)
