"""Measure a conditional generator with the cached digit classifier.

For generated digits: the share classified as the digit they were drawn for (overall and per digit),
the Fréchet distance between classifier features of generated and real held-out digits, and a
per-digit diversity ratio (mean pairwise feature distance, generated / real; far below 1 is mode
collapse). Real held-out digits scored the same way form the reference row.

    python evaluate.py --logdir summary/train [--num-per-class 1000] [--json] [--seed 0]
"""
import argparse
import copy
import json
import math
import sys
import warnings

import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist

import dataset

NUM_CLASSES = 10
CHUNK_SIZE = 500              # generated images per sample_fn call, bounds memory
COLLAPSE_THRESHOLD = 0.5      # diversity ratio below this flags a digit as mode-collapsed
MAX_PAIRWISE_ROWS = 2000      # pairwise distances grow quadratically; a subsample estimates the mean well
REFERENCE_SPLIT_SEED = 0      # fixed, so the reference row is the same for every evaluation


# ---------------------------------------------------------------- metric functions

def frechet_distance(feats_a, feats_b):
    """Fréchet distance between gaussians fitted to two feature sets (rows are samples)."""
    feats_a = np.asarray(feats_a, np.float64)
    feats_b = np.asarray(feats_b, np.float64)
    mean_a, mean_b = feats_a.mean(axis=0), feats_b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(feats_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(feats_b, rowvar=False))
    with warnings.catch_warnings():
        # Dead ReLU units make the covariances singular; sqrtm then warns, yet its result is usable.
        warnings.simplefilter('ignore', linalg.LinAlgWarning)
        cov_sqrt = linalg.sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(cov_sqrt)):
            # A small ridge makes a badly singular product's square root well defined.
            ridge = np.eye(len(cov_a)) * 1e-6
            cov_sqrt = linalg.sqrtm((cov_a + ridge) @ (cov_b + ridge))
    # Rounding gives the square root of a PSD product tiny imaginary parts; they carry no meaning.
    cov_sqrt = np.real(cov_sqrt)
    distance = (np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                - 2.0 * np.trace(cov_sqrt))
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


