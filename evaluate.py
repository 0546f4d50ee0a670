"""Measure trained generators with the cached classifier of their data (the figures are defined in quality.py).

One run: the share of generated digits classified as the digit they were drawn for (overall and per
digit), the Fréchet distance (FD) between classifier features of generated and real held-out digits and
its ratio to real data's FD measured at the same sizes, a per-digit diversity ratio, a memorisation
ratio that flags a generator copying its training digits, and fidelity and variety apart: precision,
recall, density and coverage on the same features and digits as FD. The digits stand for the classes of
the run's data (a folder's class folders, say), each named as the data names it. Several runs (--compare): one
Markdown table and one contact sheet of their grids.

    python evaluate.py --logdir summary/train [--num-per-class 1000] [--json] [--seed 0] [--data MOVED.npz]
    python evaluate.py --logdir RUN --trained-weights   # a run that keeps an average, as it draws without it
    python evaluate.py --logdir RUN --trained-statistics  # the average drawn with the trained weights' statistics
    python evaluate.py --logdir RUN --noise-scale 0.8    # noise from N(0, 0.8^2): fidelity for variety
    python evaluate.py --compare RUN_DIR [RUN_DIR ...] [--baseline RUN_DIR] [--sheet comparison.png]
    python evaluate.py --curves RUN_DIR [RUN_DIR ...] [--output curves.png]   # quality against minutes
    python evaluate.py --stand-ins [mnist]    # real training digits copied, moved, noised, blurred: the scale
"""
import argparse
import json
import math
import os
import sys

import numpy as np

import checkpoints
import classifier as classifier_lib
import cli
import dataset
import grids
import own_files
import quality
import runs
import settings
from quality import COLLAPSE_THRESHOLD, MEMORISATION_THRESHOLD

PROG = 'evaluate.py'
DEFAULT_SHEET = 'comparison.png'
DEFAULT_CURVES = 'curves.png'
SHEET_COLUMNS = 10            # digits per grid row; one row per class
CLASSES_PER_LINE = 10         # columns of a per-class table line; more classes take more lines
PANELS_PER_ROW = 4            # contact-sheet panels side by side before wrapping
MANIFOLD_FIGURES = ('precision', 'recall', 'density', 'coverage')   # quality.manifold_figures, in table order


def digits_per_class(text):
    value = cli.positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError('must be at least 2 (pairwise distances), got %d' % value)
    if value > quality.MAX_NUM_PER_CLASS:
        raise argparse.ArgumentTypeError('must be at most {:,} (the features of every digit are kept in memory), '
                                         'got {}'.format(quality.MAX_NUM_PER_CLASS, text))
    return value


