"""``linear``: standardised features, then
- classes: LogisticRegression, C tuned by grouped K-fold CV (balanced accuracy) on train+val;
- regression: ridge regression, alpha chosen on a log grid by the same grouped folds (what
  RidgeCV(alphas, cv=folds) does, solved for all alphas from one eigendecomposition per fold), on a
  standardised target (predictions are mapped back to the target's unit).
Groups (e.g. a falling clip and its time-reversed twin) never straddle a fold.

Speed: with fewer clips than feature dimensions, the standardised features are rotated onto
the row space of the train+val matrix (from its Gram matrix) before fitting. An L2-penalised linear model
is invariant under that rotation and its weights lie in that row space, so the fit, the CV
and the predictions are the same as in the full space, at a fraction of the cost.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from evaluate.probes.base import PROBES, VALIDATION_SCORE, Probe, ProbeFit, check_target, grouped_folds
from evaluate.probes.rows import Rows, as_rows

C_GRID = np.logspace(-3, 3, 7)
ALPHA_GRID = np.logspace(-2, 6, 17)
LBFGS_QUICK_ITER = 100
# Newton-Cholesky holds its (coefficients × coefficients) float64 Hessian, about dims × (1 for two classes,
# else one per class) coefficients: 32 MiB is a binary target's 2,048 dims (the limit before), 4 classes' 512.
NEWTON_MAX_HESSIAN_BYTES = 32 << 20


def newton_fits(n_classes: int, dims: int) -> bool:
    """Whether a Newton-Cholesky logistic fit of ``n_classes`` on ``dims`` features keeps its Hessian within
    NEWTON_MAX_HESSIAN_BYTES. Its time grows with the cube of the coefficients and its memory with their
    square: four classes on a fold of 1,360 clips (a 2,000-clip dataset) would need a 237 MiB Hessian
    and minutes a fit, so past the budget L-BFGS goes on instead."""
    coefficients = dims * (1 if n_classes <= 2 else n_classes)
    return 8 * coefficients ** 2 <= NEWTON_MAX_HESSIAN_BYTES


_PREPARED: OrderedDict[bytes, tuple[np.ndarray, np.ndarray, dict]] = OrderedDict()
_PREPARED_MAX = 1  # the runner probes every target of one feature matrix before it loads the next


def standardise_and_rotate(x_train: Rows | np.ndarray,
                           x_test: Rows | np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`_standardise_and_rotate`, remembered by content: every target of a dataset probes the
    same features, and the rotation of wide features is most of a probe's cost. The third item is
    a dict that goes with these features: the ridge keeps the eigendecomposition of each CV fold
    in it, which every regression target of the dataset shares."""
    x_train, x_test = as_rows(x_train), as_rows(x_test)
    digest = x_train.key + x_test.key
    if digest in _PREPARED:
        _PREPARED.move_to_end(digest)
        return _PREPARED[digest]
    while len(_PREPARED) >= _PREPARED_MAX:  # before the new rotation, not after it: the old features and
        _PREPARED.popitem(last=False)  # their ridge factors (~40 MiB at 1,000 clips) need not sit beside it
    a, b = _standardise_and_rotate(x_train, x_test)
    for array in (a, b):
        array.flags.writeable = False  # shared between targets: nobody may change it in place
    result = _PREPARED[digest] = (a, b, {})
    return result


