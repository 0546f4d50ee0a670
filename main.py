"""Train the conditional GAN.

    python main.py                                     # MNIST, 5000 steps, logs in summary/train
    python main.py --dataset fashion_mnist --logdir summary/fashion --steps 8000
    python main.py --logdir summary/train --steps 8000 # resume the same run and train it further

A new logdir gets config.json (the model and data settings), TensorBoard events, checkpoints and sample
grids. Running again with the same logdir resumes from its latest checkpoint with the model rebuilt from
config.json. Ctrl-C saves a checkpoint before stopping.
"""
import collections
import os
import random
import shlex
import signal
import sys
import threading

import numpy as np

import cli
import dataset as dataset_lib
from cli import UsageError

PROG = 'main.py'
DEFAULT_LOGDIR = 'summary/train'
DEFAULT_EVAL_EVERY = 2500
DEFAULT_BATCH_SIZE = 64
DEFAULT_DATASET = 'mnist'
# Model settings of a new run before its variant's own defaults (GANBase.variant_defaults) fill the None ones.
MODEL_DEFAULTS = {'noise_len': 100, 'num_classes': 10, 'conditioning': 'matching', 'arch': 'dcgan', 'loss': 'gan',
                  'g_dim': 64, 'd_dim': 64, 'condition_units': 32, 'd_condition_maps': 32, 'learning_rate': None,
                  'd_learning_rate': None, 'beta1': None, 'clip': 0.01, 'interpolate_conditions': False,
                  'minibatch_stddev': True, 'projection': True, 'diversity_weight': None, 'concat_every_layer': None,
                  'seed': 0}
