"""Train the conditional GAN.

    python main.py                                     # MNIST, the default steps, logs in summary/train
    python main.py --dataset fashion_mnist --logdir summary/fashion --steps 8000
    python main.py --logdir summary/train --steps 8000 # resume the same run and train it further
    python main.py --data my_images/ --logdir summary/mine   # a subfolder of pictures per class: docs/own_images.md

A new logdir gets config.json (every setting of the run), TensorBoard events, checkpoints and sample grids.
Running again with the same logdir resumes from its latest checkpoint with the settings of config.json.
Ctrl-C or SIGTERM saves a checkpoint before stopping. One process trains a logdir at a time: while it does,
<logdir>/training.lock holds its pid.

The training path, `train` below, reads top to bottom: settings -> model -> data -> callbacks -> fit.
"""
import dataclasses
import os
import random
import shlex
import sys

import numpy as np

import cli
import dataset as dataset_lib
import logdir_lock
import rundir
import settings as settings_lib
import signals
from cli import UsageError

PROG = 'main.py'
DEFAULT_LOGDIR = cli.DEFAULT_LOGDIR
DEFAULTS = settings_lib.defaults_of()


# One statement per flag, with its help: long, and read flag by flag. A flag's dest is its settings field.
def build_parser():
    parser = cli.OneLineArgumentParser(
        prog=PROG, description='Train a conditional GAN on MNIST-style digits. Running again with the same '
                                    '--logdir resumes from its latest checkpoint.')

    def add(name, help, default_text=None, **kwargs):
        field = kwargs.get('dest', name.lstrip('-').replace('-', '_'))
        if default_text is None and DEFAULTS.get(field) not in (None, False):
            default_text = DEFAULTS[field]
        parser.add_argument(name, default=None, help=help + ('' if default_text is None else
                                                             ' (default %s)' % default_text), **kwargs)

    choices, parts = settings_lib.FLAG_CHOICES, settings_lib.PART_DEFAULTS
    add('--dataset', 'mnist (full set when cached or downloadable, else a bundled 5,000-digit sample), mnist_sample '
        'or fashion_mnist', choices=dataset_lib.DATASET_NAMES)
    add('--data', 'read the images from this folder of class folders (a subfolder of PNG, JPEG, BMP or GIF pictures '
        'per class), .npz, IDX folder or IDX images file instead', metavar='PATH')
    add('--train-on-held-out', 'data without a test split: train on the images the quality figures compare with '
        'too, which makes those figures flatter the run', action='store_const', const=True)
    parser.add_argument('--logdir', metavar='DIR', default=DEFAULT_LOGDIR,
                        help='where config, events, checkpoints and sample grids go; an existing run there is '
                             'resumed (default %s)' % DEFAULT_LOGDIR)
    add('--steps', 'total generator steps to train to', 'the variant\'s own, %d for the default GAN; or the stored '
        'run\'s' % DEFAULTS['steps'], metavar='N', type=cli.positive_int)
    add('--epochs', 'total passes over the data, instead of --steps', metavar='N', type=cli.positive_int)
    add('--batch-size', 'real images per batch', metavar='N', type=cli.positive_int)
    add('--k-steps', 'discriminator steps per generator step', 'the variant\'s own: %d; %d with --loss wgan'
        % (DEFAULTS['k_steps'], parts['loss']['wgan']['k_steps']), metavar='N', type=cli.positive_int)
    add('--learning-rate', 'generator learning rate, and the discriminator\'s unless --d-learning-rate',
        'the loss\'s own, %g for gan' % DEFAULTS['learning_rate'], metavar='RATE', type=cli.positive_float)
    add('--d-learning-rate', 'discriminator learning rate', 'the variant\'s own: %g times --learning-rate for '
        '--loss gan, %g times for --model lapgan, --learning-rate for the Wasserstein losses and --conditioning none'
        % (parts['loss']['gan']['d_learning_rate'].times, parts['model_type']['lapgan']['d_learning_rate'].times),
        metavar='RATE', type=cli.positive_float)
    add('--beta1', 'Adam\'s first-moment decay, for both networks (0: no momentum)', 'the loss\'s own, %g for gan'
        % DEFAULTS['beta1'], metavar='DECAY', type=cli.below_one)
    add('--noise-len', 'length of the generator\'s noise vector', metavar='N', type=cli.positive_int)
    add('--seed', 'seed for weights, data order and noise: the same seed repeats a run', metavar='N', type=cli.seed)
    add('--model', 'gan: one generator and discriminator; lapgan: a Laplacian pyramid of GANs at 7x7, 14x14 and '
        '28x28', dest='model_type', choices=choices['model_type'])
    add('--conditioning', 'matching: label embeddings and a wrong-label loss; concat: plain CGAN; none: no labels '
        '(the images\' own clusters in their place, unless --clusters 0)', choices=choices['conditioning'])
    add('--arch', 'dcgan: strided convolutions with batch norm; mlp: dense layers', choices=choices['arch'])
    add('--loss', 'gan: non-saturating cross-entropy; wgan: Wasserstein critic with weight clipping; wgan-gp: '
        'Wasserstein critic with a gradient penalty', choices=choices['loss'])
    add('--interpolate-conditions', 'GAN-INT: the generator also learns from halfway blends of two labels\' '
        'condition vectors', action='store_const', const=True)
    add('--condition-vectors', 'condition on these vectors, one row per class (e.g. sentence embeddings), instead '
        'of one-hot labels; the run keeps a copy', metavar='FILE.npy')
    add('--g-dim', 'generator width: feature maps of its last hidden layer', metavar='N', type=cli.positive_int)
    add('--d-dim', 'discriminator width: feature maps of its first layer', metavar='N', type=cli.positive_int)
    add('--condition-units', 'size of the generator\'s label embedding', metavar='N', type=cli.positive_int)
    add('--diversity-weight', 'weight of the mode-seeking term that pays the generator for drawing different '
        'digits from different noise (0 turns it off)', 'the variant\'s own, %g for the default GAN'
        % DEFAULTS['diversity_weight'], metavar='W', type=cli.non_negative_float)
    add('--clusters', 'with --conditioning none: k-means clusters of the training images that both networks see '
        'in place of labels, each drawn as often as the data holds it (0: the original GAN)',
        parts['conditioning']['none']['clusters'], metavar='K', type=cli.non_negative_int)
    add('--lr-decay', 'let both learning rates fall linearly to 0 over this last fraction of the steps',
        'the variant\'s own: %g for the default GAN, %g for the other members' % (
            DEFAULTS['lr_decay'], parts['arch']['mlp']['lr_decay']),
        metavar='FRACTION', type=cli.fraction)
    add('--augment', 'differentiable augmentation of every image the discriminator sees, real and generated: '
        'random shifts of up to 2 pixels, a blanked 7x7 square, or both', 'none', choices=choices['augment'],
        metavar='|'.join(name for name in choices['augment'] if name))
    add('--r1-weight', 'gamma of R1: the discriminator pays gamma/2 times its squared gradient at real images, '
        'which keeps it from overfitting the training images (0: none)', '%g for --loss gan, 0 for the '
        'Wasserstein losses, --conditioning none and --model lapgan' % DEFAULTS['r1_weight'], metavar='GAMMA',
        type=cli.non_negative_float)
    add('--r1-every', 'lazy R1: pay it once every N generator steps, at N times gamma, which spares its second '
        'backward pass on the other steps', '%d for the default; %d for --arch mlp and --conditioning concat' % (
            DEFAULTS['r1_every'], settings_lib.defaults_of(arch='mlp')['r1_every']), metavar='N',
        type=cli.positive_int)
    add('--top-k', 'top-k updates: the generator learns only from the share of each batch the discriminator finds '
        'most real, falling from 1 by 1%% an epoch to this share (1: every image)', metavar='SHARE', type=cli.share)
    add('--ema-decay', 'draw (grids, quality points, generate.py, evaluate.py, exports) from a moving average of '
        'the generator\'s weights at this decay, warmed up as (1 + step) / (10 + step) (0: the trained '
        'weights)', '%g for --loss gan, 0 for the Wasserstein losses' % DEFAULTS['ema_decay'], metavar='DECAY',
        type=cli.fraction)
    add('--spectral-norm', 'divide each of the discriminator\'s weights by its largest singular value (one step of '
        'power iteration per discriminator step), which bounds how steeply it can judge', action='store_const',
        const=True)
    for name, what in (('--save-every', 'save a checkpoint'), ('--summary-every', 'write TensorBoard losses and '
                       'probabilities'), ('--sample-every', 'write a sample grid to <logdir>/samples'),
                       ('--log-every', 'print a progress line')):
        add(name, what + ' every N steps; a resumed run keeps its own', metavar='N', type=cli.positive_int)
    add('--eval-every', 'score generated digits with the classifier of evaluate.py every N steps, into '
        'TensorBoard; 0: never', metavar='N', type=cli.non_negative_int)
    add('--eval-num-per-class', 'generated digits per class for those scores', metavar='N', type=cli.positive_int)
    parser.add_argument('--precision', choices=cli.PRECISIONS, default='auto',
                        help='arithmetic of the training step: bfloat16 runs convolutions and products in '
                             'bfloat16, faster on processors made for it (weights stay float32); auto picks it '
                             'on those (default auto)')
    return parser


