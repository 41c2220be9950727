"""Flush-to-zero for the training loop (`train.flush_denormals`: auto (the default), true, false).

Adam's first moment for inputs that are almost always zero (MNIST's border pixels) decays by
beta_1 = 0.9 per step into float32 denormals (|x| < 1.2e-38); the CPU computes on those 2-3x
slower, and after an epoch a few percent of the moments are denormal. The x86 MXCSR register's
flush-to-zero (FTZ, bit 15) and denormals-are-zero (DAZ, bit 6) bits make such values exact
zeros instead, which is what `torch.set_flush_denormal(True)` does and what TensorFlow (hence
Keras) and XLA/JAX do for every CPU kernel they run. Results change slightly (values below
1.2e-38 become 0): `flush_denormals: false` computes with denormals, as numpy and PyTorch do.
`auto` (the default) flushes where the platform allows and says nothing elsewhere; `true`
notes when it cannot.

The mode belongs to the thread that sets it: it covers numpy's element-wise work in the
training thread (the optimizer update, activations, losses), not the BLAS worker threads.
It needs x86-64 Linux (glibc or musl `fenv_t`, set through ctypes); elsewhere training runs
unchanged (with a note when `true` was asked for).
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import platform
import sys
from typing import Iterator

import numpy as np

FTZ_DAZ = 0x8040  # MXCSR bits: flush-to-zero (1 << 15) | denormals-are-zero (1 << 6)


class _Fenv(ctypes.Structure):
    """x86-64 Linux `fenv_t`: the 28-byte x87 environment, then MXCSR."""

    _fields_ = [("x87", ctypes.c_uint16 * 14), ("mxcsr", ctypes.c_uint32)]


@functools.lru_cache(maxsize=None)
def _libm():
    if not (sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")):
        return None
    try:
        try:  # glibc's soname first: find_library runs `ldconfig -p` in a subprocess, in every fit
            lib = ctypes.CDLL("libm.so.6")
        except OSError:
            from ctypes.util import find_library

            lib = ctypes.CDLL(find_library("m") or "libm.so.6")
        lib.fegetenv, lib.fesetenv  # noqa: B018 - both must exist
    except (OSError, AttributeError):
        return None
    return lib


def _get() -> _Fenv | None:
    lib, env = _libm(), _Fenv()
    if lib is None or lib.fegetenv(ctypes.byref(env)) != 0:
        return None
    return env


def _set(env: _Fenv) -> bool:
    return _libm().fesetenv(ctypes.byref(env)) == 0


def _flushes() -> bool:
    """Whether float32 denormals currently become zero in this thread (a 1e-40 times 1)."""
    tiny = np.array([1e-40], dtype=np.float32)
    return bool(np.multiply(tiny, np.float32(1.0))[0] == 0.0)


def available() -> bool:
    """Whether this platform can switch flush-to-zero on (x86-64 Linux)."""
    return _get() is not None


def enable() -> _Fenv | None:
    """Switch FTZ/DAZ on in this thread; returns the previous environment (for `restore`),
    or None when the platform cannot (nothing changed)."""
    old = _get()
    if old is None:
        return None
    env = _Fenv.from_buffer_copy(old)
    env.mxcsr |= FTZ_DAZ
    if not _set(env) or not _flushes():
        _set(old)
        return None
    return old


def restore(old: _Fenv | None) -> None:
    """Put back the environment `enable` returned (None: nothing to do)."""
    if old is not None:
        _set(old)


@contextlib.contextmanager
def flush_denormals(enabled: bool | str = True) -> Iterator[bool]:
    """`with flush_denormals(on) as active:` FTZ/DAZ inside the block when `on` (true or "auto")
    and the platform allows (`active` says which); the previous mode is restored on exit."""
    old = enable() if enabled else None
    try:
        yield old is not None
    finally:
        restore(old)
