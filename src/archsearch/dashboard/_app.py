"""The dashboard's web application (Starlette): read-only pages and a JSON API.

Pages are one static HTML file whose script reads the path and calls the API; every
route answers GET only. A missing experiment or trial is a 404 with a one-line JSON
error, a bad parameter a 400 naming it; nothing else (stack traces, file paths) ever
reaches a response.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archsearch.dashboard import _views as views
from archsearch.dashboard._queries import COLUMNS, Queries, objective_sign
from archsearch.store import ExperimentRecord, SqlStore
from archsearch.trial import TrialStatus

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"
_log = logging.getLogger("archsearch.dashboard")
_STATES = tuple(str(s) for s in TrialStatus)
_CACHED = 256  # aggregates kept (a few per experiment)


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise HTTPException(400, f"{name}: expected an integer, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name}: must be in [{low}, {high}], got {value}")
    return value


def _float(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise HTTPException(400, f"{name}: expected a number, got {text[:40]!r}") from None


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None) -> Any:
    text = request.query_params.get(name) or default
    if text is not None and text not in allowed:
        shown = ", ".join(allowed[:20])
        raise HTTPException(400, f"{name}: unknown value {text[:60]!r}; allowed: {shown}")
    return text


class _Api:
    """The JSON endpoints over one store."""

    def __init__(self, store: SqlStore) -> None:
        self.queries = Queries(store)
        # aggregates of an experiment, kept until a trial of it starts or ends
        self._cache: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()

    def cached(
        self, record: ExperimentRecord, key: tuple[Any, ...], compute: Callable[[], Any]
    ) -> Any:
        """``compute()``, or its earlier value while the experiment's trials are unchanged."""
        version = (record.updated_at, self.queries.version(record.id))
        full = (record.id, *key)
        hit = self._cache.get(full)
        if hit is not None and hit[0] == version:
            self._cache.move_to_end(full)
            return hit[1]
        value = compute()
        self._cache[full] = (version, value)
        while len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
        return value

    def record(self, request: Request) -> ExperimentRecord:
        name = request.path_params["name"]
        record = self.queries.store.find_experiment(name)
        if record is None:
            raise HTTPException(404, f"no experiment named {name[:100]!r}")
        return record

    def fields(self, record: ExperimentRecord) -> tuple[str, ...]:
        return (*COLUMNS, *self.queries.metric_names(record.id))

    def experiments(self, request: Request) -> Any:
        return {"experiments": views.experiment_rows(self.queries)}

    def experiment(self, request: Request) -> Any:
        return views.experiment_info(self.queries, self.record(request))

    def trials(self, request: Request) -> Any:
        record = self.record(request)
        fields = self.fields(record)
        page = self.queries.page(
            record.id,
            sort=_choice(request, "sort", fields, "number"),
            descending=_choice(request, "order", ("asc", "desc"), "asc") == "desc",
            state=_choice(request, "state", _STATES, None),
            metric=_choice(request, "metric", fields, None),
            low=_float(request, "min"),
            high=_float(request, "max"),
            offset=_int(request, "offset", 0, 0, 10**9),
            limit=_int(request, "limit", 50, 1, 500),
        )
        sign = objective_sign(record.spec)
        return {"total": page.total, "trials": [views.trial_json(t, sign) for t in page.rows]}

    def best(self, request: Request) -> Any:
        axis = _choice(request, "x", ("trials", "time"), "trials")
        record = self.record(request)
        return self.cached(
            record, ("best", axis), lambda: views.best_so_far(self.queries, record, axis=axis)
        )

    def histogram(self, request: Request) -> Any:
        bins = _int(request, "bins", 30, 1, 200)
        record = self.record(request)
        return self.cached(
            record, ("histogram", bins), lambda: views.histogram(self.queries, record, bins=bins)
        )

    def scatter(self, request: Request) -> Any:
        record = self.record(request)
        fields = (*self.queries.metric_names(record.id), "score", "cost_s", "fidelity")
        x = _choice(request, "x", fields, None)
        y = _choice(request, "y", fields, None)
        if x is None or y is None:
            raise HTTPException(400, f"x, y: both required; allowed: {', '.join(fields)}")
        return self.cached(
            record, ("scatter", x, y), lambda: views.scatter(self.queries, record, x, y)
        )

    def decisions(self, request: Request) -> Any:
        record = self.record(request)
        found = self.cached(record, ("decisions",), lambda: views.decisions(self.queries, record))
        return {"decisions": found}

    def rules(self, request: Request) -> Any:
        top = _float(request, "top_percent") or 5.0
        if not 0 < top <= 100:
            raise HTTPException(400, f"top_percent: must be in (0, 100], got {top}")
        record = self.record(request)
        return self.cached(
            record, ("rules", top), lambda: views.rules(self.queries, record, top_percent=top)
        )

    def failed(self, request: Request) -> Any:
        record = self.record(request)
        limit = _int(request, "limit", 20, 1, 500)
        page = self.queries.page(record.id, state=str(TrialStatus.FAILED), limit=limit)
        sign = objective_sign(record.spec)
        return {"total": page.total, "trials": [views.trial_json(t, sign) for t in page.rows]}

    def trial(self, request: Request) -> Any:
        record = self.record(request)
        text = request.path_params["number"]
        trial = self.queries.trial(record.id, int(text)) if text.isdigit() else None
        if trial is None:
            raise HTTPException(404, f"no trial {text[:40]!r} in experiment {record.name!r}")
        return views.trial_detail(self.queries, record, trial)

    def compare(self, request: Request) -> Any:
        names = [n for n in request.query_params.get("names", "").split(",") if n]
        if not names:
            raise HTTPException(400, "names: give experiment names separated by commas")
        records = []
        for name in names[:20]:
            record = self.queries.store.find_experiment(name)
            if record is None:
                raise HTTPException(404, f"no experiment named {name[:100]!r}")
            records.append(record)
        return views.compare(self.queries, records)


