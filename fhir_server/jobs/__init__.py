"""Background jobs: a durable queue in the database and the worker that runs them."""

from fhir_server.jobs.queue import DONE, FAILED, QUEUED, RUNNING, Job, JobQueue
from fhir_server.jobs.worker import Handler, PermanentJobError, Worker

__all__ = ["Job", "JobQueue", "Worker", "Handler", "PermanentJobError", "QUEUED", "RUNNING", "DONE", "FAILED"]