def given_settings(args):
    """The settings fields the flags gave, by name."""
    fields = set(settings_lib.MODEL_FIELDS) | set(settings_lib.RUN_FIELDS)
    given = {name: value for name, value in vars(args).items() if name in fields and value is not None}
    if 'data' in given:
        given['data'] = os.path.abspath(given['data'])
    return given


def say(message):
    print(message, flush=True)


def quote(path):
    return shlex.quote(str(path))


def main(argv=None):
    with signals.interruptible():   # SIGTERM before training unwinds as Ctrl-C does: nothing half-made is left
        try:
            args, code = cli.parse_arguments(build_parser(), argv)
            if args is None:
                return code
            check_arguments(args)
            # One trainer per logdir: two at once would mix two models' checkpoints under one config.json.
            with logdir_lock.LogdirLock(args.logdir):
                return train_in_logdir(args)
        except (UsageError, settings_lib.SettingsError) as error:
            return cli.fail(PROG, error)
        except logdir_lock.LogdirInUse as error:
            return cli.fail(PROG, '%s: wait for it to end, or train into another --logdir' % error)
        except (KeyboardInterrupt, signals.TrainingInterrupted) as interruption:
            return cli.fail(PROG, 'interrupted before training started: nothing was saved',
                            code=128 + getattr(interruption, 'signum', 2))
        except OSError as error:   # the logdir or its lock file could not be made
            return cli.fail(PROG, cli.unwritable(args.logdir, error, 'free some space or choose another --logdir'),
                            code=1)