def build_parser():
    parser = cli.OneLineArgumentParser(
        prog=PROG, description='Score trained generators with a digit classifier.')
    parser.add_argument('--logdir', default=cli.DEFAULT_LOGDIR, help='training log dir with checkpoints')
    parser.add_argument('--compare', metavar='RUN_DIR', nargs='+',
                        help='score several runs: print a Markdown table (one row per run) and write a contact '
                             'sheet of their grids (--sheet)')
    parser.add_argument('--baseline', metavar='RUN_DIR',
                        help='with --compare: the run whose FD the column "FD / baseline" divides by '
                             '(default: the first RUN_DIR; added as the first row if not among them)')
    parser.add_argument('--sheet', metavar='PATH.png',
                        help='with --compare: the contact sheet to write (default %s)' % DEFAULT_SHEET)
    parser.add_argument('--curves', metavar='RUN_DIR', nargs='+',
                        help='draw accuracy and FD ratio against training minutes, from the quality points each '
                             'run wrote while training (<run>/quality.jsonl), into --output')
    parser.add_argument('--output', metavar='PATH.png', default=None,
                        help='with --curves: the picture to write (default %s)' % DEFAULT_CURVES)
    parser.add_argument('--stand-ins', metavar='DATASET', nargs='?', const='mnist', choices=dataset.DATASET_NAMES,
                        help='score no run but stand-ins made of the data set\'s real training digits (default '
                             'mnist): copies, and copies moved by a pixel, noised or blurred, to read the figures by')
    parser.add_argument('--num-per-class', type=digits_per_class, default=1000,
                        help='generated digits per class, 2 to {:,} (default 1000)'.format(quality.MAX_NUM_PER_CLASS))
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object instead of a table (with --curves: their points)')
    parser.add_argument('--seed', type=cli.seed, default=0, help='seed for the generator noise (default 0)')
    parser.add_argument('--trained-weights', action='store_true',
                        help='score the generator\'s trained weights, not their moving average: what a run that '
                             'keeps one (--ema-decay, 0.99 for --loss gan) would draw with --ema-decay 0 (the same '
                             'run otherwise: the average changes what is drawn, not how the run trains)')
    parser.add_argument('--trained-statistics', action='store_true',
                        help='draw the moving average of the weights with the batch-norm statistics the trained '
                             'weights gathered in training, not the ones recomputed for the average: how runs drew '
                             'before those were recomputed')
    parser.add_argument('--noise-scale', metavar='S', type=cli.positive_float, default=1.0,
                        help='draw the generator\'s noise from N(0, S^2), not N(0, 1): below 1 its digits are more '
                             'alike and more faithful (the truncation trick\'s aim), above 1 more varied')
    parser.add_argument('--data', metavar='PATH', default=None,
                        help='the data the run was trained on, at a new path (a moved --data file of main.py); it '
                             'must hold the same data, checked against the run\'s config.json')
    parser.add_argument('--classifier-dir', default=None,
                        help='the digit classifier\'s cache folder: trained into once, read after; replaced only '
                             'when empty or holding nothing but such a cache (default <root>/<dataset>-<data hash>, '
                             'the root being $%s if set, else $XDG_CACHE_HOME/%s, else ~/.cache/%s)'
                             % (classifier_lib.CACHE_ENVIRONMENT, classifier_lib.CACHE_SUBFOLDER,
                                classifier_lib.CACHE_SUBFOLDER))
    return parser


# ---------------------------------------------------------------- measuring

def seeded_sampler(generator, seed, noise_scale=1.0):
    """sample_fn for quality.evaluate_samples: independent noise per chunk, all fixed by seed, from N(0,
    noise_scale^2)."""
    seeds = np.random.default_rng(seed)

    def sample_fn(labels):
        return generator.sample(labels, seed=int(seeds.integers(2 ** 31)), noise_scale=noise_scale)
    return sample_fn


def run_data(logdir, run, fingerprint, args):
    """The data file to score a run against: --data, once it is known to hold the run's data (its config.json's
    `fingerprint`), else the run's own (None for a data set found by name). RunError when that is gone or is
    other data."""
    if args.data is None:
        if run.data is not None and not os.path.exists(run.data):
            raise runs.RunError('%s was trained on --data %s, which is no longer there: if the file moved, pass '
                                '--data NEWPATH' % (logdir, run.data))
        return same_classes(logdir, run, run.data)
    if run.dataset == 'mnist_sample':
        raise runs.RunError('--data %s: %s was trained on the bundled sample (--dataset mnist_sample), which has no '
                            'data file to move: leave --data out' % (args.data, logdir))
    if fingerprint is None:
        if (logdir, args.data) not in args.unchecked:
            args.unchecked.add((logdir, args.data))
            print('%s: %s stores no fingerprint of its data, so --data %s is taken as it is, unchecked'
                  % (PROG, logdir, args.data), file=sys.stderr, flush=True)
        return args.data
    key = (run.dataset, args.data)
    if key not in args.fingerprints:
        images, labels = dataset.load_dataset(run.dataset, path=args.data, split='train')
        args.fingerprints[key] = dataset.fingerprint(images, labels)
    if args.fingerprints[key] != fingerprint:
        raise runs.RunError('--data %s holds other data than %s was trained on (--data %s): pass the same data'
                            % (args.data, logdir, run.data))
    return same_classes(logdir, run, args.data)


