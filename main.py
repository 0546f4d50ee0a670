"""Train the conditional GAN.

    python main.py                                     # MNIST, 7000 steps, logs in summary/train
    python main.py --dataset fashion_mnist --logdir summary/fashion --steps 8000
    python main.py --logdir summary/train --steps 8000 # resume the same run and train it further

A new logdir gets config.json (the model and data settings), TensorBoard events, checkpoints and sample
grids. Running again with the same logdir resumes from its latest checkpoint with the model rebuilt from
config.json. Ctrl-C saves a checkpoint before stopping. One process trains a logdir at a time: while it does,
<logdir>/training.lock holds its pid.
"""
import collections
import contextlib
import os
import random
import shlex
import signal
import sys
import threading

import numpy as np

import cli
import dataset as dataset_lib
import logdir_lock
from cli import UsageError

PROG = 'main.py'
DEFAULT_LOGDIR = 'summary/train'
# A quality point costs about as much as 5 training steps: every 250 steps adds 2% to a run.
DEFAULT_EVAL_EVERY = 250
DEFAULT_BATCH_SIZE = 64
DEFAULT_DATASET = 'mnist'
# Model settings of a new run before its variant's own defaults (GANBase.variant_defaults) fill the None ones.
MODEL_DEFAULTS = {'noise_len': 100, 'num_classes': 10, 'conditioning': 'matching', 'arch': 'dcgan', 'loss': 'gan',
                  'g_dim': 64, 'd_dim': 64, 'condition_units': 32, 'd_condition_maps': 32, 'learning_rate': None,
                  'd_learning_rate': None, 'beta1': None, 'clip': 0.01, 'interpolate_conditions': False,
                  'minibatch_stddev': True, 'projection': True, 'diversity_weight': None, 'concat_every_layer': None,
                  'augment': None, 'clusters': None, 'seed': 0}
# Settings a variant's defaults give the training schedule rather than the model.
TRAINING_DEFAULTS = ('steps', 'k_steps', 'lr_decay')
AUGMENT_CHOICES = ('', 'translation', 'cutout', 'translation,cutout')
# The parts' tables (runs.MODEL_TYPES, model.CONDITIONINGS, ARCHITECTURES, LOSSES) spelled out, so that flags
# are checked before TensorFlow loads; a test keeps them equal.
MODEL_TYPE_CHOICES = ('gan', 'lapgan')
CONDITIONING_CHOICES = ('matching', 'concat', 'none')
ARCH_CHOICES = ('dcgan', 'mlp')
LOSS_CHOICES = ('gan', 'wgan', 'wgan-gp')
# Flags whose value a resumed run takes from config.json: (name in args and config, flag, stored in 'model'?).
STORED_FLAGS = [('noise_len', '--noise-len', True), ('conditioning', '--conditioning', True),
                ('arch', '--arch', True), ('loss', '--loss', True), ('g_dim', '--g-dim', True),
                ('d_dim', '--d-dim', True), ('condition_units', '--condition-units', True),
                ('learning_rate', '--learning-rate', True), ('d_learning_rate', '--d-learning-rate', True),
                ('seed', '--seed', True), ('interpolate_conditions', '--interpolate-conditions', True),
                ('diversity_weight', '--diversity-weight', True), ('augment', '--augment', True),
                ('clusters', '--clusters', True),
                ('model_type', '--model', False), ('dataset', '--dataset', False), ('data', '--data', False),
                ('batch_size', '--batch-size', False), ('k_steps', '--k-steps', False),
                ('lr_decay', '--lr-decay', False)]
# The fix for a --condition-vectors file that cannot be used.
FLAG_VECTORS_FIX = 'pass a .npy file of condition vectors, one row of finite numbers per class, saved with numpy.save'


class TrainingInterrupted(Exception):
    def __init__(self, signum):
        super().__init__('interrupted by signal %d' % signum)
        self.signum = signum


