"""Draw digits from a trained run: the generate.py command line and the pictures it makes.

    python generate.py --condition 3                        # ten 3s -> <logdir>/generated_3.png
    python generate.py --condition sneaker                  # a class by name -> <logdir>/generated_7_sneaker.png
    python generate.py --num 8 --output digits.npz          # 8 of every digit: images in [0, 1] and labels
    python generate.py --interpolate 1 7                    # one row morphing a 1 into a 7, noise fixed
    python generate.py --condition 4 --vary-noise           # one digit, noise walked between two points
    python generate.py --condition 3 --noise-scale 1.05     # noise from N(0, 1.05^2): a little more varied
    python generate.py --gif                                # <logdir>/samples/*.png -> <logdir>/progress.gif
    python generate.py --arithmetic --condition 4           # z arithmetic: mean(A) - mean(B) + mean(C)
    python generate.py --pyramid --num 3                    # a LAPGAN's 7x7, 14x14 and 28x28 stages side by side
    python generate.py --export exported                    # a SavedModel of the generator (docs/export.md)

In code, runs.load_generator(logdir) gives the generator these pictures are drawn with.
"""
import argparse
import collections
import errno
import glob
import io
import os
import re
import shutil
import sys
import tempfile
import zipfile

import numpy as np

import cli
import dataset as dataset_lib
import grids
import own_files
import runs

PROG = 'generate.py'
OUTPUT_EXTENSIONS = ('.png', '.npy', '.npz')
GRID_COLUMNS = 10
DEFAULT_NUM = 10


# ---------------------------------------------------------------- pictures and arrays

def blend_weights(steps, start=0, stop=None):
    """np.linspace(0, 1, steps, dtype=float32)[start:stop], without the whole of it."""
    stop = steps if stop is None else stop
    weights = np.arange(start, stop, dtype=np.float64) * (1.0 / max(steps - 1, 1))
    if stop == steps and steps > 1:
        weights[-1] = 1.0
    return weights.astype(np.float32)


def interpolation_vectors(table, first, last, steps, start=0, stop=None):
    """Condition vectors blending digit `first` into digit `last` in `steps` even steps (those from start to
    stop), and their weights."""
    weights = blend_weights(steps, start, stop)[:, None]
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
    return dataset_lib.run_class_names(generator.settings)


def file_slug(name):
    return re.sub(r'[\W_]+', '_', name.lower()).strip('_') or 'class'


def class_number(text, names):
    """The number of the class that `text` names among `names`: its name as written, else as a file name spells it
    (any case, '_' for a space), else its number; None if it names none. A name wins over a number: with
    classes named 1, 2 and 3, '1' is the first. A number already (as check_digits leaves it) is kept if in range."""
    if isinstance(text, int):
        return text if 0 <= text < len(names) else None
    if text in names:
        return names.index(text)
    spelt, slug = [file_slug(name) for name in names], file_slug(text)
    # A spelling of a name, not of a number: '-1' and '+7' name no digit, though their file names would.
    if not slug.isdigit() and spelt.count(slug) == 1:
        return spelt.index(slug)
    if re.fullmatch(r'[0-9]+', text) and int(text) < len(names):
        return int(text)
    return None


def classes_text(names):
    """The classes a run draws, as a message names them."""
    if dataset_lib.are_digits(names):
        return 'digits 0..%d' % (len(names) - 1)
    return '%s (or their numbers 0..%d)' % (', '.join(names), len(names) - 1)


def noise_walk(noise_len, steps, seed, start=0, stop=None):
    """Noise moving from one random point to another along the great circle, where Gaussian noise lives (the
    rows from start to stop of `steps`)."""
    begin, end = runs.draw_noise(2, noise_len, seed).astype(np.float64)
    cosine = np.dot(begin, end) / (np.linalg.norm(begin) * np.linalg.norm(end))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    rows = []
    for t in blend_weights(steps, start, stop).astype(np.float64):
        if np.sin(angle) < 1e-6:
            rows.append((1.0 - t) * begin + t * end)
        else:
            rows.append((np.sin((1.0 - t) * angle) * begin + np.sin(t * angle) * end) / np.sin(angle))
    return np.asarray(rows, np.float32)


# ---------------------------------------------------------------- output files, written a chunk at a time

# Images drawn at once: what generate.py holds in memory, whatever --num asks for.
CHUNK = 500
IMAGE_BYTES = 28 * 28 * 4   # one image of a .npy or .npz output: float32 28x28
LABEL_TYPE = (np.int64, ())