def check_arguments(args):
    """What can be said of the flags before TensorFlow loads and before the logdir is touched."""
    if not args.logdir.strip():
        raise UsageError('--logdir is empty: name a directory, e.g. --logdir %s' % DEFAULT_LOGDIR)
    if args.data is not None and not os.path.exists(args.data):
        raise UsageError('--data %s: file not found; pass an existing folder of class folders, .npz, MNIST IDX '
                         'folder or IDX images file' % args.data)
    problem = rundir.logdir_problem(args.logdir)
    if problem:
        raise UsageError(problem)
    if not os.path.exists(os.path.join(args.logdir, rundir.CONFIG_NAME)):
        settings_lib.resolve(given_settings(args))   # a new run's flags are checked now, not after the import


def train_in_logdir(args):
    """main, once it holds the logdir: the run's settings resolved, then trained."""
    cli.import_tensorflow_quietly()
    import runs
    try:
        stored = runs.read_config(args.logdir)
        given = given_settings(args)
        if stored is None:
            given.update(classes_of_data(given))
        run, notes = settings_lib.resolve(given, stored, name=args.logdir)
        for note in notes:
            say(note)
        return train(args, run, stored)
    except (UsageError, settings_lib.SettingsError, runs.RunError, dataset_lib.DataError) as error:
        return cli.fail(PROG, error)


def classes_of_data(given):
    """A new run's classes as its data has them (a folder's class folders, an .npz's class names, the dataset's
    own): their number, and their names unless they are the dataset's."""
    name = given.get('dataset', DEFAULTS['dataset'])
    names = dataset_lib.data_class_names(name, given.get('data'))
    return {'num_classes': len(names), 'class_names': None if names == dataset_lib.class_names(name) else names}


