"""The BLAS thread arbiter behind ``_threads.blas_limit``.

BLAS's thread count is process-wide state, set through threadpoolctl, so
one object decides it for every fit and prediction: the first block to come
sets it (threadpoolctl remembers the process's setting), blocks asking for
the same count share it, blocks asking for another wait, and the last to
leave restores the process's setting.  Inside a block the same thread
passes through (a fit's validation scores are predictions) and keeps the
count it holds.

Compiled, and with Ctrl-C held back while it runs, so that an interrupt
cannot cut the bookkeeping in half: a counted block that never leaves would
keep BLAS at one thread for the rest of the process and make every block
asking for another count wait forever.  Compiled code raises no
``KeyboardInterrupt`` of its own; the Python it calls (threading's
condition, threadpoolctl) runs while SIGINT's handler only takes note, and
the noted Ctrl-C is delivered again (``_thread.interrupt_main``) once the
state is whole: inside the ``with`` block on entry, after it on exit.
"""

import _thread
import signal
import threading

from threadpoolctl import ThreadpoolController

# KeyboardInterrupt is only ever raised in the main thread.
cdef object _MAIN = threading.main_thread().ident

# Set by _note while a Ctrl-C is held back (one holder at a time: the main
# thread, outside any other block).
cdef bint _noted = False


def _note(signum, frame):
    global _noted
    _noted = True


cdef class _HeldInterrupts:
    """SIGINT's handler replaced by `_note` between `hold` and `release`
    (in the main thread, where the handler is Python's)."""

    cdef object previous
    cdef bint holding
    cdef bint redeliver

    cdef hold(self, bint must):
        """Start holding Ctrl-C back.  A Ctrl-C already pending is raised
        by signal.signal before it installs the handler; with `must` (the
        block's exit, which has to run) it is noted instead."""
        global _noted
        self.holding = self.redeliver = False
        if _thread.get_ident() != _MAIN or not callable(signal.getsignal(signal.SIGINT)):
            return
        try:
            self.previous = signal.signal(signal.SIGINT, _note)
        except KeyboardInterrupt:
            if not must:
                raise
            self.redeliver = True
            self.previous = signal.signal(signal.SIGINT, _note)
        _noted = False
        self.holding = True

    cdef bint noted(self):
        return self.holding and _noted

    cdef void forget(self):
        """A noted Ctrl-C that the caller raises itself."""
        global _noted
        _noted = False

    cdef release(self):
        """Restore the handler, and deliver a Ctrl-C held back."""
        global _noted
        if not self.holding:
            return
        self.holding = False
        # a pending signal runs `_note` here, before the handler goes back
        signal.signal(signal.SIGINT, self.previous)
        self.previous = None
        if _noted or self.redeliver:
            _noted = False
            _thread.interrupt_main()


cdef class _Block:
    """One ``with blas_limit(n):`` block."""

    cdef BlasLimit owner
    cdef object n_threads
    cdef bint counted

    def __cinit__(self, BlasLimit owner, n_threads):
        self.owner = owner
        self.n_threads = n_threads

    def __enter__(self):
        self.owner._enter(self)

    def __exit__(self, *exc_info):
        self.owner._exit(self)
        return False


cdef class BlasLimit:
    """``with blas_limit(n):`` BLAS runs on n threads inside the block."""

    cdef object _cond
    cdef object _local
    cdef object _controller
    cdef object _limiter
    cdef object _value
    cdef Py_ssize_t _holders

    def __cinit__(self):
        self._cond = threading.Condition()
        self._local = threading.local()

    def __call__(self, n_threads):
        return _Block(self, n_threads)

    def run(self, n_threads, func, *args):
        """``func(*args)`` with BLAS on `n_threads`.  As ``with
        self(n_threads): func(*args)``, but with no Python line between the
        call's end and the block's exit, where a Ctrl-C would skip the
        exit: Python's ``with`` runs a line event there."""
        cdef _Block block = _Block(self, n_threads)
        self._enter(block)
        try:
            return func(*args)
        finally:
            self._exit(block)

    @property
    def holders(self):
        """Blocks inside, for tests."""
        return self._holders

    cdef _enter(self, _Block block):
        if getattr(self._local, "held", False):
            return   # this thread already holds a count
        cdef _HeldInterrupts held = _HeldInterrupts()
        held.hold(False)
        try:
            self._cond.acquire()
            try:
                while self._holders and self._value != block.n_threads:
                    # another count holds BLAS; a Ctrl-C ends the wait
                    self._cond.wait(0.02)
                    if held.noted():
                        held.forget()
                        raise KeyboardInterrupt
                if not self._holders:
                    if self._controller is None:
                        # A scan of the loaded libraries costs 4 ms, a tenth
                        # of a small fit; SciPy's BLAS, the one that matters,
                        # is loaded by now (bench/DECISIONS.md D7).
                        self._controller = ThreadpoolController()
                    self._limiter = self._controller.limit(
                        limits=block.n_threads, user_api="blas")
                    self._value = block.n_threads
                self._holders += 1
                self._local.held = True
                block.counted = True
            finally:
                self._cond.release()
        finally:
            held.release()

    cdef _exit(self, _Block block):
        if not block.counted:
            return
        cdef _HeldInterrupts held = _HeldInterrupts()
        held.hold(True)
        try:
            self._cond.acquire()
            try:
                block.counted = False
                self._local.held = False
                self._holders -= 1
                if not self._holders:
                    limiter, self._limiter, self._value = self._limiter, None, None
                    self._cond.notify_all()
                    limiter.restore_original_limits()
            finally:
                self._cond.release()
        finally:
            held.release()
