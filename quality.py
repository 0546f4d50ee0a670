"""The measuring stick for generated digits, as a library: metric functions, the real digits' side of every
comparison, and the Evaluator that scores any sample function with the cached classifier (classifier.py). The
digits stand for any classes: every figure per class is measured for each class of the data (the ten digits of
MNIST, a folder's class folders), as many as the classifier tells apart.

For generated digits: the share classified as the digit they were drawn for (overall and per digit); the
Fréchet distance (FD) between classifier features of generated and real held-out digits, and its ratio to
the FD of real training digits measured at the same sizes (about 1 for a model as good as real data); a
per-digit diversity ratio (mean pairwise feature distance, generated / real; far below 1 is mode collapse);
a memorisation ratio (distance to the nearest training digit, generated / real held-out; far below 1 is
copying); and, as FD mixes fidelity and variety, the two apart on the same features: precision and density
(how much of the generated digits lies among real ones) and recall and coverage (how much of the real
digits the generated ones reach).
"""
import copy
import functools
import json
import math
import os

import numpy as np
from scipy.spatial.distance import pdist

CHUNK_SIZE = 500              # generated images per sample_fn call, bounds memory
MAX_NUM_PER_CLASS = 100000    # features of every generated digit are kept: about 1.7 KB each, 1.7 GB at most
COLLAPSE_THRESHOLD = 0.5      # diversity ratio below this flags a digit as mode-collapsed
MAX_PAIRWISE_ROWS = 2000      # pairwise distances grow quadratically; a subsample estimates the mean well
REFERENCE_SEED = 0            # fixed, so the reference row is the same for every evaluation
NEIGHBOUR_CHUNK = 250         # query rows per nearest-neighbour distance matrix: 60 MB against full MNIST
MEMORISATION_THRESHOLD = 0.8  # memorisation ratio below this flags copying of training digits
# The neighbour whose distance is each ball's radius. 5 (Naeem et al.'s), not 3: two samples of one distribution
# at equal sizes leave a real ball without a generated point with chance about 2^-k: coverage 0.97, not 0.88.
MANIFOLD_K = 5


# ---------------------------------------------------------------- metric functions

class Gaussian:
    """Mean and covariance of a feature set (rows are samples): fit the real side once, compare often."""

    def __init__(self, feats):
        feats = np.asarray(feats, np.float64)
        self.mean = feats.mean(axis=0)
        self.cov = np.atleast_2d(np.cov(feats, rowvar=False))

    @functools.cached_property
    def cov_sqrt(self):
        """The symmetric square root of the covariance (eigenvalues that rounding made negative count as 0)."""
        eigenvalues, vectors = np.linalg.eigh(self.cov)
        return (vectors * np.sqrt(np.maximum(eigenvalues, 0.0))) @ vectors.T


def frechet_distance(feats_a, feats_b):
    """Fréchet distance between gaussians fitted to two feature sets; either may be a Gaussian already fitted.

    tr sqrt(cov_a cov_b) is the sum of the square roots of the eigenvalues of cov_a cov_b, which are those of
    the symmetric sqrt(cov_b) cov_a sqrt(cov_b): one symmetric eigenvalue problem, stable for the singular
    covariances that dead ReLU units give, and cheap when b's square root is kept.
    """
    a = feats_a if isinstance(feats_a, Gaussian) else Gaussian(feats_a)
    b = feats_b if isinstance(feats_b, Gaussian) else Gaussian(feats_b)
    middle = b.cov_sqrt @ a.cov @ b.cov_sqrt
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = np.sum(np.sqrt(np.maximum(eigenvalues, 0.0)))
    distance = np.sum((a.mean - b.mean) ** 2) + np.trace(a.cov) + np.trace(b.cov) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))   # tiny negatives are rounding noise


def mean_pairwise_distance(feats, max_rows=MAX_PAIRWISE_ROWS, seed=0):
    """Mean Euclidean distance over all pairs of rows (a fixed random subsample beyond max_rows)."""
    feats = np.asarray(feats, np.float64)
    if len(feats) < 2:
        raise ValueError('mean_pairwise_distance needs at least 2 rows, got %d' % len(feats))
    if len(feats) > max_rows:
        feats = feats[np.random.default_rng(seed).choice(len(feats), max_rows, replace=False)]
    return float(pdist(feats).mean())


