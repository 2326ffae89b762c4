"""Re-running an analysis in the background, with progress a page can poll.

One thread per job (an analysis is a few warehouse queries; the dashboard is a single-team
tool). A job records each step the analysis reports, then the stored analysis or the error,
which is shown as the sentence a user would read, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from assay.errors import AssayError

Step = Callable[[str], None]
Work = Callable[[Step], None]


@dataclass
class Job:
    """One background re-run."""

    job_id: str
    experiment: str
    started: dt.datetime
    steps: list[str] = field(default_factory=list)
    state: str = "running"  # running, done, failed
    error: str | None = None
    finished: dt.datetime | None = None

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished)."""
        end = self.finished or dt.datetime.now(dt.UTC)
        return (end - self.started).total_seconds()

    def to_dict(self) -> dict[str, object]:
        """The job's JSON form."""
        return {"job_id": self.job_id, "experiment": self.experiment, "state": self.state,
                "steps": list(self.steps), "error": self.error,
                "elapsed_s": round(self.elapsed, 2)}


class Jobs:
    """The jobs of one server process."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, experiment: str, work: Work) -> Job:
        """Run ``work(step)`` in a thread; ``step(text)`` records progress."""
        job = Job(secrets.token_hex(8), experiment, dt.datetime.now(dt.UTC))
        with self._lock:
            self._jobs[job.job_id] = job
        threading.Thread(target=self._run, args=(job, work), daemon=True,
                         name=f"assay-rerun-{experiment}").start()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, if this process started it."""
        with self._lock:
            return self._jobs.get(job_id)

    def running(self, experiment: str) -> Job | None:
        """A job still running for ``experiment``."""
        with self._lock:
            return next((j for j in self._jobs.values()
                         if j.experiment == experiment and j.state == "running"), None)

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        try:
            work(job.steps.append)
            job.state = "done"
        except AssayError as err:
            job.state, job.error = "failed", str(err)
        except Exception as err:  # a bug: still a sentence on the page, and the job ends
            job.state, job.error = "failed", f"unexpected error: {type(err).__name__}: {err}"
        finally:
            job.finished = dt.datetime.now(dt.UTC)
