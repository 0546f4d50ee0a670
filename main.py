"""Train the conditional GAN.

    python main.py                                     # MNIST, 5000 steps, logs in summary/train
    python main.py --dataset fashion_mnist --logdir summary/fashion --steps 8000
    python main.py --logdir summary/train --steps 8000 # resume the same run and train it further

A new logdir gets config.json (the model and data settings), TensorBoard events, checkpoints and sample
grids. Running again with the same logdir resumes from its latest checkpoint with the model rebuilt from
config.json. Ctrl-C saves a checkpoint before stopping.
"""
import argparse
import glob
import json
import math
import os
import random
import shlex
import signal
import sys
import threading

import numpy as np

import dataset as dataset_lib

CONFIG_NAME = 'config.json'
DEFAULT_LOGDIR = 'summary/train'
DEFAULT_STEPS = 5000
DEFAULT_EVAL_EVERY = 2500
DEFAULT_BATCH_SIZE = 64
DEFAULT_DATASET = 'mnist'
# GAN and WGAN want different rhythms: the critic needs several steps per generator step and small RMSProp steps.
# A WGAN step is five critic steps and a generator step, a LAPGAN step trains three GANs: fewer steps keep
# their default runs near the default GAN's ten minutes or so on a 2-core CPU.
LOSS_DEFAULTS = {'gan': {'learning_rate': 2e-4, 'k_steps': 1, 'steps': DEFAULT_STEPS},
                 'wgan': {'learning_rate': 5e-5, 'k_steps': 5, 'steps': 1500}}
LAPGAN_DEFAULT_STEPS = 2500
MODEL_DEFAULTS = {'noise_len': 100, 'num_classes': 10, 'conditioning': 'matching', 'arch': 'dcgan', 'loss': 'gan',
                  'g_dim': 64, 'd_dim': 64, 'condition_units': 32, 'd_condition_maps': 32, 'learning_rate': None,
                  'd_learning_rate': None, 'beta1': 0.5, 'clip': 0.01, 'interpolate_conditions': False,
                  'minibatch_stddev': True, 'projection': True, 'diversity_weight': 0.3, 'seed': 0}
# A --condition-vectors file is copied into the logdir under this name, so that the run carries its conditions.
CONDITION_VECTORS_NAME = 'condition_vectors.npy'
# Flags whose value a resumed run takes from config.json: (name in args and config, flag, stored in 'model'?).
STORED_FLAGS = [('noise_len', '--noise-len', True), ('conditioning', '--conditioning', True),
                ('arch', '--arch', True), ('loss', '--loss', True), ('g_dim', '--g-dim', True),
                ('d_dim', '--d-dim', True), ('condition_units', '--condition-units', True),
                ('learning_rate', '--learning-rate', True), ('d_learning_rate', '--d-learning-rate', True),
                ('seed', '--seed', True), ('interpolate_conditions', '--interpolate-conditions', True),
                ('diversity_weight', '--diversity-weight', True),
                ('model_type', '--model', False), ('dataset', '--dataset', False), ('data', '--data', False),
                ('batch_size', '--batch-size', False), ('k_steps', '--k-steps', False)]


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


class OneLineArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError('%s (see python main.py --help)' % message)


class TrainingInterrupted(Exception):
    def __init__(self, signum):
        super().__init__('interrupted by signal %d' % signum)
        self.signum = signum


