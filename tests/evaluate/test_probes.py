"""Probes and metrics on synthetic features whose answer is known."""

import numpy as np
import pytest

import evaluate.probes.rows as rows
from evaluate.metrics import balanced_accuracy, floored_margin, group_resamples, r2, score
from evaluate.probes import ProbeSkipped, get_probe
from evaluate.probes.linear import ridge_path, standardise_and_rotate


def _pairs(n_groups: int, dim: int, seed: int):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"g{i}" for i in range(n_groups)], 2)
    y = np.tile(["falling", "rising"], n_groups)
    x = rng.normal(size=(2 * n_groups, dim))
    return x, y, groups


def test_separable_classes_score_one():
    x, y, groups = _pairs(40, 20, 0)
    x[:, 0] += np.where(y == "rising", 4.0, -4.0)
    fit = get_probe("linear").fit_predict("class", x[:60], y[:60], groups[:60], x[60:])
    s = score("class", y[60:], fit.y_pred, groups[60:])
    assert s["metric"] == "balanced_accuracy" and s["value"] >= 0.95 and s["chance"] == 0.5
    assert "C" in fit.params


def test_pure_noise_ci_covers_chance():
    x, y, groups = _pairs(60, 50, 1)
    fit = get_probe("linear").fit_predict("class", x[:80], y[:80], groups[:80], x[80:])
    s = score("class", y[80:], fit.y_pred, groups[80:])
    lo, hi = s["ci95"]
    assert lo <= 0.5 <= hi


def test_ridge_recovers_a_linear_target():
    x, _, groups = _pairs(40, 20, 2)
    y = 3 * x[:, 5] - 2 * x[:, 7] + 10
    fit = get_probe("linear").fit_predict("regression", x[:60], y[:60], groups[:60], x[60:])
    s = score("regression", y[60:], fit.y_pred, groups[60:])
    assert s["metric"] == "r2" and s["value"] > 0.8 and s["spearman"] > 0.9 and s["chance"] == 0.0


def test_constant_target_is_skipped_not_fatal():
    x, _, groups = _pairs(10, 5, 3)
    y = np.full(20, -9.81) + np.array([0, 1e-14] * 10)  # float noise is still constant
    with pytest.raises(ProbeSkipped, match="constant target"):
        get_probe("linear").fit_predict("regression", x, y, groups, x)
    with pytest.raises(ProbeSkipped, match="one class"):
        get_probe("linear").fit_predict("class", x, np.array(["a"] * 20), groups, x)


def test_all_zero_features_predict_chance():
    _, y, groups = _pairs(20, 5, 4)
    x = np.zeros((40, 10))
    fit = get_probe("linear").fit_predict("class", x[:30], y[:30], groups[:30], x[30:])
    assert balanced_accuracy(y[30:], fit.y_pred) == 0.5


