"""k-means over flattened images: the clusters an unconditioned GAN can condition itself on (no labels).

Self-conditioned GAN (Liu et al., 2020): the discriminator judges (image, cluster) pairs the way GAN-CLS
judges (image, label) ones, and the generator draws each cluster as often as the data holds it, so no
part of the data goes missing. Here the clusters are found once, in pixel space, before training.
"""
import collections

import numpy as np
import tensorflow as tf

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


# ---------------------------------------------------------------- in the graph

# The clusters in a model's graph: `centroids` and `shares` (variables saved in checkpoints, set once by
# `keep` from what kmeans found, fed through `found`), the cluster of each real image (`real`: its nearest
# centroid), a `wrong` one for it, and the cluster of each generated image (`generated`: drawn from the first
# noise value through the clusters' cumulative shares, so that the image stays a function of the noise).
# How many noise values pick a generated image's cluster (the first); the rest shape the image.
PICKING_NOISE_VALUES = 1
ClusterConditions = collections.namedtuple('ClusterConditions', 'centroids shares real wrong generated found keep')


def cluster_conditions(real_images, noise, count):
    """The ClusterConditions of `count` clusters for real images (B, 28, 28, 1) and noise (B, N)."""
    v1 = tf.compat.v1
    pixels = int(np.prod(real_images.shape[1:]))
    with v1.variable_scope('clusters'):
        centroids = v1.get_variable('centroids', (count, pixels), trainable=False,
                                    initializer=v1.zeros_initializer())
        shares = v1.get_variable('shares', (count,), trainable=False,
                                 initializer=v1.constant_initializer(1.0 / count))
        found = (v1.placeholder(tf.float32, centroids.shape, 'found_centroids'),
                 v1.placeholder(tf.float32, shares.shape, 'found_shares'))
        keep = tf.group(centroids.assign(found[0]), shares.assign(found[1]))
    real = tf.reshape(real_images, (-1, pixels))
    distances = (tf.reduce_sum(real ** 2, axis=1, keepdims=True) - 2.0 * tf.matmul(real, centroids, transpose_b=True)
                 + tf.reduce_sum(centroids ** 2, axis=1))
    real_clusters = tf.argmin(distances, axis=1)
    # Adding 1..K-1 modulo K never gives the right cluster and hits each other one equally often.
    offsets = v1.random_uniform(tf.shape(real_clusters), 1, count, dtype=tf.int64)
    # The first noise value, a standard normal, turned uniform on [0, 1] by its distribution function.
    uniform = 0.5 * (1.0 + tf.math.erf(noise[:, 0] / np.sqrt(2.0)))
    generated = tf.minimum(tf.searchsorted(tf.cumsum(shares), uniform, side='right', out_type=tf.int64), count - 1)
    return ClusterConditions(centroids, shares, real_clusters, (real_clusters + offsets) % count, generated, found,
                             keep)
