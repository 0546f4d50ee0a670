"""Draw digits from a trained run: the Generator that other tools load, and the generate.py command line.

    python generate.py --condition 3                        # ten 3s -> <logdir>/generated_3.png
    python generate.py --num 8 --output digits.npz          # 8 of every digit: images in [0, 1] and labels
    python generate.py --interpolate 1 7                    # one row morphing a 1 into a 7, noise fixed
    python generate.py --condition 4 --vary-noise           # one digit, noise walked between two points
    python generate.py --gif                                # <logdir>/samples/*.png -> <logdir>/progress.gif
    python generate.py --arithmetic --condition 4           # z arithmetic: mean(A) - mean(B) + mean(C)

In code:

    generator = load_generator('summary/train')
    images = generator.sample([3, 3, 7], seed=0)           # float32 (3, 28, 28, 1) in [-1, 1]
    generator.close()
"""
import argparse
import glob
import json
import os
import re
import sys

import numpy as np


def _import_tensorflow_quietly():
    """Keep TensorFlow's own log off the terminal, so that an error stays one line.

    Its start-up notices ignore TF_CPP_MIN_LOG_LEVEL, so stderr is muted while it loads; later it logs
    harmless graph-rewrite failures at level E, so the level defaults to 3 (fatal only); and its Python
    side warns about deprecated calls inside its own Saver. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
    """
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    if 'tensorflow' in sys.modules or os.environ['TF_CPP_MIN_LOG_LEVEL'] == '0':
        import tensorflow
        return tensorflow
    import logging
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow
            finally:
                os.dup2(saved_stderr, 2)
    finally:
        os.close(saved_stderr)
    return tensorflow


tf = _import_tensorflow_quietly()

import callbacks  # noqa: E402  (these import TensorFlow too: after the quiet import)
import dataset as dataset_lib  # noqa: E402
import grids  # noqa: E402
from main import positive_int  # noqa: E402
from model import GANModel  # noqa: E402

v1 = tf.compat.v1

CONFIG_NAME = 'config.json'
OUTPUT_EXTENSIONS = ('.png', '.npy', '.npz')
GRID_COLUMNS = 10


class GenerateError(Exception):
    """A run that cannot be drawn from; the one-line message names the logdir and the fix."""


class CheckpointError(Exception):
    """A checkpoint that cannot be restored into the model; the message says why, the caller adds the fix."""

    def __init__(self, message, corrupt):
        super().__init__(message)
        self.corrupt = corrupt


# ---------------------------------------------------------------- checkpoints (shared with main.py)

def checkpoints_in(logdir):
    """Checkpoint paths in logdir, oldest first.

    Found by their .index files (written last, once the data is in place) rather than through the
    `checkpoint` list, which holds absolute paths when the logdir was given as one, and so would point
    into the original after the logdir is copied or moved.
    """
    found = []
    for index in glob.glob(os.path.join(glob.escape(logdir), callbacks.CHECKPOINT_NAME + '-*.index')):
        match = re.search(r'-(\d+)\.index$', index)
        if match:
            found.append((int(match.group(1)), index[:-len('.index')]))
    return [path for _, path in sorted(found)]


def latest_checkpoint(logdir):
    paths = checkpoints_in(logdir)
    return paths[-1] if paths else None


def fallback_hint(path):
    """How to get past a corrupt checkpoint by falling back to the one before it, or None if there is none."""
    earlier = [p for p in checkpoints_in(os.path.dirname(path) or '.') if checkpoint_step(p) < checkpoint_step(path)]
    return 'delete %s.* to fall back to %s' % (path, earlier[-1]) if earlier else None


def checkpoint_step(path):
    return int(re.search(r'-(\d+)$', path).group(1))