def same_classes(logdir, run, data):
    """data, once its classes are known to be those the run was trained on (they are read cheaply, before any
    classifier is trained on them); RunError if it gained or renamed some."""
    if data is not None:
        changed = dataset.classes_changed(run, dataset.data_class_names(run.dataset, data), data)
        if changed:
            raise runs.RunError('%s: %s: pass the data it was trained on' % (logdir, changed))
    return data


def evaluator_for(run, data, evaluators, args):
    """One Evaluator per data set (`data`: see run_data), shared by the runs trained on it."""
    key = (run.dataset, data)
    if key not in evaluators and evaluators and args.classifier_dir:
        raise ValueError(SEVERAL_DATA_SETS)
    if key not in evaluators:
        evaluators[key] = quality.Evaluator(key[0], key[1], cache_dir=args.classifier_dir,
                                            num_per_class=args.num_per_class)
    return evaluators[key]


SEVERAL_DATA_SETS = ('--classifier-dir holds the classifier of one data set, and these runs were trained on several: '
                     'leave --classifier-dir out')


def run_grid(generator, classifier, run, seed):
    """SHEET_COLUMNS digits of every class, one row per class; an unconditioned run's sorted by predicted class."""
    images = generator.sample(np.repeat(np.arange(run.model.num_classes), SHEET_COLUMNS), seed=seed)
    if not generator.conditioned:
        images = images[np.argsort(classifier.predict(images), kind='stable')]
    row_labels = dataset.row_labels(dataset.run_class_names(run)) if generator.conditioned else None
    return grids.make_grid(images, SHEET_COLUMNS, row_labels=row_labels)


def measure_run(logdir, evaluators, args, with_grid=False):
    """(row of figures, full result, grid picture or None) for one run; the generator is closed after."""
    generator = runs.load_generator(logdir)
    try:
        run = generator.settings
        if args.trained_weights:
            generator.draw_with_trained_weights()
        if args.trained_statistics:
            generator.draw_with_trained_statistics()
        data = run_data(logdir, run, generator.config.get('data_fingerprint'), args)
        evaluator = evaluator_for(run, data, evaluators, args)
        result = evaluator.evaluate(seeded_sampler(generator, args.seed, args.noise_scale), seed=args.seed,
                                    conditioned=generator.conditioned)
        grid = run_grid(generator, evaluator.classifier, run, args.seed) if with_grid else None
        row = dict(run=logdir, variant=settings.variant_name(run), weights=generator.weights,
                   batch_norm=generator.batch_norm, noise_scale=args.noise_scale,
                   keeps_average=generator.keeps_average, dataset=run.dataset, data=data,
                   class_names=evaluator.class_names,
                   classifier_accuracy=evaluator.classifier_accuracy, held_out=len(evaluator.real.held_labels),
                   steps=checkpoints.checkpoint_step(generator.checkpoint_path),
                   seconds=checkpoints.training_seconds(generator.checkpoint_path), **quality.headline(result))
    finally:
        generator.close()
    return row, result, grid


# ---------------------------------------------------------------- one run's table

def number(value, form='%.3f'):
    return '-' if value is None or (isinstance(value, float) and math.isnan(value)) else form % value


def per_digit_line(title, values):
    return '%-22s' % title + ''.join('%6s' % number(value) for value in values)


def words_for(names):
    """How the table names a class and one of its images: a digit and digits, or a class and images."""
    return ('digit', 'digit') if dataset.are_digits(names) else ('class', 'image')