# Settings a variant's defaults give the training schedule rather than the model.
TRAINING_DEFAULTS = ('steps', 'k_steps')
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
                ('diversity_weight', '--diversity-weight', True),
                ('model_type', '--model', False), ('dataset', '--dataset', False), ('data', '--data', False),
                ('batch_size', '--batch-size', False), ('k_steps', '--k-steps', False)]
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
        help='total generator steps to train to (default: the variant\'s own, 5000 for the default GAN; or the '
             'stored run\'s)')
    add('--epochs', metavar='N', type=cli.positive_int, default=None,
        help='total passes over the data, instead of --steps')
    add('--batch-size', metavar='N', type=cli.positive_int, default=None,
        help='real images per batch (default %d)' % DEFAULT_BATCH_SIZE)
    add('--k-steps', metavar='N', type=cli.positive_int, default=None,
        help='discriminator steps per generator step (default 1; 5 with --loss wgan or wgan-gp)')
    add('--learning-rate', metavar='RATE', type=cli.positive_float, default=None,
        help='generator learning rate, and the discriminator\'s unless --d-learning-rate (default: the '
             'loss\'s own, 2e-4 for gan)')
    add('--d-learning-rate', metavar='RATE', type=cli.positive_float, default=None,
        help='discriminator learning rate (default: --learning-rate)')
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
    add('--save-every', metavar='N', type=cli.positive_int, default=500,
        help='save a checkpoint every N steps (default 500)')
    add('--summary-every', metavar='N', type=cli.positive_int, default=100,
        help='write TensorBoard losses and probabilities every N steps (default 100)')
    add('--sample-every', metavar='N', type=cli.positive_int, default=500,
        help='write a sample grid to <logdir>/samples every N steps (default 500)')
    add('--log-every', metavar='N', type=cli.positive_int, default=100,
        help='print a progress line every N steps (default 100)')
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
    if args.steps is not None and args.epochs is not None:
        raise UsageError('--steps %d and --epochs %d both given: pass only one' % (args.steps, args.epochs))
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
            if given is not None and given != kept:
                before = 'without %s' % flag if kept is None else 'with %s %s' % (flag, kept)
                raise UsageError('%s was trained %s, not %s %s: leave the flag out to resume it, or train a new '
                                 'model with another --logdir' % (args.logdir, before, flag, given))
        settings = {key: stored[key] for key in ('dataset', 'data', 'batch_size', 'k_steps')}
        settings['model_type'] = stored.get('model_type', 'gan')
        settings['model'] = runs.stored_model_settings(stored)
        settings['condition_vectors'] = stored.get('condition_vectors')
        settings['steps'] = args.steps or (None if args.epochs else stored['steps'])
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
    return {'model': model, 'model_type': model_type, 'dataset': args.dataset or DEFAULT_DATASET,
            'data': args.data, 'version': runs.CONFIG_VERSION,
            'batch_size': args.batch_size or DEFAULT_BATCH_SIZE, 'k_steps': args.k_steps or defaults['k_steps'],
            'steps': args.steps or (None if args.epochs else defaults['steps']),
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
    except UsageError as error:
        return cli.fail(PROG, error)
    # TensorFlow loads only now, so that bad flags are reported at once.
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

    Nothing is written into the logdir until the model is built or restored and the data loaded.
    """
    import checkpoints
    logdir = args.logdir
    condition_vectors = condition_vectors_of(args, settings, stored)
    checkpoint_path = checkpoints.latest_checkpoint(logdir) if stored is not None else None
    start_step = checkpoints.checkpoint_step(checkpoint_path) if checkpoint_path else 0
    if settings['steps'] is not None and start_step >= settings['steps']:
        return already_trained(logdir, start_step, settings['steps'])
    model, session = build(settings, condition_vectors)
    try:
        saved = restore_or_initialise(session, checkpoint_path)
        data = load_data(settings)
        steps = settings['steps'] or args.epochs * (data.batches_per_epoch // settings['k_steps'])
        if start_step >= steps:
            return already_trained(logdir, start_step, steps)
        resume_data_order(data, saved, checkpoint_path)
        write_run_files(args, settings, steps, condition_vectors, new_run=stored is None)
        callbacks = make_callbacks(args, settings, session, model, steps, checkpoint_path)
        announce(logdir, checkpoint_path, start_step, steps, new_run=stored is None)
        return run(session, model, data, settings['k_steps'], steps, callbacks, logdir)
    except OSError as error:
        return cli.fail(PROG, 'cannot write into %s (%s): free some space or choose another --logdir' % (
            logdir, error), code=1)
    finally:
        session.close()


def build(settings, condition_vectors):
    """The model, seeded, in a graph of its own, and a session for it."""
    import runs
    tf = cli.import_tensorflow_quietly()
    seed = settings['model']['seed']
    random.seed(seed)
    np.random.seed(seed)
    graph = tf.Graph()
    with graph.as_default():
        model = runs.build_model(settings['model'], condition_vectors, settings['model_type'])
    return model, tf.compat.v1.Session(graph=graph)


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
        saved = checkpoints.read_data_state(checkpoint_path)
    except checkpoints.CheckpointError as error:
        raise runs.unusable_checkpoint(error, checkpoint_path)
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
    if saved is None:
        return
    try:
        data.load_state_dict(saved)
    except (ValueError, KeyError) as error:
        raise UsageError('the data order saved with %s does not fit the data (%s): train afresh with another '
                         '--logdir' % (checkpoint_path, error))


def write_run_files(args, settings, steps, condition_vectors, new_run):
    """The logdir, and for a new run its config.json and its copy of the condition vectors."""
    import runs
    os.makedirs(args.logdir, exist_ok=True)
    if not new_run:
        return
    if condition_vectors is not None:
        cli.write_atomically(os.path.join(args.logdir, settings['condition_vectors']),
                             lambda stream: np.save(stream, condition_vectors))
    config = dict(settings, steps=steps, epochs=args.epochs, save_every=args.save_every,
                  summary_every=args.summary_every, sample_every=args.sample_every, log_every=args.log_every)
    cli.write_json_atomically(os.path.join(args.logdir, runs.CONFIG_NAME), config)


# What fit calls after each step, by job; `evaluations` is empty unless the run measures its quality.
Callbacks = collections.namedtuple('Callbacks', 'summary log checkpoint samples evaluations')


def make_callbacks(args, settings, session, model, steps, checkpoint_path):
    """What fit calls after each step: summaries, log lines, checkpoints, sample grids and quality figures."""
    import callbacks as callbacks_lib
    import checkpoints
    v1 = cli.import_tensorflow_quietly().compat.v1
    logdir = args.logdir
    evaluating = bool(args.eval_every) and model.conditioning != 'none'
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
        # TensorBoard drops the steps that a killed session logged after this checkpoint.
        summary.writer.add_session_log(v1.SessionLog(status=v1.SessionLog.START), checkpoints.checkpoint_step(
            checkpoint_path))
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


def run(session, model, data, k_steps, steps, callbacks, logdir):
    """fit to `steps`, then the last checkpoint and grid; the exit code. Ctrl-C and SIGTERM save first."""
    import callbacks as callbacks_lib
    import checkpoints
    from model import NonFiniteLossError
    stop = GracefulStop()
    try:
        with stop:
            step = model.fit(session, data, epochs=None, k_steps=k_steps, max_steps=steps,
                             callbacks=[callbacks.summary, callbacks.log, callbacks.checkpoint, callbacks.samples]
                             + callbacks.evaluations + [callbacks_lib.Callback(1, stop.check)])
    except NonFiniteLossError:
        step = session.run(model.global_step)
        kept = callbacks.checkpoint.last_path or checkpoints.latest_checkpoint(logdir)
        return cli.fail(PROG, 'training diverged: non-finite loss at step %d, so nothing of it was saved (%s); '
                        'train a new run with a lower --learning-rate' % (
                            step, 'the latest checkpoint is %s' % kept if kept else 'there is no checkpoint'), code=1)
    except (TrainingInterrupted, KeyboardInterrupt) as interruption:
        signum = getattr(interruption, 'signum', signal.SIGINT)
        path = save_now(session, model, data, callbacks.checkpoint)
        say('interrupted at step %d: saved %s; run the same command to continue' % (
            checkpoints.checkpoint_step(path), path))
        return 128 + signum
    finally:
        close(callbacks)
    return finish(data, step, callbacks, logdir)


def close(callbacks):
    callbacks.summary.close()
    for evaluation in callbacks.evaluations:
        if evaluation.evaluator is not None:
            evaluation.evaluator.close()


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
    """The path of the checkpoint of `step`: the last one saved if it is that step's, else saved now."""
    import checkpoints
    if checkpoint.last_path and checkpoints.checkpoint_step(checkpoint.last_path) == step:
        return checkpoint.last_path
    return checkpoint.save(data, step)


def save_now(session, model, data, checkpoint):
    """The checkpoint of the current step, saved now unless it already is; a further Ctrl-C cannot cut it short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if (
        threading.current_thread() is threading.main_thread()) else None
    try:
        return checkpoint_of_step(checkpoint, data, session.run(model.global_step))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def already_trained(logdir, step, steps):
    say('%s is already trained to step %d (asked for %d): pass a larger --steps to train further' % (
        logdir, step, steps))
    say('draw digits: python generate.py --logdir %s --condition 3' % quote(logdir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