def restore_checkpoint(session, saver, path, variables):
    """Restore `variables` from `path`; CheckpointError says whether it is corrupt or made for another model."""
    try:
        reader = tf.train.load_checkpoint(path)
        shapes = reader.get_variable_to_shape_map()
        # Reading every tensor checks its checksum: a truncated file is refused even where the
        # variables asked for happen to lie in the part that survived.
        for name in shapes:
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as error:
        # The reader reports a short read as IndexError and other damage as ValueError or RuntimeError.
        raise CheckpointError('checkpoint %s is corrupt or truncated (%s)' % (path, _short(error)), corrupt=True)
    for variable in variables:
        name, shape = variable.op.name, variable.shape.as_list()
        if name not in shapes:
            raise CheckpointError('checkpoint %s does not match the model in config.json: it has no %s'
                                  % (path, name), corrupt=False)
        if list(shapes[name]) != shape:
            raise CheckpointError('checkpoint %s does not match the model in config.json: %s is %s there, %s in '
                                  'the model' % (path, name, list(shapes[name]), shape), corrupt=False)
    try:
        with session.graph.as_default():
            saver.restore(session, path)
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError('checkpoint %s is corrupt or truncated (%s)' % (path, _short(error)), corrupt=True)


def _short(error):
    """TensorFlow's messages run over many lines: the error's class and its first informative line."""
    lines = [line.strip() for line in getattr(error, 'message', str(error)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(('Graph execution error', 'Detected at node',
                                                            'Restoring from checkpoint failed'))]
    text = (useful or lines or [''])[0]
    return '%s: %s' % (type(error).__name__, text[:200])


# ---------------------------------------------------------------- the generator

def draw_noise(count, noise_len, seed=None):
    """Standard normal noise; the same seed gives the same rows, whatever the count."""
    return np.random.default_rng(seed).standard_normal((count, noise_len)).astype(np.float32)


class Generator(object):
    """A restored generator. Batch norm uses its moving statistics, so an image does not depend on its batch."""

    def __init__(self, logdir, config, model, session, checkpoint_path):
        self.logdir = logdir
        self.config = config
        self.checkpoint_path = checkpoint_path
        self._model = model
        self._session = session
        self._condition_vectors = model.right_condition_vectors
        self.condition_table = session.run(model.condition_table)

    @property
    def noise_len(self):
        return self._model.noise_len

    @property
    def num_classes(self):
        return self._model.num_classes

    @property
    def conditioned(self):
        return self._model.conditioning != 'none'

    def sample(self, labels, seed=None, noise=None):
        """float32 (N, 28, 28, 1) in [-1, 1] for int labels (N,); noise (N, noise_len) or drawn from seed."""
        labels = np.asarray(labels, np.int64).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError('labels must be in 0..%d, found %d..%d'
                             % (self.num_classes - 1, labels.min(), labels.max()))
        noise = self._noise(len(labels), seed, noise)
        return self._run({self._model.noise_input: noise, self._model.right_condition_input: labels})

    def sample_conditions(self, vectors, seed=None, noise=None):
        """Images for condition vectors (N, num_classes): rows of condition_table, or blends of them."""
        if self._condition_vectors is None:
            raise GenerateError('%s holds an unconditioned model (conditioning none): it takes no condition'
                                % self.logdir)
        vectors = np.asarray(vectors, np.float32)
        noise = self._noise(len(vectors), seed, noise)
        return self._run({self._model.noise_input: noise, self._condition_vectors: vectors})

    def _noise(self, count, seed, noise):
        if noise is None:
            return draw_noise(count, self.noise_len, seed)
        noise = np.asarray(noise, np.float32)
        if noise.shape != (count, self.noise_len):
            raise ValueError('noise must have shape (%d, %d), got %s' % (count, self.noise_len, noise.shape))
        return noise

    def _run(self, feed):
        return self._session.run(self._model.generated_image, feed).astype(np.float32)

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def read_config(logdir):
    path = os.path.join(logdir, CONFIG_NAME)
    if not os.path.exists(path):
        raise GenerateError('no %s in %s, so it is not a training run: train first with python main.py '
                            '--logdir %s' % (CONFIG_NAME, logdir, logdir))
    try:
        with open(path) as stream:
            config = json.load(stream)
        if not isinstance(config.get('model'), dict):
            raise ValueError('it has no "model" settings')
    except (OSError, ValueError) as error:
        raise GenerateError('%s is unreadable (%s): restore it, or train afresh with python main.py --logdir '
                            'ANOTHER_DIR' % (path, error))
    return config


def load_generator(logdir):
    """The generator of the latest checkpoint in logdir, built from its config.json."""
    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise GenerateError('no training run in %s (no such directory): train first with python main.py '
                            '--logdir %s' % (logdir, logdir))
    config = read_config(logdir)
    path = latest_checkpoint(logdir)
    if path is None:
        raise GenerateError('no checkpoint in %s: train first with python main.py --logdir %s' % (logdir, logdir))
    condition_vectors = stored_condition_vectors(logdir, config)
    graph = tf.Graph()
    with graph.as_default():
        try:
            model = model_class(config.get('model_type', 'gan'))(condition_vectors=condition_vectors,
                                                                 **config['model'])
        except (TypeError, ValueError) as error:
            raise GenerateError('%s describes no model this code can build (%s): train afresh with python '
                                'main.py --logdir ANOTHER_DIR' % (os.path.join(logdir, CONFIG_NAME), error))
        # Only the generator: its weights and batch-norm moving statistics.
        variables = model.generator_variables + model.generator_state_variables
        saver = v1.train.Saver(var_list=variables)
    session = v1.Session(graph=graph)
    try:
        restore_checkpoint(session, saver, path, variables)
    except CheckpointError as error:
        session.close()
        if error.corrupt:
            retrain = 'retrain with python main.py --logdir ANOTHER_DIR'
            fix = '%s, or %s' % (fallback_hint(path), retrain) if fallback_hint(path) else retrain
        else:
            fix = 'was config.json edited? restore it, or retrain with python main.py --logdir ANOTHER_DIR'
        raise GenerateError('%s: %s' % (error, fix))
    return Generator(logdir, config, model, session, path)


def model_class(model_type):
    """The class behind config.json's model_type: GANModel, or LapGANModel for a Laplacian pyramid."""
    if model_type == 'lapgan':
        from lapgan import LapGANModel
        return LapGANModel
    if model_type == 'gan':
        return GANModel
    raise ValueError('unknown model_type %r' % model_type)


def stored_condition_vectors(logdir, config):
    """The condition vectors a run was trained with (its copy of --condition-vectors), or None for one-hot."""
    name = config.get('condition_vectors')
    if not name:
        return None
    path = os.path.join(logdir, name)
    try:
        return np.load(path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError, EOFError) as error:
        raise GenerateError('cannot read the condition vectors %s that %s was trained with (%s): restore the file, '
                            'or retrain with python main.py --logdir ANOTHER_DIR' % (path, logdir, error))


# ---------------------------------------------------------------- pictures and arrays

def interpolation_vectors(table, first, last, steps):
    """Condition vectors blending digit `first` into digit `last` in `steps` even steps."""
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1.0 - weights) * table[first] + weights * table[last], weights[:, 0]