def format_table(result, settings):
    reference, conditioned = result['reference'], result['conditioned']
    names = settings['class_names']
    word, image = words_for(names)
    data = settings['dataset'] if word == 'digit' or not settings.get('data') else settings['data']
    lines = [
        'evaluated %s: %s, %d generated %ss per class, seed %s%s; classifier held-out accuracy %.4f'
        % (settings['logdir'], data, settings['num_per_class'], image, settings['seed'],
           runs.noise_scale_words(settings.get('noise_scale', 1.0)), settings['classifier_accuracy']),
        '',
        '%-16s %9s %9s %9s %13s' % ('', 'accuracy', 'FD', 'FD ratio', 'memorisation'),
        '%-16s %9s %9.3f %9.3f %13.3f' % ('generated', number(result['accuracy'], '%.4f'), result['frechet_distance'],
                                          result['frechet_ratio'], result['memorisation_ratio']),
        '%-16s %9.4f %9.3f %9.3f %13s' % ('real reference', reference['accuracy'], reference['frechet_distance'],
                                          1.0, '1'),
        'FD: %d %ss per class, generated or real training %ss, against the %d held-out real %ss'
        % (result['frechet_per_class'], image, image, settings['held_out'], image),
        '',
        '%-16s' % '' + ''.join(' %9s' % name for name in MANIFOLD_FIGURES),
        '%-16s' % 'generated' + ''.join(' %9.3f' % result[name] for name in MANIFOLD_FIGURES),
        '%-16s' % 'real reference' + ''.join(' %9.3f' % reference[name] for name in MANIFOLD_FIGURES),
        "precision and density: generated %ss in real %ss' balls (fidelity); recall: real %ss in generated"
        % (image, image, image),
        "%ss' balls; coverage: real balls holding a generated %s (variety). Ball radius: k-th neighbour, k = %d"
        % (image, image, quality.MANIFOLD_K),
        '',
    ]
    lines += per_class_lines(result, reference, conditioned, names)
    if not conditioned:
        lines.append('unconditioned run (conditioning none): no accuracy; "share" is the part of the generated '
                     '%ss the classifier calls each %s, and diversity is per %s it calls' % (image, word, word))
    if result['mode_collapse']:
        collapsed = [str(index) if word == 'digit' else '%d (%s)' % (index, names[index])
                     for index in result['mode_collapse']]
        lines.append('mode collapse (diversity ratio < %.1f) in %s: %s'
                     % (COLLAPSE_THRESHOLD, 'digits' if word == 'digit' else 'classes', ' '.join(collapsed)))
    else:
        lines.append('no mode collapse (every diversity ratio >= %.1f)' % COLLAPSE_THRESHOLD)
    lines.append(memorisation_line(result['memorisation_ratio'], image))
    return '\n'.join(lines)


def per_class_lines(result, reference, conditioned, names):
    """The figures of each class, CLASSES_PER_LINE classes to a block of lines; then the names of classes that
    are not digits."""
    word, _ = words_for(names)
    lines = []
    for start in range(0, len(names), CLASSES_PER_LINE):
        shown = range(start, min(start + CLASSES_PER_LINE, len(names)))

        def line(title, values):
            return per_digit_line(title, [values[index] for index in shown])
        lines.append('%-22s' % word + ''.join('%6d' % index for index in shown))
        if conditioned:
            lines += [line('accuracy  generated', result['per_class_accuracy']),
                      line('          real', reference['per_class_accuracy'])]
        else:
            lines += [line('share     generated', result['class_shares']),
                      line('          real', reference['class_shares'])]
        lines += [
            line('diversity generated', result['diversity_ratio']),
            line('          real', reference['diversity_ratio']),
            '%-22s' % 'collapse  generated' + ''.join(
                '%6s' % ('X' if index in result['mode_collapse'] else '.') for index in shown),
            '',
        ]
    if word == 'class':
        lines += ['classes: ' + ', '.join('%d %s' % (index, name) for index, name in enumerate(names)), '']
    return lines


def memorisation_line(ratio, image='digit'):
    if ratio < MEMORISATION_THRESHOLD:
        return ('COPYING: generated %ss lie much closer to training %ss than held-out real %ss do '
                '(memorisation ratio %.2f < %.1f)' % (image, image, image, ratio, MEMORISATION_THRESHOLD))
    return 'no sign of copying (memorisation ratio %.2f >= %.1f)' % (ratio, MEMORISATION_THRESHOLD)


# ---------------------------------------------------------------- several runs

