"""Spec tests for the k-nearest-neighbour figures of quality.py: precision and recall (Kynkäänniemi et al.
2019), density and coverage (Naeem et al. 2020), on plain points with answers known beforehand."""
import numpy as np
import pytest

import quality

K = quality.MANIFOLD_K


def column(values):
    """1-D points as rows of one feature."""
    return np.asarray(values, np.float64)[:, None]


def test_the_radius_is_the_distance_to_the_kth_other_point():
    # Sorted distances to the others, e.g. from 6: 3 (to 3), 4 (to 10), 5, 6: the second is 4. Counting the
    # point's own distance 0 as its first neighbour would give the first others instead: 1, 1, 2, 3, 4.
    np.testing.assert_array_equal(quality.Manifold(column([0, 1, 3, 6, 10]), k=2).radii, [3, 2, 3, 4, 7])
    # A duplicate is another point, at distance 0: only the point's own distance is left out.
    np.testing.assert_array_equal(quality.Manifold(column([0, 0, 5]), k=1).radii, [0, 0, 5])
    with pytest.raises(ValueError, match='k'):
        quality.Manifold(column([0, 1]), k=2)   # no second other point


def test_hand_computed_precision_recall_density_coverage():
    # k = 2. Real radii (k-th other point): 0:3  1:2  3:3  6:4  10:7  40:2  41:1  42:2.
    # Generated radii: 2:3  4:1  5:1  5:1 (the other 5 is a neighbour at 0)  20:2  21:1  22:2.
    real = column([0, 1, 3, 6, 10, 40, 41, 42])
    generated = column([2, 4, 5, 5, 20, 21, 22])
    figures = quality.manifold_figures(generated, real, k=2)
    # Precision: 2 (in 0's ball), 4 and both 5s (in 3's) are inside; 20-22 lie beyond 10's ball (up to 17).
    assert figures['precision'] == pytest.approx(4 / 7)
    # Recall: 0, 1, 3 lie in 2's ball, 6 on the edge of a 5's (distance 1 = radius 1: the ball is closed);
    # 10 and 40-42 lie outside every generated ball.
    assert figures['recall'] == pytest.approx(4 / 8)
    # Density: real balls holding each generated point, 2: 0, 1, 3 and 6 (on its edge, 4 = 4); 4: 3, 6, 10;
    # 5: 3, 6, 10 (twice); 20-22: none. 13 / (k = 2 times 7 generated points).
    assert figures['density'] == pytest.approx(13 / 14)
    # Coverage: the balls of 0, 1, 3, 6 and 10 hold a generated point; 40-42's do not.
    assert figures['coverage'] == pytest.approx(5 / 8)


def test_a_set_against_itself_is_inside_both_manifolds():
    feats = np.random.default_rng(0).normal(size=(400, 8))
    figures = quality.manifold_figures(feats, feats)
    assert (figures['precision'], figures['recall'], figures['coverage']) == (1.0, 1.0, 1.0)
    # Every ball holds its own centre and its k neighbours: (k + 1) / k, not the 1 of an independent sample.
    assert figures['density'] == pytest.approx((K + 1) / K, abs=0.01)


def test_two_samples_of_one_distribution_score_near_one():
    rng = np.random.default_rng(1)
    real, generated = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    figures = quality.manifold_figures(generated, real)
    assert figures['precision'] > 0.9 and figures['recall'] > 0.9
    assert figures['density'] == pytest.approx(1.0, abs=0.1)
    # A real ball misses every generated point when its k neighbours all come before the first generated
    # one: about 2^-k at equal sizes.
    assert figures['coverage'] == pytest.approx(1 - 2.0 ** -K, abs=0.02)


def clusters(rng, per_class=100, dims=8):
    """Ten well-separated classes of points, as classifier features of ten digits are."""
    centres = rng.normal(scale=10.0, size=(10, dims))
    return np.concatenate([centre + rng.normal(size=(per_class, dims)) for centre in centres])


def test_one_point_repeated_per_class_is_precise_but_covers_little():
    rng = np.random.default_rng(2)
    real = clusters(rng)
    generated = np.repeat(real[::100], 100, axis=0)   # one real point per class, each drawn 100 times
    figures = quality.manifold_figures(generated, real)
    assert figures['precision'] == 1.0
    assert figures['recall'] < 0.05 and figures['coverage'] < 0.1


def test_points_far_from_the_real_ones_are_neither_precise_nor_covering():
    rng = np.random.default_rng(3)
    real = clusters(rng)
    figures = quality.manifold_figures(real + 100.0, real)
    assert figures == {'precision': 0.0, 'recall': 0.0, 'density': 0.0, 'coverage': 0.0}


def test_a_fitted_real_manifold_gives_the_same_figures_chunk_by_chunk():
    rng = np.random.default_rng(4)
    real, generated = rng.normal(size=(300, 6)), rng.normal(size=(200, 6)) * 1.3 + 0.2
    whole = quality.manifold_figures(generated, real)
    fitted = quality.manifold_figures(generated, quality.Manifold(real, chunk=7))
    assert fitted == pytest.approx(whole)
    assert quality.manifold_figures(quality.Manifold(generated, chunk=13), real) == pytest.approx(whole)
