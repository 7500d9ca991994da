"""The local cloud over HTTP: moto's server app, each request handled while no execution
runs, plus endpoints that drive virtual time.

    GET  /_localcloud/time                   {"now": "...Z", "running": [...]}
    POST /_localcloud/time/advance?seconds=N let N virtual seconds pass; same answer
    POST /_localcloud/time/run-until-idle    run until no execution runs; same answer
                                              (409 {"message"} if executions never end)
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from ecs_deployer_tools.localcloud.virtual_time import StillRunningError, iso

if TYPE_CHECKING:
    from collections.abc import Iterable
    from wsgiref.types import StartResponse, WSGIEnvironment

    from werkzeug.serving import BaseWSGIServer

    from ecs_deployer_tools.localcloud.virtual_time import Scheduler

TIME_PATH = "/_localcloud/time"


class LocalServer:
    """A threaded HTTP server of the local cloud (moto's ThreadedMotoServer, serialised)."""

    def __init__(self, scheduler: Scheduler, host: str, port: int) -> None:
        self._scheduler = scheduler
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
        if str(environ.get("PATH_INFO", "")).startswith(TIME_PATH):
            return self._time(Request(environ))(environ, start_response)
        # moto's backends are not made for concurrent calls: a request waits for the
        # running execution's turn to end, and none runs until the request is answered.
        with self._scheduler.exclusive():
            answer: Iterable[bytes] = self._moto(environ, start_response)
            return answer

    def _time(self, request: Request) -> Response:
        path = request.path.removeprefix(TIME_PATH)
        try:
            if (request.method, path) == ("GET", ""):
                pass
            elif (request.method, path) == ("POST", "/advance"):
                self._scheduler.advance(float(request.args.get("seconds", "0")))
            elif (request.method, path) == ("POST", "/run-until-idle"):
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
