"""Embedding batches over llama.cpp, in one thread that owns the llama_context.

Waiting inputs, of one request or of many, are packed in arrival order into a single ``llama_batch``, each input
its own sequence id with positions from 0, and evaluated by one call; llama.cpp's attention mask keeps every
sequence to its own tokens and its pooling gives one vector per sequence id. Each vector is written to its
request's row for that input, so results come back in input order whatever batches the inputs shared.

An encoder (BERT) evaluates a batch in one piece: a batch never holds more tokens than the context's ubatch, and
an input never exceeds the window, which the ubatch is at least, so any input fits a batch of its own.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp
import numpy as np

from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.llamacpp.threadpool import ThreadPool
from enclave.errors import EnclaveError, EngineFailed, EngineOverloaded, ModelUnavailable, ShuttingDown

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class EmbeddingJob:
    """One request's inputs (token ids, special tokens included). ``done`` is called exactly once, on the
    batcher thread, when every vector is in ``vectors`` or when ``error`` is set."""

    inputs: list[list[int]]
    vectors: np.ndarray
    done: Callable[[EmbeddingJob], None]
    placed: int = 0  # inputs already put in a batch, in order
    finished: int = 0
    compute_seconds: float = 0.0
    cancelled: bool = False
    error: EnclaveError | None = None
    delivered: bool = field(default=False, repr=False)


@dataclass(slots=True)
class EmbeddingStats:
    queued_inputs: int = 0
    inputs: int = 0
    tokens: int = 0
    batches: int = 0
    busy_seconds: float = 0.0


class EmbeddingBatcher:
    """Owns the llama_context; ``submit`` and ``cancel`` may be called from any thread."""

    def __init__(
        self, model: LlamaModel, *, name: str, batch_tokens: int, sequences: int, queue_inputs: int, threads: int
    ) -> None:
        self._batch_tokens = batch_tokens
        self._sequences = sequences
        self._queue_inputs = queue_inputs
        self.dimensions = int(llama_cpp.llama_model_n_embd_out(model.ptr))
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = batch_tokens
        params.n_batch = batch_tokens
        params.n_ubatch = batch_tokens  # an encoder cannot split a batch: all of it in one ubatch
        params.n_seq_max = sequences
        params.n_threads = threads
        params.n_threads_batch = threads
        params.embeddings = True
        # An encoder keeps no keys/values; for a decoder one shared pool is enough, as it is cleared every batch.
        params.kv_unified = True
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(model.ptr, params)
        if not self._ctx:
            raise ModelUnavailable(f"llama.cpp could not create an embedding context for {name}")
        self.pooling = int(llama_cpp.llama_pooling_type(self._ctx))
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._threadpool = ThreadPool(self._ctx, threads)
        self._batch = llama_cpp.llama_batch_init(batch_tokens, 0, 1)
        self._waiting: collections.deque[EmbeddingJob] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._stats = EmbeddingStats()
        self._thread = threading.Thread(target=self._run, name=f"embedder:{name}", daemon=True)
        self._thread.start()

    # --- called from other threads ---------------------------------------------------------------------------

    def submit(self, job: EmbeddingJob) -> None:
        if max(map(len, job.inputs)) > self._batch_tokens:
            # The embedder refuses inputs beyond the window, which a batch always holds: this is a bug.
            raise ValueError("an input longer than the batch would never be evaluated")
        with self._cond:
            if self._stopping:
                raise ShuttingDown("the engine is shutting down")
            queued = self._queued()
            # A request alone is always taken, however many inputs it has (the API bounds that).
            if queued and queued + len(job.inputs) > self._queue_inputs:
                raise EngineOverloaded(
                    f"no room for {len(job.inputs)} more input(s): {queued} are waiting to be embedded", retry_after=1
                )
            self._waiting.append(job)
            self._cond.notify()

    def cancel(self, job: EmbeddingJob) -> None:
        """The caller went away: its inputs not yet in a batch are skipped."""
        job.cancelled = True

    def stats(self) -> EmbeddingStats:
        with self._cond:
            self._stats.queued_inputs = self._queued()
            return EmbeddingStats(**{name: getattr(self._stats, name) for name in EmbeddingStats.__slots__})

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()
        llama_cpp.llama_batch_free(self._batch)
        self._threadpool.close()
        llama_cpp.llama_free(self._ctx)

    def _queued(self) -> int:
        return sum(len(job.inputs) - job.placed for job in self._waiting)

    # --- the batcher thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._waiting:
                    self._cond.wait()
                if self._stopping:
                    break
                placed = self._take()
            if placed:
                try:
                    self._evaluate(placed)
                except Exception:
                    # A bug must cost the requests in this batch, never the engine thread (and so the server).
                    log.exception("embedding batch failed; failing its requests")
                    self._fail({job for job, _ in placed}, EngineFailed("the engine failed to embed this request"))
        with self._cond:
            waiting, self._waiting = list(self._waiting), collections.deque()
        self._fail(set(waiting), ShuttingDown("the engine shut down before this request finished"))

    def _take(self) -> list[tuple[EmbeddingJob, int]]:
        """Inputs for the next batch, oldest request first, each request's inputs in order."""
        placed: list[tuple[EmbeddingJob, int]] = []
        tokens = 0
        for job in self._waiting:
            while not job.cancelled and job.placed < len(job.inputs) and len(placed) < self._sequences:
                size = len(job.inputs[job.placed])
                if tokens + size > self._batch_tokens:
                    break
                placed.append((job, job.placed))
                job.placed += 1
                tokens += size
        # Requests fully placed (or abandoned) leave the queue; the batch holds what is left of them.
        self._waiting = collections.deque(j for j in self._waiting if not j.cancelled and j.placed < len(j.inputs))
        return placed

    def _evaluate(self, placed: list[tuple[EmbeddingJob, int]]) -> None:
        batch = self._batch
        n = 0
        for seq_id, (job, index) in enumerate(placed):
            for position, token in enumerate(job.inputs[index]):
                batch.token[n] = token
                batch.pos[n] = position
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = seq_id
                batch.logits[n] = True
                n += 1
        batch.n_tokens = n
        started = time.perf_counter()
        if self._memory:
            llama_cpp.llama_memory_clear(self._memory, True)
            status = llama_cpp.llama_decode(self._ctx, batch)
        else:
            status = llama_cpp.llama_encode(self._ctx, batch)
        if status != 0:
            log.error("llama.cpp returned %d for an embedding batch of %d inputs", status, len(placed))
            self._fail({job for job, _ in placed}, EngineFailed(f"the engine failed to embed this request ({status})"))
            return
        elapsed = time.perf_counter() - started
        per_token = elapsed / max(n, 1)
        # Counted before any request hears back, so that its caller sees its own batch in the stats.
        self._stats.busy_seconds += elapsed
        self._stats.batches += 1
        self._stats.inputs += len(placed)
        self._stats.tokens += n
        for seq_id, (job, index) in enumerate(placed):
            pointer = llama_cpp.llama_get_embeddings_seq(self._ctx, seq_id)
            if not pointer:
                self._fail({job}, EngineFailed("the engine returned no vector for this request"))
                continue
            vector = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), (self.dimensions,))
            # L2-normalised as sentence-transformers' Normalize module does (and OpenAI's vectors are).
            job.vectors[index] = vector / max(float(np.linalg.norm(vector)), 1e-12)
            job.compute_seconds += per_token * len(job.inputs[index])
            job.finished += 1
            if job.finished == len(job.inputs):
                self._deliver(job)

    def _fail(self, jobs: set[EmbeddingJob], error: EnclaveError) -> None:
        for job in jobs:
            job.cancelled = True  # what is left of it is not evaluated
            job.error = error
            self._deliver(job)

    def _deliver(self, job: EmbeddingJob) -> None:
        if not job.delivered:
            job.delivered = True
            job.done(job)