@pytest.mark.parametrize("rows, dims", [(30, 50), (60, 12)])  # the Gram (dual) form, and the covariance form
def test_ridge_path_matches_sklearn(rows, dims):
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(5)
    x, y, xt = rng.normal(size=(rows, dims)), rng.normal(size=rows), rng.normal(size=(4, dims))
    x[:, -1] = x[:, 0]  # a null direction: no threshold needed
    alphas = np.array([0.01, 7.0, 1e4])
    ours = ridge_path(x, y, xt, alphas)
    for i, alpha in enumerate(alphas):
        np.testing.assert_allclose(ours[:, i], Ridge(alpha=alpha).fit(x, y).predict(xt), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("rows, dims", [(30, 50), (60, 12)])
def test_a_folds_ridge_path_from_row_indices_is_the_path_of_those_rows(rows, dims):
    """RidgePath(x, x, train, val) copies and centres the fold's rows itself (to let them go early): the same
    factors, bit for bit, as the path of copies made beforehand."""
    from evaluate.probes.linear import RidgePath

    rng = np.random.default_rng(11)
    x = np.asfortranarray(rng.normal(size=(rows, dims)))  # the rotated features are column-major
    val = np.arange(0, rows, 5)
    train = np.setdiff1d(np.arange(rows), val)
    ours, theirs = RidgePath(x, x, train, val), RidgePath(x[train], x[val])
    for name in ("eigenvalues", "basis", "test"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name


def test_symmetric_eigh_works_in_place_on_a_c_ordered_matrix():
    """LAPACK copies a matrix that is not column-major before working: a C-ordered symmetric matrix is handed
    over transposed, so the eigendecomposition holds the eigenvectors and nothing of the matrix's size
    besides; the same values as of the column-major matrix."""
    import tracemalloc

    from evaluate.probes.linear import symmetric_eigh

    a = np.random.default_rng(2).normal(size=(300, 400))
    gram = a @ a.T
    assert gram.flags.c_contiguous and np.array_equal(gram, gram.T)
    expected = symmetric_eigh(np.asfortranarray(gram))
    tracemalloc.start()
    try:
        values, vectors = symmetric_eigh(gram)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * gram.nbytes  # the eigenvectors (a copy of the matrix would double it)
    assert np.array_equal(values, expected[0]) and np.array_equal(vectors, expected[1])


def test_scaled_row_space_is_the_kept_columns_scaled():
    from evaluate.probes.linear import kept_from, scaled_row_space

    rng = np.random.default_rng(4)
    a = rng.normal(size=(20, 6)) @ rng.normal(size=(6, 30))  # rank 6 of 20 rows: most directions null
    values, vectors = np.linalg.eigh(a @ a.T)
    first = kept_from(values)
    assert first == 14
    keep = values > 1e-11 * values[-1]
    u, s = vectors[:, keep], np.sqrt(values[keep])
    cross = rng.normal(size=(5, 20))
    rows, rotated = scaled_row_space(values, vectors.copy(order="F"), first, cross)
    assert np.array_equal(rows, u * s) and np.array_equal(rotated, (cross @ u) / s)
    assert rows.base is None or rows.base.shape != (20, 20)  # the few kept columns, not the whole matrix
    assert kept_from(np.zeros(4)) is None


def test_unknown_probe_suggests():
    with pytest.raises(ValueError, match="did you mean 'linear'"):
        get_probe("linaer")


def test_bootstrap_resamples_whole_groups():
    groups = np.repeat(np.arange(10), 2)
    for idx in group_resamples(groups, n=20):
        assert len(idx) == 20
        for g in np.unique(groups[idx]):
            assert np.sum(groups[idx] == g) % 2 == 0  # twins always travel together


def test_metrics_known_values():
    y = np.array(["a", "a", "a", "b"])
    assert balanced_accuracy(y, np.array(["a", "a", "a", "a"])) == 0.5
    assert r2(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])) == 1.0


def test_margin_is_original_minus_its_control():
    y = np.tile(["f", "r"], 10)
    groups = np.repeat(np.arange(10), 2)
    m = floored_margin("class", y, groups, original=y.copy(), control=y.copy())
    assert m["value"] == 0.0 and (m["original"], m["control"], m["floor"]) == (1.0, 1.0, 0.5)
    m = floored_margin("class", y, groups, original=y.copy(), control=np.full(20, "f"))
    assert m["value"] == 0.5 and m["ci95"] == [0.5, 0.5]