COMPARISON_COLUMNS = ['run', 'variant', 'steps', 'minutes', 'accuracy', 'lowest digit', 'class shares', 'FD',
                      'FD ratio', 'FD / baseline', 'precision', 'recall', 'density', 'coverage', 'diversity (min-max)',
                      'memorisation']


def variant_text(row, flags='`%s`'):
    """The run's flags (in `flags`' form: code in Markdown), and 'trained weights' where a run that keeps an
    average beside them was drawn through those instead (--trained-weights), 'trained statistics' where the
    average was drawn with the trained weights' batch-norm statistics (--trained-statistics)."""
    text = flags % row['variant']
    if row['keeps_average'] and row['weights'] == 'trained':
        text += ', trained weights'
    elif row['keeps_average'] and row.get('batch_norm') == 'trained':
        text += ', trained statistics'
    return text + runs.noise_scale_words(row.get('noise_scale', 1.0))


def comparison_cells(row):
    return [os.path.basename(os.path.normpath(row['run'])), variant_text(row), '{:,}'.format(row['steps']),
            number(row['seconds'] and row['seconds'] / 60.0, '%.1f'),
            number(row['accuracy']), number(row['lowest_digit_accuracy']),
            '%.1f-%.1f%%' % (100 * row['min_class_share'], 100 * row['max_class_share']),
            number(row['frechet_distance'], '%.1f'), number(row['frechet_ratio'], '%.2f'),
            number(row['frechet_vs_baseline'], '%.2f'),
            *[number(row[name], '%.2f') for name in MANIFOLD_FIGURES],
            '%s-%s' % (number(row['min_diversity_ratio'], '%.2f'), number(row['max_diversity_ratio'], '%.2f')),
            number(row['memorisation_ratio'], '%.2f') + (' COPYING' if row['memorisation_flag'] else '')]


def format_comparison(rows):
    columns = list(COMPARISON_COLUMNS)
    if not all(words_for(row.get('class_names') or dataset.numbered(10))[0] == 'digit' for row in rows):
        columns[columns.index('lowest digit')] = 'lowest class'
    lines = ['| %s |' % ' | '.join(columns), '|' + '---|' * len(columns)]
    lines += ['| %s |' % ' | '.join(comparison_cells(row)) for row in rows]
    return '\n'.join(lines)


def caption(row):
    cells = dict(zip(COMPARISON_COLUMNS, comparison_cells(row)))
    if row['accuracy'] is None:
        first = 'class shares %s' % cells['class shares']
    else:
        word = words_for(row.get('class_names') or dataset.numbered(10))[0]
        first = 'accuracy %s, lowest %s %s' % (cells['accuracy'], word, cells['lowest digit'])
    return ['%s (%s)' % (variant_text(row, '%s'), cells['run']),
            '%s steps, %s minutes' % (cells['steps'], cells['minutes']),
            first,
            'FD %s = %sx real data, %sx baseline' % (cells['FD'], cells['FD ratio'], cells['FD / baseline']),
            ', '.join('%s %s' % (name, cells[name]) for name in MANIFOLD_FIGURES),
            'diversity %s, memorisation %s' % (cells['diversity (min-max)'], cells['memorisation'])]


