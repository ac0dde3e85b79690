"""Experiments and their execution: records, the queue, and worker processes. No Qt here."""

from __future__ import annotations

from dnnstudio.runs.messages import Failed, Finished, Job, Message, Progress, Snapshot, Started
from dnnstudio.runs.pool import WORKER_ENVIRONMENT, WorkerPool, death_reason
from dnnstudio.runs.queue import (
    INTERRUPTED_MESSAGE,
    Executor,
    ExperimentQueue,
    OrderChanged,
    ParametersSnapshot,
    ProgressAppended,
    QueueError,
    QueueEvent,
    QueueLoaded,
    QueueSettingsChanged,
    RecordAdded,
    RecordChanged,
    RecordRemoved,
)
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.runs.worker import failure_reason, worker_main

__all__ = [
    "TestEvaluation",
    "INTERRUPTED_MESSAGE",
    "WORKER_ENVIRONMENT",
    "Executor",
    "ExperimentQueue",
    "ExperimentRecord",
    "ExperimentState",
    "Failed",
    "Finished",
    "Job",
    "Message",
    "OrderChanged",
    "ParametersSnapshot",
    "Progress",
    "ProgressAppended",
    "QueueError",
    "QueueEvent",
    "QueueLoaded",
    "QueueSettingsChanged",
    "RecordAdded",
    "RecordChanged",
    "RecordRemoved",
    "Snapshot",
    "Started",
    "WorkerPool",
    "death_reason",
    "failure_reason",
    "worker_main",
]