def test_a_control_below_chance_does_not_raise_the_margin():
    """The issue's example: an encoder that knows nothing (R² −0.81 on original) against a control
    that scores worse than a constant (R² −1.44) must not show a margin of +0.63: the control is
    floored at chance (R² 0), so the margin is the original's −0.81."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    groups = np.arange(200)
    original = y + rng.normal(scale=1.35, size=200)  # R² ≈ −0.8
    control = y + rng.normal(scale=1.6, size=200)  # R² ≈ −1.5
    m = floored_margin("regression", y, groups, original, control, n_bootstrap=200)
    assert m["control"] < m["original"] < 0 and m["floor"] == 0.0
    assert m["value"] == pytest.approx(m["original"]) and m["value"] < 0
    assert m["ci95"][1] <= 0.0 + 1e-12  # no resample can make a margin above 0 from an original below chance


@pytest.mark.parametrize("block_bytes", [4 << 20, 8 * 200 * 7])  # one row block, and many ragged ones
def test_wide_features_rotation_keeps_every_inner_product(monkeypatch, block_bytes):
    """L2-penalised linear models see features only through inner products with the train rows;
    the Gram-matrix rotation must keep A·Aᵀ and B·Aᵀ of the standardised matrices exactly."""
    monkeypatch.setattr(rows, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(3)
    x_train = (rng.normal(size=(30, 200)) * rng.uniform(0.1, 10, 200)).astype(np.float32)
    x_train[:, 5] = 2.0  # a constant column: std 0, floored scale
    x_test = rng.normal(size=(9, 200)).astype(np.float32)
    x64 = x_train.astype(np.float64)
    mean, std = x64.mean(axis=0), x64.std(axis=0)
    scale = np.maximum(std, 0.01 * np.median(std[std > 0]))
    a, b = (x64 - mean) / scale, (x_test - mean) / scale
    rot_a, rot_b, _ = standardise_and_rotate(rows.ArrayRows(x_train), rows.ArrayRows(x_test))
    assert rot_a.shape[1] == 29  # centring removes one direction of 30 rows
    np.testing.assert_allclose(rot_a @ rot_a.T, a @ a.T, rtol=1e-8, atol=1e-8 * np.abs(a @ a.T).max())
    np.testing.assert_allclose(rot_b @ rot_a.T, b @ a.T, rtol=1e-8, atol=1e-8 * np.abs(b @ a.T).max())


def test_wide_ridge_equals_sklearn_ridge_in_the_full_space():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(4)
    x_train, x_test = rng.normal(size=(40, 300)), rng.normal(size=(12, 300))
    y = x_train[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=40)
    groups = np.repeat(np.arange(20), 2)
    fit = get_probe("linear").fit_predict("regression", x_train, y, groups, x_test)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    z_mu, z_sd = y.mean(), y.std()
    full = Ridge(alpha=fit.params["alpha"]).fit((x_train - mean) / std, (y - z_mu) / z_sd)
    np.testing.assert_allclose(fit.y_pred, full.predict((x_test - mean) / std) * z_sd + z_mu, rtol=1e-6, atol=1e-8)


def test_probe_on_rows_read_from_the_cache_equals_probe_on_arrays(tmp_path, monkeypatch):
    from evaluate.embed.cache import EmbeddingCache

    monkeypatch.setattr(rows, "BLOCK_BYTES", 8 * 120 * 5)  # 5 rows a block: many reads
    x, y, groups = _pairs(30, 120, 5)
    x[:, 0] += np.where(y == "rising", 1.5, -1.5)
    cache = EmbeddingCache(tmp_path)
    group = cache.group_dir("pixels", {"kind": "pixels"}, "original", "fp")
    clips = [{"clip_id": f"c{i}", "split": "train", "bytes": 1} for i in range(len(x))]
    for clip, vec in zip(clips, x.astype(np.float32), strict=True):
        cache.put(group, clip, vec)
    cached_train, cached_test = rows.CachedRows.from_cache(cache, group, clips).split(48)
    x32 = x.astype(np.float32)
    for kind, target in (("class", y), ("regression", x[:, 0] + 0.1 * x[:, 1])):
        from_cache = get_probe("linear").fit_predict(kind, cached_train, target[:48], groups[:48], cached_test)
        from_arrays = get_probe("linear").fit_predict(kind, x32[:48], target[:48], groups[:48], x32[48:])
        assert from_cache.params == pytest.approx(from_arrays.params)
        if kind == "class":
            assert list(from_cache.y_pred) == list(from_arrays.y_pred)
        else:
            np.testing.assert_allclose(from_cache.y_pred, from_arrays.y_pred, rtol=1e-9)


def test_newton_steps_only_where_their_hessian_fits_the_budget():
    from evaluate.probes.linear import newton_fits

    assert newton_fits(2, 2048) and not newton_fits(2, 2049)  # a binary target: the 2,048 dims of before
    assert newton_fits(4, 512) and not newton_fits(4, 513)  # four classes: four times the coefficients
    assert newton_fits(4, 107) and not newton_fits(4, 1360)  # the demo's lights folds; a 2,000-clip dataset's


def test_ridge_factors_past_their_budget_are_remade_per_target_with_the_same_predictions(monkeypatch):
    import evaluate.probes.linear as linear

    rng = np.random.default_rng(5)
    x, x_test = rng.normal(size=(60, 90)), rng.normal(size=(20, 90))
    targets = [x[:, :3] @ rng.normal(size=3) + 0.1 * rng.normal(size=60) for _ in range(3)]
    groups = np.arange(60) // 2
    probe = get_probe("linear")

    def predictions() -> list[np.ndarray]:
        linear._PREPARED.clear()
        return [probe.fit_predict("value", x, y, groups, x_test).y_pred for y in targets]

    shared = predictions()
    factors = next(iter(linear._PREPARED.values()))[2]
    assert len(factors) == 6  # five folds and the whole train set, shared by the three targets
    monkeypatch.setattr(linear, "RIDGE_FACTORS_MAX_BYTES", 2 * max(p.nbytes for p in factors.values()))
    remade = predictions()
    factors = next(iter(linear._PREPARED.values()))[2]
    assert 0 < len(factors) < 6 and sum(p.nbytes for p in factors.values()) <= linear.RIDGE_FACTORS_MAX_BYTES
    assert all(np.array_equal(a, b) for a, b in zip(shared, remade, strict=True))
