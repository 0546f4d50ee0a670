"""k-means over flattened images: the clusters an unconditioned GAN can condition itself on (no labels).

Self-conditioned GAN (Liu et al., 2020): the discriminator judges (image, cluster) pairs the way GAN-CLS
judges (image, label) ones, and the generator draws each cluster as often as the data holds it, so no
part of the data goes missing. Here the clusters are found once, in pixel space, before training.
"""
import numpy as np

ITERATIONS = 30


def kmeans(points, k, seed=0, iterations=ITERATIONS):
    """(centroids (k, D), counts (k,)) of k-means on points (N, D): k-means++ seeding, then Lloyd's steps.
    Deterministic for a seed. A cluster left empty keeps its centroid (and a count of 0)."""
    points = np.asarray(points, np.float64)
    if not 1 <= k <= len(points):
        raise ValueError('k-means of %d points needs 1 to %d clusters, not %d' % (len(points), len(points), k))
    rng = np.random.default_rng(seed)
    centroids = [points[rng.integers(len(points))]]
    nearest = np.sum((points - centroids[0]) ** 2, axis=1)
    for _ in range(k - 1):
        # A point joins the seeds with probability in proportion to its squared distance to the nearest seed.
        chosen = rng.choice(len(points), p=nearest / nearest.sum()) if nearest.sum() > 0 else rng.integers(len(points))
        centroids.append(points[chosen])
        nearest = np.minimum(nearest, np.sum((points - points[chosen]) ** 2, axis=1))
    centroids = np.array(centroids)
    for _ in range(iterations):
        assigned = assign(points, centroids)
        for j in range(k):
            members = points[assigned == j]
            if len(members):
                centroids[j] = members.mean(axis=0)
    counts = np.bincount(assign(points, centroids), minlength=k)
    return centroids.astype(np.float32), counts


def assign(points, centroids):
    """The index of each point's nearest centroid."""
    distances = (np.sum(points ** 2, axis=1)[:, None] - 2.0 * points @ centroids.T
                 + np.sum(centroids ** 2, axis=1)[None])
    return np.argmin(distances, axis=1)