def extension_of(path):
    return os.path.splitext(path)[1].lower()


def picture_chunks(picture):
    """(images, labels, extra arrays) of the picture, CHUNK images at a time, in order."""
    for start in range(0, picture.count, CHUNK):
        yield picture.draw(start, min(start + CHUNK, picture.count))


def unit_images(images):
    """Images in [-1, 1] (N, 28, 28, 1) as an output file holds them: float32 (N, 28, 28) in [0, 1]."""
    return ((np.asarray(images, np.float32)[..., 0] + 1.0) / 2.0).clip(0.0, 1.0)


def npy_header(dtype, shape):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {'descr': np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  'fortran_order': False, 'shape': tuple(shape)})
    return header.getvalue()


def write_npy(stream, picture):
    stream.write(npy_header(np.float32, (picture.count, 28, 28)))
    for images, _, _ in picture_chunks(picture):
        stream.write(unit_images(images).tobytes())


def write_npz(stream, picture, directory):
    """What numpy.savez writes: images.npy, labels.npy and the picture's extra arrays, uncompressed in a zip.

    A zip is written one member at a time, so the small arrays wait in nameless temporary files beside the
    output (gone however the process ends) while the images stream into theirs."""
    arrays = dict(labels=LABEL_TYPE, **picture.extras)
    waiting = {name: tempfile.TemporaryFile(dir=directory) for name in arrays}
    try:
        with zipfile.ZipFile(stream, 'w', zipfile.ZIP_STORED, allowZip64=True) as archive:
            archive.comment = own_files.MARK
            with archive.open('images.npy', 'w', force_zip64=True) as member:
                member.write(npy_header(np.float32, (picture.count, 28, 28)))
                for images, labels, extra in picture_chunks(picture):
                    member.write(unit_images(images).tobytes())
                    for name, array in dict(extra, labels=labels).items():
                        waiting[name].write(np.ascontiguousarray(array, arrays[name][0]).tobytes())
            for name, (dtype, shape) in arrays.items():
                waiting[name].seek(0)
                with archive.open(name + '.npy', 'w', force_zip64=True) as member:
                    member.write(npy_header(dtype, (picture.count,) + shape))
                    shutil.copyfileobj(waiting[name], member)
    finally:
        for spill in waiting.values():
            spill.close()


def write_picture(path, picture):
    """.png: a grid (rows named by the picture's row_labels); .npy: the images (N, 28, 28) in [0, 1]; .npz: those
    images, the labels and the picture's extra arrays. Written through a temporary file, a chunk at a time."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if extension_of(path) == '.png':
        height, width = grids.grid_size(picture.count, picture.columns, row_labels=picture.row_labels)
        bands = grids.grid_bands((images for images, _, _ in picture_chunks(picture)), picture.columns,
                                 row_labels=picture.row_labels)
        return cli.write_atomically(path, lambda stream: grids.write_png(stream, bands, height, width))
    if extension_of(path) == '.npy':
        return cli.write_atomically(path, lambda stream: write_npy(stream, picture))
    return cli.write_atomically(path, lambda stream: write_npz(stream, picture, directory))


def output_bytes(path, picture):
    """At most how many bytes the output takes on disk while it is written."""
    if extension_of(path) == '.png':
        height, width = grids.grid_size(picture.count, picture.columns, row_labels=picture.row_labels)
        return height * (width + 1) * 101 // 100 + 4096   # never more than the raw pixels, and zlib's margin
    images = picture.count * IMAGE_BYTES + 4096
    if extension_of(path) == '.npy':
        return images
    beside = sum(np.dtype(dtype).itemsize * int(np.prod(shape)) for dtype, shape in
                 dict(labels=LABEL_TYPE, **picture.extras).values())
    return images + 2 * picture.count * beside   # the small arrays wait in temporary files, then join the zip


def output_problem(path, picture, replace_unmarked=False):
    """Why the output of `picture` cannot be written to path (no file can be made there, a file of the user's is
    there, too large a PNG, or too little space), or None. replace_unmarked: as cli.output_problem."""
    problem = cli.output_problem(path, '--output', replace_unmarked)
    if problem:
        return problem
    if extension_of(path) == '.png':
        height, width = grids.grid_size(picture.count, picture.columns, row_labels=picture.row_labels)
        if height * width > grids.MAX_PIXELS:
            return ('--output %s: a grid of %d digits would be %dx%d pixels, more than image programs open (%d '
                    'pixels): ask for fewer with --num, or write .npy or .npz' % (
                        path, picture.count, width, height, grids.MAX_PIXELS))
    folder = cli.existing_folder(path)
    needed, free = output_bytes(path, picture), shutil.disk_usage(folder).free
    if needed > free:
        return ('--output %s would take %s, but the device holding %s has only %s free: ask for fewer digits with '
                '--num, or choose another --output' % (path, size_text(needed), folder, size_text(free)))
    return None


def size_text(count):
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if count < 1000 or unit == 'GB':
            return ('%d %s' if unit == 'bytes' else '%.1f %s') % (count, unit)
        count /= 1000.0


# ---------------------------------------------------------------- command line

class GivenSeed(argparse.Action):
    """--seed, which also records that it was given (args.seed_given): --export refuses it."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.seed_given = True


