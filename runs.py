"""A training run on disk: its config.json, the model it describes, and the generator of its latest checkpoint.

    generator = load_generator('summary/train')
    images = generator.sample([3, 3, 7], seed=0)           # float32 (3, 28, 28, 1) in [-1, 1]
    generator.close()
"""
import collections
import importlib
import json
import os

import numpy as np

import cli
import dataset as dataset_lib
import legacy
import settings as settings_lib

import checkpoints
from rundir import CONFIG_NAME

# The module and class that build each model type. They load TensorFlow, so they are imported only when a
# model is built: a command line's checks of its run answer without waiting seconds for it.
MODEL_TYPES = {'gan': ('model', 'GANModel'), 'lapgan': ('lapgan', 'LapGANModel')}
RETRAIN = 'train afresh with python main.py --logdir ANOTHER_DIR'
# The largest magnitude a --condition-vectors file may hold.
MAX_CONDITION_VALUE = 1e4


class RunError(Exception):
    """A run that cannot be read, resumed or drawn from; the one-line message names the run and the fix."""


# ---------------------------------------------------------------- config.json

def read_config(logdir):
    """The config.json of the run in logdir as stored, once settings.from_config can read it; None if logdir holds
    no run; RunError if it is unusable."""
    path = os.path.join(logdir, CONFIG_NAME)
    if not os.path.exists(path):
        if checkpoints.checkpoints_in(logdir):
            raise RunError('%s holds checkpoints but no %s, so its model is unknown: %s' % (logdir, CONFIG_NAME,
                                                                                          RETRAIN))
        return None
    try:
        with open(path) as stream:
            config = json.load(stream)
        settings_lib.from_config(config)
    except (OSError, ValueError) as error:
        raise RunError('%s is unreadable (%s): restore it, or %s' % (path, error, RETRAIN))
    return config


def read_settings(logdir):
    """The settings.RunSettings of the run in logdir; None if logdir holds no run; RunError if it is unusable."""
    config = read_config(logdir)
    return None if config is None else settings_lib.from_config(config)


def write_config(logdir, run, data_fingerprint):
    """config.json: the run's settings written out, with what identifies its data."""
    return cli.write_json_atomically(os.path.join(logdir, CONFIG_NAME), settings_lib.to_config(run, data_fingerprint))


def build_model(model_settings, condition_vectors=None):
    """The model these settings describe, in the default graph."""
    cli.import_tensorflow_quietly()   # before model.py and lapgan.py import it, so that it loads quietly
    module, name = MODEL_TYPES[model_settings.model_type]
    model_class = getattr(importlib.import_module(module), name)
    try:
        return model_class(model_settings, condition_vectors=condition_vectors)
    except ValueError as error:
        raise RunError('the model settings cannot be built (%s): %s' % (error, RETRAIN))


def read_condition_vectors(path, num_classes, source, fix):
    """A float32 (num_classes, D) array of finite numbers from a .npy file; RunError naming `source` and `fix`
    if not."""
    if os.path.isdir(path):
        raise RunError('%s is a folder, not a .npy file: %s' % (source, fix))
    if not os.path.isfile(path):
        raise RunError('%s: file not found: %s' % (source, fix))
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise RunError('%s is not a readable .npy array (%s): %s'
                       % (source, dataset_lib.numpy_load_reason(error), fix))
    if vectors.ndim != 2 or vectors.shape[0] != num_classes or vectors.shape[1] < 1:
        raise RunError('%s holds an array of shape %s, not one row per class, shape (%d, D): %s'
                       % (source, vectors.shape, num_classes, fix))
    if not np.issubdtype(vectors.dtype, np.number) or not np.all(np.isfinite(vectors)):
        raise RunError('%s must hold finite numbers only: %s' % (source, fix))
    if np.abs(vectors).max() > MAX_CONDITION_VALUE:
        # Such values overflow the networks' first layers within a step; scale the vectors down.
        raise RunError('%s holds values up to %.3g, beyond +-%g: scale the vectors down, then %s' % (
            source, np.abs(vectors).max(), MAX_CONDITION_VALUE, fix))
    return vectors.astype(np.float32)


def stored_condition_vectors(logdir, run):
    """The condition vectors a run was trained with (its copy of --condition-vectors), or None for one-hot."""
    if not run.condition_vectors:
        return None
    path = os.path.join(logdir, run.condition_vectors)
    return read_condition_vectors(path, run.model.num_classes,
                                  'the condition vectors %s that %s was trained with' % (path, logdir),
                                  'restore the file, or %s' % RETRAIN)


