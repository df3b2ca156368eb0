"""Continuous batching over llama.cpp's batch API, in one thread that owns the llama_context.

Every step puts one token of each generating sequence plus chunks of waiting prompts into a single
``llama_decode`` call, then samples each sequence with its own sampler chain. New requests join between
steps; finished or cancelled ones leave their slot at once. A slot keeps the keys/values of its last
tokens after its request ends, so that a later request with the same prefix (system prompt, conversation
so far) starts from there instead of recomputing it; a prefix held by another slot, even a busy one, is
copied over (a memory copy of its keys/values, far cheaper than evaluating the tokens again).

The KV cache is split per sequence (not llama.cpp's unified cache): with a unified cache every sequence
attends over cells padded to the whole batch's extent, and greedy output then depends on which other requests
happen to run alongside (measured: 8 of 8 concurrent answers diverged from the same requests run alone).
With per-sequence caches an answer is the same whatever else is running.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
import time
from dataclasses import dataclass

import llama_cpp

from enclave.config import ModelConfig
from enclave.engines.base import FinishReason
from enclave.engines.llamacpp.constraint import MaskBatch
from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.llamacpp.sequence import Sequence, Slot, common_prefix
from enclave.engines.llamacpp.threadpool import ThreadPool
from enclave.errors import EnclaveError, EngineFailed, EngineOverloaded, ModelUnavailable, ShuttingDown

log = logging.getLogger(__name__)

# Copying a prefix from another slot only pays when it saves real work.
_MIN_COPY_GAIN = 16
_RATE_WINDOW_S = 10.0


@dataclass(slots=True)
class SchedulerStats:
    queue_depth: int = 0
    active_sequences: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    generated_tokens: int = 0
    prefix_lookups: int = 0
    prefix_hits: int = 0
    decode_steps: int = 0
    busy_seconds: float = 0.0
    tokens_per_second: float = 0.0


class BatchScheduler:
    """Owns the llama_context; ``submit`` and ``cancel`` may be called from any thread."""

    def __init__(self, model: LlamaModel, config: ModelConfig, context: int, threads: int) -> None:
        self._model = model
        self._parallel = config.parallel
        self._queue_limit = config.queue
        self._batch_size = config.batch
        self._prefill_chunk = min(config.prefill_chunk, config.batch)
        self.context = context
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context * config.parallel
        params.n_batch = config.batch
        params.n_ubatch = config.batch
        params.n_seq_max = config.parallel
        params.n_threads = threads
        params.n_threads_batch = threads
        params.kv_unified = False  # see the module docstring: batch-invariant answers
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(model.ptr, params)
        if not self._ctx:
            raise ModelUnavailable(f"llama.cpp could not create a context of {params.n_ctx} tokens")
        self._threadpool = ThreadPool(self._ctx, threads)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(config.batch, 0, 1)
        self._slots = [Slot(i) for i in range(config.parallel)]
        self._masks = MaskBatch(config.parallel, model.n_vocab)
        self._waiting: collections.deque[Sequence] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._stats = SchedulerStats()
        self._recent: collections.deque[tuple[float, int]] = collections.deque()
        self._thread = threading.Thread(target=self._run, name=f"engine:{config.name}", daemon=True)
        self._thread.start()

    # --- called from other threads ---------------------------------------------------------------------------

    def submit(self, *sequences: Sequence) -> None:
        """Queue the sequences of one request (its choices): all of them, or none when they do not fit."""
        with self._cond:
            if self._stopping:
                raise ShuttingDown("the engine is shutting down")
            busy = sum(slot.sequence is not None for slot in self._slots)
            if busy + len(self._waiting) + len(sequences) > self._parallel + self._queue_limit:
                raise EngineOverloaded(
                    f"no room for {len(sequences)} more sequence(s): {busy} of {self._parallel} are running and "
                    f"{len(self._waiting)} are waiting",
                    retry_after=1,
                )
            self._waiting.extend(sequences)
            self._cond.notify()

    def cancel(self, sequence: Sequence) -> None:
        sequence.cancelled = True
        with self._cond:
            self._cond.notify()

    def stats(self) -> SchedulerStats:
        with self._cond:
            self._stats.queue_depth = len(self._waiting)
            self._stats.active_sequences = sum(slot.sequence is not None for slot in self._slots)
            now = time.monotonic()
            while self._recent and self._recent[0][0] < now - _RATE_WINDOW_S:
                self._recent.popleft()
            self._stats.tokens_per_second = sum(n for _, n in self._recent) / _RATE_WINDOW_S
            return SchedulerStats(**{f: getattr(self._stats, f) for f in SchedulerStats.__slots__})

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()
        llama_cpp.llama_batch_free(self._batch)
        self._threadpool.close()
        llama_cpp.llama_free(self._ctx)

    # --- the scheduler thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._waiting and not self._has_work():
                    self._cond.wait()
                if self._stopping:
                    break
                self._admit()
            self._release_cancelled()
            if self._has_work():
                started = time.monotonic()
                try:
                    self._step()
                except Exception:
                    # A bug must cost the requests in flight, never the engine thread (and so the server).
                    log.exception("engine step failed; failing the sequences in flight")
                    self._decode_failed(-1, [slot for slot in self._slots if slot.sequence is not None])
                self._stats.busy_seconds += time.monotonic() - started
        self._fail_all(ShuttingDown("the engine shut down before this request finished"))

    def _has_work(self) -> bool:
        return any(slot.sequence is not None for slot in self._slots)

    def _admit(self) -> None:
        """Move waiting requests into free slots, reusing the longest cached prefix available.

        A follower (a further choice of a request) keeps its place in the queue until its leader's prompt is
        evaluated, so that it copies those keys/values rather than computing them again; requests behind it go
        ahead meanwhile.
        """
        deferred: list[Sequence] = []
        while self._waiting:
            free = [slot for slot in self._slots if slot.sequence is None]
            if not free:
                break
            sequence = self._waiting.popleft()
            if sequence.cancelled:
                sequence.close()
                continue
            if sequence.waits_for_leader:
                deferred.append(sequence)
                continue
            self._place(sequence, free)
        self._waiting.extendleft(reversed(deferred))

    def _place(self, sequence: Sequence, free: list[Slot]) -> None:
        prompt = sequence.prompt
        slot = max(free, key=lambda s: (common_prefix(s.tokens, prompt), -s.last_used))
        reuse = common_prefix(slot.tokens, prompt)
        donor = max(self._slots, key=lambda s: common_prefix(s.tokens, prompt))
        donor_reuse = common_prefix(donor.tokens, prompt)
        if donor is not slot and donor_reuse >= reuse + _MIN_COPY_GAIN:
            reuse = donor_reuse if self._copy_cache(donor, slot) else 0
        # The last prompt token is always evaluated again: its logits give the first sampled token.
        reuse = min(reuse, len(prompt) - 1)
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, reuse, -1)
        del slot.tokens[reuse:]
        sequence.cached_tokens = reuse
        sequence.pending = prompt[reuse:]
        slot.sequence = sequence
        self._stats.prompt_tokens += len(prompt)
        self._stats.cached_prompt_tokens += reuse
        self._stats.prefix_lookups += 1
        self._stats.prefix_hits += reuse > 0

    def _copy_cache(self, source: Slot, target: Slot) -> bool:
        """Replace ``target``'s cached keys/values with a copy of ``source``'s; false (and empty) on failure."""
        llama_cpp.llama_memory_seq_rm(self._memory, target.seq_id, 0, -1)
        target.tokens = []
        size = llama_cpp.llama_state_seq_get_size(self._ctx, source.seq_id)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._ctx, buffer, size, source.seq_id)
        if written == 0 or llama_cpp.llama_state_seq_set_data(self._ctx, buffer, written, target.seq_id) == 0:
            log.warning("copying a cached prefix between sequences failed; evaluating the prompt instead")
            llama_cpp.llama_memory_seq_rm(self._memory, target.seq_id, 0, -1)
            return False
        target.tokens = list(source.tokens)
        return True

    def _release_cancelled(self) -> None:
        for slot in self._slots:
            if slot.sequence is not None and slot.sequence.cancelled:
                self._release(slot)

    def _release(self, slot: Slot) -> None:
        assert slot.sequence is not None
        slot.sequence.close()
        slot.sequence = None
        slot.last_used = time.monotonic()

    def _step(self) -> None:
        """One llama_decode over every running sequence, then one sampled token for each that is due."""
        placed: list[tuple[Slot, int]] = []
        n = 0
        # Generating sequences first: each costs one token, and their streams must keep flowing.
        running = [s for s in self._slots if s.sequence is not None]
        running.sort(key=lambda s: (s.sequence.prefilling, s.sequence.submitted_at))  # type: ignore[union-attr]
        for slot in running:
            sequence = slot.sequence
            assert sequence is not None
            budget = self._batch_size - n
            if budget <= 0:
                break
            take = 1 if not sequence.prefilling else min(len(sequence.pending), self._prefill_chunk, budget)
            if take:
                placed.append((slot, take))
                n += take
        self._run_batch(placed)

    def _run_batch(self, placed: list[tuple[Slot, int]]) -> None:
        """Evaluate ``take`` pending tokens of each slot in one llama_decode, then sample those due a token.

        When llama.cpp refuses a batch of several sequences, each is evaluated again on its own, so that only
        the sequence that causes the failure fails.
        """
        batch = self._batch
        n = 0
        outputs: list[tuple[Slot, int]] = []
        for slot, take in placed:
            sequence = slot.sequence
            assert sequence is not None
            position = len(slot.tokens)
            last = take == len(sequence.pending)
            for i in range(take):
                batch.token[n] = sequence.pending[i]
                batch.pos[n] = position + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = slot.seq_id
                batch.logits[n] = last and i == take - 1
                n += 1
            if last:
                outputs.append((slot, n - 1))
        batch.n_tokens = n
        sequences = [slot.sequence for slot, _ in outputs]
        self._masks.fill([s.constraint for s in sequences if s is not None and s.constraint is not None])
        started = time.perf_counter()
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            if len(placed) == 1:
                self._decode_failed(status, [slot for slot, _ in placed])
                return
            log.warning("llama_decode returned %d for %d sequences; evaluating them one by one", status, len(placed))
            for slot, _ in placed:  # drop whatever the refused batch left in the cache
                llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, len(slot.tokens), -1)
            for entry in placed:
                self._run_batch([entry])
            return
        self._stats.decode_steps += 1
        # Each sequence is charged for the step in proportion to the tokens it put in the batch.
        per_token = (time.perf_counter() - started) / max(n, 1)
        for slot, take in placed:
            sequence = slot.sequence
            assert sequence is not None
            sequence.compute_seconds += per_token * take
            slot.tokens.extend(sequence.pending[:take])
            del sequence.pending[:take]
        self._sample(outputs)

    def _sample(self, outputs: list[tuple[Slot, int]]) -> None:
        for slot, index in outputs:
            sequence = slot.sequence
            assert sequence is not None
            # What goes wrong with one sequence (its grammar, its final check, a bug) ends that one only.
            try:
                self._advance(slot, sequence.sample(self._ctx, index))
            except EnclaveError as error:
                self._fail(slot, error)
            except Exception:
                log.exception("sampling a sequence failed; failing that sequence")
                self._fail(slot, EngineFailed("the engine failed while generating this request"))
        self._recent.append((time.monotonic(), len(outputs)))

    def _advance(self, slot: Slot, token: int) -> None:
        """Take one sampled token: finish the sequence or queue the token for the next step."""
        sequence = slot.sequence
        assert sequence is not None
        self._stats.generated_tokens += 1
        if not sequence.ignore_eos and self._model.is_end_of_generation(token):
            self._finish(slot, "stop")
            return
        sequence.generated += 1
        sequence.feed(self._model.piece(token))
        # A grammar that allows nothing more ends the answer now, without a step to sample the end token.
        if sequence.stops.stopped or (sequence.constraint is not None and sequence.constraint.complete):
            self._finish(slot, "stop")
        elif sequence.generated >= sequence.max_tokens or len(slot.tokens) + 1 > self.context:
            self._finish(slot, "length")
        else:
            sequence.pending.append(token)

    def _finish(self, slot: Slot, reason: FinishReason) -> None:
        assert slot.sequence is not None
        slot.sequence.finish(reason)
        self._release(slot)

    def _fail(self, slot: Slot, error: EnclaveError) -> None:
        sequence = slot.sequence
        if sequence is not None:
            sequence.fail(error)
            self._release(slot)

    def _decode_failed(self, status: int, slots: list[Slot]) -> None:
        log.error("llama_decode returned %d for a batch of %d sequences", status, len(slots))
        for slot in slots:
            assert slot.sequence is not None
            slot.sequence.fail(EngineFailed(f"the engine failed to evaluate this request (llama_decode {status})"))
            self._release(slot)
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, 0, -1)
            slot.tokens.clear()

    def _fail_all(self, error: ShuttingDown) -> None:
        for slot in self._slots:
            if slot.sequence is not None:
                slot.sequence.fail(error)
                self._release(slot)
        while self._waiting:
            sequence = self._waiting.popleft()
            sequence.fail(error)
            sequence.close()
