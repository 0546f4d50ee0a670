"""A small classifier of the data's classes: the measuring stick for generated images, trained once and cached.

Graph: conv 5x5x32 -> max-pool -> conv 5x5x64 -> max-pool -> dense 256 (the features) -> a logit per class
(10 for the digits). 'VALID' convolutions keep it cheap to train on two CPU cores.

The cache of a data set's classifier is the folder <cache root>/<dataset>-<data hash> (see cache_root), or the one
a caller names. TensorFlow is imported only when a classifier is built, so that the cache rules and
evaluation_problem cost nothing.
"""
import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import typing

import numpy as np

import cli
import dataset

FEATURE_SIZE = 256
SMALL_DATASET_STEPS = 1500  # 5,000-digit sample: about 24 passes
LARGE_DATASET_STEPS = 3000  # full MNIST: about 3 passes
LARGE_DATASET_SIZE = 20000
DEFAULT_BATCH_SIZE = 64
LEARNING_RATE = 1e-3         # peak; cosine-decayed to 0 over the run
DROPOUT_RATE = 0.5           # on the features during training only
MAX_SHIFT = 2                # random translations of up to 2 px make the net robust to off-centre digits
HOLD_OUT_PER_CLASS = 100     # for datasets without a test split
INFERENCE_BATCH = 1000
CHECKPOINT_NAME = 'model.ckpt'
CACHE_INFO_FILE = 'classifier.json'
# Every file of a cache this project wrote: the marker (CACHE_INFO_FILE) and the weights. A folder holding
# anything else is not the project's to replace.
CACHE_FILES = (CACHE_INFO_FILE, CHECKPOINT_NAME + '.index', CHECKPOINT_NAME + '.data-00000-of-00001')
CACHE_ENVIRONMENT = 'GAN_CLASSIFIER_CACHE'
CACHE_SUBFOLDER = os.path.join('conditional-gan-mnist', 'classifiers')
CACHE_FIX = 'pass --classifier-dir a new or empty folder, or set %s to another folder' % CACHE_ENVIRONMENT
DATASETS_WITHOUT_TEST_SPLIT = ('mnist_sample',)


class ClassifierError(Exception):
    """A saved classifier cannot be read."""