def unusable_checkpoint(error, path):
    """The RunError for a checkpoints.CheckpointError of `path`: why, and the way past it."""
    hint = checkpoints.fallback_hint(path) if error.corrupt else None
    if error.fix:
        fix = error.fix
    elif not error.corrupt:
        fix = 'was config.json edited? restore it, or %s' % RETRAIN
    elif hint:
        fix = '%s and run again, or %s' % (hint, RETRAIN)
    else:
        fix = RETRAIN
    return RunError('%s: %s' % (error, fix))


def check_trained_as(path, run):
    """RunError if the checkpoint at `path` records that it was trained as another model than `run`'s (a
    config.json edited, or a checkpoint of another run dropped in); checkpoints that record nothing pass."""
    recorded = checkpoints.trained_as(path)
    if recorded is None:
        return
    expected = settings_lib.to_config(run)['model']
    # A setting added after the checkpoint was saved is not in its record: it was trained without it.
    recorded = dict({name: value for name, value in legacy.LEVERS_BEFORE_THEY_EXISTED.items()
                     if expected.get(name) is not None}, **recorded)
    differing = [name for name in expected if recorded.get(name) != expected[name]]
    if differing:
        def shown(values):
            return ' '.join('%s %s' % (settings_lib.flag(name), json.dumps(values.get(name))) for name in differing)
        raise RunError('checkpoint %s was trained with %s, but %s says %s: restore config.json, or %s' % (
            path, shown(recorded), CONFIG_NAME, shown(expected), RETRAIN))


# ---------------------------------------------------------------- the generator

def draw_noise(count, noise_len, seed=None):
    """Standard normal noise; the same seed gives the same rows, whatever the count."""
    return noise_source(noise_len, seed)(count)


def noise_source(noise_len, seed=None):
    """draw(count): the rows of draw_noise(total, noise_len, seed) a chunk at a time, the first rows first."""
    rng = np.random.default_rng(seed)
    return lambda count: rng.standard_normal((count, noise_len)).astype(np.float32)


def noise_scale_words(scale):
    """What a table or a printed line says of digits drawn with their noise scaled ('' at the usual scale of 1)."""
    return ', noise scaled by %g' % scale if scale != 1.0 else ''


# What drawing runs in a restored generator's graph, for export.py: the graph, its noise and label placeholders,
# the switch batch norm reads (left at False: the moving statistics), the images in [-1, 1], and the variables
# restored (the generator's weights and state, nothing else).
Drawing = collections.namedtuple('Drawing', 'graph noise label is_training images variables')