def panel(grid, lines, line_height=12, padding=6):
    """A grid under its caption, on white."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new('L', (1, 1)))
    text_width = max(measure.textbbox((0, 0), line, font=font)[2] for line in lines)
    text_height = len(lines) * line_height + padding
    picture = Image.new('L', (max(grid.shape[1], text_width) + 2 * padding,
                              text_height + grid.shape[0] + 2 * padding), 255)
    draw = ImageDraw.Draw(picture)
    for index, line in enumerate(lines):
        draw.text((padding, padding + index * line_height), line, fill=0, font=font)
    picture.paste(Image.fromarray(grid), (padding, padding + text_height))
    return np.asarray(picture)


def contact_sheet(panels, per_row=PANELS_PER_ROW):
    """Panels left to right, PANELS_PER_ROW to a row, on white."""
    height, width = max(p.shape[0] for p in panels), max(p.shape[1] for p in panels)
    rows = -(-len(panels) // per_row)
    sheet = np.full((rows * height, min(len(panels), per_row) * width), 255, np.uint8)
    for index, picture in enumerate(panels):
        top, left = (index // per_row) * height, (index % per_row) * width
        sheet[top:top + picture.shape[0], left:left + picture.shape[1]] = picture
    return sheet


def unique_runs(run_dirs):
    """The runs in order, each once: the same folder given twice (or as 'run' and 'run/.') is scored once."""
    seen, unique = set(), []
    for logdir in run_dirs:
        if os.path.realpath(logdir) not in seen:
            seen.add(os.path.realpath(logdir))
            unique.append(logdir)
    return unique


def run_config(logdir):
    """The config.json of the run in logdir, checked as far as it can be without loading the run; RunError."""
    runs.check_run_folder(logdir)
    config = runs.read_config(logdir)
    if config is None:
        raise runs.RunError('no %s in %s, so it is not a training run: train first with python main.py --logdir %s'
                            % (runs.CONFIG_NAME, logdir, logdir))
    return config


def check_runs(run_dirs, args):
    """What can be known of the runs before any is scored: each is a run whose data is there, and one
    --classifier-dir serves them only if they share one data set. A message naming the problem, or None."""
    data_sets = set()
    for logdir in run_dirs:
        try:
            config = run_config(logdir)
            run = settings.from_config(config)
            data_sets.add((run.dataset, run_data(logdir, run, config.get('data_fingerprint'), args)))
        except (runs.RunError, dataset.DataError) as error:
            return '%s: %s' % (logdir, first_line(error)) if logdir not in str(error) else first_line(error)
    if len(data_sets) > 1 and args.classifier_dir:
        return SEVERAL_DATA_SETS
    return None


def compare(args):
    """Score every run, then print the table (or JSON) and write the contact sheet. Returns the exit code."""
    run_dirs = unique_runs(args.compare)
    args.sheet = args.sheet or DEFAULT_SHEET
    baseline = args.baseline or run_dirs[0]
    if os.path.realpath(baseline) not in [os.path.realpath(run) for run in run_dirs]:
        run_dirs.insert(0, baseline)
    if not args.sheet.lower().endswith('.png'):
        return fail('--sheet %s: the contact sheet is a PNG: name it NAME.png' % args.sheet)
    problem = cli.output_problem(args.sheet, '--sheet') or check_runs(run_dirs, args)
    if problem:
        return fail(problem)
    evaluators, rows, panels = {}, [], []
    try:
        for logdir in run_dirs:
            try:
                row, _, grid = measure_run(logdir, evaluators, args, with_grid=True)
            except MEASURING_ERRORS as error:
                return fail('%s: %s' % (logdir, first_line(error)), exit_code(error))
            rows.append(row)
            panels.append(grid)
    finally:
        for evaluator in evaluators.values():
            evaluator.close()
    base = rows[[os.path.realpath(run) for run in run_dirs].index(os.path.realpath(baseline))]
    for row in rows:
        same_data = (row['dataset'], row['data']) == (base['dataset'], base['data'])
        row['frechet_vs_baseline'] = row['frechet_distance'] / base['frechet_distance'] if same_data else None
    try:
        grids.save_png(args.sheet, contact_sheet([panel(grid, caption(row)) for row, grid in zip(rows, panels)]))
    except OSError as error:
        return fail(cli.unwritable(os.path.dirname(os.path.abspath(args.sheet)), error,
                                   'the contact sheet %s was not written: choose another --sheet' % args.sheet), 1)
    if args.json:
        print(json.dumps(quality.without_nan({'baseline': baseline, 'sheet': args.sheet, 'runs': rows})))
    else:
        print(format_comparison(rows))
        print('\ncontact sheet: %s (baseline %s)' % (args.sheet, baseline))
    return 0


def stand_ins(args):
    """Score each stand-in of quality.STAND_INS on the data set's classifier; print a table (or JSON)."""
    try:
        evaluator = quality.Evaluator(args.stand_ins, cache_dir=args.classifier_dir, num_per_class=args.num_per_class)
    except MEASURING_ERRORS as error:
        return fail(first_line(error), exit_code(error))
    try:
        reference = evaluator.real.reference(args.num_per_class)
        rows = [dict(stand_in='real reference', what='training digits, each once', frechet_ratio=1.0,
                     memorisation_ratio=None, **{key: reference[key] for key in STAND_IN_FIGURES if key in reference})]
        for name, what in quality.STAND_INS:
            result = evaluator.evaluate(quality.stand_in_sampler(evaluator.real, name, args.seed), seed=args.seed)
            rows.append(dict(stand_in=name, what=what, **{key: result[key] for key in STAND_IN_FIGURES}))
    finally:
        evaluator.close()
    if args.json:
        print(json.dumps(quality.without_nan({'dataset': args.stand_ins, 'num_per_class': args.num_per_class,
                                              'seed': args.seed, 'rows': rows})))
        return 0
    columns = ['stand-in', 'accuracy', 'FD', 'FD ratio'] + list(MANIFOLD_FIGURES) + ['memorisation']
    lines = ['| %s |' % ' | '.join(columns), '|' + '---|' * len(columns)]
    for row in rows:
        cells = [row['what'], number(row['accuracy']), number(row['frechet_distance'], '%.2f'),
                 number(row['frechet_ratio'], '%.2f')] + [number(row[name]) for name in MANIFOLD_FIGURES]
        cells.append(number(row['memorisation_ratio'], '%.2f'))
        lines.append('| %s |' % ' | '.join(cells))
    print('\n'.join(lines))
    print('\nscored as a run is: %d per class against the held-out %s digits' % (args.num_per_class, args.stand_ins))
    return 0