def _json(handler: Callable[[Request], Any]) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        return JSONResponse(handler(request))

    return endpoint


def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:  # our bug or a database error: logged here, never shown to the client
        _log.exception("dashboard: %s %s failed", request.method, request.url.path)
        status, message = 500, "internal error; see the dashboard's log"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return Response(f"{status}: {message}\n", status_code=status, media_type="text/plain")


def create_app(store: SqlStore) -> Starlette:
    """The dashboard over ``store`` (read-only: GET routes only).

    Example:
        >>> from archsearch.store import SqlStore
        >>> app = create_app(SqlStore("sqlite:///:memory:"))
        >>> sorted({r.path for r in app.routes})[:3]
        ['/', '/api/compare', '/api/experiments']
    """
    api = _Api(store)

    def page(request: Request) -> Response:
        if "name" in request.path_params:
            record = api.record(request)
            number = request.path_params.get("number")
            if number is not None and (
                not number.isdigit() or api.queries.trial(record.id, int(number)) is None
            ):
                raise HTTPException(404, f"no trial {number[:40]!r} in {record.name!r}")
        return FileResponse(STATIC / "index.html")

    prefix = "/api/experiments/{name:str}"
    routes = [
        Route("/", page),
        Route("/compare", page),
        Route("/experiments/{name:str}", page),
        Route("/experiments/{name:str}/trials/{number:str}", page),
        Route("/api/experiments", _json(api.experiments)),
        Route("/api/compare", _json(api.compare)),
        Route(prefix, _json(api.experiment)),
        Route(f"{prefix}/trials", _json(api.trials)),
        Route(f"{prefix}/trials/{{number:str}}", _json(api.trial)),
        Route(f"{prefix}/best", _json(api.best)),
        Route(f"{prefix}/histogram", _json(api.histogram)),
        Route(f"{prefix}/scatter", _json(api.scatter)),
        Route(f"{prefix}/decisions", _json(api.decisions)),
        Route(f"{prefix}/rules", _json(api.rules)),
        Route(f"{prefix}/failed", _json(api.failed)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers: dict[Any, Any] = {HTTPException: _error, Exception: _error}
    return Starlette(routes=routes, exception_handlers=handlers)
