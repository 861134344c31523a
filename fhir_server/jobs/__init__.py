"""Background jobs: a durable queue in the database and the worker that runs them."""

from fhir_server.jobs.queue import DONE, FAILED, QUEUED, RUNNING, Job, JobQueue
from fhir_server.jobs.wakeup import Wakeups
from fhir_server.jobs.worker import BatchHandler, Handler, PermanentJobError, PreparingHandler, Worker

__all__ = ["Job", "JobQueue", "Worker", "Handler", "PreparingHandler", "BatchHandler", "PermanentJobError", "Wakeups",
           "QUEUED", "RUNNING", "DONE", "FAILED"]