class CacheError(ClassifierError):
    """The classifier cannot be cached where asked; `code` is the exit code a command line gives it (2: choose
    another place, 1: the place failed)."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


def cache_root():
    """The folder of the classifier caches, one per data set: $GAN_CLASSIFIER_CACHE if set, else
    $XDG_CACHE_HOME/conditional-gan-mnist/classifiers, else ~/.cache/conditional-gan-mnist/classifiers."""
    if os.environ.get(CACHE_ENVIRONMENT):
        return os.environ[CACHE_ENVIRONMENT]
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, CACHE_SUBFOLDER)


def default_cache_dir(dataset_name, data_fingerprint):
    return os.path.join(cache_root(), '%s-%s' % (dataset_name, data_fingerprint))


def foreign_files(cache_dir):
    """The names in the folder cache_dir that make it not a cache of this project's: [] for an empty folder or
    one holding CACHE_INFO_FILE and other files of CACHE_FILES only."""
    names = sorted(os.listdir(cache_dir))
    foreign = [name for name in names if name not in CACHE_FILES]
    if names and not foreign and CACHE_INFO_FILE not in names:
        return names   # weights without the marker are not known to be ours
    return foreign


def cache_problem(cache_dir):
    """(one line, exit code) saying why a classifier cannot be written into cache_dir, or None.

    It may be written where nothing is, into an empty folder, or over a cache this project wrote (see
    foreign_files), and only where a new folder can be made beside it. Checked before the training, and again
    before the replacing; nothing is left behind by the check.
    """
    if os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        return 'the classifier cache %s is a file, not a folder: %s' % (cache_dir, CACHE_FIX), 2
    if os.path.isdir(cache_dir):
        foreign = foreign_files(cache_dir)
        if foreign:
            shown = ', '.join(foreign[:3]) + (' and %d more' % (len(foreign) - 3) if len(foreign) > 3 else '')
            return ('the classifier cache %s holds files this project did not write (%s), so it is not replaced: %s'
                    % (cache_dir, shown, CACHE_FIX)), 2
    folder = cli.existing_folder(cache_dir)
    if not os.path.isdir(folder):
        return 'the classifier cache %s cannot be made: %s is a file, not a folder: %s' % (
            cache_dir, folder, CACHE_FIX), 2
    try:
        os.rmdir(tempfile.mkdtemp(prefix='.tmp-probe-', dir=folder))
    except OSError as error:
        return 'the classifier cache %s cannot be written: %s' % (
            cache_dir, cli.unwritable(folder, error, CACHE_FIX)), 1
    return None


def check_cache(cache_dir):
    problem = cache_problem(cache_dir)
    if problem:
        raise CacheError(*problem)


def log_line(message):
    # stderr, so that a JSON report on stdout stays clean
    print(message, file=sys.stderr, flush=True)


def shift_randomly(images, rng, max_shift=MAX_SHIFT):
    """Translate each image by up to max_shift pixels; the uncovered border is background (-1)."""
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)),
                    constant_values=-1.0)
    offsets = rng.integers(0, 2 * max_shift + 1, size=(len(images), 2))
    shifted = np.empty_like(images)
    for i, (dy, dx) in enumerate(offsets):
        shifted[i] = padded[i, dy:dy + 28, dx:dx + 28]
    return shifted


class Classifier:
    """CNN classifier of num_classes classes (the data's) in its own graph and session."""

    def __init__(self, num_classes, seed=0):
        tf = cli.import_tensorflow_quietly()
        self.num_classes = num_classes
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.set_random_seed(seed)
            self.image_input = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], 'images')
            self.label_input = tf.compat.v1.placeholder(tf.int64, [None], 'labels')
            self.learning_rate = tf.compat.v1.placeholder(tf.float32, [], 'learning_rate')
            self.dropout_rate = tf.compat.v1.placeholder_with_default(0.0, [], 'dropout_rate')
            self.feature_output, self.logit_output = self._build(self.image_input, self.dropout_rate, num_classes)
            self.probability_output = tf.nn.softmax(self.logit_output)
            self.prediction_output = tf.argmax(self.logit_output, axis=1)
            self.loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=self.label_input, logits=self.logit_output))
            self.train_op = tf.compat.v1.train.AdamOptimizer(self.learning_rate).minimize(self.loss)
            # The weights only: optimizer slots would triple the cache for nothing.
            self.saver = tf.compat.v1.train.Saver(tf.compat.v1.trainable_variables(), max_to_keep=1)
            init = tf.compat.v1.global_variables_initializer()
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.session.run(init)

    @staticmethod
    def _build(images, dropout_rate, num_classes):
        tf = cli.import_tensorflow_quietly()
        he_init = tf.compat.v1.variance_scaling_initializer(scale=2.0)

        def conv_relu_pool(x, name, size, channels):
            with tf.compat.v1.variable_scope(name):
                weights = tf.compat.v1.get_variable(
                    'weights', [size, size, x.shape[-1], channels], initializer=he_init)
                bias = tf.compat.v1.get_variable('bias', [channels], initializer=tf.zeros_initializer())
                x = tf.nn.relu(tf.nn.conv2d(x, weights, 1, 'VALID') + bias)
                return tf.nn.max_pool2d(x, 2, 2, 'VALID')

        def dense(x, name, units, initializer):
            with tf.compat.v1.variable_scope(name):
                weights = tf.compat.v1.get_variable('weights', [x.shape[-1], units], initializer=initializer)
                bias = tf.compat.v1.get_variable('bias', [units], initializer=tf.zeros_initializer())
                return tf.matmul(x, weights) + bias

        with tf.compat.v1.variable_scope('classifier'):
            x = conv_relu_pool(images, 'conv1', 5, 32)     # 24x24 -> 12x12
            x = conv_relu_pool(x, 'conv2', 5, 64)          # 8x8 -> 4x4
            x = tf.reshape(x, [-1, 4 * 4 * 64])
            features = tf.nn.relu(dense(x, 'features', FEATURE_SIZE, he_init))
            logits = dense(tf.nn.dropout(features, rate=dropout_rate), 'logits', num_classes,
                           tf.compat.v1.glorot_uniform_initializer())
        return features, logits

    def train(self, images, labels, steps=SMALL_DATASET_STEPS, batch_size=DEFAULT_BATCH_SIZE, seed=0):
        """Adam with a cosine learning-rate decay on shuffled mini-batches, each randomly shifted."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(images))
        position = 0
        for step in range(steps):
            learning_rate = LEARNING_RATE * 0.5 * (1.0 + np.cos(np.pi * step / steps))
            if position + batch_size > len(order):
                order = rng.permutation(len(images))
                position = 0
            batch = order[position:position + batch_size]
            position += batch_size
            self.session.run(self.train_op, {self.image_input: shift_randomly(images[batch], rng),
                                             self.label_input: labels[batch],
                                             self.learning_rate: learning_rate,
                                             self.dropout_rate: DROPOUT_RATE})

    def _run_in_batches(self, output, images):
        """session.run(output) over batches of images, concatenated; output may be a list of tensors."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
            raise ValueError('classifier expects images of shape (N, 28, 28, 1), got %s'
                             % (images.shape,))
        outputs = output if isinstance(output, list) else [output]
        chunks = [self.session.run(outputs, {self.image_input: images[start:start + INFERENCE_BATCH]})
                  for start in range(0, len(images), INFERENCE_BATCH)]
        if not chunks:
            chunks = [self.session.run(outputs, {self.image_input: images})]
        joined = [np.concatenate(parts) for parts in zip(*chunks)]
        return joined if isinstance(output, list) else joined[0]

    def features(self, images):
        """Penultimate-layer activations, float32 (N, FEATURE_SIZE)."""
        return self._run_in_batches(self.feature_output, images).astype(np.float32)

    def features_and_predictions(self, images):
        """features(images) and predict(images) from one pass through the network."""
        features, predicted = self._run_in_batches([self.feature_output, self.prediction_output], images)
        return features.astype(np.float32), predicted.astype(np.int64)

    def logits(self, images):
        return self._run_in_batches(self.logit_output, images)

    def probabilities(self, images):
        return self._run_in_batches(self.probability_output, images)

    def predict(self, images):
        """Most likely class per image, int64 (N,)."""
        return self._run_in_batches(self.prediction_output, images).astype(np.int64)

    def accuracy(self, images, labels):
        return float(np.mean(self.predict(images) == labels))

    def save(self, directory):
        os.makedirs(directory, exist_ok=True)
        # No 'checkpoint' state file: it would hold the absolute path of a temporary directory.
        with self.graph.as_default():   # outside its graph the Saver would try eager mode
            self.saver.save(self.session, os.path.join(directory, CHECKPOINT_NAME),
                            write_meta_graph=False, write_state=False)

    @classmethod
    def load(cls, directory, num_classes):
        path = os.path.join(directory, CHECKPOINT_NAME)
        if not os.path.exists(path + '.index'):
            raise ClassifierError('no classifier checkpoint %s.index: delete %s to retrain'
                                  % (path, directory))
        classifier = cls(num_classes)
        try:
            with classifier.graph.as_default():
                classifier.saver.restore(classifier.session, path)
        except Exception as error:  # TF raises several error types for damaged files
            classifier.close()
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ClassifierError('cannot restore %s: %s' % (path, first_line)) from None
        return classifier

    def close(self):
        self.session.close()


