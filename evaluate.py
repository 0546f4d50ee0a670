"""Measure trained generators with the cached digit classifier (the figures are defined in quality.py).

One run: the share of generated digits classified as the digit they were drawn for (overall and per
digit), the Fréchet distance (FD) between classifier features of generated and real held-out digits and
its ratio to real data's FD measured at the same sizes, a per-digit diversity ratio, and a memorisation
ratio that flags a generator copying its training digits. Several runs (--compare): one Markdown table
and one contact sheet of their grids.

    python evaluate.py --logdir summary/train [--num-per-class 1000] [--json] [--seed 0]
    python evaluate.py --compare RUN_DIR [RUN_DIR ...] [--baseline RUN_DIR] [--sheet comparison.png]
    python evaluate.py --curves RUN_DIR [RUN_DIR ...] [--output curves.png]   # quality against minutes
"""
import argparse
import json
import math
import os
import sys

import numpy as np

import cli
import runs  # imports TensorFlow quietly: before the modules below, which import it too
import checkpoints  # noqa: E402
import classifier as classifier_lib  # noqa: E402
import dataset  # noqa: E402
import grids  # noqa: E402
import quality  # noqa: E402
from quality import NUM_CLASSES, COLLAPSE_THRESHOLD, MEMORISATION_THRESHOLD  # noqa: E402

PROG = 'evaluate.py'
DEFAULT_SHEET = 'comparison.png'
DEFAULT_CURVES = 'curves.png'
SHEET_COLUMNS = 10            # digits per grid row; one row per class
PANELS_PER_ROW = 4            # contact-sheet panels side by side before wrapping


def at_least_two(text):
    value = cli.positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError('must be at least 2 (pairwise distances), got %d' % value)
    return value


def build_parser():
    parser = cli.OneLineArgumentParser(
        prog=PROG, description='Score trained generators with a digit classifier.')
    parser.add_argument('--logdir', default='summary/train', help='training log dir with checkpoints')
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
    parser.add_argument('--num-per-class', type=at_least_two, default=1000,
                        help='generated digits per class (default 1000)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of a table')
    parser.add_argument('--seed', type=cli.seed, default=0, help='seed for the generator noise (default 0)')
    parser.add_argument('--classifier-dir', default=None,
                        help='the digit classifier\'s cache folder: trained into once, read after; replaced only '
                             'when empty or holding nothing but such a cache (default <root>/<dataset>-<data hash>, '
                             'the root being $%s if set, else $XDG_CACHE_HOME/%s, else ~/.cache/%s)'
                             % (classifier_lib.CACHE_ENVIRONMENT, classifier_lib.CACHE_SUBFOLDER,
                                classifier_lib.CACHE_SUBFOLDER))
    return parser


# ---------------------------------------------------------------- loading runs

def load_run(logdir):
    logdir = os.fspath(logdir)
    if os.path.isfile(logdir):
        raise runs.RunError('%s is a file, not a training run: pass the directory main.py trained into'
                            % logdir)
    return runs.load_generator(logdir)


# ---------------------------------------------------------------- measuring

def seeded_sampler(generator, seed):
    """sample_fn for quality.evaluate_samples: independent noise per chunk, all fixed by seed."""
    seeds = np.random.default_rng(seed)

    def sample_fn(labels):
        return generator.sample(labels, seed=int(seeds.integers(2 ** 31)))
    return sample_fn


def evaluator_for(config, evaluators, args):
    """One Evaluator per data set, shared by the runs trained on it."""
    if not isinstance(config.get('dataset'), str):
        raise ValueError('its config.json names no dataset: retrain with python main.py')
    key = (config['dataset'], config.get('data'))
    if key not in evaluators and evaluators and args.classifier_dir:
        raise ValueError('--classifier-dir holds the classifier of one data set, and these runs were trained on '
                         'several: leave --classifier-dir out')
    if key not in evaluators:
        evaluators[key] = quality.Evaluator(config['dataset'], config.get('data'), cache_dir=args.classifier_dir,
                                            num_per_class=args.num_per_class)
    return evaluators[key]


