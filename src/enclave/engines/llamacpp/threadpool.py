"""A persistent llama.cpp CPU threadpool for a context, as llama.cpp's own server attaches.

Without one, ggml creates and joins a throwaway pool of worker threads inside every ``llama_decode`` call,
and its workers cannot spin-wait between graph nodes. llama-cpp-python does not bind these functions
(``llama_attach_threadpool`` is a TODO there), so they are declared here against the libraries it ships.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import llama_cpp

log = logging.getLogger(__name__)

_MAX_THREADS = 512  # GGML_MAX_N_THREADS
_LIB_DIR = Path(llama_cpp.__file__).parent / "lib"


class _Params(ctypes.Structure):
    _fields_ = [
        ("cpumask", ctypes.c_bool * _MAX_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    ]


def _bind() -> tuple[ctypes.CDLL, ctypes.CDLL] | None:
    try:
        base = ctypes.CDLL(str(_LIB_DIR / "libggml-base.so"))
        cpu = ctypes.CDLL(str(_LIB_DIR / "libggml-cpu.so"))
    except OSError:
        return None
    base.ggml_threadpool_params_init.argtypes = [ctypes.POINTER(_Params), ctypes.c_int]
    base.ggml_threadpool_params_init.restype = None
    cpu.ggml_threadpool_new.argtypes = [ctypes.POINTER(_Params)]
    cpu.ggml_threadpool_new.restype = ctypes.c_void_p
    cpu.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
    cpu.ggml_threadpool_free.restype = None
    llama_cpp.llama_cpp._lib.llama_attach_threadpool.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    llama_cpp.llama_cpp._lib.llama_attach_threadpool.restype = None
    llama_cpp.llama_cpp._lib.llama_detach_threadpool.argtypes = [ctypes.c_void_p]
    llama_cpp.llama_cpp._lib.llama_detach_threadpool.restype = None
    return base, cpu


class ThreadPool:
    """Attached to one context for its lifetime; ``close`` detaches and frees it."""

    def __init__(self, ctx: llama_cpp.llama_context_p, threads: int) -> None:
        self._ctx = ctx
        self._pool: int | None = None
        libs = _bind()
        if libs is None:
            log.warning("llama.cpp threadpool functions not found; decoding uses a pool per call")
            return
        base, self._cpu = libs
        params = _Params()
        base.ggml_threadpool_params_init(ctypes.byref(params), threads)
        self._pool = self._cpu.ggml_threadpool_new(ctypes.byref(params))
        if not self._pool:
            self._pool = None
            return
        llama_cpp.llama_cpp._lib.llama_attach_threadpool(ctx, self._pool, self._pool)

    def close(self) -> None:
        if self._pool is not None:
            llama_cpp.llama_cpp._lib.llama_detach_threadpool(self._ctx)
            self._cpu.ggml_threadpool_free(self._pool)
            self._pool = None