STAND_IN_FIGURES = ('accuracy', 'frechet_distance', 'frechet_ratio') + MANIFOLD_FIGURES + ('memorisation_ratio',)


def curve_points(logdir):
    """The points of a run's curves: [{step, minutes, accuracy, frechet_ratio}], and its variant; ValueError or
    RunError saying why they cannot be had."""
    records = [r for r in quality.read_quality_record(logdir) if r.get('training_seconds') is not None]
    if not records:
        raise ValueError('%s has no quality points with training time in %s: train it with --eval-every N'
                         % (logdir, quality.QUALITY_RECORD_NAME))
    points = [{'step': r['step'], 'minutes': r['training_seconds'] / 60.0, 'accuracy': r.get('accuracy'),
               'frechet_ratio': r.get('frechet_ratio')} for r in records]
    run = runs.read_settings(logdir)
    return points, settings.variant_name(run) if run else '?'


def curves(args):
    """Accuracy and FD ratio against training minutes, one line per run, side by side in one PNG; with --json
    their points on stdout too."""
    output = args.output or DEFAULT_CURVES
    if not output.lower().endswith('.png'):
        return fail('--output %s: the curves are a PNG: name it NAME.png' % output)
    problem = cli.output_problem(output, '--output')
    if problem:
        return fail(problem)
    drawn = []
    for logdir in unique_runs(args.curves):
        try:
            points, variant = curve_points(logdir)
        except OSError as error:
            return fail('%s: unreadable %s (%s)' % (logdir, quality.QUALITY_RECORD_NAME, first_line(error)))
        except (ValueError, runs.RunError) as error:
            return fail(first_line(error))
        drawn.append({'run': logdir, 'variant': variant, 'points': points})

    import matplotlib
    matplotlib.use('Agg')   # no screen: draw into a file
    from matplotlib import pyplot
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for run in drawn:
        name = '%s (%s)' % (os.path.basename(os.path.normpath(run['run'])), run['variant'])
        minutes = [point['minutes'] for point in run['points']]
        left.plot(minutes, [point['accuracy'] for point in run['points']], marker='o', label=name)
        right.plot(minutes, [point['frechet_ratio'] for point in run['points']], marker='o', label=name)
    left.set(xlabel='training minutes', ylabel='accuracy (classified as the digit asked for)', ylim=(0, 1))
    right.set(xlabel='training minutes', ylabel='FD / real data\'s FD (1 = real)', yscale='log')
    for axes in (left, right):
        axes.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    figure.tight_layout()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        cli.write_atomically(output, lambda stream: figure.savefig(stream, format='png',
                                                                   metadata={'Software': own_files.MARK.decode()}))
    except OSError as error:
        return fail(cli.unwritable(os.path.dirname(os.path.abspath(output)), error,
                                   '%s was not written: choose another --output' % output), 1)
    finally:
        pyplot.close(figure)
    if args.json:
        print(json.dumps(quality.without_nan({'output': output, 'runs': drawn})))
    else:
        print('wrote %s: quality against training minutes of %s' % (output, ', '.join(run['run'] for run in drawn)))
    return 0


