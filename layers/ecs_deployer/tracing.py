"""X-Ray tracing (the functions' ``Tracing: Active``): every handler's trace carries the app
and the deployment it worked on as annotations, which X-Ray indexes, so a filter expression
such as ``annotation.app = "shop"`` finds an app's traces; each AWS call is a subsegment.

Only botocore is patched: patching every library the X-Ray SDK knows costs about twice the
import time and traces nothing more here. Outside Lambda (tests, the local cloud) the Tracer
disables itself and annotations cost nothing.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(patch_modules=("botocore",))


def annotate(deployment_id: str, app: str | None = None) -> None:
    """Mark this invocation's trace with what it works on; ``app`` once it is known (a
    push's dispatcher serves every app that wants the push, so it has none)."""
    tracer.put_annotation("deployment_id", deployment_id)
    if app is not None:
        tracer.put_annotation("app", app)