def fingerprint(images, labels):
    """Short content hash of a data set: the cache key, so changed data means a new classifier."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, np.float32).tobytes())
    digest.update(np.ascontiguousarray(labels, np.int64).tobytes())
    return digest.hexdigest()[:12]


def stratified_split(labels, per_class, names, seed=0, source='the training data', in_folders=False):
    """(train_indices, held_out_indices) with per_class held-out examples of every class (`names`, in label order);
    DataError naming `source` when a class has too few to hold out per_class and keep two (the least a spread is
    measured on), and saying how to give it more: `in_folders`, the data is a folder of class folders."""
    rng = np.random.default_rng(seed)
    held_out = []
    for digit in range(len(names)):
        members = np.flatnonzero(labels == digit)
        if len(members) < per_class + 2:
            raise dataset.DataError(too_few_to_hold_out(source, names, digit, len(members), per_class, in_folders))
        held_out.append(rng.choice(members, per_class, replace=False))
    held_out = np.sort(np.concatenate(held_out))
    train = np.setdiff1d(np.arange(len(labels)), held_out)
    return train, held_out


def too_few_to_hold_out(source, names, label, count, per_class, in_folders):
    """The line for a class with too few examples to hold out per_class of them, and the fix for its kind of data."""
    if in_folders:
        fix = 'put at least %d images in every class folder' % (per_class + 2)
    else:
        fix = ('give it a test split (x_test and y_test in an .npz, or t10k-* IDX files) or at least %d images of '
               'every class' % (per_class + 2))
    return ('%s has no test split and only %d images of %s: evaluation holds out %d images of every class and keeps '
            '2 or more to train on: %s' % (source, count, class_text(names, label), per_class, fix))


def class_text(names, label):
    """A class as a message names it: 'digit 3', or 'class 2 (sneaker)'."""
    return 'digit %d' % label if dataset.are_digits(names) else 'class %d (%s)' % (label, names[label])


def load_training_and_held_out(dataset_name, data_path=None):
    """(train images, train labels, held-out images, held-out labels, how the held-out set was chosen, the
    names of the classes). A folder of class folders has no test split: its images are held out."""
    names = dataset.data_class_names(dataset_name, data_path)
    images, labels = dataset.load_dataset(dataset_name, path=data_path, split='train')
    split = test_split(dataset_name, data_path, names)
    if split is not None:
        return images, labels, split[0], split[1], 'test split', names
    train, held_out = hold_out(dataset_name, data_path, labels, names)
    return (images[train], labels[train], images[held_out], labels[held_out],
            'stratified hold-out, %d per class' % HOLD_OUT_PER_CLASS, names)


def test_split(dataset_name, data_path, names, log=log_line):
    """The data's test split as (images, labels), or None when it has none (`log` says so where it was looked
    for; None: nothing is said): its training images are then held out, HOLD_OUT_PER_CLASS per class
    (`hold_out`)."""
    if dataset_name in DATASETS_WITHOUT_TEST_SPLIT or (data_path is not None and dataset.is_class_folder(data_path)):
        return None
    try:
        return dataset.load_dataset(dataset_name, path=data_path, split='test')
    except dataset.DataError as error:
        if log is not None:
            log('no test split for %s (%s); holding out %d training %ss per class'
                % (dataset_name, error, HOLD_OUT_PER_CLASS, 'digit' if dataset.are_digits(names) else 'image'))
        return None


def hold_out(dataset_name, data_path, labels, names):
    """(train indices, held-out indices) of the training images of data without a test split: the same for the
    classifier and for a GAN that leaves the held-out images out of its training (settings.train_on_held_out)."""
    in_folders = data_path is not None and dataset.is_class_folder(data_path)
    return stratified_split(labels, HOLD_OUT_PER_CLASS, names, source=data_path or dataset_name,
                            in_folders=in_folders)


def read_cache(cache_dir, expected_fingerprint, num_classes):
    """The cached classifier and its accuracy; ClassifierError if anything is missing or damaged, or it is of other
    data or another number of classes (caches written before they recorded it are of the ten digits)."""
    info_path = os.path.join(cache_dir, CACHE_INFO_FILE)
    try:
        with open(info_path) as handle:
            info = json.load(handle)
        accuracy = float(info['accuracy'])
        cached_fingerprint = info['fingerprint']
        cached_classes = int(info.get('num_classes', 10))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ClassifierError('unreadable %s (%s)' % (info_path, type(error).__name__)) from None
    if cached_fingerprint != expected_fingerprint:
        raise ClassifierError('%s was trained on other data (%s, now %s)'
                              % (cache_dir, cached_fingerprint, expected_fingerprint))
    if cached_classes != num_classes:
        raise ClassifierError('%s tells %d classes apart, and the data has %d' % (cache_dir, cached_classes,
                                                                                  num_classes))
    return Classifier.load(cache_dir, num_classes), accuracy


def write_cache(classifier, cache_dir, info):
    """Write into a temporary folder beside cache_dir, then move it in: an interrupted run leaves no half-written
    cache. Where there is no cache_dir, the temporary folder becomes it; an existing one (empty, or a stale cache
    of this project's: see cache_problem, checked again now) gets the new files one by one. No folder is removed,
    and no file but those of CACHE_FILES."""
    check_cache(cache_dir)
    parent = os.path.dirname(os.path.abspath(cache_dir))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix='.tmp-%s-' % os.path.basename(os.path.abspath(cache_dir)), dir=parent)
    try:
        classifier.save(temporary)
        with open(os.path.join(temporary, CACHE_INFO_FILE), 'w') as handle:
            json.dump(info, handle, indent=2)
        if not os.path.isdir(cache_dir):
            try:
                os.rename(temporary, cache_dir)
            except OSError:
                if not os.path.isdir(cache_dir):
                    raise
                # Another process finished the same cache first: keep theirs.
            return
        check_cache(cache_dir)
        # The marker stays while the weights change, but says no classifier: cut short here, the cache is
        # still the project's, and is retrained.
        cli.write_json_atomically(os.path.join(cache_dir, CACHE_INFO_FILE), {'replacing': True})
        for name in CACHE_FILES:
            if name != CACHE_INFO_FILE:
                os.replace(os.path.join(temporary, name), os.path.join(cache_dir, name))
        os.replace(os.path.join(temporary, CACHE_INFO_FILE), os.path.join(cache_dir, CACHE_INFO_FILE))
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def class_count_problem(source, train_labels, held_labels, held_out_from, names):
    """Why these images cannot be scored on (a class, of `names`, with fewer than 2 examples among the held-out or
    the training images: spreads are measured per class), or None."""
    for part, labels in (('held-out (%s)' % held_out_from, held_labels), ('training', train_labels)):
        counts = np.bincount(np.asarray(labels, np.int64), minlength=len(names))
        if counts.min() < 2:
            digit = int(np.argmin(counts))
            return ('the %s images of %s hold %d of %s; evaluation measures every class and needs 2 or more of each: '
                    'give it data with images of every class' % (part, source, counts[digit],
                                                                   class_text(names, digit)))
    return None


def evaluation_problem(dataset_name, data_path=None, cache_dir=None):
    """One line saying why the classifier cannot score generated digits of this data, or None if it can.

    Cheap (no TensorFlow, no training: it reads the data and looks at the cache's place) and silent. Its answer
    is about: the data itself (found and valid); a held-out set (its test split, else HOLD_OUT_PER_CLASS
    training digits per class, which needs HOLD_OUT_PER_CLASS + 2 of every digit) and the training digits each
    holding 2 or more of every digit; and the cache (cache_dir, default default_cache_dir of the data), which
    must hold a classifier of this data or be a place where one can be written (cache_problem).
    """
    try:
        with contextlib.redirect_stderr(io.StringIO()):   # the data's source line is the loader's to say
            images, labels, _, held_labels, held_out_from, names = load_training_and_held_out(dataset_name,
                                                                                               data_path)
    except dataset.DataError as error:
        return str(error)
    problem = class_count_problem(data_path or dataset_name, labels, held_labels, held_out_from, names)
    if problem:
        return problem
    data_fingerprint = fingerprint(images, labels)
    cache_dir = cache_dir or default_cache_dir(dataset_name, data_fingerprint)
    if cached_fingerprint(cache_dir) == data_fingerprint:
        return None   # read, not written
    problem = cache_problem(cache_dir)
    return problem and problem[0]


def cached_fingerprint(cache_dir):
    """The fingerprint a cache's marker names, or None."""
    try:
        with open(os.path.join(cache_dir, CACHE_INFO_FILE)) as handle:
            info = json.load(handle)
        return info.get('fingerprint') if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


class MeasuringStick(typing.NamedTuple):
    """The trained classifier and the real images around it."""
    classifier: Classifier
    accuracy: float              # on the held-out images
    held_images: np.ndarray      # never seen by the classifier
    held_labels: np.ndarray
    train_images: np.ndarray     # what the classifier learnt from
    train_labels: np.ndarray
    class_names: list            # the data's, in label order


def get_classifier(dataset_name, data_path=None, cache_dir=None, steps=None,
                   batch_size=DEFAULT_BATCH_SIZE, seed=0):
    """A MeasuringStick for a data set: the classifier (an output per class of the data), its held-out accuracy,
    its held-out and training images, the names of the classes.

    Trains on the first call and caches under cache_dir (default default_cache_dir: <cache_root()>/<dataset>-
    <fingerprint of the training data>); later calls load the cache. A damaged cache, or one trained on other
    data, is retrained with one line on stderr saying so, but only where cache_problem allows: else CacheError,
    before any training. Digits too few to score on are a DataError, before the training too.
    steps=None picks SMALL_DATASET_STEPS or LARGE_DATASET_STEPS by the size of the training set.
    """
    images, labels, held_images, held_labels, held_out_from, names = load_training_and_held_out(
        dataset_name, data_path)
    problem = class_count_problem(data_path or dataset_name, labels, held_labels, held_out_from, names)
    if problem:
        raise dataset.DataError(problem)
    data_fingerprint = fingerprint(images, labels)
    if cache_dir is None:
        cache_dir = default_cache_dir(dataset_name, data_fingerprint)

    def stick(classifier, accuracy):
        return MeasuringStick(classifier, accuracy, held_images, held_labels, images, labels, names)

    if os.path.exists(cache_dir):
        try:
            return stick(*read_cache(cache_dir, data_fingerprint, len(names)))
        except ClassifierError as error:
            check_cache(cache_dir)
            log_line('classifier cache %s is unusable (%s); retraining' % (cache_dir, error))
    check_cache(cache_dir)
    if steps is None:
        steps = LARGE_DATASET_STEPS if len(images) >= LARGE_DATASET_SIZE else SMALL_DATASET_STEPS
    log_line('training the %s (%d steps on %d %ss; cached in %s)'
             % ('%s classifier' % dataset_name if data_path is None else 'classifier of %s' % data_path, steps,
                len(images), 'digit' if dataset.are_digits(names) else 'image', cache_dir))
    started = time.time()
    classifier = Classifier(len(names), seed=seed)
    try:
        classifier.train(images, labels, steps=steps, batch_size=batch_size, seed=seed)
        accuracy = classifier.accuracy(held_images, held_labels)
        write_cache(classifier, cache_dir, {
            'dataset': dataset_name, 'data': data_path, 'fingerprint': data_fingerprint, 'num_classes': len(names),
            'accuracy': accuracy, 'held_out': held_out_from, 'held_out_size': int(len(held_labels)),
            'steps': steps, 'batch_size': batch_size, 'seed': seed,
            'train_seconds': round(time.time() - started, 1)})
    except BaseException:
        classifier.close()
        raise
    log_line('classifier held-out accuracy %.4f (%s, %.0f s)'
             % (accuracy, held_out_from, time.time() - started))
    return stick(classifier, accuracy)