def _number(text, kind, lowest, what):
    """An argparse type: `text` as `kind`, finite and at least `lowest`."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a %s' % (text, 'whole number' if kind is int else 'number'))
    if not (math.isfinite(value) and value >= lowest):
        raise argparse.ArgumentTypeError('must be %s, got %s' % (what, text))
    return value


def positive_int(text):
    return _number(text, int, 1, 'at least 1')


def non_negative_int(text):
    return _number(text, int, 0, '0 or more')


def positive_float(text):
    value = _number(text, float, 0.0, 'a positive number')
    if value == 0.0:
        raise argparse.ArgumentTypeError('must be a positive number, got %s' % text)
    return value


def non_negative_float(text):
    return _number(text, float, 0.0, '0 or a positive number')


def build_parser():
    parser = OneLineArgumentParser(
        prog='main.py', description='Train a conditional GAN on MNIST-style digits. Running again with the same '
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
    add('--steps', metavar='N', type=positive_int, default=None,
        help='total generator steps to train to (default %d; %d with --loss wgan, %d with --model lapgan; or the '
             'stored run\'s)' % (DEFAULT_STEPS, LOSS_DEFAULTS['wgan']['steps'], LAPGAN_DEFAULT_STEPS))
    add('--epochs', metavar='N', type=positive_int, default=None,
        help='total passes over the data, instead of --steps')
    add('--batch-size', metavar='N', type=positive_int, default=None,
        help='real images per batch (default %d)' % DEFAULT_BATCH_SIZE)
    add('--k-steps', metavar='N', type=positive_int, default=None,
        help='discriminator steps per generator step (default 1; 5 with --loss wgan)')
    add('--learning-rate', metavar='RATE', type=positive_float, default=None,
        help='generator learning rate, and the discriminator\'s unless --d-learning-rate (default 2e-4; 5e-5 '
             'with --loss wgan)')
    add('--d-learning-rate', metavar='RATE', type=positive_float, default=None,
        help='discriminator learning rate (default: --learning-rate)')
    add('--noise-len', metavar='N', type=positive_int, default=None,
        help='length of the generator\'s noise vector (default 100)')
    add('--seed', metavar='N', type=non_negative_int, default=None,
        help='seed for weights, data order and noise: the same seed repeats a run (default 0)')
    add('--model', dest='model_type', choices=('gan', 'lapgan'), default=None,
        help='gan: one generator and discriminator (default); lapgan: a Laplacian pyramid of GANs at 7x7, 14x14 '
             'and 28x28')
    add('--conditioning', choices=('matching', 'concat', 'none'), default=None,
        help='matching: label embeddings and a wrong-label loss (default); concat: plain CGAN; none: no labels')
    add('--arch', choices=('dcgan', 'mlp'), default=None,
        help='dcgan: strided convolutions with batch norm (default); mlp: dense layers')
    add('--loss', choices=('gan', 'wgan'), default=None,
        help='gan: non-saturating cross-entropy (default); wgan: Wasserstein critic with weight clipping')
    add('--interpolate-conditions', action='store_const', const=True, default=None,
        help='GAN-INT: the generator also learns from halfway blends of two labels\' condition vectors')
    add('--condition-vectors', metavar='FILE.npy', default=None,
        help='condition on these vectors, one row per class (e.g. sentence embeddings), instead of one-hot '
             'labels; the run keeps a copy')
    add('--g-dim', metavar='N', type=positive_int, default=None,
        help='generator width: feature maps of its last layer (default 64)')
    add('--d-dim', metavar='N', type=positive_int, default=None,
        help='discriminator width: feature maps of its first layer (default 64)')
    add('--condition-units', metavar='N', type=positive_int, default=None,
        help='size of the generator\'s label embedding (default 32)')
    add('--diversity-weight', metavar='W', type=non_negative_float, default=None,
        help='weight of the mode-seeking term that pays the generator for drawing different digits from '
             'different noise (default 0.3; 0 turns it off)')
    add('--save-every', metavar='N', type=positive_int, default=500,
        help='save a checkpoint every N steps (default 500)')
    add('--summary-every', metavar='N', type=positive_int, default=100,
        help='write TensorBoard losses and probabilities every N steps (default 100)')
    add('--sample-every', metavar='N', type=positive_int, default=500,
        help='write a sample grid to <logdir>/samples every N steps (default 500)')
    add('--log-every', metavar='N', type=positive_int, default=100,
        help='print a progress line every N steps (default 100)')
    add('--eval-every', metavar='N', type=non_negative_int, default=DEFAULT_EVAL_EVERY,
        help='score generated digits with the classifier of evaluate.py every N steps, into TensorBoard; '
             '0: never (default %d)' % DEFAULT_EVAL_EVERY)
    add('--eval-num-per-class', metavar='N', type=positive_int, default=100,
        help='generated digits per class for those scores (default 100)')
    return parser


def fail(message, code=2):
    print('main.py: error: %s' % message, file=sys.stderr, flush=True)
    return code


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


def read_stored_config(logdir):
    """The config of the run in logdir, None for a new run; UsageError if it cannot be resumed."""
    path = os.path.join(logdir, CONFIG_NAME)
    if not os.path.exists(path):
        if glob.glob(os.path.join(glob.escape(logdir), 'model.ckpt-*.index')):
            raise UsageError('%s holds checkpoints but no %s, so its model is unknown: train afresh with another '
                             '--logdir' % (logdir, CONFIG_NAME))
        return None
    try:
        with open(path) as stream:
            config = json.load(stream)
        missing = [key for key in ('model', 'dataset', 'data', 'batch_size', 'k_steps', 'steps') if key not in config]
        if missing:
            raise ValueError('it lacks %s' % ', '.join(missing))
    except (OSError, ValueError) as error:
        raise UsageError('%s is unreadable (%s): restore it, or train afresh with another --logdir' % (path, error))
    return config


def resolve_settings(args, stored):
    """The run's settings: the flags given, else the stored run's, else the defaults.

    A flag that contradicts the stored run is an error: its checkpoints hold another model or data.
    """
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
        # A run stored before the mode-seeking term existed was trained without it.
        settings['model'] = dict({'diversity_weight': 0.0}, **stored['model'])
        settings['steps'] = args.steps or (None if args.epochs else stored['steps'])
        return settings
    model = dict(MODEL_DEFAULTS)
    for name, _, in_model in STORED_FLAGS:
        if in_model and getattr(args, name) is not None:
            model[name] = getattr(args, name)
    loss_defaults = LOSS_DEFAULTS[model['loss']]
    model['learning_rate'] = model['learning_rate'] or loss_defaults['learning_rate']
    model_type = args.model_type or 'gan'
    steps = LAPGAN_DEFAULT_STEPS if model_type == 'lapgan' else loss_defaults['steps']
    return {'model': model, 'model_type': model_type, 'dataset': args.dataset or DEFAULT_DATASET,
            'data': args.data,
            'batch_size': args.batch_size or DEFAULT_BATCH_SIZE, 'k_steps': args.k_steps or loss_defaults['k_steps'],
            'steps': args.steps or (None if args.epochs else steps)}


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
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        return fail(str(error))
    except SystemExit as done:   # --help
        return done.code
    try:
        check_arguments(args)
        stored = read_stored_config(args.logdir)
        settings = resolve_settings(args, stored)
    except UsageError as error:
        return fail(str(error))
    try:
        return train(args, settings, resuming=stored is not None)
    except UsageError as error:
        return fail(str(error))
    except dataset_lib.DataError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail('interrupted outside the training loop: nothing new was saved', code=130)


def train(args, settings, resuming):
    # TensorFlow loads only now, so that bad flags are reported at once.
    import generate
    import callbacks as callbacks_lib
    from model import NonFiniteLossError
    tf, v1 = generate.tf, generate.tf.compat.v1

    logdir, model_settings = args.logdir, settings['model']
    condition_vectors = condition_vectors_of(args, settings, resuming)
    checkpoint_path = generate.latest_checkpoint(logdir) if resuming else None
    start_step = generate.checkpoint_step(checkpoint_path) if checkpoint_path else 0
    if settings['steps'] is not None and start_step >= settings['steps']:
        return already_trained(logdir, start_step, settings['steps'])

    seed = model_settings['seed']
    random.seed(seed)
    np.random.seed(seed)
    graph = tf.Graph()
    with graph.as_default():
        model = build_model(model_settings, condition_vectors, settings['model_type'])
        variables = v1.global_variables()
        restorer = v1.train.Saver(variables)
        initializer = v1.variables_initializer(variables)
    session = v1.Session(graph=graph)
    try:
        data_state = None
        if checkpoint_path:
            try:
                generate.restore_checkpoint(session, restorer, checkpoint_path, variables)
                data_state = read_data_state(callbacks_lib.dataset_state_path(checkpoint_path))
            except generate.CheckpointError as error:
                if not error.corrupt:
                    fix = 'was config.json edited? restore it, or train afresh with another --logdir'
                elif generate.fallback_hint(checkpoint_path):
                    fix = '%s and run again, or train afresh with another --logdir' % (
                        generate.fallback_hint(checkpoint_path))
                else:
                    fix = 'train afresh with another --logdir'
                raise UsageError('%s: %s' % (error, fix))
        else:
            session.run(initializer)

        images, labels = dataset_lib.load_dataset(settings['dataset'], settings['data'])
        data = make_dataset(images, labels, settings, seed)
        steps = settings['steps'] or args.epochs * (data.batches_per_epoch // settings['k_steps'])
        if start_step >= steps:
            return already_trained(logdir, start_step, steps)
        if data_state is not None:
            try:
                data.load_state_dict(data_state)
            except (ValueError, KeyError) as error:
                raise UsageError('the data order saved with %s does not fit the data (%s): train afresh with '
                                 'another --logdir' % (checkpoint_path, error))

        # Everything is checked: only now write into the logdir.
        os.makedirs(logdir, exist_ok=True)
        if not resuming and condition_vectors is not None:
            callbacks_lib.write_atomically(os.path.join(logdir, CONDITION_VECTORS_NAME),
                                           lambda f: np.save(f, condition_vectors))
        if not resuming:
            config = dict(settings, steps=steps, epochs=args.epochs, save_every=args.save_every,
                          summary_every=args.summary_every, sample_every=args.sample_every,
                          log_every=args.log_every)
            callbacks_lib.write_json_atomically(os.path.join(logdir, CONFIG_NAME), config)
        with graph.as_default():
            summary = callbacks_lib.SummaryCallback(session, model, logdir, every_step=args.summary_every,
                                                    image_every_step=args.sample_every)
            log = callbacks_lib.LogCallback(model, settings['batch_size'], settings['k_steps'],
                                            every_step=args.log_every, total_steps=steps)
            checkpoint = callbacks_lib.CheckpointCallback(session, logdir, every_step=args.save_every, keep=3)
            row_labels = dataset_lib.row_labels(settings['dataset']) if model.conditioning != 'none' else None
            samples = callbacks_lib.SampleGridCallback(session, model, logdir, every_step=args.sample_every,
                                                       row_labels=row_labels)
        extra = []
        if args.eval_every and model.conditioning != 'none':
            def make_evaluator():
                import evaluate
                return evaluate.Evaluator(settings['dataset'], settings['data'],
                                          num_per_class=max(args.eval_num_per_class, 2))
            extra.append(callbacks_lib.EvaluationCallback(session, model, summary.writer, make_evaluator,
                                                          every_step=args.eval_every))
        if checkpoint_path:
            # Keep pruning the checkpoints of earlier sessions too, and let TensorBoard drop the steps that
            # were logged after this checkpoint by a session that was killed.
            checkpoint.saver.set_last_checkpoints_with_time(
                [(path, os.path.getmtime(path + '.index')) for path in generate.checkpoints_in(logdir)])
            summary.writer.add_session_log(v1.SessionLog(status=v1.SessionLog.START), start_step)
            say('resuming %s from step %d (%s), training to step %d' % (logdir, start_step, checkpoint_path, steps))
        elif resuming:
            say('no checkpoint in %s yet: training its config.json model from step 0 to step %d' % (logdir, steps))
        else:
            say('new run in %s (settings in %s), training for %d steps' % (
                logdir, os.path.join(logdir, CONFIG_NAME), steps))
        say('events, checkpoints and sample grids go to %s' % logdir)
        say('watch training: tensorboard --logdir %s' % quote(logdir))

        stop = GracefulStop()
        try:
            with stop:
                step = model.fit(session, data, epochs=None, k_steps=settings['k_steps'], max_steps=steps,
                                 callbacks=[summary, log, checkpoint, samples] + extra +
                                           [callbacks_lib.Callback(1, stop.check)])
        except NonFiniteLossError:
            step = session.run(model.global_step)
            kept = checkpoint.last_path or generate.latest_checkpoint(logdir)
            return fail('training diverged: non-finite loss at step %d, so nothing of it was saved (%s); train a '
                        'new run with a lower --learning-rate' % (
                            step, 'the latest checkpoint is %s' % kept if kept else 'there is no checkpoint'),
                        code=1)
        except (TrainingInterrupted, KeyboardInterrupt) as interruption:
            signum = getattr(interruption, 'signum', signal.SIGINT)
            path = save_now(session, model, data, checkpoint)
            say('interrupted at step %d: saved %s; run the same command to continue' % (
                generate.checkpoint_step(path), path))
            return 128 + signum
        finally:
            summary.close()
            for callback in extra:
                if callback.evaluator is not None:
                    callback.evaluator.close()

        path = checkpoint.last_path
        if path is None or generate.checkpoint_step(path) != step:
            path = checkpoint.save(data, step)
        if samples.last_path is None or not samples.last_path.endswith('step_%07d.png' % step):
            samples(data, step)
        say('trained to step %d' % step)
        say('checkpoint: %s' % path)
        say('last sample grid: %s' % samples.last_path)
        say('draw digits: python generate.py --logdir %s --condition 3' % quote(logdir))
        return 0
    except OSError as error:
        return fail('cannot write into %s (%s): free some space or choose another --logdir' % (logdir, error),
                    code=1)
    finally:
        session.close()


def build_model(model_settings, condition_vectors=None, model_type='gan'):
    import generate
    try:
        return generate.model_class(model_type)(condition_vectors=condition_vectors, **model_settings)
    except (TypeError, ValueError) as error:
        raise UsageError('the stored model settings cannot be built (%s): train afresh with another --logdir'
                         % error)


def read_condition_vectors(path, num_classes, source):
    """A float32 (num_classes, D) array of finite numbers from a .npy file; UsageError naming `source` if not."""
    if not os.path.isfile(path):
        raise UsageError('%s: file not found: pass a .npy file of %d condition vectors, one row per class'
                         % (source, num_classes))
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise UsageError('%s is not a readable .npy array (%s): save it with numpy.save' % (source, error))
    if vectors.ndim != 2 or vectors.shape[0] != num_classes or vectors.shape[1] < 1:
        raise UsageError('%s holds an array of shape %s: it needs one row per class, shape (%d, D)'
                         % (source, vectors.shape, num_classes))
    if not np.issubdtype(vectors.dtype, np.number) or not np.all(np.isfinite(vectors)):
        raise UsageError('%s must hold finite numbers only: fix the array and save it again' % source)
    return vectors.astype(np.float32)


def condition_vectors_of(args, settings, resuming):
    """The run's condition vectors (None: one-hot labels); settings['condition_vectors'] names the logdir's copy."""
    num_classes = settings['model']['num_classes']
    given = None
    if args.condition_vectors is not None:
        given = read_condition_vectors(args.condition_vectors, num_classes,
                                       '--condition-vectors %s' % args.condition_vectors)
    if not resuming:
        settings['condition_vectors'] = None if given is None else CONDITION_VECTORS_NAME
        return given
    kept_name = read_stored_config(args.logdir).get('condition_vectors')
    kept = None
    if kept_name:
        path = os.path.join(args.logdir, kept_name)
        kept = read_condition_vectors(path, num_classes, 'the run\'s copy %s' % path)
    if given is not None and (kept is None or not np.array_equal(given, kept)):
        raise UsageError('%s was trained %s, not with --condition-vectors %s: leave the flag out to resume it, or '
                         'train a new model with another --logdir' % (
                             args.logdir, 'with other condition vectors' if kept_name else 'on one-hot labels',
                             args.condition_vectors))
    settings['condition_vectors'] = kept_name
    return kept


def read_data_state(path):
    """The data order saved beside a checkpoint; None if there is none (training then reshuffles)."""
    if not os.path.exists(path):
        say('no saved data order beside the checkpoint (%s): the data is reshuffled' % path)
        return None
    try:
        with open(path) as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        import generate
        raise generate.CheckpointError('%s is corrupt (%s)' % (path, error), corrupt=True)


def make_dataset(images, labels, settings, seed):
    from dataset import GANDataset
    batch_size, k_steps = settings['batch_size'], settings['k_steps']
    if batch_size > len(labels):
        raise UsageError('--batch-size %d is larger than the %d images of the data: choose at most %d' % (
            batch_size, len(labels), len(labels)))
    data = GANDataset(images, labels, settings['model']['noise_len'], batch_size, seed=seed,
                      num_classes=settings['model']['num_classes'])
    if data.batches_per_epoch < k_steps:
        raise UsageError('--k-steps %d needs %d batches per generator step, but the data holds only %d batches '
                         'of --batch-size %d: lower one of them' % (k_steps, k_steps, data.batches_per_epoch,
                                                                    batch_size))
    return data


def save_now(session, model, data, checkpoint):
    """The checkpoint of the current step, saved now unless it already is; a further Ctrl-C cannot cut it short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if (
        threading.current_thread() is threading.main_thread()) else None
    try:
        import generate
        step = session.run(model.global_step)
        if checkpoint.last_path and generate.checkpoint_step(checkpoint.last_path) == step:
            return checkpoint.last_path
        return checkpoint.save(data, step)
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
