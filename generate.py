"""Draw digits from a trained run: the generate.py command line and the pictures it makes.

    python generate.py --condition 3                        # ten 3s -> <logdir>/generated_3.png
    python generate.py --num 8 --output digits.npz          # 8 of every digit: images in [0, 1] and labels
    python generate.py --interpolate 1 7                    # one row morphing a 1 into a 7, noise fixed
    python generate.py --condition 4 --vary-noise           # one digit, noise walked between two points
    python generate.py --gif                                # <logdir>/samples/*.png -> <logdir>/progress.gif
    python generate.py --arithmetic --condition 4           # z arithmetic: mean(A) - mean(B) + mean(C)

In code, runs.load_generator(logdir) gives the generator these pictures are drawn with.
"""
import argparse
import collections
import glob
import os
import re
import sys

import numpy as np

import cli
import dataset as dataset_lib
import grids
import runs  # imports TensorFlow quietly

PROG = 'generate.py'
OUTPUT_EXTENSIONS = ('.png', '.npy', '.npz')
GRID_COLUMNS = 10


# ---------------------------------------------------------------- pictures and arrays

def interpolation_vectors(table, first, last, steps):
    """Condition vectors blending digit `first` into digit `last` in `steps` even steps."""
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1.0 - weights) * table[first] + weights * table[last], weights[:, 0]


def arithmetic_noise(noise_len, seed, spread=0.25):
    """16 noise rows: groups A, B, C of three samples each followed by their mean, then A - B + C and three
    points near it (as in the DCGAN paper's vector arithmetic, where single samples were too noisy)."""
    samples = runs.draw_noise(9, noise_len, seed).reshape(3, 3, noise_len)
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
    start, end = runs.draw_noise(2, noise_len, seed).astype(np.float64)
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
    if path.endswith('.npy'):
        return cli.write_atomically(path, lambda stream: np.save(stream, unit))
    return cli.write_atomically(path, lambda stream: np.savez(stream, images=unit, labels=np.asarray(labels, np.int64),
                                                              **(extra or {})))


# ---------------------------------------------------------------- command line

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
    parser = cli.OneLineArgumentParser(prog=PROG, description='Draw digits with a trained conditional GAN.')
    parser.add_argument('--logdir', default='summary/train', help='training run to draw from (default summary/train)')
    parser.add_argument('--condition', type=condition_value, default=None,
                        help="digit to draw, 0..9, or all for a row per digit (default all)")
    parser.add_argument('--num', type=cli.positive_int, default=10,
                        help='digits per condition, or pictures in an --interpolate/--vary-noise row (default 10)')
    parser.add_argument('--seed', type=cli.seed, default=0, help='noise seed: the same seed draws the same digits '
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


def main(argv=None):
    args, code = cli.parse_arguments(build_parser(), argv)
    if args is None:
        return code
    if args.gif:
        return make_gif(args)

    if args.output is not None and not args.output.endswith(OUTPUT_EXTENSIONS):
        return cli.fail(PROG, '--output %s: unknown extension %r: use .png (a grid), .npy or .npz (arrays)'
                        % (args.output, os.path.splitext(args.output)[1]))
    try:
        config = runs.read_config(args.logdir) if os.path.isdir(args.logdir) else None
        num_classes = config['model'].get('num_classes', 10) if config else 10
        problem = check_digits(args, num_classes, config)
        if problem:
            return cli.fail(PROG, problem)
        generator = runs.load_generator(args.logdir)
    except runs.RunError as error:
        return cli.fail(PROG, error)
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


# What a mode of generate.py draws: the images with their labels, the grid's columns, the default file name,
# what the printed line says about it, and for .npz the arrays beside the images.
Picture = collections.namedtuple('Picture', 'images labels columns name description extra row_labels')


def interpolation_picture(args, generator):
    first, last = args.interpolate
    vectors, weights = interpolation_vectors(generator.condition_table, first, last, args.num)
    noise = np.repeat(runs.draw_noise(1, generator.noise_len, args.seed), args.num, axis=0)
    return Picture(generator.sample_conditions(vectors, noise=noise), np.where(weights < 0.5, first, last),
                   args.num, 'generated_%d_to_%d' % (first, last), '%d steps from %d to %d' % (args.num, first, last),
                   {'weights': weights}, None)


def arithmetic_picture(args, generator):
    digit = args.condition if generator.conditioned and args.condition not in (None, 'all') else 0
    noise = arithmetic_noise(generator.noise_len, args.seed)
    labels = np.full(len(noise), digit, np.int64)
    description = ('z arithmetic%s: rows A, B, C (three samples, then their mean noise), last row mean A - mean B '
                   '+ mean C and three neighbours' % (' of class %d' % digit if generator.conditioned else ''))
    return Picture(generator.sample(labels, noise=noise), labels, 4, 'generated_arithmetic', description,
                   {'noise': noise}, None)


def noise_walk_picture(args, generator):
    digit = args.condition if generator.conditioned else 0
    labels = np.full(args.num, digit, np.int64)
    return Picture(generator.sample(labels, noise=noise_walk(generator.noise_len, args.num, args.seed)), labels,
                   args.num, 'generated_%s_noise_walk' % (digit if generator.conditioned else 'random'),
                   '%d steps of a noise walk' % args.num, None, None)


def grid_picture(args, generator):
    condition = 'all' if args.condition is None else args.condition
    digits = list(range(generator.num_classes)) if condition == 'all' else [condition]
    labels = np.repeat(np.asarray(digits, np.int64), args.num)
    columns = args.num if condition == 'all' else min(args.num, GRID_COLUMNS)
    name, row_labels = 'generated_%s' % condition, None
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
    return Picture(generator.sample(labels, seed=args.seed), labels, columns, name, description, None, row_labels)


def draw(args, generator):
    if not generator.conditioned and args.condition is not None:
        print('%s: %s was trained with --conditioning none: --condition is ignored, the digits are random'
              % (PROG, args.logdir), file=sys.stderr)
    make = (interpolation_picture if args.interpolate else arithmetic_picture if args.arithmetic
            else noise_walk_picture if args.vary_noise else grid_picture)
    picture = make(args, generator)
    labels = picture.labels
    if not generator.conditioned:
        labels = np.full(len(picture.images), -1, np.int64)   # an unconditioned model draws no particular digit
    output = args.output or os.path.join(args.logdir, picture.name + '.png')
    try:
        write_images(output, picture.images, labels, picture.columns, picture.extra, picture.row_labels)
    except OSError as error:
        return cli.fail(PROG, 'cannot write %s (%s): choose another --output' % (output, why_unwritable(output, error)))
    print('wrote %s: %s, seed %d' % (output, picture.description, args.seed))
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
        return cli.fail(PROG, '--gif writes a GIF: give --output a .gif name, not %s' % output)
    frames = sorted(glob.glob(os.path.join(glob.escape(args.logdir), 'samples', '*.png')))
    if not frames:
        return cli.fail(PROG, 'no sample grids in %s: train first with python main.py --logdir %s' % (
            os.path.join(args.logdir, 'samples'), args.logdir))
    try:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        grids.save_gif(frames, output)
    except OSError as error:
        return cli.fail(PROG, 'cannot write %s (%s): choose another --output' % (output, why_unwritable(output, error)))
    print('wrote %s: %d frame%s from %s' % (output, len(frames), '' if len(frames) == 1 else 's',
                                            os.path.join(args.logdir, 'samples')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
