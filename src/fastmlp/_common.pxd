# Types shared by the engine's modules: the network's layout, the thread
# plan, the workspace and the training state, each one concern, as plain
# structs that nogil code reads.  The Engine (_engine.pyx) fills them and
# owns every buffer they point to; a `Pass` bundles pointers to them for
# the functions that walk the whole network.

from libc.stdint cimport int32_t, uint64_t

from ._kernels cimport fm_rows

ctypedef Py_ssize_t intp

cdef enum:
    ROW_BLOCK = 16         # rows per block in row-wise kernels
    ELEM_BLOCK = 16384     # elements per block in flat kernels
    PARALLEL_MIN = 32768   # below this many elements a kernel runs on one thread
    COL_BLOCK = 64         # columns per block in column sums and BN
    SS_BLOCK = 2048        # elements per partial sum of the optimiser step
    GEMV_MAX_ROWS = 4      # predictions of up to this many rows use vecmat


cdef struct Layout:
    # The network's shape and components (read-only).
    intp n_layers            # weight layers L (scikit-learn's n_layers_ - 1)
    const intp *sizes        # L + 1 widths, input first
    const intp *w_off        # L offsets of the weight matrices in theta
    const intp *b_off        # L offsets of the biases (BN's beta on hidden layers)
    const intp *g_off        # L - 1 offsets of BN's gamma, or NULL without BN
    const int *act           # L - 1 hidden activations (FM_ACT_*)
    const double *act_param  # L - 1 activation parameters (slope, alpha)
    int out                  # output layer and loss (FM_OUT_*)
    const intp *groups       # widths of the output's groups of columns (one
    intp n_groups            #   softmax per task), or 0 groups: one group
    intp max_width           # widest layer but the input
    intp n_hidden            # hidden units in all
    bint bn                  # batch normalisation on every hidden layer
    double bn_eps
    const double *running    # BN: n_hidden running means, then n_hidden variances


cdef struct Threads:
    # How a call uses threads.
    int n                    # OpenMP threads of the engine's loops
    int vec                  # threads of the few-sample products (prediction)
    bint split_gemm          # GEMMs cut into blocks over OpenMP threads
    int split_parts          # blocks of a split GEMM


cdef struct Workspace:
    # The buffers of a pass: `work` (the training dtype) with these offsets,
    # and `dwork` (double).
    intp capacity            # rows of a batch
    void *work
    const intp *act          # L: each layer's output (then its delta)
    const intp *pre          # L - 1: a hidden activation's input, kept when
                             #   its derivative needs it (-1: not kept)
    intp xhat                # BN's normalised values, (capacity, n_hidden)
    intp mask                # dropout factors, (capacity, n_hidden)
    intp scratch             # (capacity, max_width)
    intp inputs, targets, weights   # a gathered minibatch
    intp scale               # BN at inference: scale, then shift (max_width each)
    double *colsum           # max_width: column sums (bias gradients)
    double *bn_mean          # n_hidden batch means, then n_hidden inverse stds
    double *partial          # per-block partial sums


cdef struct Training:
    # What training adds to a pass.
    double bn_momentum
    bint update_stats        # move the running statistics towards the batch's
    double *running          # the Layout's running statistics, writable
    const double *dropout    # L - 1 rates, or NULL
    double input_noise
    uint64_t seed            # random numbers keyed by (seed, epoch, batch)
    uint64_t epoch
    uint64_t batch
    double *prof             # seconds per phase (PROF_*), or NULL


cdef struct SparseBatch:
    # A minibatch as its nonzeros, for the first layer: x points to the
    # gathered copy (start, nnz, cols, vals) or into a CSR matrix's arrays.
    # The weight gradient's scratch: the features cut into `parts` runs
    # split[0..parts], each listing its nonzeros in colptr (from
    # split[p] + p) and in rowidx, cvals (from part_off[p]).
    fm_rows x
    intp *start
    intp *nnz
    int32_t *cols
    void *vals               # the training dtype
    int parts
    const intp *split
    const intp *part_off
    intp *colptr
    int32_t *rowidx
    void *cvals              # the training dtype


cdef struct Pass:
    # One walk through the network: prediction has tr == NULL.
    const Layout *lay
    const Threads *th
    const Workspace *ws
    Training *tr
    const SparseBatch *sparse   # the first layer's nonzeros, or NULL


cdef struct Batch:
    # A minibatch: rows of inputs x, targets y and sample weights sw (NULL:
    # all 1), in the training dtype; the gradient is scaled by `scale`.
    # dx (rows x n_in, or NULL) receives the gradient with respect to x.
    const void *x
    const void *y
    const void *sw
    intp rows
    double scale
    void *dx


# Phases of a training step, timed when the Training has a profile array.
cdef enum:
    PROF_GATHER = 0        # minibatch rows gathered, input noise
    PROF_FWD_GEMM = 1      # forward GEMMs
    PROF_FWD_ELEM = 2      # bias + activation, batch norm, dropout
    PROF_LOSS = 3          # output layer, loss and output delta
    PROF_GRAD_GEMM = 4     # weight gradients A^T delta
    PROF_DELTA_GEMM = 5    # back-propagated deltas delta W^T
    PROF_BWD_ELEM = 6      # bias gradients, activation derivatives, BN backward, L2
    PROF_STEP = 7          # optimiser update
    PROF_N = 8             # slot PROF_N holds the time of the last mark


cdef inline int threads_for(const Threads *th, intp n_elements) noexcept nogil:
    """The engine's threads for a loop over n_elements: one below PARALLEL_MIN."""
    return th.n if n_elements >= PARALLEL_MIN else 1


cdef inline intp hidden_offset(const Layout *lay, intp layer) noexcept nogil:
    """Offset of hidden layer `layer` in vectors of all hidden units."""
    cdef intp l, off = 0
    for l in range(layer):
        off += lay.sizes[l + 1]
    return off


# Signals (Ctrl-C) during the engine's nogil loops: every CHECK_SECONDS a
# loop takes the GIL for PyErr_CheckSignals, which runs Python's handlers
# (in the main thread) and leaves their exception set; raise_pending then
# propagates it once the loop has left its state whole.
cdef enum:
    CHECK_MICROSECONDS = 5000

cdef extern from "Python.h":
    int check_signals "PyErr_CheckSignals" ()


cdef inline int raise_pending() except -1:
    """Propagate the exception that check_signals left set."""
    return -1