def build_parser():
    parser = cli.OneLineArgumentParser(
        prog=PROG, description='Draw digits, or the classes of a run\'s own data, with a trained conditional GAN.')
    parser.set_defaults(seed_given=False)
    parser.add_argument('--logdir', default=cli.DEFAULT_LOGDIR,
                        help='training run to draw from (default %s)' % cli.DEFAULT_LOGDIR)
    parser.add_argument('--condition', default=None,
                        help="class to draw: a digit 0..9 for MNIST, a class's name or number for other data; or "
                             "all, a row per class (default all)")
    parser.add_argument('--num', type=cli.positive_int, default=None,
                        help='digits per condition, or pictures in an --interpolate/--vary-noise row (default %d); '
                             '--arithmetic and --gif draw pictures of their own size and take none' % DEFAULT_NUM)
    parser.add_argument('--seed', type=cli.seed, default=0, action=GivenSeed,
                        help='noise seed: the same seed draws the same digits (default 0)')
    parser.add_argument('--noise-scale', metavar='S', type=cli.positive_float, default=1.0,
                        help='draw the noise from N(0, S^2): below 1 the digits are more alike and more faithful, '
                             'above 1 more varied (default 1, as the run trained)')
    parser.add_argument('--output', default=None,
                        help='.png grid, .npy images (N, 28, 28) in [0, 1], or .npz images and labels '
                             '(default <logdir>/generated_<condition>.png)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--interpolate', nargs=2, metavar=('A', 'B'),
                      help='one row morphing class A into class B (digits, or names or numbers of classes) with '
                           'the noise fixed')
    mode.add_argument('--vary-noise', action='store_true',
                      help='one row of the --condition digit with the noise walked between two points')
    mode.add_argument('--gif', action='store_true',
                      help='turn the training sample grids <logdir>/samples/*.png into <logdir>/progress.gif')
    mode.add_argument('--pyramid', action='store_true',
                      help='a LAPGAN run\'s stages: each of --num samples per digit (or of the --condition digit) '
                           'as its 7x7, 14x14 and 28x28 images side by side, enlarged to the same size')
    mode.add_argument('--arithmetic', action='store_true',
                      help='DCGAN z arithmetic for the --condition class (default 0): rows A, B, C of three samples '
                           'and the image of their mean noise, then mean A - mean B + mean C and three neighbours')
    mode.add_argument('--export', metavar='DIR',
                      help='write the generator as a TensorFlow SavedModel into DIR, a new or empty folder: noise and '
                           'labels in, images in [0, 1] out, loaded without this project (see docs/export.md)')
    return parser


def main(argv=None):
    args, code = cli.parse_arguments(build_parser(), argv)
    if args is None:
        return code
    if args.export is not None:
        return export_generator(args)
    for mode, flag in ((args.arithmetic, '--arithmetic'), (args.gif, '--gif')):
        if mode and args.num is not None:
            return cli.fail(PROG, '%s draws a picture of its own size and takes no --num: leave --num out' % flag)
    if args.gif and args.noise_scale != 1.0:
        return cli.fail(PROG, '--gif draws no noise and takes no --noise-scale: leave --noise-scale out')
    args.num = DEFAULT_NUM if args.num is None else args.num
    if args.gif:
        return make_gif(args)

    if args.output is not None and extension_of(args.output) not in OUTPUT_EXTENSIONS:
        return cli.fail(PROG, '--output %s: unknown extension %r: use .png (a grid), .npy or .npz (arrays)'
                        % (args.output, os.path.splitext(args.output)[1]))
    try:
        run = runs.read_settings(args.logdir) if os.path.isdir(args.logdir) else None
        problem = check_digits(args, run)
        if problem:
            return cli.fail(PROG, problem)
        generator = runs.load_generator(args.logdir)
    except runs.RunError as error:
        return cli.fail(PROG, error)
    try:
        return draw(args, generator)
    finally:
        generator.close()


