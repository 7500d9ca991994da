"""The local cloud over HTTP: moto's server app, each request handled while no execution
runs and counted as its client's call, plus endpoints of the local cloud itself.

    GET  /_localcloud/time                   {"now": "...Z", "running": [...]}
    POST /_localcloud/time/advance?seconds=N let N virtual seconds pass; same answer
    POST /_localcloud/time/run-until-idle    run until no execution runs; same answer
                                              (409 {"message"} if executions never end)
    GET  /_localcloud/calls                  {"clients": {"ecs.UpdateService": n, ...},
                                              "lambdas": {...}}: AWS API calls so far
"""

from __future__ import annotations

import io
import json
import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import DataNotFoundError
from moto.core.request import Request as MotoRequest
from moto.core.responses import boto3_service_name
from moto.core.routing import get_service_router
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from ecs_deployer_tools.localcloud.runtime import HTTP_CLIENTS
from ecs_deployer_tools.localcloud.virtual_time import StillRunningError, iso

if TYPE_CHECKING:
    from collections.abc import Iterable
    from wsgiref.types import StartResponse, WSGIEnvironment

    from werkzeug.serving import BaseWSGIServer

    from ecs_deployer_tools.localcloud.runtime import ApiCallRecorder
    from ecs_deployer_tools.localcloud.virtual_time import Scheduler

LOCALCLOUD_PATH = "/_localcloud"


class LocalServer:
    """A threaded HTTP server of the local cloud (moto's ThreadedMotoServer, serialised)."""

    def __init__(
        self, scheduler: Scheduler, recorder: ApiCallRecorder, host: str, port: int
    ) -> None:
        self._scheduler = scheduler
        self._recorder = recorder
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer = make_server(
            host, port, self._app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localcloud server", daemon=True
        )

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith(LOCALCLOUD_PATH):
            return self._own(Request(environ))(environ, start_response)
        call = self._call(environ)
        if call is not None:
            self._recorder.record(HTTP_CLIENTS, call)
        # moto's backends are not made for concurrent calls: a request waits for the
        # running execution's turn to end, and none runs until the request is answered.
        with self._scheduler.exclusive():
            answer: Iterable[bytes] = self._moto(environ, start_response)
            return answer

    def _call(self, environ: WSGIEnvironment) -> str | None:
        """The request's `service.Operation`, found as moto routes it; None when it names no
        AWS operation (moto's own API, a malformed request)."""
        # Finding the service or the operation may read the body (the Query protocol's
        # Action): each look reads a copy, and moto gets the body whole.
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)

        def copy() -> dict[str, Any]:
            return {**environ, "wsgi.input": io.BytesIO(body)}

        backend = self._moto.get_application(copy()).service  # type: ignore[attr-defined]  # set by moto
        service = boto3_service_name.get(backend, backend)
        try:
            operation = get_service_router(service).match(MotoRequest(copy()))[0]
        except (HTTPException, DataNotFoundError):
            return None
        return f"{service}.{operation.name}"

    def _own(self, request: Request) -> Response:
        path = request.path.removeprefix(LOCALCLOUD_PATH)
        if (request.method, path) == ("GET", "/calls"):
            return _json(
                {"clients": self._recorder.counts(HTTP_CLIENTS), "lambdas": self._recorder.counts()}
            )
        try:
            if (request.method, path) == ("GET", "/time"):
                pass
            elif (request.method, path) == ("POST", "/time/advance"):
                self._scheduler.advance(float(request.args.get("seconds", "0")))
            elif (request.method, path) == ("POST", "/time/run-until-idle"):
                self._scheduler.run_until_idle()
            else:
                return _json({"message": f"no such endpoint: {request.method} {request.path}"}, 404)
        except StillRunningError as error:
            return _json({"message": str(error)}, 409)
        except ValueError as error:
            return _json({"message": str(error)}, 400)
        now = self._scheduler.now()
        return _json({"now": iso(now), "running": self._scheduler.running()})


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")