class Generator(object):
    """A restored generator. Batch norm uses its moving statistics, so an image does not depend on its batch.

    `settings` is the run's settings.RunSettings; `config` its config.json as stored; `variables` the ones
    restored, the generator's weights and state."""

    def __init__(self, logdir, config, model, session, checkpoint_path):
        self.logdir = logdir
        self.config = config
        self.settings = settings_lib.from_config(config)
        self.checkpoint_path = checkpoint_path
        self._model = model
        self._session = session
        self._condition_vectors = model.right_condition_vectors
        self.condition_table = session.run(model.condition_table)
        # What an export copies: the weights, their state, and the averaged weights' recomputed statistics.
        self.variables = model.generator_variables + model.generator_state_variables + model.drawing_statistics
        # What drawing runs, coarse to fine, the last stage being the image: the generator reading the moving
        # average of its weights where the run keeps one (--ema-decay), else its trained weights.
        self._stages = model.networks.stages
        model.recompute_drawing_statistics(session)
        self._trained_statistics = not model.drawing_statistics

    @property
    def keeps_average(self):
        """Whether the run keeps a moving average of the generator's weights beside them (--ema-decay)."""
        return self._model.networks.drawn is not None

    @property
    def weights(self):
        """Which weights draw: 'averaged' (the moving average) or 'trained'."""
        return 'averaged' if self._stages[-1] is self._model.networks.drawn else 'trained'

    def draw_with_trained_weights(self):
        """Draw from the trained weights, not their moving average: what the run would draw without
        --ema-decay, which changes what is drawn and not how a run trains. Nothing changes for a run without one."""
        if self.keeps_average:
            self._stages = [self._model.networks.generated]

    def draw_with_trained_statistics(self):
        """Let the averaged weights' batch norm read the trained generator's moving statistics, not the ones
        recomputed for the averaged weights: what runs drew before those were recomputed, for comparing."""
        self._model.use_trained_statistics(self._session)
        self._trained_statistics = True

    @property
    def batch_norm(self):
        """Which statistics batch norm normalises with: 'recomputed' (for the averaged weights) or 'trained' (the
        trained generator's moving statistics: a run without an average, or drawn otherwise)."""
        return 'trained' if self._trained_statistics or self.weights == 'trained' else 'recomputed'

    @property
    def noise_len(self):
        return self._model.noise_len

    @property
    def num_classes(self):
        return self._model.num_classes

    @property
    def conditioned(self):
        """Whether it draws the class asked for (labels mean nothing to an unconditioned or clustered GAN)."""
        return self.settings.model.uses_labels

    def sample(self, labels, seed=None, noise=None, noise_scale=1.0):
        """float32 (N, 28, 28, 1) in [-1, 1] for int labels (N,); noise (N, noise_len), or drawn from seed, from
        N(0, noise_scale^2): below 1 the digits are more alike and more faithful (the truncation trick's aim),
        above 1 more varied."""
        labels = np.asarray(labels, np.int64).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError('labels must be in 0..%d, found %d..%d'
                             % (self.num_classes - 1, labels.min(), labels.max()))
        noise = self._noise(len(labels), seed, noise, noise_scale)
        return self._run({self._model.noise_input: noise, self._model.right_condition_input: labels})

    @property
    def stages(self):
        """How many images one sample is drawn through: 3 for a LAPGAN (7x7, 14x14, 28x28), else 1."""
        return len(self._model.networks.stages)

    def sample_stages(self, labels, noise):
        """The stages of each sample, coarse to fine: a list of float32 (N, size, size, 1) in [-1, 1]."""
        feed = {self._model.noise_input: np.asarray(noise, np.float32),
                self._model.right_condition_input: np.asarray(labels, np.int64).reshape(-1)}
        return [stage.astype(np.float32) for stage in self._session.run(self._stages, feed)]

    def sample_conditions(self, vectors, seed=None, noise=None):
        """Images for condition vectors (N, num_classes): rows of condition_table, or blends of them."""
        if self._condition_vectors is None:
            raise RunError('%s holds an unconditioned model (--conditioning none): it takes no condition' % self.logdir)
        vectors = np.asarray(vectors, np.float32)
        noise = self._noise(len(vectors), seed, noise)
        return self._run({self._model.noise_input: noise, self._condition_vectors: vectors})

    @property
    def drawing(self):
        """The Drawing of this generator: what an export copies out of its graph."""
        model = self._model
        return Drawing(model.graph, model.noise_input, model.right_condition_input, model.is_training,
                       self._stages[-1], self.variables)

    def values(self, variables):
        """The restored values of these variables of the generator, as numpy arrays."""
        return self._session.run(list(variables))

    def scaled_noise(self, noise, scale):
        """Noise rows drawn from N(0, 1) made rows of N(0, scale^2). A value that picks the cluster does so
        through the clusters' shares: never scaled."""
        noise = np.array(noise, np.float32)
        noise[:, self._model.picking_noise_values:] *= scale
        return noise

    def _noise(self, count, seed, noise, scale=1.0):
        if noise is None:
            return self.scaled_noise(draw_noise(count, self.noise_len, seed), scale)
        noise = np.asarray(noise, np.float32)
        if noise.shape != (count, self.noise_len):
            raise ValueError('noise must have shape (%d, %d), got %s' % (count, self.noise_len, noise.shape))
        return noise

    def _run(self, feed):
        return self._session.run(self._stages[-1], feed).astype(np.float32)

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def check_run_folder(logdir):
    """RunError where logdir is a file or is missing: what a command pointed at a run says before reading it."""
    if os.path.isfile(logdir):
        raise RunError('%s is a file, not a training run: pass the directory main.py trained into' % logdir)
    if not os.path.isdir(logdir):
        raise RunError('no training run in %s (no such directory): train first with python main.py --logdir %s'
                       % (logdir, logdir))


def load_generator(logdir):
    """The generator of the latest checkpoint in logdir, built from its config.json."""
    logdir = os.fspath(logdir)
    check_run_folder(logdir)
    config = read_config(logdir)
    if config is None:
        raise RunError('no %s in %s, so it is not a training run: train first with python main.py --logdir %s'
                       % (CONFIG_NAME, logdir, logdir))
    path = checkpoints.latest_checkpoint(logdir)
    if path is None:
        raise RunError('no checkpoint in %s: train first with python main.py --logdir %s' % (logdir, logdir))
    run = settings_lib.from_config(config)
    condition_vectors = stored_condition_vectors(logdir, run)
    tf = cli.import_tensorflow_quietly()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        try:
            model = build_model(run.model, condition_vectors)
        except RunError as error:
            raise RunError('%s: %s' % (os.path.join(logdir, CONFIG_NAME), error))
        # Only the generator: its weights and batch-norm moving statistics.
        variables = model.generator_variables + model.generator_state_variables
        saver = v1.train.Saver(var_list=variables)
    session = v1.Session(graph=graph)
    try:
        checkpoints.restore_checkpoint(session, saver, path, variables)
    except checkpoints.CheckpointError as error:
        session.close()
        raise unusable_checkpoint(error, path)
    try:
        check_trained_as(path, run)
    except RunError:
        session.close()
        raise
    return Generator(logdir, config, model, session, path)