def arithmetic_noise(noise_len, seed, spread=0.25):
    """16 noise rows: groups A, B, C of three samples each followed by their mean, then A - B + C and three
    points near it (as in the DCGAN paper's vector arithmetic, where single samples were too noisy)."""
    samples = draw_noise(9, noise_len, seed).reshape(3, 3, noise_len)
    means = samples.mean(axis=1)
    result = means[0] - means[1] + means[2]
    neighbours = result + spread * np.random.default_rng((seed, 1)).standard_normal((3, noise_len))
    rows = [np.concatenate([group, mean[None]]) for group, mean in zip(samples, means)]
    rows.append(np.concatenate([result[None], neighbours]))
    return np.concatenate(rows).astype(np.float32)


def class_names_of(generator):
    """The display names of the classes the run was trained on (digits for MNIST)."""
    try:
        names = dataset_lib.class_names(generator.config.get('dataset', 'mnist'))
    except dataset_lib.DataError:
        names = []
    return names if len(names) == generator.num_classes else [str(i) for i in range(generator.num_classes)]


def file_slug(name):
    return re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')


def noise_walk(noise_len, steps, seed):
    """Noise moving from one random point to another along the great circle, where Gaussian noise lives."""
    start, end = draw_noise(2, noise_len, seed).astype(np.float64)
    cosine = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    rows = []
    for t in np.linspace(0.0, 1.0, steps):
        if np.sin(angle) < 1e-6:
            rows.append((1.0 - t) * start + t * end)
        else:
            rows.append((np.sin((1.0 - t) * angle) * start + np.sin(t * angle) * end) / np.sin(angle))
    return np.asarray(rows, np.float32)