def export_generator(args):
    """--export: the run's generator as a SavedModel in a new or empty folder (export.py)."""
    import export   # loads TensorFlow: only for --export
    given = [flag for flag, value in (('--condition', args.condition), ('--num', args.num), ('--output', args.output))
             if value is not None]
    given += (['--seed'] if args.seed_given else []) + (['--noise-scale'] if args.noise_scale != 1.0 else [])
    if given:
        return cli.fail(PROG, '--export writes the whole generator, which draws for any noise and label, and takes no '
                              '%s: leave %s out' % (' or '.join(given), 'it' if len(given) == 1 else 'them'))
    problem = export.destination_problem(args.export)
    if problem:
        return cli.fail(PROG, problem)
    try:
        generator = runs.load_generator(args.logdir)
    except runs.RunError as error:
        return cli.fail(PROG, error)
    try:
        with generator:
            export.write_export(generator, class_names_of(generator), args.export)
            description = export.description(generator)
    except export.ExportError as error:
        return cli.fail(PROG, error, code=1)
    print('wrote %s: %s' % (args.export, description))
    return 0


def check_digits(args, run):
    """The problem with the classes asked for from the run (None: not readable, load_generator says why), or None;
    args.condition and args.interpolate become the numbers of the classes they name."""
    if run is None:
        return None
    names = dataset_lib.run_class_names(run)
    if args.condition not in (None, 'all'):
        number = class_number(args.condition, names)
        if number is None:
            return '--condition %s: %s has no such class: it draws %s, or all' % (
                args.condition, args.logdir, classes_text(names))
        args.condition = number
    if args.interpolate:
        if not run.model.uses_labels:
            return '--interpolate needs a conditioned model, and %s was trained with --conditioning none' % (
                args.logdir)
        numbers = [class_number(text, names) for text in args.interpolate]
        for text, number in zip(args.interpolate, numbers):
            if number is None:
                return '--interpolate %s %s: %s is not a class of %s: it draws %s' % (
                    args.interpolate[0], args.interpolate[1], text, args.logdir, classes_text(names))
        args.interpolate = numbers
    if args.vary_noise and run.model.uses_labels and args.condition in (None, 'all'):
        return '--vary-noise draws one class: add --condition with one of %s' % classes_text(names)
    return None


# What a mode of generate.py draws: `count` images, made a chunk at a time by draw(start, stop) -> (images, labels,
# {name: array} of the picture's other arrays for .npz, a row per image), called for consecutive chunks in order;
# the dtype and row shape of those other arrays; the grid's columns; the default file name; what the printed line
# says about it; the names beside the grid's rows.
Picture = collections.namedtuple('Picture', 'count draw extras columns name description row_labels')


def interpolation_picture(args, generator):
    first, last = args.interpolate
    noise = generator.scaled_noise(runs.draw_noise(1, generator.noise_len, args.seed), args.noise_scale)

    def draw(start, stop):
        vectors, weights = interpolation_vectors(generator.condition_table, first, last, args.num, start, stop)
        images = generator.sample_conditions(vectors, noise=np.repeat(noise, stop - start, axis=0))
        return images, np.where(weights < 0.5, first, last), {'weights': weights}

    names = class_names_of(generator)
    if dataset_lib.are_digits(names):
        name, description = 'generated_%d_to_%d' % (first, last), '%d steps from %d to %d' % (args.num, first, last)
    else:
        name = 'generated_%d_%s_to_%d_%s' % (first, file_slug(names[first]), last, file_slug(names[last]))
        description = '%d steps from %s to %s' % (args.num, names[first], names[last])
    return Picture(args.num, draw, {'weights': (np.float32, ())}, args.num, name, description, None)