def run_grid(generator, classifier, config, seed):
    """SHEET_COLUMNS digits of every class, one row per class; an unconditioned run's sorted by predicted class."""
    images = generator.sample(np.repeat(np.arange(NUM_CLASSES), SHEET_COLUMNS), seed=seed)
    if not generator.conditioned:
        images = images[np.argsort(classifier.predict(images), kind='stable')]
    row_labels = dataset.row_labels(config['dataset']) if generator.conditioned else None
    return grids.make_grid(images, SHEET_COLUMNS, row_labels=row_labels)


def measure_run(logdir, evaluators, args, with_grid=False):
    """(row of figures, full result, grid picture or None) for one run; the generator is closed after."""
    generator = load_run(logdir)
    try:
        config = generator.config
        evaluator = evaluator_for(config, evaluators, args)
        result = evaluator.evaluate(seeded_sampler(generator, args.seed), seed=args.seed,
                                    conditioned=generator.conditioned)
        grid = run_grid(generator, evaluator.classifier, config, args.seed) if with_grid else None
        row = dict(run=logdir, variant=variant_name(config), dataset=config['dataset'], data=config.get('data'),
                   classifier_accuracy=evaluator.classifier_accuracy, held_out=len(evaluator.real.held_labels),
                   steps=checkpoints.checkpoint_step(generator.checkpoint_path),
                   seconds=checkpoints.training_seconds(generator.checkpoint_path), **quality.headline(result))
    finally:
        generator.close()
    return row, result, grid


def variant_name(config):
    """The family flags a run was trained with, e.g. '--loss wgan'; 'default' for none.

    The defaults named here are main.py's: a run only shows the flags that differ from them."""
    model = config['model'] if isinstance(config.get('model'), dict) else {}
    flags = []
    if config.get('model_type', 'gan') != 'gan':
        flags.append('--model %s' % config['model_type'])
    for key, default in (('conditioning', 'matching'), ('arch', 'dcgan'), ('loss', 'gan')):
        if model.get(key, default) != default:
            flags.append('--%s %s' % (key, model[key]))
    if model.get('interpolate_conditions'):
        flags.append('--interpolate-conditions')
    if config.get('condition_vectors'):
        flags.append('--condition-vectors')
    if config.get('dataset', 'mnist') != 'mnist':
        flags.append('--dataset %s' % config['dataset'])
    return ' '.join(flags) or 'default'


# ---------------------------------------------------------------- one run's table

def number(value, form='%.3f'):
    return '-' if value is None or (isinstance(value, float) and math.isnan(value)) else form % value


def per_digit_line(title, values):
    return '%-22s' % title + ''.join('%6s' % number(value) for value in values)


def format_table(result, settings):
    reference, conditioned = result['reference'], result['conditioned']
    lines = [
        'evaluated %s: %s, %d generated digits per class, seed %s; classifier held-out accuracy %.4f'
        % (settings['logdir'], settings['dataset'], settings['num_per_class'], settings['seed'],
           settings['classifier_accuracy']),
        '',
        '%-16s %9s %9s %9s %13s' % ('', 'accuracy', 'FD', 'FD ratio', 'memorisation'),
        '%-16s %9s %9.3f %9.3f %13.3f' % ('generated', number(result['accuracy'], '%.4f'), result['frechet_distance'],
                                          result['frechet_ratio'], result['memorisation_ratio']),
        '%-16s %9.4f %9.3f %9.3f %13s' % ('real reference', reference['accuracy'], reference['frechet_distance'],
                                          1.0, '1'),
        'FD: %d digits per class, generated or real training digits, against the %d held-out real digits'
        % (result['frechet_per_class'], settings['held_out']),
        '',
        '%-22s' % 'digit' + ''.join('%6d' % digit for digit in range(NUM_CLASSES)),
    ]
    if conditioned:
        lines += [per_digit_line('accuracy  generated', result['per_class_accuracy']),
                  per_digit_line('          real', reference['per_class_accuracy'])]
    else:
        lines += [per_digit_line('share     generated', result['class_shares']),
                  per_digit_line('          real', reference['class_shares'])]
    lines += [
        per_digit_line('diversity generated', result['diversity_ratio']),
        per_digit_line('          real', reference['diversity_ratio']),
        '%-22s' % 'collapse  generated' + ''.join(
            '%6s' % ('X' if digit in result['mode_collapse'] else '.') for digit in range(NUM_CLASSES)),
        '',
    ]
    if not conditioned:
        lines.append('unconditioned run (conditioning none): no accuracy; "share" is the part of the generated '
                     'digits the classifier calls each digit, and diversity is per digit it calls')
    if result['mode_collapse']:
        lines.append('mode collapse (diversity ratio < %.1f) in digits: %s'
                     % (COLLAPSE_THRESHOLD, ' '.join(map(str, result['mode_collapse']))))
    else:
        lines.append('no mode collapse (every diversity ratio >= %.1f)' % COLLAPSE_THRESHOLD)
    lines.append(memorisation_line(result['memorisation_ratio']))
    return '\n'.join(lines)