# One statement per flag, with its help: long, and read flag by flag.
def build_parser():
    parser = cli.OneLineArgumentParser(
        prog=PROG, description='Train a conditional GAN on MNIST-style digits. Running again with the same '
                                    '--logdir resumes from its latest checkpoint.')
    add = parser.add_argument
    add('--dataset', choices=dataset_lib.DATASET_NAMES, default=None,
        help='mnist (full set when cached or downloadable, else a bundled 5,000-digit sample), mnist_sample or '
             'fashion_mnist (default mnist)')
    add('--data', metavar='PATH', default=None,
        help='read the digits from this .npz, IDX folder or IDX images file instead')
    add('--logdir', metavar='DIR', default=DEFAULT_LOGDIR,
        help='where config, events, checkpoints and sample grids go; an existing run there is resumed '
             '(default %s)' % DEFAULT_LOGDIR)
    add('--steps', metavar='N', type=cli.positive_int, default=None,
        help='total generator steps to train to (default: the variant\'s own, 7000 for the default GAN; or the '
             'stored run\'s)')
    add('--epochs', metavar='N', type=cli.positive_int, default=None,
        help='total passes over the data, instead of --steps')
    add('--batch-size', metavar='N', type=cli.positive_int, default=None,
        help='real images per batch (default %d)' % DEFAULT_BATCH_SIZE)
    add('--k-steps', metavar='N', type=cli.positive_int, default=None,
        help='discriminator steps per generator step (default 1; 5 with --loss wgan)')
    add('--learning-rate', metavar='RATE', type=cli.positive_float, default=None,
        help='generator learning rate, and the discriminator\'s unless --d-learning-rate (default: the '
             'loss\'s own, 2e-4 for gan)')
    add('--d-learning-rate', metavar='RATE', type=cli.positive_float, default=None,
        help='discriminator learning rate (default: the variant\'s own, 1.6e-3 for --model lapgan; else '
             '--learning-rate)')
    add('--noise-len', metavar='N', type=cli.positive_int, default=None,
        help='length of the generator\'s noise vector (default 100)')
    add('--seed', metavar='N', type=cli.seed, default=None,
        help='seed for weights, data order and noise: the same seed repeats a run (default 0)')
    add('--model', dest='model_type', choices=MODEL_TYPE_CHOICES, default=None,
        help='gan: one generator and discriminator (default); lapgan: a Laplacian pyramid of GANs at 7x7, 14x14 '
             'and 28x28')
    add('--conditioning', choices=CONDITIONING_CHOICES, default=None,
        help='matching: label embeddings and a wrong-label loss (default); concat: plain CGAN; none: no labels')
    add('--arch', choices=ARCH_CHOICES, default=None,
        help='dcgan: strided convolutions with batch norm (default); mlp: dense layers')
    add('--loss', choices=LOSS_CHOICES, default=None,
        help='gan: non-saturating cross-entropy (default); wgan: Wasserstein critic with weight clipping; '
             'wgan-gp: Wasserstein critic with a gradient penalty')
    add('--interpolate-conditions', action='store_const', const=True, default=None,
        help='GAN-INT: the generator also learns from halfway blends of two labels\' condition vectors')
    add('--condition-vectors', metavar='FILE.npy', default=None,
        help='condition on these vectors, one row per class (e.g. sentence embeddings), instead of one-hot '
             'labels; the run keeps a copy')
    add('--g-dim', metavar='N', type=cli.positive_int, default=None,
        help='generator width: feature maps of its last layer (default 64)')
    add('--d-dim', metavar='N', type=cli.positive_int, default=None,
        help='discriminator width: feature maps of its first layer (default 64)')
    add('--condition-units', metavar='N', type=cli.positive_int, default=None,
        help='size of the generator\'s label embedding (default 32)')
    add('--diversity-weight', metavar='W', type=cli.non_negative_float, default=None,
        help='weight of the mode-seeking term that pays the generator for drawing different digits from '
             'different noise (default: the variant\'s own, 0.3 for the default GAN; 0 turns it off)')
    add('--clusters', metavar='K', type=cli.non_negative_int, default=None,
        help='with --conditioning none: k-means clusters of the training images that both networks see in '
             'place of labels, each drawn as often as the data holds it (default 50; 0: the original GAN)')
    add('--save-every', metavar='N', type=cli.positive_int, default=500,
        help='save a checkpoint every N steps (default 500)')
    add('--summary-every', metavar='N', type=cli.positive_int, default=100,
        help='write TensorBoard losses and probabilities every N steps (default 100)')
    add('--sample-every', metavar='N', type=cli.positive_int, default=500,
        help='write a sample grid to <logdir>/samples every N steps (default 500)')
    add('--log-every', metavar='N', type=cli.positive_int, default=100,
        help='print a progress line every N steps (default 100)')
    add('--lr-decay', metavar='FRACTION', type=cli.fraction, default=None,
        help='let both learning rates fall linearly to 0 over this last fraction of the steps (default: the '
             'variant\'s own: 0, constant rates, for the default GAN; 0.5 for the other members)')
    add('--augment', choices=AUGMENT_CHOICES, default=None,
        help='differentiable augmentation of every image the discriminator sees, real and generated: random '
             'shifts of up to 2 pixels, a blanked 7x7 square, or both (default: none)')
    add('--precision', choices=('auto', 'float32', 'bfloat16'), default='auto',
        help='arithmetic of the training step: bfloat16 runs convolutions and products in bfloat16, about 1.6x '
             'as fast on processors made for it; auto picks it on those (default auto)')
    add('--eval-every', metavar='N', type=cli.non_negative_int, default=DEFAULT_EVAL_EVERY,
        help='score generated digits with the classifier of evaluate.py every N steps, into TensorBoard; '
             '0: never (default %d)' % DEFAULT_EVAL_EVERY)
    add('--eval-num-per-class', metavar='N', type=cli.positive_int, default=100,
        help='generated digits per class for those scores (default 100)')
    return parser