def per_class_accuracy(predicted, labels, num_classes=NUM_CLASSES):
    """Share of correct predictions for each digit; nan for a digit that never occurs."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return [float(np.mean(predicted[labels == digit] == digit)) if np.any(labels == digit) else math.nan
            for digit in range(num_classes)]


def collapsed_digits(ratios):
    return [digit for digit, ratio in enumerate(ratios) if ratio < COLLAPSE_THRESHOLD]


# ---------------------------------------------------------------- scoring

class RealReference:
    """Classifier features of the real held-out digits and the reference row; computed once."""

    def __init__(self, classifier, real_images, real_labels):
        self.labels = np.asarray(real_labels, np.int64)
        self.features = classifier.features(real_images)
        predicted = classifier.predict(real_images)
        half_a, half_b = self._stratified_halves(self.labels)
        self.spread_per_class = [mean_pairwise_distance(self.features[self.labels == digit])
                                 for digit in range(NUM_CLASSES)]
        ratios = [diversity_ratio(self.features[half_a][self.labels[half_a] == digit],
                                  self.features[half_b][self.labels[half_b] == digit])
                  for digit in range(NUM_CLASSES)]
        self.row = {
            'accuracy': float(np.mean(predicted == self.labels)),
            'per_class_accuracy': per_class_accuracy(predicted, self.labels),
            'frechet_distance': frechet_distance(self.features[half_a], self.features[half_b]),
            'diversity_ratio': ratios,
            'mode_collapse': collapsed_digits(ratios),
        }

    @staticmethod
    def _stratified_halves(labels):
        rng = np.random.default_rng(REFERENCE_SPLIT_SEED)
        half_a, half_b = [], []
        for digit in range(NUM_CLASSES):
            members = rng.permutation(np.flatnonzero(labels == digit))
            if len(members) < 4:
                raise ValueError('the real reference set has only %d examples of digit %d; need 4 or more'
                                 % (len(members), digit))
            half_a.append(members[:len(members) // 2])
            half_b.append(members[len(members) // 2:])
        return np.concatenate(half_a), np.concatenate(half_b)


def evaluate_samples(classifier, sample_fn, real_images, real_labels, num_per_class, seed,
                     real_reference=None):
    """Score num_per_class generated digits of every class against the real held-out digits.

    sample_fn(labels) must return float32 images (len(labels), 28, 28, 1) in [-1, 1]. Labels are
    requested in shuffled chunks of CHUNK_SIZE, so each chunk mixes digits. real_reference (a
    RealReference for the same classifier and real digits) skips recomputing the real features.
    """
    if num_per_class < 2:
        raise ValueError('num_per_class must be at least 2 (pairwise distances), got %d' % num_per_class)
    if real_reference is None:
        real_reference = RealReference(classifier, real_images, real_labels)
    labels = np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), num_per_class)
    np.random.default_rng(seed).shuffle(labels)

    features, predicted = [], []
    for start in range(0, len(labels), CHUNK_SIZE):
        chunk_labels = labels[start:start + CHUNK_SIZE]
        images = np.asarray(sample_fn(chunk_labels), np.float32)
        if images.shape != (len(chunk_labels), 28, 28, 1):
            raise ValueError('sample_fn returned shape %s for %d labels; expected (%d, 28, 28, 1)'
                             % (images.shape, len(chunk_labels), len(chunk_labels)))
        features.append(classifier.features(images))
        predicted.append(classifier.predict(images))
    features, predicted = np.concatenate(features), np.concatenate(predicted)

    ratios = []
    for digit in range(NUM_CLASSES):
        real_spread = real_reference.spread_per_class[digit]
        generated_spread = mean_pairwise_distance(features[labels == digit])
        ratios.append(generated_spread / real_spread if real_spread > 0 else math.nan)
    return {
        'accuracy': float(np.mean(predicted == labels)),
        'per_class_accuracy': per_class_accuracy(predicted, labels),
        'frechet_distance': frechet_distance(features, real_reference.features),
        'diversity_ratio': ratios,
        'mode_collapse': collapsed_digits(ratios),
        'reference': copy.deepcopy(real_reference.row),
    }


class Evaluator:
    """Loads (or trains once) the classifier and the real features; then scores any sample_fn."""

    def __init__(self, dataset_name='mnist', data_path=None, cache_dir=None, num_per_class=1000):
        import classifier as classifier_lib   # TensorFlow: only when a classifier is needed
        self.num_per_class = num_per_class
        (self.classifier, self.real_images, self.real_labels,
         self.classifier_accuracy) = classifier_lib.get_classifier(dataset_name, data_path, cache_dir)
        try:
            self.real_reference = RealReference(self.classifier, self.real_images, self.real_labels)
        except BaseException:
            self.classifier.close()
            raise

    def evaluate(self, sample_fn, seed=0):
        return evaluate_samples(self.classifier, sample_fn, self.real_images, self.real_labels,
                                self.num_per_class, seed, real_reference=self.real_reference)

    def close(self):
        self.classifier.close()


# ---------------------------------------------------------------- command line

class UsageError(Exception):
    pass


class OneLineArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def positive_count(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError('must be at least 2, got %d' % value)
    return value


def build_parser():
    parser = OneLineArgumentParser(
        prog='evaluate.py', description='Score a trained conditional generator with a digit classifier.')
    parser.add_argument('--logdir', default='summary/train', help='training log dir with checkpoints')
    parser.add_argument('--num-per-class', type=positive_count, default=1000,
                        help='generated digits per class (default 1000)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of a table')
    parser.add_argument('--seed', type=int, default=0, help='seed for the generator noise (default 0)')
    parser.add_argument('--classifier-dir', default=None,
                        help='classifier cache dir (default summary/classifiers/<dataset>-<data hash>)')
    return parser


def without_nan(value):
    """JSON has no NaN: report a missing figure as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nan(item) for item in value]
    return value