def arithmetic_picture(args, generator):
    digit = args.condition if generator.conditioned and args.condition not in (None, 'all') else 0
    noise = generator.scaled_noise(arithmetic_noise(generator.noise_len, args.seed), args.noise_scale)
    labels = np.full(len(noise), digit, np.int64)
    description = ('z arithmetic%s: rows A, B, C (three samples, then their mean noise), last row mean A - mean B '
                   '+ mean C and three neighbours' % (' of class %s' % class_text(generator, digit)
                                                      if generator.conditioned else ''))

    def draw(start, stop):
        return (generator.sample(labels[start:stop], noise=noise[start:stop]), labels[start:stop],
                {'noise': noise[start:stop]})

    return Picture(len(noise), draw, {'noise': (np.float32, (generator.noise_len,))}, 4, 'generated_arithmetic',
                   description, None)


def noise_walk_picture(args, generator):
    digit = args.condition if generator.conditioned else 0

    def draw(start, stop):
        labels = np.full(stop - start, digit, np.int64)
        walk = noise_walk(generator.noise_len, args.num, args.seed, start, stop)
        return generator.sample(labels, noise=generator.scaled_noise(walk, args.noise_scale)), \
            labels, {}

    return Picture(args.num, draw, {}, args.num,
                   'generated_%s_noise_walk' % (class_file_part(generator, digit) if generator.conditioned
                                                else 'random'),
                   '%d steps of a noise walk' % args.num, None)