def memorisation_line(ratio):
    if ratio < MEMORISATION_THRESHOLD:
        return ('COPYING: generated digits lie much closer to training digits than held-out real digits do '
                '(memorisation ratio %.2f < %.1f)' % (ratio, MEMORISATION_THRESHOLD))
    return 'no sign of copying (memorisation ratio %.2f >= %.1f)' % (ratio, MEMORISATION_THRESHOLD)


# ---------------------------------------------------------------- several runs

COMPARISON_COLUMNS = ['run', 'variant', 'steps', 'minutes', 'accuracy', 'lowest digit', 'class shares', 'FD',
                      'FD ratio', 'FD / baseline', 'diversity (min-max)', 'memorisation']


def comparison_cells(row):
    return [os.path.basename(os.path.normpath(row['run'])), '`%s`' % row['variant'], '{:,}'.format(row['steps']),
            number(row['seconds'] and row['seconds'] / 60.0, '%.1f'),
            number(row['accuracy']), number(row['lowest_digit_accuracy']),
            '%.1f-%.1f%%' % (100 * row['min_class_share'], 100 * row['max_class_share']),
            number(row['frechet_distance'], '%.1f'), number(row['frechet_ratio'], '%.2f'),
            number(row['frechet_vs_baseline'], '%.2f'),
            '%s-%s' % (number(row['min_diversity_ratio'], '%.2f'), number(row['max_diversity_ratio'], '%.2f')),
            number(row['memorisation_ratio'], '%.2f') + (' COPYING' if row['memorisation_flag'] else '')]


def format_comparison(rows):
    lines = ['| %s |' % ' | '.join(COMPARISON_COLUMNS), '|' + '---|' * len(COMPARISON_COLUMNS)]
    lines += ['| %s |' % ' | '.join(comparison_cells(row)) for row in rows]
    return '\n'.join(lines)