def symmetric_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, which is overwritten. LAPACK's
    MRRR driver (syevr): as fast as numpy's divide and conquer (syevd) here, with O(n) workspace
    instead of 2n² (12 MiB more at 850 clips, the probe phase's peak). LAPACK works in place only on
    a column-major matrix and copies any other first (23 MiB at 1,700 clips): a C-ordered symmetric
    matrix is handed over as its transpose, the same matrix in column-major order (exactly: every
    caller's matrix is exactly symmetric, built as A·Aᵀ or mirrored block by block)."""
    from scipy.linalg import eigh

    return eigh(matrix.T if matrix.flags.c_contiguous else matrix, driver="evr", overwrite_a=True,
                check_finite=False)


def kept_from(eigenvalues: np.ndarray) -> int | None:
    """The first of the eigenvalues (ascending) above float64 rounding of their matrix (~n·eps·largest):
    the ones before it are null directions. None: every one is null."""
    keep = eigenvalues > 1e-11 * max(float(eigenvalues[-1]), 1e-300)
    return int(np.argmax(keep)) if keep.any() else None


def scaled_row_space(eigenvalues: np.ndarray, eigenvectors: np.ndarray, first: int,
                     cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U·S, C·U·S⁻¹) of the eigenvectors U from ``first`` on, S the square roots of their eigenvalues:
    rows rotated onto a row space, from its Gram matrix's eigendecomposition and the cross products C
    of other rows with the same rows. U·S is made in place in ``eigenvectors`` (which is the caller's
    to give) rather than beside it: a clips × clips matrix less at the peak."""
    u, s = eigenvectors[:, first:], np.sqrt(eigenvalues[first:])
    rotated = cross @ u
    rotated /= s
    if 2 * first > u.shape[0]:  # most directions null: keep a copy of the few, not the whole matrix
        u = u.copy(order="K")
    u *= s
    return u, rotated


def _features(rows: Rows, start: int, stop: int) -> np.ndarray:
    """Rows start:stop as float64 vectors; token features (pool=tokens) are read as their mean."""
    block = rows.block(start, stop)
    return block.mean(axis=1, dtype=np.float64) if block.ndim == 3 else block.astype(np.float64)


def _standardise_and_rotate(train: Rows, test: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Standardise with train+val statistics; when dims > clips, rotate onto the train row space.

    A feature's scale is floored at 1% of the median scale: a pixel that moved in one training
    clip only would otherwise be blown up by a tiny std and dominate the test predictions.

    The features are read a block of rows at a time and never held whole (they may be read from
    the cache: :class:`evaluate.probes.rows.CachedRows`). Wide features are never standardised as a
    whole either: the rotation comes from the (clips × clips) Gram matrix A·Aᵀ = U·S²·Uᵀ of the
    standardised train matrix A, accumulated block by block in float64, so memory holds a few
    clips × clips matrices, not clips × dims. The rotated train rows are A·V = U·S, and the test
    rows B·V = B·Aᵀ·U·S⁻¹.
    """
    n, d = len(train), train.shape[-1]
    train_blocks, test_blocks = train.blocks(), test.blocks()
    total = np.zeros(d)
    for lo, hi in train_blocks:
        total += _features(train, lo, hi).sum(axis=0)
    mean = total / n
    squares = np.zeros(d)
    for lo, hi in train_blocks:  # a second pass: exact where sums of squares would cancel
        squares += ((_features(train, lo, hi) - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / n)
    positive = std[std > 0]
    floor = 0.01 * float(np.median(positive)) if len(positive) else 1.0
    scale = np.maximum(std, floor)

    def standardised(rows: Rows, lo: int, hi: int) -> np.ndarray:
        block = _features(rows, lo, hi)  # a fresh float64 array: ours to change
        block -= mean  # in place: a large temporary less per block, and less heap churn
        block /= scale
        return block

    if d <= n:  # n × d ≤ n × n: small enough to hold
        return (np.concatenate([standardised(train, lo, hi) for lo, hi in train_blocks]),
                np.concatenate([standardised(test, lo, hi) for lo, hi in test_blocks]))
    gram, cross = np.zeros((n, n)), np.zeros((len(test), n))
    for i, (lo, hi) in enumerate(train_blocks):
        a = standardised(train, lo, hi)
        gram[lo:hi, lo:hi] = a @ a.T
        for lo2, hi2 in train_blocks[:i]:
            gram[lo:hi, lo2:hi2] = a @ standardised(train, lo2, hi2).T
            gram[lo2:hi2, lo:hi] = gram[lo:hi, lo2:hi2].T
        for lo2, hi2 in test_blocks:
            cross[lo2:hi2, lo:hi] = standardised(test, lo2, hi2) @ a.T
    eigenvalues, eigenvectors = symmetric_eigh(gram)
    del gram  # overwritten by LAPACK: let it go before the rotated rows are made
    first = kept_from(eigenvalues)
    if first is None:  # features carry nothing (e.g. motion of a static view): one zero column
        return np.zeros((n, 1)), np.zeros((len(test), 1))
    return scaled_row_space(eigenvalues, eigenvectors, first, cross)


class LinearProbe(Probe):
    name = "linear"
    description = "standardised features; LogisticRegression (C by grouped CV) or ridge (alpha by grouped CV)"

    def __init__(self, standardize_target: bool = True):
        self.standardize_target = standardize_target

    def fit_predict(self, kind, x_train, y_train, groups, x_test):
        from threadpoolctl import threadpool_limits

        check_target(kind, y_train)
        folds = grouped_folds(groups, y_train)
        # One BLAS thread: these matrices are small (clips × rank), and OpenBLAS threads on them
        # cost more than they give (L-BFGS ran 40x slower with 2 threads than with 1 on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            x_train, x_test, factors = standardise_and_rotate(x_train, x_test)
            if kind == "class":
                return self._logistic(x_train, y_train, folds, x_test)
            return self._ridge(x_train, y_train.astype(float), folds, x_test, factors)

    @staticmethod
    def _logistic(x, y, folds, x_test) -> ProbeFit:
        from sklearn.linear_model import LogisticRegression

        from evaluate.metrics import balanced_accuracy

        def fit(c: float, x_fit: np.ndarray, y_fit: np.ndarray) -> LogisticRegression:
            """L-BFGS, which is fastest where it converges (a clear margin: ~10 iterations). Where it
            has not converged in LBFGS_QUICK_ITER (near-separable wide features, large C), Newton
            steps with a Cholesky solve converge in ~10 more, exactly and ~5x sooner than L-BFGS's
            iteration cap; their cost grows with the cube of the coefficients, so past
            :func:`newton_fits`' budget L-BFGS goes on."""
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter at extreme C; the CV judges C anyway
                model = LogisticRegression(C=c, max_iter=LBFGS_QUICK_ITER).fit(x_fit, y_fit)
                if model.n_iter_.max() < LBFGS_QUICK_ITER:
                    return model
                if newton_fits(len(model.classes_), x.shape[1]):  # the final fit's dims: one solver for the CV and it
                    return LogisticRegression(C=c, solver="newton-cholesky", max_iter=100).fit(x_fit, y_fit)
                model.set_params(warm_start=True, max_iter=3 * LBFGS_QUICK_ITER)
                return model.fit(x_fit, y_fit)

        fold_scores = np.full((len(C_GRID), len(folds)), np.nan)
        for j, (train, val) in enumerate(folds):
            if len(np.unique(y[train])) < 2:
                continue  # a fold with one class says nothing about C
            x_fit, x_val = x[train], x[val]  # one copy per fold, for every C (C-ordered: sklearn copies no more)
            for i, c in enumerate(C_GRID):
                fold_scores[i, j] = balanced_accuracy(y[val], fit(c, x_fit, y[train]).predict(x_val))
            del x_fit, x_val  # before the next fold's are made
        scored = ~np.isnan(fold_scores)
        cv_scores = [float(row[ok].mean()) if ok.any() else 0.0 for row, ok in zip(fold_scores, scored, strict=True)]
        best = float(C_GRID[int(np.argmax(cv_scores))])  # ties: the strongest regularisation
        final = fit(best, x, y)
        return ProbeFit(final.predict(x_test),
                        {"C": best, "cv_balanced_accuracy": float(max(cv_scores)), "solver": final.solver,
                         VALIDATION_SCORE: float(max(cv_scores))})

    def _ridge(self, x, y, folds, x_test, factors: dict | None = None) -> ProbeFit:
        factors = {} if factors is None else factors  # shared by every regression target of these features
        mu, sd = (y.mean(), y.std()) if self.standardize_target else (0.0, 1.0)
        z = (y - mu) / sd
        sse = np.zeros(len(ALPHA_GRID))
        for train, val in folds:
            path = shared_path(factors, train.tobytes(), lambda train=train, val=val: RidgePath(x, x, train, val))
            sse += ((path.predict(z[train], ALPHA_GRID) - z[val, None]) ** 2).sum(axis=0)
            del path  # a fold's factors not kept in ``factors`` go now, not once the next fold's are made
        best = float(ALPHA_GRID[int(np.argmin(sse))])
        path = shared_path(factors, b"all", lambda: RidgePath(x, x_test))
        pred = path.predict(z, np.array([best]))[:, 0]
        cv_r2 = 1.0 - float(sse.min() / max(((z - z.mean()) ** 2).sum(), 1e-300))  # grouped-CV R² on train+val
        return ProbeFit(pred * sd + mu, {"alpha": best, "cv_mse_standardised": float(sse.min() / len(y)),
                                         VALIDATION_SCORE: cv_r2})


# One fold's factors are ~(4/5 clips)² × 8 bytes and the final fit's ~clips² × 8: at 1,000 clips (850 train+val)
# 3 of a matrix's 6 stay within 16 MiB, at 2,000 none (18 MiB a fold), which saves only one eigendecomposition
# of five per target and would stay in memory beside every later fit.
RIDGE_FACTORS_MAX_BYTES = 16 << 20


def shared_path(factors: dict, key: bytes, make: Callable[[], RidgePath]) -> RidgePath:
    """The :class:`RidgePath` of ``key`` from ``factors``, which the regression targets of one feature matrix
    share, else ``make()``'s, kept there while all of them stay within RIDGE_FACTORS_MAX_BYTES. Past that (at
    2,000 clips five folds' factors would hold ~90 MiB) each target makes its own and lets it go: the same
    arithmetic, so the same predictions, for memory that stays one fold's."""
    if key in factors:
        return factors[key]
    path = make()
    if sum(p.nbytes for p in factors.values()) + path.nbytes <= RIDGE_FACTORS_MAX_BYTES:
        factors[key] = path
    return path


class RidgePath:
    """Ridge predictions on x_test for any target and every alpha at once, with an unpenalised
    intercept; the same as sklearn's Ridge. From one symmetric eigendecomposition of the centred
    x: of its Gram matrix Xc·Xcᵀ = U·Λ·Uᵀ when it has fewer rows than columns (then the
    predictions are Xt·Xcᵀ·U·(Λ + alpha)⁻¹·Uᵀ·y), else of Xcᵀ·Xc = V·Λ·Vᵀ (then Xt·V·(Λ + alpha)⁻¹
    ·(Xc·V)ᵀ·y). Either way: predictions = T·((Bᵀ·y) / (λ + alpha)), and B, T and λ are all a
    target needs, so the regression targets of one feature matrix share them. No 1/s appears, so
    near-null directions need no threshold; and an eigendecomposition needs a fraction of the
    LAPACK workspace of an SVD (the ridge was the memory peak of a 1,000-clip run)."""

    def __init__(self, x: np.ndarray, x_test: np.ndarray, rows: np.ndarray | None = None,
                 test_rows: np.ndarray | None = None):
        """The path of x (or of its ``rows``: a CV fold's) predicting x_test (or its ``test_rows``). Rows are
        taken here rather than by the caller so that their copies are this method's to centre in place and
        to let go as soon as they are used: at the peak, memory holds the Gram matrix LAPACK overwrites, its
        eigenvectors and one more matrix of the same size, not five (at 2,000 clips: 64 MiB, was 110)."""
        if rows is None:
            x_mean = x.mean(axis=0)
            xc = x - x_mean
        else:
            xc = x[rows]  # a fresh copy: centred in place
            x_mean = xc.mean(axis=0)
            xc -= x_mean
        test_rows = slice(None) if test_rows is None else test_rows
        if len(xc) < xc.shape[1]:
            cross = (x_test[test_rows] - x_mean) @ xc.T
            gram = xc @ xc.T
            del xc
            self.eigenvalues, self.basis = symmetric_eigh(gram)  # basis U: (n, n)
            del gram
            self.test = cross @ self.basis  # (n_test, n)
        else:
            gram = xc.T @ xc
            self.eigenvalues, v = symmetric_eigh(gram)  # V: (d, d)
            del gram
            self.basis = xc @ v  # (n, d)
            del xc
            self.test = (x_test[test_rows] - x_mean) @ v  # (n_test, d): its centred rows made only now
        np.maximum(self.eigenvalues, 0.0, out=self.eigenvalues)  # rounding can leave -1e-13

    @property
    def nbytes(self) -> int:
        return self.eigenvalues.nbytes + self.basis.nbytes + self.test.nbytes

    def predict(self, y: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """(n_test, n_alphas) predictions of the ridge fitted to (x, y)."""
        y_mean = y.mean()
        projected = self.basis.T @ (y - y_mean)  # (k,)
        return self.test @ (projected[:, None] / (self.eigenvalues[:, None] + alphas[None, :])) + y_mean


def ridge_path(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Ridge predictions of (x, y) on x_test for every alpha (see RidgePath)."""
    return RidgePath(x, x_test).predict(y, alphas)


PROBES.register(LinearProbe.name, LinearProbe)