def format_table(result, settings):
    def cells(values, form='%6.3f'):
        return ''.join('   -  ' if math.isnan(v) else form % v for v in values)

    reference = result['reference']
    lines = [
        'evaluated %s: %s, %d generated digits per class, seed %s; classifier held-out accuracy %.4f'
        % (settings['logdir'], settings['dataset'], settings['num_per_class'], settings['seed'],
           settings['classifier_accuracy']),
        '',
        '%-16s %9s %9s' % ('', 'accuracy', 'FD'),
        '%-16s %9.4f %9.3f' % ('generated', result['accuracy'], result['frechet_distance']),
        '%-16s %9.4f %9.3f   (FD between two halves of the real digits)'
        % ('real reference', reference['accuracy'], reference['frechet_distance']),
        '',
        '%-22s' % 'digit' + ''.join('%6d' % digit for digit in range(NUM_CLASSES)),
        '%-22s' % 'accuracy  generated' + cells(result['per_class_accuracy']),
        '%-22s' % '          real' + cells(reference['per_class_accuracy']),
        '%-22s' % 'diversity generated' + cells(result['diversity_ratio']),
        '%-22s' % '          real' + cells(reference['diversity_ratio']),
        '%-22s' % 'collapse  generated' + ''.join(
            '%6s' % ('X' if digit in result['mode_collapse'] else '.') for digit in range(NUM_CLASSES)),
        '',
    ]
    if result['mode_collapse']:
        lines.append('mode collapse (diversity ratio < %.1f) in digits: %s'
                     % (COLLAPSE_THRESHOLD, ' '.join(map(str, result['mode_collapse']))))
    else:
        lines.append('no mode collapse (every diversity ratio >= %.1f)' % COLLAPSE_THRESHOLD)
    return '\n'.join(lines)


def fail(message):
    print('evaluate.py: error: %s' % message, file=sys.stderr)
    return 2


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        return fail('%s (see python evaluate.py --help)' % error)
    except SystemExit as done:   # --help
        return done.code

    try:
        # generate first: it imports TensorFlow with its start-up notices muted, so errors stay one line.
        import generate
        import classifier as classifier_lib
    except ImportError as error:
        return fail('cannot import %s: run from the project directory' % error)

    try:
        generator = generate.load_generator(args.logdir)
    except generate.GenerateError as error:
        return fail(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)

    classifier = None
    try:
        config = generator.config
        if 'dataset' not in config:
            raise ValueError('the config of %s names no dataset: retrain with python main.py' % args.logdir)
        dataset_name, data_path = config['dataset'], config.get('data')
        classifier, real_images, real_labels, classifier_accuracy = classifier_lib.get_classifier(
            dataset_name, data_path, cache_dir=args.classifier_dir)
        seeds = np.random.default_rng(args.seed)

        def sample_fn(labels):
            # Independent noise per chunk, all fixed by --seed.
            return generator.sample(labels, seed=int(seeds.integers(2 ** 31)))
        result = evaluate_samples(classifier, sample_fn, real_images, real_labels,
                                  args.num_per_class, args.seed)
    except (dataset.DataError, classifier_lib.ClassifierError, generate.GenerateError,
            ValueError, OSError) as error:
        text = str(error).strip().splitlines()
        return fail(text[0] if text else type(error).__name__)
    finally:
        generator.close()
        if classifier is not None:
            classifier.close()

    settings = {'logdir': args.logdir, 'dataset': dataset_name, 'data': data_path,
                'num_per_class': args.num_per_class, 'seed': args.seed,
                'classifier_accuracy': classifier_accuracy}
    if args.json:
        print(json.dumps(without_nan(dict(result, settings=settings))))
    else:
        print(format_table(result, settings))
    return 0


if __name__ == '__main__':
    sys.exit(main())