def caption(row):
    cells = dict(zip(COMPARISON_COLUMNS, comparison_cells(row)))
    if row['accuracy'] is None:
        first = 'class shares %s' % cells['class shares']
    else:
        first = 'accuracy %s, lowest digit %s' % (cells['accuracy'], cells['lowest digit'])
    return ['%s (%s)' % (row['variant'], cells['run']),
            '%s steps, %s minutes' % (cells['steps'], cells['minutes']),
            first,
            'FD %s = %sx real data, %sx baseline' % (cells['FD'], cells['FD ratio'], cells['FD / baseline']),
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


def compare(args):
    """Score every run, then print the table (or JSON) and write the contact sheet. Returns the exit code."""
    run_dirs = list(args.compare)
    args.sheet = args.sheet or DEFAULT_SHEET
    baseline = args.baseline or run_dirs[0]
    if os.path.normpath(baseline) not in [os.path.normpath(run) for run in run_dirs]:
        run_dirs.insert(0, baseline)
    if not args.sheet.lower().endswith('.png'):
        return fail('--sheet %s: the contact sheet is a PNG: name it NAME.png' % args.sheet)
    evaluators, rows, panels = {}, [], []
    try:
        for logdir in run_dirs:
            try:
                row, _, grid = measure_run(logdir, evaluators, args, with_grid=True)
            except MEASURING_ERRORS as error:
                return fail('%s: %s' % (logdir, first_line(error)))
            rows.append(row)
            panels.append(grid)
    finally:
        for evaluator in evaluators.values():
            evaluator.close()
    base = rows[[os.path.normpath(run) for run in run_dirs].index(os.path.normpath(baseline))]
    for row in rows:
        same_data = (row['dataset'], row['data']) == (base['dataset'], base['data'])
        row['frechet_vs_baseline'] = row['frechet_distance'] / base['frechet_distance'] if same_data else None
    try:
        grids.save_png(args.sheet, contact_sheet([panel(grid, caption(row)) for row, grid in zip(rows, panels)]))
    except OSError as error:
        return fail('cannot write the contact sheet %s: %s' % (args.sheet, first_line(error)))
    if args.json:
        print(json.dumps(quality.without_nan({'baseline': baseline, 'sheet': args.sheet, 'runs': rows})))
    else:
        print(format_comparison(rows))
        print('\ncontact sheet: %s (baseline %s)' % (args.sheet, baseline))
    return 0


def curves(args):
    """Accuracy and FD ratio against training minutes, one line per run, side by side in one PNG."""
    import matplotlib
    matplotlib.use('Agg')   # no screen: draw into a file
    from matplotlib import pyplot

    output = args.output or DEFAULT_CURVES
    if not output.lower().endswith('.png'):
        return fail('--output %s: the curves are a PNG: name it NAME.png' % output)
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for logdir in args.curves:
        try:
            records = [r for r in quality.read_quality_record(logdir) if r.get('training_seconds') is not None]
        except (OSError, ValueError, KeyError) as error:
            return fail('%s: unreadable %s (%s)' % (logdir, quality.QUALITY_RECORD_NAME, first_line(error)))
        if not records:
            return fail('%s has no quality points with training time in %s: train it with --eval-every N'
                        % (logdir, quality.QUALITY_RECORD_NAME))
        minutes = [r['training_seconds'] / 60.0 for r in records]
        name = '%s (%s)' % (os.path.basename(os.path.normpath(logdir)), variant_name(runs.read_config(logdir) or {}))
        left.plot(minutes, [r.get('accuracy') for r in records], marker='o', label=name)
        right.plot(minutes, [r.get('frechet_ratio') for r in records], marker='o', label=name)
    left.set(xlabel='training minutes', ylabel='accuracy (classified as the digit asked for)', ylim=(0, 1))
    right.set(xlabel='training minutes', ylabel='FD / real data\'s FD (1 = real)', yscale='log')
    for axes in (left, right):
        axes.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    figure.tight_layout()
    try:
        figure.savefig(output)
    except OSError as error:
        return fail('cannot write %s: %s' % (output, first_line(error)))
    finally:
        pyplot.close(figure)
    print('wrote %s: quality against training minutes of %s' % (output, ', '.join(args.curves)))
    return 0


# ---------------------------------------------------------------- command line

def fail(message):
    return cli.fail(PROG, message)


def first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# What scoring a run can run into; anything else is a bug and keeps its traceback.
MEASURING_ERRORS = (runs.RunError, dataset.DataError, classifier_lib.ClassifierError, ValueError, OSError)


def evaluate_one(args):
    evaluators = {}
    try:
        row, result, _ = measure_run(args.logdir, evaluators, args)
    except MEASURING_ERRORS as error:
        return fail(first_line(error))
    finally:
        for evaluator in evaluators.values():
            evaluator.close()
    settings = {'logdir': args.logdir, 'dataset': row['dataset'], 'data': row['data'], 'variant': row['variant'],
                'steps': row['steps'], 'training_seconds': row['seconds'], 'num_per_class': args.num_per_class,
                'seed': args.seed,
                'classifier_accuracy': row['classifier_accuracy'], 'held_out': row['held_out'],
                'memorisation_threshold': MEMORISATION_THRESHOLD, 'memorisation_space': 'pixels'}
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
    if args.curves:
        return curves(args)
    return compare(args) if args.compare else evaluate_one(args)


if __name__ == '__main__':
    sys.exit(main())