def write_images(path, images, labels, columns, extra=None, row_labels=None):
    """.png: a grid (rows named by `row_labels`, if given); .npy: images (N, 28, 28) in [0, 1]; .npz: those
    images, the labels and `extra` arrays."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if path.endswith('.png'):
        return grids.save_png(path, grids.make_grid(images, columns, row_labels=row_labels))
    unit = ((np.asarray(images, np.float32)[..., 0] + 1.0) / 2.0).clip(0.0, 1.0)
    temporary = os.path.join(directory, '.%s.tmp' % os.path.basename(path))
    with open(temporary, 'wb') as stream:
        if path.endswith('.npy'):
            np.save(stream, unit)
        else:
            np.savez(stream, images=unit, labels=np.asarray(labels, np.int64), **(extra or {}))
    os.replace(temporary, path)
    return path


# ---------------------------------------------------------------- command line

class UsageError(Exception):
    pass


class OneLineArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def condition_value(text):
    if text == 'all':
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a digit: use 0..9 or all' % text)


def digit_value(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a digit: use 0..9' % text)


def build_parser():
    parser = OneLineArgumentParser(prog='generate.py', description='Draw digits with a trained conditional GAN.')
    parser.add_argument('--logdir', default='summary/train', help='training run to draw from (default summary/train)')
    parser.add_argument('--condition', type=condition_value, default=None,
                        help="digit to draw, 0..9, or all for a row per digit (default all)")
    parser.add_argument('--num', type=positive_int, default=10,
                        help='digits per condition, or pictures in an --interpolate/--vary-noise row (default 10)')
    parser.add_argument('--seed', type=int, default=0, help='noise seed: the same seed draws the same digits '
                                                            '(default 0)')
    parser.add_argument('--output', default=None,
                        help='.png grid, .npy images (N, 28, 28) in [0, 1], or .npz images and labels '
                             '(default <logdir>/generated_<condition>.png)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--interpolate', nargs=2, type=digit_value, metavar=('A', 'B'),
                      help='one row morphing digit A into digit B with the noise fixed')
    mode.add_argument('--vary-noise', action='store_true',
                      help='one row of the --condition digit with the noise walked between two points')
    mode.add_argument('--gif', action='store_true',
                      help='turn the training sample grids <logdir>/samples/*.png into <logdir>/progress.gif')
    mode.add_argument('--arithmetic', action='store_true',
                      help='DCGAN z arithmetic for the --condition class (default 0): rows A, B, C of three samples '
                           'and the image of their mean noise, then mean A - mean B + mean C and three neighbours')
    return parser


def fail(message):
    print('generate.py: error: %s' % message, file=sys.stderr)
    return 2


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        return fail('%s (see python generate.py --help)' % error)
    except SystemExit as done:   # --help
        return done.code
    if args.gif:
        return make_gif(args)

    if args.output is not None and not args.output.endswith(OUTPUT_EXTENSIONS):
        return fail('--output %s: unknown extension %r: use .png (a grid), .npy or .npz (arrays)'
                    % (args.output, os.path.splitext(args.output)[1]))
    try:
        config = read_config(args.logdir) if os.path.isdir(args.logdir) else None
        num_classes = config['model'].get('num_classes', 10) if config else 10
        problem = check_digits(args, num_classes, config)
        if problem:
            return fail(problem)
        generator = load_generator(args.logdir)
    except GenerateError as error:
        return fail(str(error))
    try:
        return draw(args, generator)
    finally:
        generator.close()


def check_digits(args, num_classes, config):
    """The problem with the digits asked for, or None."""
    conditioned = config is None or config['model'].get('conditioning') != 'none'
    highest = num_classes - 1
    if args.condition not in (None, 'all') and not 0 <= args.condition <= highest:
        return '--condition %d is out of range: this model draws digits 0..%d, or all' % (args.condition, highest)
    if args.interpolate:
        if not conditioned:
            return '--interpolate needs a conditioned model, and %s was trained with --conditioning none' % (
                args.logdir)
        for digit in args.interpolate:
            if not 0 <= digit <= highest:
                return '--interpolate %d %d: %d is out of range: use digits 0..%d' % (
                    args.interpolate[0], args.interpolate[1], digit, highest)
    if args.vary_noise and conditioned and args.condition in (None, 'all'):
        return '--vary-noise draws one digit: add --condition 0..%d' % highest
    return None


def draw(args, generator):
    if not generator.conditioned and args.condition is not None:
        print('generate.py: %s was trained with --conditioning none: --condition is ignored, the digits are '
              'random' % args.logdir, file=sys.stderr)
    extra = row_labels = None
    if args.interpolate:
        first, last = args.interpolate
        vectors, weights = interpolation_vectors(generator.condition_table, first, last, args.num)
        noise = np.repeat(draw_noise(1, generator.noise_len, args.seed), args.num, axis=0)
        images = generator.sample_conditions(vectors, noise=noise)
        labels = np.where(weights < 0.5, first, last)
        extra, columns, name = {'weights': weights}, args.num, 'generated_%d_to_%d' % (first, last)
        description = '%d steps from %d to %d' % (args.num, first, last)
    elif args.arithmetic:
        digit = args.condition if generator.conditioned and args.condition not in (None, 'all') else 0
        noise = arithmetic_noise(generator.noise_len, args.seed)
        labels = np.full(len(noise), digit, np.int64)
        images = generator.sample(labels, noise=noise)
        extra, columns, name = {'noise': noise}, 4, 'generated_arithmetic'
        description = ('z arithmetic%s: rows A, B, C (three samples, then their mean noise), last row mean A - '
                       'mean B + mean C and three neighbours' % (' of class %d' % digit if generator.conditioned
                                                                 else ''))
    elif args.vary_noise:
        digit = args.condition if generator.conditioned else 0
        labels = np.full(args.num, digit, np.int64)
        images = generator.sample(labels, noise=noise_walk(generator.noise_len, args.num, args.seed))
        columns, name = args.num, 'generated_%s_noise_walk' % (digit if generator.conditioned else 'random')
        description = '%d steps of a noise walk' % args.num
    else:
        condition = 'all' if args.condition is None else args.condition
        digits = list(range(generator.num_classes)) if condition == 'all' else [condition]
        labels = np.repeat(np.asarray(digits, np.int64), args.num)
        images = generator.sample(labels, seed=args.seed)
        columns = args.num if condition == 'all' else min(args.num, GRID_COLUMNS)
        name = 'generated_%s' % condition
        description = ('%d of each digit 0..%d' % (args.num, generator.num_classes - 1) if condition == 'all'
                       else '%d of digit %d' % (args.num, condition))
        names = class_names_of(generator)
        if generator.conditioned and names != [str(i) for i in range(len(names))]:
            # Classes that are not digits are named in the file name or, for a grid of all, beside the
            # rows and in the printed legend.
            if condition == 'all':
                row_labels = names
                description = '%d of each class, rows: %s' % (
                    args.num, ', '.join('%d %s' % (i, n) for i, n in enumerate(names)))
            else:
                name = 'generated_%d_%s' % (condition, file_slug(names[condition]))
                description = '%d of class %d (%s)' % (args.num, condition, names[condition])
    if not generator.conditioned:
        labels = np.full(len(images), -1, np.int64)   # an unconditioned model draws no particular digit
    output = args.output or os.path.join(args.logdir, name + '.png')
    try:
        write_images(output, images, labels, columns, extra, row_labels)
    except OSError as error:
        return fail('cannot write %s (%s): choose another --output' % (output, why_unwritable(output, error)))
    print('wrote %s: %s, seed %d' % (output, description, args.seed))
    return 0


def why_unwritable(path, error):
    """A file where a folder of the path should be is the usual cause; else the system's reason."""
    folder = os.path.dirname(os.path.abspath(path))
    while folder != os.path.dirname(folder) and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        return '%s is a file, not a folder' % folder
    return error.strerror or str(error)


def make_gif(args):
    output = args.output or os.path.join(args.logdir, 'progress.gif')
    if not output.endswith('.gif'):
        return fail('--gif writes a GIF: give --output a .gif name, not %s' % output)
    frames = sorted(glob.glob(os.path.join(glob.escape(args.logdir), 'samples', '*.png')))
    if not frames:
        return fail('no sample grids in %s: train first with python main.py --logdir %s' % (
            os.path.join(args.logdir, 'samples'), args.logdir))
    try:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        grids.save_gif(frames, output)
    except OSError as error:
        return fail('cannot write %s (%s): choose another --output' % (output, why_unwritable(output, error)))
    print('wrote %s: %d frame%s from %s' % (output, len(frames), '' if len(frames) == 1 else 's',
                                            os.path.join(args.logdir, 'samples')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
