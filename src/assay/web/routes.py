"""The dashboard's routes: pages, their JSON twins, and the two writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from assay.report.page import rows
from assay.web import writes

if TYPE_CHECKING:
    from assay.web.app import AppState


def register(app: FastAPI, state: AppState) -> None:
    """Add every route to ``app``."""
    catalog = state.catalog

    @app.get("/", response_class=HTMLResponse)
    def experiments(request: Request, status: str | None = None) -> Response:
        summaries = catalog.summaries()
        statuses = list(catalog.statuses)
        shown = [s for s in summaries if status is None or s.status == status]
        return state.render(request, "list.html.j2", summaries=shown, statuses=statuses,
                            status=status)

    @app.get("/api/experiments")
    def experiments_json(status: str | None = None) -> JSONResponse:
        return state.json([s.__dict__ for s in catalog.summaries()
                           if status is None or s.status == status])

    @app.get("/experiments/{experiment_id}", response_class=HTMLResponse)
    def experiment(request: Request, experiment_id: str) -> Response:
        page = catalog.page(experiment_id)
        if page is None:
            return state.error(request, 404, "No such experiment",
                               f"Neither the project nor the store knows {experiment_id!r}.")
        return state.render(request, "experiment_page.html.j2", page=page,
                            decision_kinds=writes.DECISION_KINDS,
                            variants=catalog.variants(experiment_id))

    @app.get("/api/experiments/{experiment_id}")
    def experiment_json(experiment_id: str) -> JSONResponse:
        looks = catalog.analyses(experiment_id)
        if not looks and experiment_id not in catalog.project.experiments:
            return state.json({"error": f"unknown experiment {experiment_id!r}"}, 404)
        return state.json({
            "experiment": experiment_id,
            "latest": looks[-1].to_dict() if looks else None,
            "analyses": [{"run_at": r.run_at, "units": r.units} for r in looks],
            "decisions": catalog.decisions(experiment_id),
        })

    @app.get("/metrics/{name}", response_class=HTMLResponse)
    def metric(request: Request, name: str) -> Response:
        spec = catalog.project.metrics.get(name)
        if spec is None:
            return state.error(request, 404, "No such metric",
                               f"The project defines no metric {name!r}.")
        effects = catalog.effects(name)
        shown = list(zip([e.experiment_id for e in effects],
                         rows([e.result for e in effects]), strict=True))
        return state.render(request, "metric.html.j2", metric=spec,
                            definition=catalog.definition(name), used_by=catalog.used_by(name),
                            rows=shown)

    @app.post("/experiments/{experiment_id}/decisions")
    async def decide(request: Request, experiment_id: str) -> Response:
        refused = await _refuse(request, state)
        if isinstance(refused, Response):
            return refused
        problem = writes.record_decision(catalog, experiment_id, refused)
        if problem is not None:
            return state.error(request, 400, "Decision not recorded", problem)
        return state.redirect(f"/experiments/{experiment_id}")

    @app.post("/experiments/{experiment_id}/analyses")
    async def rerun(request: Request, experiment_id: str) -> Response:
        refused = await _refuse(request, state)
        if isinstance(refused, Response):
            return refused
        if experiment_id not in catalog.project.experiments:
            return state.error(request, 404, "No such experiment",
                               f"The project has no spec for {experiment_id!r} to re-run.")
        job = state.jobs.running(experiment_id) or state.jobs.start(
            experiment_id, lambda step: writes.rerun(catalog, experiment_id, step))
        return state.redirect(f"/jobs/{job.job_id}")

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job(request: Request, job_id: str) -> Response:
        found = state.jobs.get(job_id)
        if found is None:
            return state.error(request, 404, "No such job", "This server started no such job.")
        return state.render(request, "job.html.j2", job=found)

    @app.get("/api/jobs/{job_id}")
    def job_json(job_id: str) -> JSONResponse:
        found = state.jobs.get(job_id)
        if found is None:
            return state.json({"error": "unknown job"}, 404)
        return state.json(found.to_dict())


async def _refuse(request: Request, state: AppState) -> Response | dict[str, str]:
    """The form of an allowed write, or the response that refuses it."""
    if state.read_only:
        return state.error(request, 403, "Read-only",
                           "This dashboard was started with --read-only: nothing can be changed.")
    form = await state.form(request)
    if form is None:
        return state.error(request, 403, "Refused",
                           "The form's security token is missing or stale: reload the page "
                           "and try again.")
    return form