def diversity_ratio(gen_feats, real_feats):
    """Mean pairwise distance of generated features / that of real ones: ~1 is healthy, ~0 collapse."""
    real_spread = mean_pairwise_distance(real_feats)
    if real_spread == 0.0:
        return math.nan
    return mean_pairwise_distance(gen_feats) / real_spread


def per_class_accuracy(predicted, labels, num_classes):
    """Share of correct predictions for each digit; nan for a digit that never occurs."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return [float(np.mean(predicted[labels == digit] == digit)) if np.any(labels == digit) else math.nan
            for digit in range(num_classes)]


def collapsed_digits(ratios):
    return [digit for digit, ratio in enumerate(ratios) if ratio < COLLAPSE_THRESHOLD]


def class_shares(predicted, num_classes):
    """Share of the images the classifier assigns to each class."""
    return (np.bincount(np.asarray(predicted, np.int64), minlength=num_classes) / max(len(predicted), 1)).tolist()


class NearestNeighbours:
    """Euclidean distance from images to the nearest of a fixed pool of images, in pixels.

    Pixels, not classifier features, for the memorisation check: both put exact copies at 0 and fresh
    digits at the real digits' distance, but copies blurred the way generated digits are stay close in
    pixels, while the classifier, trained to ignore such detail, barely tells them from fresh digits
    (docs/results.md has the figures).
    """

    def __init__(self, pool, chunk=NEIGHBOUR_CHUNK):
        self.pool = np.asarray(pool, np.float32).reshape(len(pool), -1)
        self.pool_norms = np.sum(self.pool ** 2, axis=1)
        self.chunk = chunk

    def distances(self, queries):
        queries = np.asarray(queries, np.float32).reshape(len(queries), -1)
        nearest = [np.zeros(0, np.float32)]
        for start in range(0, len(queries), self.chunk):
            part = queries[start:start + self.chunk]
            squared = np.sum(part ** 2, axis=1)[:, None] - 2.0 * part @ self.pool.T + self.pool_norms[None, :]
            nearest.append(np.sqrt(np.maximum(squared.min(axis=1), 0.0)))
        return np.concatenate(nearest)


class Manifold:
    """A feature set as a union of balls, one around each row reaching its k-th nearest other row: the set's
    support, as precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020)
    estimate it. Fit the real side once, compare often.

    Cost grows as n^2, for n rows of the classifier's 256 features: the radii need every distance between
    rows, computed `chunk` rows at a time so that memory stays at a few chunk x n arrays of doubles (20 MB
    each for n = 10,000) beside the rows themselves (20 MB for 10,000); about 0.03 s for 1,000 rows and 1 to
    2 s for 10,000.
    """

    def __init__(self, feats, k=MANIFOLD_K, chunk=NEIGHBOUR_CHUNK):
        self.feats = np.asarray(feats, np.float64).reshape(len(feats), -1)
        if len(self.feats) <= k:
            raise ValueError('a k-nearest-neighbour ball needs more than k = %d rows, got %d' % (k, len(self.feats)))
        self.norms = np.sum(self.feats ** 2, axis=1)
        self.k, self.chunk = k, chunk
        self.radii = np.empty(len(self.feats))
        for start, block in self.distance_blocks(self.feats):
            rows = np.arange(len(block))
            block[rows, start + rows] = np.inf   # a row's own distance 0 is not its first neighbour
            self.radii[start:start + len(block)] = np.partition(block, k - 1, axis=1)[:, k - 1]

    def distance_blocks(self, queries):
        """(start, Euclidean distances from queries[start:start + chunk] to every row), chunk by chunk."""
        for start in range(0, len(queries), self.chunk):
            part = np.asarray(queries[start:start + self.chunk], np.float64)
            block = part @ self.feats.T   # in place from here: one chunk x n array
            block *= -2.0
            block += np.sum(part ** 2, axis=1)[:, None]
            block += self.norms[None, :]
            yield start, np.sqrt(np.maximum(block, 0.0, out=block), out=block)


def manifold_figures(gen_feats, real_feats, k=MANIFOLD_K):
    """Precision, recall, density and coverage of generated features against real ones; either side may be
    a Manifold already fitted.

    precision: share of generated rows inside some real ball (fidelity); recall: share of real rows inside
    some generated ball (variety); density: real balls holding a generated row, per generated row and per
    neighbour, sum / (k * generated rows) (about 1 for a generator as good as real data, above 1 where
    generated rows crowd the dense parts); coverage: share of real balls that hold a generated row (variety,
    without recall's trust in generated balls that outliers blow up). Balls are closed: a row on the edge
    counts as inside. Read fidelity with variety: few real rows in many dimensions make wide balls, and a
    generator of one faint blob can lie inside the balls of a few faint real digits (high precision and
    density) while its recall and coverage are 0.

    Cost: the generated side's radii and one pass over the generated x real distances, chunk by chunk
    (see Manifold): about twice a fit, 0.05 s for 1,000 rows a side and 2 to 3 s for 10,000, in the same
    memory.
    """
    gen = gen_feats if isinstance(gen_feats, Manifold) else Manifold(gen_feats, k)
    real = real_feats if isinstance(real_feats, Manifold) else Manifold(real_feats, k)
    if gen.k != real.k:
        raise ValueError('generated and real balls reach different neighbours: k = %d and %d' % (gen.k, real.k))
    inside_real = np.zeros(len(gen.feats), bool)   # generated rows in some real ball: precision
    held = 0                                       # (generated row, real ball holding it) pairs: density
    covered = np.zeros(len(real.feats), bool)      # real balls holding some generated row: coverage
    inside_gen = np.zeros(len(real.feats), bool)   # real rows in some generated ball: recall
    for start, block in real.distance_blocks(gen.feats):
        in_real_balls = block <= real.radii[None, :]
        inside_real[start:start + len(block)] = in_real_balls.any(axis=1)
        held += int(in_real_balls.sum())
        covered |= in_real_balls.any(axis=0)
        inside_gen |= (block <= gen.radii[start:start + len(block), None]).any(axis=0)
    return {'precision': float(inside_real.mean()), 'recall': float(inside_gen.mean()),
            'density': held / (real.k * len(gen.feats)), 'coverage': float(covered.mean())}


def stratified_sample(labels, per_class, num_classes, seed=REFERENCE_SEED):
    """Indices of per_class rows of every class (fewer where a class has fewer), a fixed random choice."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == digit))[:per_class] for digit in range(num_classes)]
    return np.sort(np.concatenate(chosen))


# ---------------------------------------------------------------- stand-ins: what the figures mean

# Generators made of real training digits, scored as a run is (python evaluate.py --stand-ins): how far small,
# known changes move the figures. (name, what it draws).
STAND_INS = (
    ('copies', 'training digits drawn at random, repeats included: a generator that copies'),
    ('moved', 'training digits, each moved by up to one pixel across and down'),
    ('noisy', 'training digits with noise of standard deviation 0.1'),
    ('blurred', 'training digits blurred by a 3x3 binomial filter'),
)


def moved_by_a_pixel(images, rng):
    """Each image moved by its own whole-pixel shift of -1, 0 or 1 across and down, background coming in."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    height, width = images.shape[1:3]
    shifts = rng.integers(0, 3, size=(len(images), 2))
    return np.stack([padded[i, dy:dy + height, dx:dx + width] for i, (dy, dx) in enumerate(shifts)])


def blurred(images):
    """Each image filtered by [1, 2, 1] / 4 down and across, the background beyond its border."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    down = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4
    return (down[:, :, :-2] + 2 * down[:, :, 1:-1] + down[:, :, 2:]) / 4


ALTERATIONS = {'copies': lambda images, rng: images, 'moved': moved_by_a_pixel,
               'noisy': lambda images, rng: np.clip(images + rng.normal(scale=0.1, size=images.shape), -1, 1),
               'blurred': lambda images, rng: blurred(images)}


def stand_in_sampler(real, name, seed=0):
    """sample_fn of the stand-in `name` (STAND_INS): for each label asked for, a training digit of that class
    picked at random (the same picks for every stand-in of one seed), altered as the name says."""
    picking, altering = map(np.random.default_rng, np.random.SeedSequence(seed).spawn(2))
    by_class = [np.flatnonzero(real.train_labels == label) for label in range(real.num_classes)]

    def sample_fn(labels):
        chosen = np.array([picking.choice(by_class[label]) for label in labels], np.int64)
        return ALTERATIONS[name](real.train_images[chosen], altering).astype(np.float32)
    return sample_fn


# ---------------------------------------------------------------- scoring

class RealDigits:
    """The real side of every comparison, computed once per classifier.

    Held-out digits (never seen by the classifier) are what generated digits are compared with; the
    classifier's training digits play a perfect generator for the reference row, and are the digits a
    memorising generator would copy. The classes are the classifier's (num_classes).
    """

    def __init__(self, classifier, held_images, held_labels, train_images, train_labels):
        self.classifier = classifier
        self.num_classes = classifier.num_classes
        self.held_labels = np.asarray(held_labels, np.int64)
        self.held_features, self.held_predicted = classifier.features_and_predictions(held_images)
        self.held_gaussian = Gaussian(self.held_features)
        self.held_manifold = Manifold(self.held_features)
        self.train_images = np.asarray(train_images, np.float32)
        self.train_neighbours = NearestNeighbours(self.train_images)
        self.train_labels = np.asarray(train_labels, np.int64)
        for name, labels in (('held-out', self.held_labels), ('training', self.train_labels)):
            scarcest = np.bincount(labels, minlength=self.num_classes).min()
            if scarcest < 2:
                raise ValueError('the real %s digits hold %d examples of some digit; need 2 or more'
                                 % (name, scarcest))
        self.spread_per_class = [mean_pairwise_distance(self.held_features[self.held_labels == digit])
                                 for digit in range(self.num_classes)]
        self.held_neighbour_median = float(np.median(self.train_neighbours.distances(held_images)))
        self._rows = {}

    def matched_per_class(self, per_class):
        """Digits per class on the generated side of the FD: as many as the reference can match."""
        return int(min(per_class, np.bincount(self.train_labels, minlength=self.num_classes).min()))

    def reference(self, per_class):
        """The reference row for per_class generated digits per class: training digits as the generator."""
        matched = self.matched_per_class(per_class)
        if matched not in self._rows:
            chosen = stratified_sample(self.train_labels, matched, self.num_classes)
            features = self.classifier.features(self.train_images[chosen])
            labels = self.train_labels[chosen]
            ratios = [self.diversity(features[labels == digit], digit) for digit in range(self.num_classes)]
            self._rows[matched] = {
                'accuracy': float(np.mean(self.held_predicted == self.held_labels)),
                'per_class_accuracy': per_class_accuracy(self.held_predicted, self.held_labels, self.num_classes),
                'frechet_distance': frechet_distance(features, self.held_gaussian),
                'frechet_per_class': matched,
                'diversity_ratio': ratios,
                'mode_collapse': collapsed_digits(ratios),
                'class_shares': class_shares(self.held_predicted, self.num_classes),
                **manifold_figures(features, self.held_manifold),
            }
        return copy.deepcopy(self._rows[matched])

    def diversity(self, features, digit):
        """Mean pairwise distance of features / that of the held-out digits of this digit."""
        real_spread = self.spread_per_class[digit]
        if len(features) < 2 or real_spread == 0:
            return math.nan
        return mean_pairwise_distance(features) / real_spread


def generate_and_measure(real, sample_fn, labels):
    """Features, predictions and distance to the nearest training digit of sample_fn's images, by chunk."""
    features, predicted, neighbours = [], [], []
    for start in range(0, len(labels), CHUNK_SIZE):
        chunk_labels = labels[start:start + CHUNK_SIZE]
        images = np.asarray(sample_fn(chunk_labels), np.float32)
        if images.shape != (len(chunk_labels), 28, 28, 1):
            raise ValueError('sample_fn returned shape %s for %d labels; expected (%d, 28, 28, 1)'
                             % (images.shape, len(chunk_labels), len(chunk_labels)))
        chunk_features, chunk_predicted = real.classifier.features_and_predictions(images)
        features.append(chunk_features)
        predicted.append(chunk_predicted)
        neighbours.append(real.train_neighbours.distances(images))
    return np.concatenate(features), np.concatenate(predicted), np.concatenate(neighbours)


def evaluate_samples(real, sample_fn, num_per_class, seed, conditioned=True):
    """Score num_per_class generated digits of every class against the real digits (a RealDigits).

    sample_fn(labels) must return float32 images (len(labels), 28, 28, 1) in [-1, 1]. Labels are
    requested in shuffled chunks of CHUNK_SIZE, so each chunk mixes digits. For an unconditioned
    generator (conditioned=False) the labels mean nothing: accuracy is None, and diversity is measured
    per class the classifier assigns.
    """
    if num_per_class < 2:
        raise ValueError('num_per_class must be at least 2 (pairwise distances), got %d' % num_per_class)
    if num_per_class > MAX_NUM_PER_CLASS:
        raise ValueError('num_per_class must be at most %d, got %d' % (MAX_NUM_PER_CLASS, num_per_class))
    labels = np.repeat(np.arange(real.num_classes, dtype=np.int64), num_per_class)
    np.random.default_rng(seed).shuffle(labels)
    features, predicted, neighbours = generate_and_measure(real, sample_fn, labels)

    reference = real.reference(num_per_class)
    # FD is biased upwards for small samples: the generated side gets as many digits as the reference.
    matched = stratified_sample(labels, reference['frechet_per_class'], real.num_classes, seed)
    distance = frechet_distance(features[matched], real.held_gaussian)
    groups = labels if conditioned else predicted
    ratios = [real.diversity(features[groups == digit], digit) for digit in range(real.num_classes)]
    # A held-out set made of copies of training digits would leave nothing to compare with.
    memorisation = (float(np.median(neighbours)) / real.held_neighbour_median if real.held_neighbour_median
                    else math.nan)
    return {
        'conditioned': conditioned,
        'accuracy': float(np.mean(predicted == labels)) if conditioned else None,
        'per_class_accuracy': per_class_accuracy(predicted, labels, real.num_classes) if conditioned else None,
        'class_shares': class_shares(predicted, real.num_classes),
        'frechet_distance': distance,
        'frechet_per_class': reference['frechet_per_class'],
        'frechet_ratio': distance / reference['frechet_distance'] if reference['frechet_distance'] else math.nan,
        'diversity_ratio': ratios,
        'mode_collapse': collapsed_digits(ratios),
        'memorisation_ratio': memorisation,
        'memorisation_flag': memorisation < MEMORISATION_THRESHOLD,
        # The same digits as the FD's, and as many as the reference's: the figures move with both sets' sizes.
        **manifold_figures(features[matched], real.held_manifold),
        'reference': reference,
    }


class Evaluator:
    """Loads (or trains once) the classifier and the real digits' figures; then scores any sample_fn. The classes
    are the data's (class_names)."""

    def __init__(self, dataset_name='mnist', data_path=None, cache_dir=None, num_per_class=1000):
        import classifier as classifier_lib   # TensorFlow: only when a classifier is needed
        self.num_per_class = num_per_class
        stick = classifier_lib.get_classifier(dataset_name, data_path, cache_dir)
        self.classifier, self.classifier_accuracy = stick.classifier, stick.accuracy
        self.class_names = stick.class_names
        try:
            self.real = RealDigits(stick.classifier, stick.held_images, stick.held_labels,
                                   stick.train_images, stick.train_labels)
            self.real.reference(num_per_class)   # now, not at the first evaluation
        except BaseException:
            self.classifier.close()
            raise

    def evaluate(self, sample_fn, seed=0, conditioned=True):
        return evaluate_samples(self.real, sample_fn, self.num_per_class, seed, conditioned)

    def close(self):
        self.classifier.close()


def evaluation_problem(dataset_name, data_path=None, num_per_class=1000, cache_dir=None):
    """One line saying why an Evaluator(dataset_name, data_path, cache_dir, num_per_class) cannot score, or None
    if it can: num_per_class from 2 to MAX_NUM_PER_CLASS, and the data and the cache as
    classifier.evaluation_problem says (the data valid, every digit 2 or more times among the held-out and the
    training digits, a cache that holds this data's classifier or a place it can be written). Cheap and silent
    (no TensorFlow, no training): for a caller to check before work that ends in an evaluation."""
    if not 2 <= num_per_class <= MAX_NUM_PER_CLASS:
        return ('%d generated digits per class: evaluation takes 2 to %d (the features of every one are kept in '
                'memory)' % (num_per_class, MAX_NUM_PER_CLASS))
    import classifier as classifier_lib   # the cache rules and data checks: no TensorFlow
    return classifier_lib.evaluation_problem(dataset_name, data_path, cache_dir)


def headline(result):
    """The figures of one row of a comparison, or of one point of a training curve."""
    per_class = result['per_class_accuracy']
    diversity = [ratio for ratio in result['diversity_ratio'] if not math.isnan(ratio)]
    return {
        'accuracy': result['accuracy'],
        'lowest_digit_accuracy': float(np.nanmin(per_class)) if per_class else None,
        'frechet_distance': result['frechet_distance'],
        'frechet_ratio': result['frechet_ratio'],
        'min_diversity_ratio': min(diversity) if diversity else None,
        'max_diversity_ratio': max(diversity) if diversity else None,
        'memorisation_ratio': result['memorisation_ratio'],
        'memorisation_flag': result['memorisation_flag'],
        'precision': result['precision'],
        'recall': result['recall'],
        'density': result['density'],
        'coverage': result['coverage'],
        'min_class_share': min(result['class_shares']),
        'max_class_share': max(result['class_shares']),
    }


QUALITY_RECORD_NAME = 'quality.jsonl'


def read_quality_record(logdir):
    """The quality points a run wrote while training (one JSON object a line, see EvaluationCallback), by
    step; where a resumed run measured a step again, its last point. [] if there is none. ValueError naming the
    line when one is not such a point (an object whose step is a whole number and figures numbers or null)."""
    path = os.path.join(logdir, QUALITY_RECORD_NAME)
    by_step = {}
    if os.path.isfile(path):
        with open(path) as stream:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except ValueError as error:
                        raise ValueError('%s line %d is not JSON (%s)' % (path, number, error)) from None
                    problem = quality_point_problem(record)
                    if problem:
                        raise ValueError('%s line %d is not a quality point: %s' % (path, number, problem))
                    by_step[record['step']] = record
    return [by_step[step] for step in sorted(by_step)]


def quality_point_problem(record):
    if not isinstance(record, dict):
        return 'a JSON %s, not an object' % type(record).__name__
    if isinstance(record.get('step'), bool) or not isinstance(record.get('step'), int):
        return '"step" is %s, not a whole number' % json.dumps(record.get('step'))
    for key in ('training_seconds', 'accuracy', 'frechet_ratio'):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return '"%s" is %s, not a number or null' % (key, json.dumps(value))
    return None


def minutes_to_quality(records, accuracy=0.99, frechet_ratio=2.0):
    """Training minutes at the first point with at least `accuracy` and at most `frechet_ratio`; None if
    no point reached both (or the run's points carry no training time)."""
    for record in records:
        if (record.get('training_seconds') is not None and (record.get('accuracy') or 0.0) >= accuracy
                and (record.get('frechet_ratio') or math.inf) <= frechet_ratio):
            return record['training_seconds'] / 60.0
    return None


def without_nan(value):
    """JSON has no NaN: report a missing figure as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nan(item) for item in value]
    return value