def train(args, run, stored):
    """Train `run` into args.logdir to its last step: model -> data -> callbacks -> fit. The exit code.

    `stored` is the config.json of the run resumed (None: a new run). Nothing is written into the logdir until
    the model is built or restored and the data loaded; a new run that ends without a checkpoint (it failed,
    or was stopped) removes what it wrote, so that the same command with other flags can start it again.
    """
    import callbacks as callbacks_lib
    import checkpoints
    import resume
    logdir = args.logdir
    checkpoint_path = checkpoints.latest_checkpoint(logdir) if stored is not None else None
    start_step = checkpoints.checkpoint_step(checkpoint_path) if checkpoint_path else 0
    if run.steps is not None and start_step >= run.steps:
        return already_trained(logdir, start_step, run.steps)
    missing = resume.missing_data(logdir, run) if stored is not None else None
    if missing:
        raise missing
    condition_vectors = resume.condition_vectors_of(logdir, run, args.condition_vectors, stored is not None)

    found_before = rundir.paths_under(logdir)
    code = None
    try:
        # The model: the graph of the run's settings in a session, its variables restored or initialised
        # (first, so that a checkpoint that cannot be restored is said before any data is read).
        model, session = build(run, condition_vectors, args.precision)
        with session:
            saved = resume.restore_or_initialise(session, checkpoint_path, run, say)
            # The data: real digits in [-1, 1], in batches with right and wrong labels, in the order saved, and
            # the digits held out of training (p_held_out).
            data, held_out = load_data(run)
            resume.check_same_data(logdir, stored, args.data and run.data, data, say)
            if run.steps is None:
                run = dataclasses.replace(run, steps=run.epochs * (data.batches_per_epoch // run.k_steps))
            if start_step >= run.steps:
                return already_trained(logdir, start_step, run.steps)
            run = with_evaluation_checked(run, asked=args.eval_every is not None)
            resume.resume_data_order(data, saved, checkpoint_path, say)
            if not checkpoint_path:
                model.find_clusters(session, data.images, seed=run.model.seed)
            remove_leftovers(logdir, stored)
            write_run_files(logdir, run, stored, condition_vectors, data)
            # The callbacks: what fit does every few steps (summaries, log lines, checkpoints, grids, quality).
            callbacks = callbacks_lib.for_run(logdir, run, session, model, checkpoint_path, held_out)
            announce(logdir, checkpoint_path, start_step, run.steps, new_run=stored is None)
            code = fit(session, model, data, run, callbacks, logdir)
    except OSError as error:
        code = cli.fail(PROG, cli.unwritable(logdir, error, write_failure_fix(logdir)), code=1)
    finally:
        if code != 0 and stored is None and not checkpoints.checkpoints_in(logdir):
            rundir.undo_new_run(logdir, found_before)
    return code


def load_data(run):
    """(the run's images in batches, the images held out of its training as (images, labels), or None where it
    trains on every image); UsageError if the settings or the run's classes do not fit the data."""
    images, labels = dataset_lib.load_dataset(run.dataset, run.data)
    held_out = None
    if not run.train_on_held_out:
        images, labels, held_out = split_held_out(run, images, labels)
    settings_lib.check(run, num_examples=len(labels))
    changed = dataset_lib.classes_changed(run, dataset_lib.data_class_names(run.dataset, run.data), run.data)
    if changed:   # a resumed run whose data gained or renamed classes
        raise UsageError('%s: pass the data it was trained on, or train a new model with another --logdir' % changed)
    data = dataset_lib.GANDataset(images, labels, run.model.noise_len, run.batch_size, seed=run.model.seed,
                                  num_classes=run.model.num_classes)
    return data, held_out


def split_held_out(run, images, labels):
    """(images, labels) of the training images the measuring stick does not hold out (all of them when the data
    has a test split, which is held out instead), so that the quality figures compare with images the GAN never
    trained on; and the held-out ones as (images, labels), None where none could be held out."""
    import classifier
    names = dataset_lib.data_class_names(run.dataset, run.data)
    # log=None: the lines below say what is held out.
    test = classifier.test_split(run.dataset, run.data, names, log=None)
    if test is not None:
        return images, labels, test
    try:
        train, held_out = classifier.hold_out(run.dataset, run.data, labels, names)
    except dataset_lib.DataError as error:
        say('training on all %d images: none can be held out for the quality figures (%s)' % (len(labels), error))
        return images, labels, None
    say('training on %d of the %d images: the quality figures compare with the %d held out, never trained on '
        '(--train-on-held-out trains on them too)' % (len(train), len(labels), len(held_out)))
    return images[train], labels[train], (images[held_out], labels[held_out])


def with_evaluation_checked(run, asked):
    """The run, its quality points turned off (saying why) where they could not be measured; UsageError where
    --eval-every asked for them. Checked before the first step, so that no run fails at its first point."""
    import quality
    problem = run.eval_every and quality.evaluation_problem(run.dataset, run.data, run.eval_num_per_class)
    if not problem:
        return run
    if asked:
        raise UsageError('--eval-every %d: %s; or pass --eval-every 0' % (run.eval_every, problem))
    say('no quality points: %s (pass --eval-every 0 to say so)' % problem)
    return dataclasses.replace(run, eval_every=0)


def build(run, condition_vectors, precision='auto'):
    """The model, seeded, in a graph of its own, and a session for it in the `precision` asked for."""
    import model as model_lib
    import runs
    tf = cli.import_tensorflow_quietly()
    random.seed(run.model.seed)
    np.random.seed(run.model.seed)
    graph = tf.Graph()
    with graph.as_default():
        model = runs.build_model(run.model, condition_vectors)
    config = model_lib.session_config(model_lib.wants_bfloat16(precision))
    return model, tf.compat.v1.Session(graph=graph, config=config)


def remove_leftovers(logdir, stored):
    """In a run's logdir, what its own interrupted saves left; in a folder that holds no run, nothing."""
    removed = rundir.remove_leftovers(logdir) if stored is not None else []
    if removed:
        names = [os.path.relpath(path, logdir) for path in removed]
        say('removed %d temporary file%s that an interrupted save left in %s: %s%s' % (
            len(names), '' if len(names) == 1 else 's', logdir, ', '.join(names[:3]),
            ' and %d more' % (len(names) - 3) if len(names) > 3 else ''))


def write_run_files(logdir, run, stored, condition_vectors, data):
    """A new run's config.json, its settings written out, and its copy of the condition vectors; for a resumed
    run whose data moved, the new path in the config.json it has."""
    import runs
    os.makedirs(logdir, exist_ok=True)
    if stored is not None:
        if run.data != stored.get('data'):
            cli.write_json_atomically(os.path.join(logdir, rundir.CONFIG_NAME), dict(stored, data=run.data))
        return
    if condition_vectors is not None:
        cli.write_atomically(os.path.join(logdir, run.condition_vectors),
                             lambda stream: np.save(stream, condition_vectors))
    runs.write_config(logdir, run, dataset_lib.fingerprint(data.images, data.labels))


def announce(logdir, checkpoint_path, start_step, steps, new_run):
    if checkpoint_path:
        say('resuming %s from step %d (%s), training to step %d' % (logdir, start_step, checkpoint_path, steps))
    elif not new_run:
        say('no checkpoint in %s yet: training its config.json model from step 0 to step %d' % (logdir, steps))
    else:
        say('new run in %s (settings in %s), training for %d steps' % (
            logdir, os.path.join(logdir, rundir.CONFIG_NAME), steps))
    say('events, checkpoints and sample grids go to %s' % logdir)
    say('watch training: tensorboard --logdir %s' % quote(logdir))


def fit(session, model, data, run, callbacks, logdir):
    """model.fit to the run's steps, then the last checkpoint and grid; the exit code. Ctrl-C and SIGTERM save
    first."""
    import callbacks as callbacks_lib
    import checkpoints
    from model import NonFiniteLossError, linear_decay
    stop = signals.GracefulStop()
    schedule = linear_decay(run.steps, run.lr_decay) if run.lr_decay else None
    try:
        with stop:
            step = model.fit(session, data, epochs=None, k_steps=run.k_steps, max_steps=run.steps,
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
    except (signals.TrainingInterrupted, KeyboardInterrupt) as interruption:
        path = save_now(session, model, data, callbacks.checkpoint)
        say('interrupted at step %d: saved %s; run the same command to continue' % (
            checkpoints.checkpoint_step(path), path))
        return 128 + getattr(interruption, 'signum', 2)
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
    say(draw_command(logdir))
    return 0


def checkpoint_of_step(checkpoint, data, step):
    """The path of the checkpoint of `step`: the last one saved if it is that step's, else saved now, where a
    further Ctrl-C or SIGTERM cannot cut it short."""
    import checkpoints
    if checkpoint.last_path and checkpoints.checkpoint_step(checkpoint.last_path) == step:
        return checkpoint.last_path
    with signals.ignored(*signals.STOPPING):
        return checkpoint.save(data, step)


def save_now(session, model, data, checkpoint):
    """The checkpoint of the current step, saved now unless it already is."""
    return checkpoint_of_step(checkpoint, data, session.run(model.global_step))


def write_failure_fix(logdir):
    import checkpoints
    latest = checkpoints.latest_checkpoint(logdir)
    if latest is None:
        return 'free some space or choose another --logdir'
    return 'free some space, then run the same command to resume from %s' % latest


def already_trained(logdir, step, steps):
    say('%s is already trained to step %d (asked for %d): pass a larger --steps to train further' % (
        logdir, step, steps))
    say(draw_command(logdir))
    return 0


def draw_command(logdir):
    """The line that says how to draw one class of the run in logdir (its fourth, the digit 3 for MNIST)."""
    import runs
    names = dataset_lib.run_class_names(runs.read_settings(logdir))
    return 'draw %s: python generate.py --logdir %s --condition %s' % (
        'digits' if dataset_lib.are_digits(names) else 'images', quote(logdir), quote(names[min(3, len(names) - 1)]))


if __name__ == '__main__':
    sys.exit(main())