# ---------------------------------------------------------------- command line

def fail(message, code=2):
    return cli.fail(PROG, message, code)


def first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# What scoring a run can run into; anything else is a bug and keeps its traceback.
MEASURING_ERRORS = (runs.RunError, dataset.DataError, classifier_lib.ClassifierError, ValueError, OSError)


def exit_code(error):
    """1 for a failure of the machine (a file that cannot be written or read), 2 for input to change."""
    if isinstance(error, classifier_lib.CacheError):
        return error.code
    return 1 if isinstance(error, OSError) else 2


def evaluate_one(args):
    evaluators = {}
    try:
        row, result, _ = measure_run(args.logdir, evaluators, args)
    except MEASURING_ERRORS as error:
        return fail(first_line(error), exit_code(error))
    finally:
        for evaluator in evaluators.values():
            evaluator.close()
    settings = {'logdir': args.logdir, 'dataset': row['dataset'], 'data': row['data'], 'variant': row['variant'],
                'weights': row['weights'], 'batch_norm': row['batch_norm'], 'noise_scale': args.noise_scale,
                'steps': row['steps'], 'training_seconds': row['seconds'], 'num_per_class': args.num_per_class,
                'seed': args.seed, 'class_names': row['class_names'],
                'classifier_accuracy': row['classifier_accuracy'], 'held_out': row['held_out'],
                'memorisation_threshold': MEMORISATION_THRESHOLD, 'memorisation_space': 'pixels',
                'manifold_k': quality.MANIFOLD_K}
    if args.json:
        print(json.dumps(quality.without_nan(dict(result, settings=settings))))
    else:
        print(format_table(result, settings))
    return 0


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except cli.UsageError as error:
        return fail(str(error))
    except SystemExit as done:   # --help
        return done.code
    for flag, value in (('--baseline', args.baseline), ('--sheet', args.sheet)):
        if value is not None and not args.compare:
            return fail('%s only goes with --compare RUN_DIR ...' % flag)
    if args.output is not None and not args.curves:
        return fail('--output only goes with --curves RUN_DIR ...')
    if args.curves and args.compare:
        return fail('--curves and --compare are two pictures: ask for one at a time')
    if args.stand_ins:
        given = [flag for flag, value in (('--compare', args.compare), ('--curves', args.curves),
                                          ('--trained-weights', args.trained_weights),
                                          ('--trained-statistics', args.trained_statistics), ('--data', args.data),
                                          ('--noise-scale', args.noise_scale != 1.0))
                 if value]
        if given:
            return fail('--stand-ins scores real digits, not a run: leave out %s' % ' and '.join(given))
        return stand_ins(args)
    if args.data is not None and args.curves:
        return fail('--data points the scoring of a run at its moved data, and --curves scores nothing: leave it out')
    if args.noise_scale != 1.0 and args.curves:
        return fail('--noise-scale draws a run\'s digits, and --curves draws none: leave it out')
    args.fingerprints, args.unchecked = {}, set()   # --data's fingerprint per data set, and runs without one
    if args.curves:
        return curves(args)
    return compare(args) if args.compare else evaluate_one(args)


if __name__ == '__main__':
    sys.exit(main())