def say(message):
    print(message, flush=True)


def quote(path):
    return shlex.quote(str(path))


# ---------------------------------------------------------------- checks that write nothing

def logdir_problem(logdir):
    """Why training could not write into logdir, or None. Creates nothing."""
    if os.path.exists(logdir):
        if not os.path.isdir(logdir):
            return '--logdir %s is a file, not a directory: choose another --logdir' % logdir
        if not os.access(logdir, os.W_OK | os.X_OK):
            return 'cannot write to %s (permission denied): choose another --logdir' % logdir
        return None
    parent = os.path.dirname(os.path.abspath(logdir))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return 'cannot create --logdir %s: %s is a file, not a directory: choose another --logdir' % (logdir, parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        return 'cannot create --logdir %s: no permission to write in %s: choose another --logdir' % (logdir, parent)
    return None


def check_arguments(args):
    if not args.logdir.strip():
        raise UsageError('--logdir is empty: name a directory, e.g. --logdir %s' % DEFAULT_LOGDIR)
    if args.steps is not None and args.epochs is not None:
        raise UsageError('--steps %d and --epochs %d both given: pass only one' % (args.steps, args.epochs))
    if args.dataset == 'mnist_sample' and args.data is not None:
        raise UsageError('--dataset mnist_sample always reads the bundled sample, so --data %s would not be read: '
                         'pass --dataset mnist --data %s, or leave out --data' % (args.data, args.data))
    if args.conditioning == 'none' and args.condition_vectors is not None:
        raise UsageError('--conditioning none uses no labels, so --condition-vectors %s would be ignored: leave out '
                         'one of the two flags' % args.condition_vectors)
    if args.data is not None and not os.path.exists(args.data):
        raise UsageError('--data %s: file not found; pass an existing .npz, MNIST IDX folder or IDX images file'
                         % args.data)
    if args.model_type == 'lapgan' and (args.arch == 'mlp' or args.loss == 'wgan' or args.interpolate_conditions):
        raise UsageError('--model lapgan has its own convolutional levels and the GAN loss: leave out --arch mlp, '
                         '--loss wgan and --interpolate-conditions')
    if args.model_type == 'lapgan' and args.noise_len is not None and args.noise_len < 3:
        raise UsageError('--model lapgan gives each of its 3 levels its own part of the noise: --noise-len must '
                         'be at least 3')
    problem = logdir_problem(args.logdir)
    if problem:
        raise UsageError(problem)


def resolve_settings(args, stored):
    """The run's settings: the flags given, else the stored run's, else the defaults.

    A flag that contradicts the stored run is an error: its checkpoints hold another model or data.
    """
    import runs
    if args.data is not None:
        args.data = os.path.abspath(args.data)
    if stored is not None:
        for name, flag, in_model in STORED_FLAGS:
            given = getattr(args, name)
            kept = (stored['model'] if in_model else stored).get(name)
            # Data at a new path may be the same data moved: train() compares their contents.
            moved = name == 'data' and kept is not None
            if given is not None and given != kept and not moved:
                before = 'without %s' % flag if kept is None else 'with %s %s' % (flag, kept)
                raise UsageError('%s was trained %s, not %s %s: leave the flag out to resume it, or train a new '
                                 'model with another --logdir' % (args.logdir, before, flag, given))
        settings = {key: stored[key] for key in ('dataset', 'data', 'batch_size', 'k_steps')}
        if args.data is not None:
            settings['data'] = args.data
        elif stored['data'] is not None and not os.path.exists(stored['data']):
            raise UsageError('%s was trained on --data %s, which is no longer there: if the file moved, pass '
                             '--data NEWPATH' % (args.logdir, stored['data']))
        settings['model_type'] = stored.get('model_type', 'gan')
        settings['model'] = runs.stored_model_settings(stored)
        settings['condition_vectors'] = stored.get('condition_vectors')
        settings['steps'] = args.steps or (None if args.epochs else stored['steps'])
        settings['lr_decay'] = stored.get('lr_decay', 0.0)   # runs stored before the schedule: constant rates
        return settings
    model = dict(MODEL_DEFAULTS)
    for name, _, in_model in STORED_FLAGS:
        if in_model and getattr(args, name) is not None:
            model[name] = getattr(args, name)
    model_type = args.model_type or 'gan'
    # The variant's own defaults (its loss's learning rate and critic steps, LAPGAN's level depth, ...) fill
    # what no flag set, so that config.json holds every value the run was trained with.
    defaults = runs.MODEL_TYPES[model_type].variant_defaults(model['arch'], model['conditioning'], model['loss'])
    for name, value in defaults.items():
        if name not in TRAINING_DEFAULTS and model.get(name) is None:
            model[name] = value
    # config.json says at which rate each network learnt (a run stored without it: the generator's rate).
    model['d_learning_rate'] = model['d_learning_rate'] or model['learning_rate']
    problem = runs.MODEL_TYPES[model_type].clusters_problem(model['clusters'], model['conditioning'])
    if problem:
        raise UsageError(problem)
    return {'model': model, 'model_type': model_type, 'dataset': args.dataset or DEFAULT_DATASET,
            'data': args.data, 'version': runs.CONFIG_VERSION,
            'batch_size': args.batch_size or DEFAULT_BATCH_SIZE, 'k_steps': args.k_steps or defaults['k_steps'],
            'steps': args.steps or (None if args.epochs else defaults['steps']),
            'lr_decay': defaults['lr_decay'] if args.lr_decay is None else args.lr_decay,
            'condition_vectors': None if args.condition_vectors is None else runs.CONDITION_VECTORS_NAME}


def condition_vectors_of(args, settings, stored):
    """The run's condition vectors (None: one-hot labels): the --condition-vectors file, or the run's copy."""
    import runs
    num_classes = settings['model']['num_classes']
    given = None
    if args.condition_vectors is not None:
        given = runs.read_condition_vectors(args.condition_vectors, num_classes,
                                            '--condition-vectors %s' % args.condition_vectors, FLAG_VECTORS_FIX)
    if stored is None:
        return given
    kept = runs.stored_condition_vectors(args.logdir, stored)
    if given is not None and (kept is None or not np.array_equal(given, kept)):
        raise UsageError('%s was trained %s, not with --condition-vectors %s: leave the flag out to resume it, or '
                         'train a new model with another --logdir' % (
                             args.logdir, 'with other condition vectors' if kept is not None else 'on one-hot labels',
                             args.condition_vectors))
    return kept


# ---------------------------------------------------------------- training

class GracefulStop(object):
    """The first Ctrl-C (or SIGTERM) ends training after the current step, with a checkpoint; a second stops
    at once."""

    def __init__(self):
        self.signum = None
        self.previous = {}

    def handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def check(self, dataset, step):
        if self.signum is not None:
            raise TrainingInterrupted(self.signum)

    def __enter__(self):
        # Signal handlers can only be set from the main thread; elsewhere Ctrl-C keeps its default.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def main(argv=None):
    args, code = cli.parse_arguments(build_parser(), argv)
    if args is None:
        return code
    try:
        check_arguments(args)
        # One trainer per logdir: two at once would mix two models' checkpoints under one config.json.
        with logdir_lock.LogdirLock(args.logdir):
            return train_in_logdir(args)
    except UsageError as error:
        return cli.fail(PROG, error)
    except logdir_lock.LogdirInUse as error:
        return cli.fail(PROG, '%s: wait for it to end, or train into another --logdir' % error)
    except OSError as error:   # the logdir or its lock file could not be made
        return cli.fail(PROG, cli.unwritable(args.logdir, error, 'free some space or choose another --logdir'),
                        code=1)


def train_in_logdir(args):
    """main, once it holds the logdir: TensorFlow loads only now, so that bad flags are reported at once."""
    cli.import_tensorflow_quietly()
    import runs
    try:
        stored = runs.read_config(args.logdir)
        settings = resolve_settings(args, stored)
        return train(args, settings, stored)
    except (UsageError, runs.RunError, dataset_lib.DataError) as error:
        return cli.fail(PROG, error)
    except KeyboardInterrupt:
        return cli.fail(PROG, 'interrupted outside the training loop: nothing new was saved', code=130)


def train(args, settings, stored):
    """Train the run of `settings` to its last step; `stored` is the config of the run resumed (None: a new run).

    Nothing is written into the logdir until the model is built or restored and the data loaded; a new run that
    ends without a checkpoint (it diverged, or the disk filled up) removes what it wrote, so that the same
    command with other flags can start it again.
    """
    import checkpoints
    logdir = args.logdir
    condition_vectors = condition_vectors_of(args, settings, stored)
    checkpoint_path = checkpoints.latest_checkpoint(logdir) if stored is not None else None
    start_step = checkpoints.checkpoint_step(checkpoint_path) if checkpoint_path else 0
    if settings['steps'] is not None and start_step >= settings['steps']:
        return already_trained(logdir, start_step, settings['steps'])
    found_before = paths_under(logdir)
    code = None
    try:
        code = train_session(args, settings, stored, condition_vectors, checkpoint_path)
    except OSError as error:
        code = cli.fail(PROG, cli.unwritable(logdir, error, write_failure_fix(logdir)), code=1)
    finally:
        if code != 0 and stored is None and not checkpoints.checkpoints_in(logdir):
            remove_new_paths(logdir, found_before)
    return code


def train_session(args, settings, stored, condition_vectors, checkpoint_path):
    """Restore (or initialise) the model, load the data, write the run's files and fit; the exit code."""
    import checkpoints
    logdir = args.logdir
    start_step = checkpoints.checkpoint_step(checkpoint_path) if checkpoint_path else 0
    model, session = build(settings, condition_vectors, args.precision)
    try:
        saved = restore_or_initialise(session, checkpoint_path)
        data = load_data(settings)
        check_same_data(args, stored, data)
        if not checkpoint_path:
            find_clusters(session, model, data, settings['model'])
        steps = settings['steps'] or args.epochs * (data.batches_per_epoch // settings['k_steps'])
        if start_step >= steps:
            return already_trained(logdir, start_step, steps)
        resume_data_order(data, saved, checkpoint_path)
        remove_leftovers(logdir)
        write_run_files(args, settings, steps, condition_vectors, stored, data)
        callbacks = make_callbacks(args, settings, session, model, steps, checkpoint_path)
        announce(logdir, checkpoint_path, start_step, steps, new_run=stored is None)
        return run(session, model, data, settings, steps, callbacks, logdir)
    finally:
        session.close()


def find_clusters(session, model, data, model_settings):
    """A new run conditioned on clusters finds them in its training images; a resumed one restored them."""
    clusters = model_settings.get('clusters')
    if clusters and clusters > len(data.images):
        raise UsageError('--clusters %d: the data holds only %d images; pass --clusters %d or fewer (0: none)'
                         % (clusters, len(data.images), len(data.images)))
    model.find_clusters(session, data.images, seed=model_settings.get('seed') or 0)


def write_failure_fix(logdir):
    import checkpoints
    latest = checkpoints.latest_checkpoint(logdir)
    if latest is None:
        return 'free some space or choose another --logdir'
    return 'free some space, then run the same command to resume from %s' % latest


def paths_under(directory):
    """Every file and folder under directory."""
    found = set()
    for root, folders, names in os.walk(directory):
        found.update(os.path.join(root, name) for name in folders + names)
    return found


def remove_new_paths(directory, found_before):
    """Remove the files and folders under directory that are not in found_before."""
    for path in sorted(paths_under(directory) - found_before, reverse=True):   # a folder after its files
        if os.path.isdir(path):
            os.rmdir(path)
        else:
            os.remove(path)


def remove_leftovers(logdir):
    import runs
    removed = runs.remove_leftovers(logdir)
    if removed:
        names = [os.path.relpath(path, logdir) for path in removed]
        say('removed %d temporary file%s that an interrupted save left in %s: %s%s' % (
            len(names), '' if len(names) == 1 else 's', logdir, ', '.join(names[:3]),
            ' and %d more' % (len(names) - 3) if len(names) > 3 else ''))


def check_same_data(args, stored, data):
    """A resumed run given --data at another path than it was trained with: the data must be the same."""
    if stored is None or args.data is None or args.data == stored['data']:
        return
    kept = stored.get('data_fingerprint')
    if kept is None:
        raise UsageError('%s was trained with --data %s and stores no fingerprint of it, so --data %s cannot be '
                         'checked against it: put the data back, or train a new model with another --logdir' % (
                             args.logdir, stored['data'], args.data))
    if dataset_lib.fingerprint(data.images, data.labels) != kept:
        raise UsageError('--data %s holds other data than %s was trained on (--data %s): pass the same data, or '
                         'train a new model with another --logdir' % (args.data, args.logdir, stored['data']))
    say('--data %s holds the data that %s was trained on (--data %s): its config.json now names %s' % (
        args.data, args.logdir, stored['data'], args.data))


def build(settings, condition_vectors, precision='auto'):
    """The model, seeded, in a graph of its own, and a session for it in the `precision` asked for."""
    import model as model_lib
    import runs
    tf = cli.import_tensorflow_quietly()
    seed = settings['model']['seed']
    random.seed(seed)
    np.random.seed(seed)
    graph = tf.Graph()
    with graph.as_default():
        model = runs.build_model(settings['model'], condition_vectors, settings['model_type'])
    config = model_lib.session_config(model_lib.wants_bfloat16(precision))
    return model, tf.compat.v1.Session(graph=graph, config=config)


def restore_or_initialise(session, checkpoint_path):
    """Every variable from the checkpoint (or initialised, for a run without one); what was saved beside it."""
    import checkpoints
    import runs
    v1 = cli.import_tensorflow_quietly().compat.v1
    with session.graph.as_default():
        variables = v1.global_variables()
        if not checkpoint_path:
            session.run(v1.variables_initializer(variables))
            return None
        restorer = v1.train.Saver(variables)
    try:
        checkpoints.restore_checkpoint(session, restorer, checkpoint_path, variables)
    except checkpoints.CheckpointError as error:
        raise runs.unusable_checkpoint(error, checkpoint_path)
    try:
        saved = checkpoints.read_data_state(checkpoint_path)
    except checkpoints.CheckpointError as error:
        # Only the data order is lost, not the model: go on as if it had never been saved.
        say('%s: the data is reshuffled' % error)
        return None
    if saved is None:
        say('no saved data order beside the checkpoint (%s): the data is reshuffled' % (
            checkpoints.dataset_state_path(checkpoint_path)))
    return saved


def load_data(settings):
    """The run's data in batches; UsageError if the batches do not fit it."""
    images, labels = dataset_lib.load_dataset(settings['dataset'], settings['data'])
    batch_size, k_steps = settings['batch_size'], settings['k_steps']
    if batch_size > len(labels):
        raise UsageError('--batch-size %d is larger than the %d images of the data: choose at most %d' % (
            batch_size, len(labels), len(labels)))
    data = dataset_lib.GANDataset(images, labels, settings['model']['noise_len'], batch_size,
                                  seed=settings['model']['seed'], num_classes=settings['model']['num_classes'])
    if data.batches_per_epoch < k_steps:
        raise UsageError('--k-steps %d needs %d batches per generator step, but the data holds only %d batches '
                         'of --batch-size %d: lower one of them' % (k_steps, k_steps, data.batches_per_epoch,
                                                                    batch_size))
    return data


def resume_data_order(data, saved, checkpoint_path):
    """The data order saved with the checkpoint; a damaged one is treated like a missing one: a reshuffle."""
    if saved is None:
        return
    if isinstance(saved.get('num_examples'), int) and saved['num_examples'] != len(data.labels):
        raise UsageError('the data order saved with %s is for %d examples, but the data holds %d: train afresh '
                         'with another --logdir' % (checkpoint_path, saved['num_examples'], len(data.labels)))
    fresh = data.state_dict()
    try:
        data.load_state_dict(saved)
    except (ValueError, KeyError, TypeError) as error:
        import checkpoints
        data.load_state_dict(fresh)
        say('%s is corrupt (%s: %s): the data is reshuffled' % (
            checkpoints.dataset_state_path(checkpoint_path), type(error).__name__, error))


def write_run_files(args, settings, steps, condition_vectors, stored, data):
    """The logdir; for a new run its config.json, with what identifies its data, and its copy of the condition
    vectors; for a resumed run whose data moved, the new path in its config.json."""
    import runs
    os.makedirs(args.logdir, exist_ok=True)
    config_path = os.path.join(args.logdir, runs.CONFIG_NAME)
    if stored is not None:
        if settings['data'] != stored['data']:
            cli.write_json_atomically(config_path, dict(stored, data=settings['data']))
        return
    if condition_vectors is not None:
        cli.write_atomically(os.path.join(args.logdir, settings['condition_vectors']),
                             lambda stream: np.save(stream, condition_vectors))
    config = dict(settings, steps=steps, epochs=args.epochs, save_every=args.save_every,
                  summary_every=args.summary_every, sample_every=args.sample_every, log_every=args.log_every,
                  data_fingerprint=dataset_lib.fingerprint(data.images, data.labels))
    cli.write_json_atomically(config_path, config)


# What fit calls after each step, by job; `evaluations` is empty unless the run measures its quality.
Callbacks = collections.namedtuple('Callbacks', 'summary log checkpoint samples evaluations')


def make_callbacks(args, settings, session, model, steps, checkpoint_path):
    """What fit calls after each step: summaries, log lines, checkpoints, sample grids and quality figures."""
    import callbacks as callbacks_lib
    import checkpoints
    v1 = cli.import_tensorflow_quietly().compat.v1
    logdir = args.logdir
    evaluating = bool(args.eval_every)
    # The training time goes on from the checkpoint's; unknown stays unknown.
    seconds_before = checkpoints.training_seconds(checkpoint_path) if checkpoint_path else 0.0
    with session.graph.as_default():
        summary = callbacks_lib.SummaryCallback(session, model, logdir, every_step=args.summary_every,
                                                image_every_step=args.sample_every, quality_charts=evaluating)
        log = callbacks_lib.LogCallback(model, settings['batch_size'], settings['k_steps'],
                                        every_step=args.log_every, total_steps=steps)
        checkpoint = callbacks_lib.CheckpointCallback(session, logdir, every_step=args.save_every, keep=3,
                                                      seconds_before=seconds_before)
        row_labels = dataset_lib.row_labels(settings['dataset']) if model.conditioning != 'none' else None
        samples = callbacks_lib.SampleGridCallback(session, model, logdir, every_step=args.sample_every,
                                                   row_labels=row_labels)
    evaluations = []
    if evaluating:
        def make_evaluator():
            import quality
            return quality.Evaluator(settings['dataset'], settings['data'],
                                     num_per_class=max(args.eval_num_per_class, 2))
        evaluations.append(callbacks_lib.EvaluationCallback(
            session, model, summary.writer, make_evaluator, every_step=args.eval_every,
            clock=checkpoint.training_seconds if seconds_before is not None else None))
    if checkpoint_path:
        # TensorBoard drops the steps that a killed session logged after this checkpoint (every event at or
        # after the marker's step, hence + 1: the checkpoint's own step was logged and is kept).
        summary.writer.add_session_log(v1.SessionLog(status=v1.SessionLog.START), checkpoints.checkpoint_step(
            checkpoint_path) + 1)
    return Callbacks(summary, log, checkpoint, samples, evaluations)


def announce(logdir, checkpoint_path, start_step, steps, new_run):
    import runs
    if checkpoint_path:
        say('resuming %s from step %d (%s), training to step %d' % (logdir, start_step, checkpoint_path, steps))
    elif not new_run:
        say('no checkpoint in %s yet: training its config.json model from step 0 to step %d' % (logdir, steps))
    else:
        say('new run in %s (settings in %s), training for %d steps' % (
            logdir, os.path.join(logdir, runs.CONFIG_NAME), steps))
    say('events, checkpoints and sample grids go to %s' % logdir)
    say('watch training: tensorboard --logdir %s' % quote(logdir))


def run(session, model, data, settings, steps, callbacks, logdir):
    """fit to `steps`, then the last checkpoint and grid; the exit code. Ctrl-C and SIGTERM save first."""
    import callbacks as callbacks_lib
    import checkpoints
    from model import NonFiniteLossError, linear_decay
    stop = GracefulStop()
    schedule = linear_decay(steps, settings['lr_decay']) if settings['lr_decay'] else None
    try:
        with stop:
            step = model.fit(session, data, epochs=None, k_steps=settings['k_steps'], max_steps=steps,
                             callbacks=[callbacks.summary, callbacks.log, callbacks.checkpoint, callbacks.samples]
                             + callbacks.evaluations + [callbacks_lib.Callback(1, stop.check)],
                             learning_rate_scale=schedule)
            for evaluation in callbacks.evaluations:
                evaluation.finish(data, step)
    except NonFiniteLossError:
        step = session.run(model.global_step)
        kept = callbacks.checkpoint.last_path or checkpoints.latest_checkpoint(logdir)
        if kept is None:
            return cli.fail(PROG, 'training diverged: non-finite loss at step %d, before the first checkpoint, so '
                            'nothing of it was saved: train again with a lower --learning-rate' % step, code=1)
        return cli.fail(PROG, 'training diverged: non-finite loss at step %d, so nothing of it after %s was saved: '
                        'train a new run with a lower --learning-rate and another --logdir' % (step, kept), code=1)
    except (TrainingInterrupted, KeyboardInterrupt) as interruption:
        signum = getattr(interruption, 'signum', signal.SIGINT)
        path = save_now(session, model, data, callbacks.checkpoint)
        say('interrupted at step %d: saved %s; run the same command to continue' % (
            checkpoints.checkpoint_step(path), path))
        return 128 + signum
    finally:
        unclosed = close(callbacks)
    # Reached only when training ended well: an error closing the writers (a full disk) is the one to report.
    if unclosed is not None:
        raise unclosed
    return finish(data, step, callbacks, logdir)


def close(callbacks):
    """Close the event writer and the evaluators; the OSError that closing them raised, or None, so that it
    cannot replace the error that ended training."""
    import checkpoints
    tf = cli.import_tensorflow_quietly()
    failure = None
    for closable in [callbacks.summary] + [evaluation.evaluator for evaluation in callbacks.evaluations
                                           if evaluation.evaluator is not None]:
        try:
            closable.close()
        except (OSError, RuntimeError, tf.errors.OpError) as error:
            failure = failure or checkpoints.as_os_error(error)
    return failure


def finish(data, step, callbacks, logdir):
    """The checkpoint and sample grid of the last step, unless fit wrote them already, and where they are."""
    path = checkpoint_of_step(callbacks.checkpoint, data, step)
    samples = callbacks.samples
    if samples.last_path is None or not samples.last_path.endswith('step_%07d.png' % step):
        samples(data, step)
    say('trained to step %d' % step)
    say('checkpoint: %s' % path)
    say('last sample grid: %s' % samples.last_path)
    say('draw digits: python generate.py --logdir %s --condition 3' % quote(logdir))
    return 0


def checkpoint_of_step(checkpoint, data, step):
    """The path of the checkpoint of `step`: the last one saved if it is that step's, else saved now, where a
    further Ctrl-C or SIGTERM cannot cut it short."""
    import checkpoints
    if checkpoint.last_path and checkpoints.checkpoint_step(checkpoint.last_path) == step:
        return checkpoint.last_path
    with signals_ignored(signal.SIGINT, signal.SIGTERM):
        return checkpoint.save(data, step)


def save_now(session, model, data, checkpoint):
    """The checkpoint of the current step, saved now unless it already is."""
    return checkpoint_of_step(checkpoint, data, session.run(model.global_step))


@contextlib.contextmanager
def signals_ignored(*signums):
    # Signal handlers can only be set from the main thread; elsewhere the signals keep their handlers.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in signums} if main_thread else {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def already_trained(logdir, step, steps):
    say('%s is already trained to step %d (asked for %d): pass a larger --steps to train further' % (
        logdir, step, steps))
    say('draw digits: python generate.py --logdir %s --condition 3' % quote(logdir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