def grid_picture(args, generator):
    condition = 'all' if args.condition is None else args.condition
    digits = np.asarray(list(range(generator.num_classes)) if condition == 'all' else [condition], np.int64)
    columns = args.num if condition == 'all' else min(args.num, GRID_COLUMNS)
    name, row_labels = 'generated_%s' % condition, None
    description = ('%d of each digit 0..%d' % (args.num, generator.num_classes - 1) if condition == 'all'
                   else '%d of digit %d' % (args.num, condition))
    names = class_names_of(generator)
    if not generator.conditioned:
        name, description = 'generated_random', '%d random digits (the model draws no particular one)' % (
            len(digits) * args.num)
    elif names != [str(i) for i in range(len(names))]:
        # Classes that are not digits are named in the file name or, for a grid of all, beside the
        # rows and in the printed legend.
        if condition == 'all':
            row_labels = names
            description = '%d of each class, rows: %s' % (
                args.num, ', '.join('%d %s' % (i, n) for i, n in enumerate(names)))
        else:
            name = 'generated_%d_%s' % (condition, file_slug(names[condition]))
            description = '%d of class %d (%s)' % (args.num, condition, names[condition])
    noise = runs.noise_source(generator.noise_len, args.seed)

    def draw(start, stop):
        labels = digits[np.arange(start, stop) // args.num]
        return generator.sample(labels, noise=generator.scaled_noise(noise(stop - start), args.noise_scale)), labels, {}

    return Picture(len(digits) * args.num, draw, {}, columns, name, description, row_labels)


def pyramid_picture(args, generator):
    """Each sample's stages, coarse to fine, in consecutive cells of a row; a row per digit."""
    condition = 'all' if args.condition is None else args.condition
    digits = np.asarray(list(range(generator.num_classes)) if condition == 'all' else [condition], np.int64)
    stages = generator.stages
    noise = sample_noise(generator.noise_len, args.seed)

    def draw(start, stop):
        first, last = start // stages, (stop - 1) // stages + 1      # the samples these cells belong to
        labels = digits[np.arange(first, last) // args.num]
        drawn = generator.sample_stages(labels, generator.scaled_noise(noise(first, last), args.noise_scale))
        size = drawn[-1].shape[1]
        cells = np.stack([stage.repeat(size // stage.shape[1], 1).repeat(size // stage.shape[2], 2)
                          for stage in drawn], axis=1).reshape((-1,) + drawn[-1].shape[1:])
        offset = start - first * stages
        return cells[offset:offset + stop - start], np.repeat(labels, stages)[offset:offset + stop - start], {}

    sizes = ' / '.join('%dx%d' % (28 >> (stages - 1 - i), 28 >> (stages - 1 - i)) for i in range(stages))
    count = len(digits) * args.num
    if generator.conditioned:
        name, what = 'generated_%s_pyramid' % (condition if condition == 'all' else
                                               class_file_part(generator, condition)), '%d samples of %s' % (
            args.num, 'each class' if condition == 'all' else 'class %s' % class_text(generator, condition))
    else:
        name, what = 'generated_random_pyramid', '%d random samples (the model draws no particular digit)' % count
    return Picture(count * stages, draw, {}, args.num * stages, name, '%s, each as its %s stages' % (what, sizes),
                   None)


def class_text(generator, number):
    """A class as the printed line names it: its number, and its name unless it is a digit."""
    names = class_names_of(generator)
    return str(number) if dataset_lib.are_digits(names) else '%d (%s)' % (number, names[number])


def class_file_part(generator, number):
    """A class as a file name holds it: its number, and its name unless it is a digit."""
    names = class_names_of(generator)
    return str(number) if dataset_lib.are_digits(names) else '%d_%s' % (number, file_slug(names[number]))


def sample_noise(noise_len, seed):
    """noise(first, last): rows first..last of runs.draw_noise(total, noise_len, seed), drawn as the chunks reach
    them, for ranges that move forward and overlap at most where a chunk boundary splits a sample's stages."""
    source = runs.noise_source(noise_len, seed)
    kept = {'first': 0, 'rows': np.zeros((0, noise_len), np.float32)}

    def noise(first, last):
        rows = kept['rows'][first - kept['first']:]
        rows = np.concatenate([rows, source(last - first - len(rows))])
        kept['first'], kept['rows'] = first, rows
        return rows
    return noise


def unlabelled(picture):
    """The picture of an unconditioned model, whose images are of no particular digit: labels -1."""
    def draw(start, stop):
        images, labels, extra = picture.draw(start, stop)
        return images, np.full(len(labels), -1, np.int64), extra
    return picture._replace(draw=draw)


def draw(args, generator):
    problem = check_digits(args, generator.settings)
    if problem:
        return cli.fail(PROG, problem)
    if not generator.conditioned and args.condition is not None:
        print('%s: %s was trained with --conditioning none: --condition is ignored, the digits are random'
              % (PROG, args.logdir), file=sys.stderr)
    if args.pyramid and generator.stages == 1:
        return cli.fail(PROG, '--pyramid shows the stages of a Laplacian pyramid, and %s holds a single-scale '
                              'model: train one with python main.py --model lapgan' % args.logdir)
    make = (interpolation_picture if args.interpolate else arithmetic_picture if args.arithmetic
            else noise_walk_picture if args.vary_noise else pyramid_picture if args.pyramid else grid_picture)
    picture = make(args, generator)
    if not generator.conditioned:
        picture = unlabelled(picture)
    output = args.output or os.path.join(args.logdir, picture.name + '.png')
    problem = output_problem(output, picture, replace_unmarked=not args.output)
    if problem:
        return cli.fail(PROG, problem)
    try:
        write_picture(output, picture)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            return cli.fail(PROG, cli.unwritable(cli.existing_folder(output), error,
                                                 'free some space or choose another --output'), code=1)
        return cli.fail(PROG, 'cannot write %s (%s): choose another --output' % (output, why_unwritable(output, error)),
                        code=1)
    print('wrote %s: %s, seed %d%s'
          % (output, picture.description, args.seed, runs.noise_scale_words(args.noise_scale)))
    return 0


def why_unwritable(path, error):
    """A file where a folder of the path should be is the usual cause; else the system's reason."""
    folder = cli.existing_folder(path)
    if not os.path.isdir(folder):
        return '%s is a file, not a folder' % folder
    return error.strerror or str(error)


def make_gif(args):
    output = args.output or os.path.join(args.logdir, 'progress.gif')
    if extension_of(output) != '.gif':
        return cli.fail(PROG, '--gif writes a GIF: give --output a .gif name, not %s' % output)
    problem = cli.output_problem(output, '--output', replace_unmarked=not args.output)
    if problem:
        return cli.fail(PROG, problem)
    paths = sorted(glob.glob(os.path.join(glob.escape(args.logdir), 'samples', '*.png')))
    if not paths:
        return cli.fail(PROG, 'no sample grids in %s: train first with python main.py --logdir %s' % (
            os.path.join(args.logdir, 'samples'), args.logdir))
    try:
        frames = grids.read_frames(paths)
    except grids.FrameError as error:
        return cli.fail(PROG, '%s: move it out of %s and run again' % (error, os.path.join(args.logdir, 'samples')))
    try:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        grids.save_gif(frames, output)
    except OSError as error:
        return cli.fail(PROG, 'cannot write %s (%s): choose another --output' % (output, why_unwritable(output, error)),
                        code=1)
    print('wrote %s: %d frame%s from %s' % (output, len(paths), '' if len(paths) == 1 else 's',
                                            os.path.join(args.logdir, 'samples')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
