"""A run's settings, resolved once into one frozen value.

    run, notes = resolve({'loss': 'wgan'})                  # a new run: the flags given, by field name
    run.model.learning_rate, run.k_steps, run.steps         # 5e-05, 5, 4000: the WGAN part's own defaults
    run, notes = resolve({'steps': 8000}, stored=config)    # a run being resumed, from its config.json

Four sources meet here and nowhere else: the flags given, the config.json of a run being resumed (read
through legacy.py, which knows what runs saved by older versions meant), the defaults below, and each
part's own defaults (PART_DEFAULTS). Every default is written once, in the dataclasses or in
PART_DEFAULTS; the model, the callbacks, generate.py, evaluate.py and benchmark.py read the value and never
re-default. `problems` names every combination that cannot work, for the command line and the
constructors alike. This module imports no TensorFlow, so that a bad flag is reported at once.
"""
import dataclasses
import math
from typing import Optional

import cli
import legacy

CONFIG_VERSION = legacy.CURRENT_VERSION
# A --condition-vectors file is copied into the logdir under this name, so that the run carries its conditions.
CONDITION_VECTORS_NAME = 'condition_vectors.npy'


class SettingsError(ValueError):
    """Settings that cannot train: the one-line message names the flags and the fix."""


@dataclasses.dataclass(frozen=True)
class LevelDesign:
    """How LAPGAN's finer levels are built (lapgan.py)."""
    upsampling: str = 'bilinear'   # of the coarser image: 'bilinear' (blends neighbours) or 'nearest' (blocks)
    judge: str = 'image'           # what a level's D sees beside the upsampled coarser image: 'image' or 'residual'
    code: str = 'maps'             # noise and label: 'maps' tiled over G's first convolution, or one 'plane'
    dilated: bool = True           # G's convolutions dilated 1, 2, 4, ...: each output sees 15x15 pixels, not 7x7


@dataclasses.dataclass(frozen=True)
class TimesGeneratorRate:
    """A part's discriminator rate as a multiple of the generator's (two time-scales), so that --learning-rate
    moves both; a new run stores the product."""
    times: float


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """What the graph is: its parts, their sizes, the optimizers' rates and the seed.

    Make one with `model_settings(...)` or `resolve(...)`, which add each part's own defaults. A field the
    chosen parts do not read is None, so that config.json says what the model uses.
    """
    model_type: str = 'gan'          # gan: one generator and one discriminator; lapgan: a pyramid of them
    conditioning: str = 'matching'   # matching (GAN-CLS), concat (CGAN), clusters (self-conditioned), none
    arch: str = 'dcgan'              # dcgan: strided convolutions; mlp: dense layers
    loss: str = 'gan'                # gan, wgan (a clipped critic) or wgan-gp (a gradient penalty)
    noise_len: int = 100
    num_classes: int = 10            # the data's, 2 or more: a new run takes it from its data
    g_dim: Optional[int] = 64        # generator width: feature maps of its last hidden layer
    d_dim: Optional[int] = 64        # discriminator width: feature maps of its first layer
    condition_units: Optional[int] = 32      # the generator's label embedding (the MLP discriminator's too)
    d_condition_maps: Optional[int] = 32     # label maps joined to the discriminator's first feature maps
    projection: Optional[bool] = True        # the term <embed(label), features> added to D's logit
    minibatch_stddev: Optional[bool] = True  # a feature map of the batch's spread, before D's last layer
    concat_every_layer: Optional[bool] = None   # concat: the label joins every hidden layer, not just the inputs
    clusters: int = 0                # clusters: k-means clusters of the training images, in place of labels
    interpolate_conditions: bool = False     # GAN-INT: G also learns from halfway blends of two labels
    diversity_weight: float = 0.3    # weight of the mode-seeking term in G's loss
    augment: str = ''                # differentiable augmentation of what D sees: translation, cutout
    r1_weight: float = 0.0           # gamma of R1, gamma/2 * |grad D(real)|^2 added to D's loss (0: none)
    r1_every: Optional[int] = 1      # R1 paid once every this many generator steps, at this many times gamma
    top_k: float = 1.0               # top-k: the share of each batch G learns from at the end of its annealing
    ema_decay: Optional[float] = 0.0   # drawing from a moving average of G's weights at this decay (0: none)
    spectral_norm: Optional[bool] = False   # each of D's weights divided by its largest singular value
    learning_rate: float = 2e-4      # the generator's; the discriminator's too unless d_learning_rate
    d_learning_rate: Optional[float] = None  # None: the generator's rate; a part may ask for a TimesGeneratorRate
    beta1: Optional[float] = 0.5     # Adam's first-moment decay
    clip: Optional[float] = None     # wgan: every critic weight clipped to [-clip, clip] after each step
    level_convs: Optional[int] = None            # lapgan: 3x3 convolutions in each level's generator
    level_design: Optional[LevelDesign] = None   # lapgan: how the finer levels are built
    seed: int = 0                    # weights, data order and noise: the same seed repeats a run

    def __post_init__(self):
        # The discriminator's rate given as a multiple of the generator's (None: the generator's own) is held as
        # the product.
        rate = TimesGeneratorRate(1) if self.d_learning_rate is None else self.d_learning_rate
        if isinstance(rate, TimesGeneratorRate) and isinstance(self.learning_rate, (int, float)):
            object.__setattr__(self, 'd_learning_rate', rate.times * self.learning_rate)

    @property
    def uses_labels(self):
        """Whether the generator draws the class it is given (and the data's labels mean something to it)."""
        return self.conditioning in ('matching', 'concat')


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """A training run: its model, its data, its schedule, and how often it saves, logs and measures."""
    model: ModelSettings
    dataset: str = 'mnist'
    data: Optional[str] = None       # a folder of class folders, an .npz or IDX files read instead of the dataset's
    # The names of the data's classes in label order, as the data has them (a folder's class folders, an .npz's
    # class_names); None: the dataset's own names, the digits for MNIST.
    class_names: Optional[tuple] = None
    condition_vectors: Optional[str] = None   # the run's copy of --condition-vectors, a file in its logdir
    # Data without a test split: False leaves out of training the images the measuring stick holds out
    # (classifier.HOLD_OUT_PER_CLASS per class), so that every quality figure compares with images never trained on.
    train_on_held_out: bool = False
    batch_size: int = 64
    k_steps: int = 1                 # discriminator steps per generator step
    # Generator steps to train to (None: count --epochs instead): a default run, quality points included, in
    # 10 minutes on a 2-core CPU.
    steps: Optional[int] = 7000
    epochs: Optional[int] = None
    lr_decay: float = 0.0            # both rates fall linearly to 0 over this last fraction (0: constant rates)
    save_every: int = 500
    summary_every: int = 100
    sample_every: int = 500
    log_every: int = 100
    eval_every: int = 250            # quality points often enough for a curve, cheap next to training
    eval_num_per_class: int = 100


MODEL_FIELDS = tuple(field.name for field in dataclasses.fields(ModelSettings))
RUN_FIELDS = tuple(field.name for field in dataclasses.fields(RunSettings) if field.name != 'model')
CADENCE = ('save_every', 'summary_every', 'sample_every', 'log_every', 'eval_every', 'eval_num_per_class')

# The parts of the family, by the field that picks them; model.py, networks.py and losses.py implement them
# under the same names.
CHOICES = {'model_type': ('gan', 'lapgan'), 'conditioning': ('matching', 'concat', 'clusters', 'none'),
           'arch': ('dcgan', 'mlp'), 'loss': ('gan', 'wgan', 'wgan-gp'),
           'augment': ('', 'translation', 'cutout', 'translation,cutout')}
# --conditioning names what becomes of the labels; 'none' is the self-conditioned 'clusters' unless --clusters 0.
FLAG_CHOICES = dict(CHOICES, conditioning=('matching', 'concat', 'none'))

# What each part asks for besides the defaults above: the settings it was measured to need (the figures are in
# docs/results.md).
# Where two parts set one field the later wins - loss, architecture, conditioning, model type - so that a
# part that learns slowly gets more steps than its loss gives.
PART_DEFAULTS = {
    'loss': {
        # Constant rates: they scored better for the default GAN than a decay. A discriminator at twice the
        # generator's rate, and drawing from an average of the generator's weights: together FD 8% and 3% lower
        # on two seeds. R1 at gamma 0.1 beside them: FD 8% and 15% lower again, with more variety. Paid lazily,
        # on every 16th step at 16 times gamma: FD 1.5% lower on two seeds, recall 0.03 higher, a cheaper step.
        'gan': {'d_learning_rate': TimesGeneratorRate(2), 'ema_decay': 0.99, 'r1_weight': 0.1, 'r1_every': 16},
        # The write-up's WGAN: RMSProp, clipping, five critic steps per generator step (100 while warming up),
        # so 4,000 steps fill its 20-minute budget.
        'wgan': {'learning_rate': 5e-5, 'k_steps': 5, 'steps': 4000, 'clip': 0.01, 'lr_decay': 0.5},
        # The penalty's second backward pass makes a step dearer: fewer steps than the default's.
        'wgan-gp': {'steps': 5500, 'lr_decay': 0.5},
    },
    # An MLP step is cheap and its digits sharpen slowly: more steps, and rates that fall to 0 at the end.
    # R1 on every step: lazy R1 was measured for the default only.
    'arch': {'dcgan': {}, 'mlp': {'steps': 10000, 'lr_decay': 0.5, 'r1_every': 1}},
    'conditioning': {
        'matching': {},
        # The label at every layer, and no mode-seeking term: without wrong-label pairs to hold the class, it
        # trades accuracy for variety. CGAN learns the class slowly.
        # R1 on every step, as for the MLP.
        'concat': {'concat_every_layer': True, 'diversity_weight': 0.0, 'steps': 10000, 'lr_decay': 0.5,
                   'r1_every': 1},
        # No label: the images' own clusters take its place (--clusters 0: the original GAN). Its discriminator
        # learns at the generator's rate: at twice it, the clustered GAN's FD rose 10% and its recall fell.
        # R1 at 0.1 raised the clustered GAN's FD by 7%: none.
        'none': {'clusters': 50, 'lr_decay': 0.5, 'd_learning_rate': TimesGeneratorRate(1), 'r1_weight': 0.0},
    },
    'model_type': {
        'gan': {},
        # A LAPGAN step trains three GANs: fewer steps. Its discriminators learn at 8 times the generators'
        # rate (two time-scales); it conditions on labels only. R1 at 0.1 raised its FD by 31%: none.
        'lapgan': {'steps': 2500, 'level_convs': 3, 'level_design': LevelDesign(),
                   'd_learning_rate': TimesGeneratorRate(8), 'lr_decay': 0.5, 'clusters': 0, 'r1_weight': 0.0},
    },
}
PART_ORDER = ('loss', 'arch', 'conditioning', 'model_type')


def flag(field):
    """The command-line flag of a settings field."""
    return '--model' if field == 'model_type' else '--' + field.replace('_', '-')


def flag_value(field, value):
    """How the flag of `field` spells `value` (the clusters conditioning is spelled --conditioning none)."""
    if field == 'conditioning' and value == 'clusters':
        return 'none'
    return value


# ---------------------------------------------------------------- what a part does not read

# (parts, fields they leave unread, what to say): a field given for parts that do not read it.
UNREAD = (
    (lambda m: m.arch == 'mlp' and m.model_type == 'gan', ('g_dim', 'd_dim', 'minibatch_stddev', 'd_condition_maps'),
     '--arch mlp has fixed layer sizes'),
    (lambda m: m.conditioning in ('concat', 'none'), ('condition_units', 'd_condition_maps', 'projection'),
     'the label embedding belongs to --conditioning matching'),
    (lambda m: m.conditioning != 'concat', ('concat_every_layer',), 'it belongs to --conditioning concat'),
    (lambda m: m.conditioning not in ('clusters', 'none'), ('clusters',),
     'clusters condition the unconditioned GAN: it needs --conditioning none'),
    (lambda m: m.loss != 'wgan', ('clip',), 'weight clipping belongs to --loss wgan'),
    (lambda m: m.loss == 'wgan', ('beta1',), '--loss wgan trains with RMSProp, which has no beta1'),
    (lambda m: m.model_type != 'lapgan', ('level_convs', 'level_design'), 'it belongs to --model lapgan'),
    (lambda m: m.model_type == 'lapgan', ('ema_decay',), 'the averaged generator is built for --model gan'),
    (lambda m: m.model_type == 'lapgan', ('spectral_norm',), 'spectral normalisation is built for --model gan'),
    (lambda m: not m.r1_weight, ('r1_every',), 'it spaces out R1, which these settings do not pay: give --r1-weight '
     'above 0'),
)
# Sizes a user may pass to every variant alike (a sweep): where unread they are dropped with a note, not refused.
DROPPABLE = ('g_dim', 'd_dim', 'condition_units')


def unread_value(field):
    """What an unread field holds: None, or 0 clusters."""
    return 0 if field == 'clusters' else None


def given_as_unread(given, field):
    """Whether the field is given as the value it holds where unread (e.g. --clusters 0 for a conditioned
    model): no contradiction, nothing to refuse."""
    return isinstance(given, dict) and given.get(field) == unread_value(field)


def unread_fields(model):
    """{field: why} for the fields of ModelSettings that the parts of `model` do not read."""
    unread = {}
    for applies, fields, why in UNREAD:
        if applies(model):
            unread.update((field, why) for field in fields if field not in unread)
    return unread


# ---------------------------------------------------------------- the combinations that cannot work

def problems(run, given=(), num_examples=None):
    """Every reason these settings cannot train, one line each naming the flags; [] when they can.

    `run` is a RunSettings or a ModelSettings; `given` names the fields the user set (a given field that the
    parts do not read is refused, unless it is one of DROPPABLE); `num_examples`, when the data is loaded,
    adds the checks against its size.
    """
    model = run.model if isinstance(run, RunSettings) else run
    found = []
    for field in ('model_type', 'conditioning', 'arch', 'loss', 'augment'):
        if getattr(model, field) not in CHOICES[field]:
            found.append('%s must be one of %s, not %r' % (flag(field), ', '.join(CHOICES[field]),
                                                           getattr(model, field)))
    if found:
        return found
    for field, why in unread_fields(model).items():
        if field in given and field not in DROPPABLE and not given_as_unread(given, field):
            found.append('%s is not read by these parts (%s): leave it out' % (flag_text(field, given), why))
    if model.interpolate_conditions and not model.uses_labels:
        found.append('--interpolate-conditions blends two labels\' condition vectors: it needs --conditioning '
                     'matching or concat')
    if model.conditioning == 'clusters':
        if model.clusters < 2:
            found.append('--clusters %d: a real image needs another cluster to be judged with: pass 0 (none) or '
                         'at least 2' % model.clusters)
        if model.noise_len < 2:
            found.append('--noise-len %d: the clustered GAN draws each image\'s cluster from its first noise value '
                         'and the image from the rest: pass --noise-len 2 or more, or --clusters 0'
                         % model.noise_len)
    if model.model_type == 'lapgan':
        if model.conditioning == 'clusters':
            found.append('--clusters %d conditions the unconditioned GAN of one generator on clusters of its '
                         'images: it needs --model gan' % model.clusters)
        refused = (('--arch mlp', model.arch == 'mlp', 'its levels are convolutional networks of their own'),
                   ('--loss wgan', model.loss == 'wgan',
                    'its level critics train with --loss gan or wgan-gp, not with clipped weights'),
                   ('--interpolate-conditions', model.interpolate_conditions, 'each level draws from one label'),
                   ('--augment %s' % model.augment, bool(model.augment), 'its discriminators see no augmentation'))
        found += ['--model lapgan takes no %s (%s): leave it out' % (text, why) for text, applies, why in refused
                  if applies]
        if model.noise_len < 3:
            found.append('--model lapgan gives each of its 3 levels its own part of the noise: --noise-len must '
                         'be at least 3')
    if model.num_classes < 2:
        found.append('num_classes %d: a conditional GAN needs 2 or more classes to tell apart' % model.num_classes)
    if isinstance(run, RunSettings):
        found += run_problems(run, given, num_examples)
    return [' '.join(problem.split()) for problem in found]


def run_problems(run, given, num_examples):
    found = []
    if run.class_names is not None and len(run.class_names) != run.model.num_classes:
        found.append('class_names lists %d names for %d classes (num_classes): one name per class' % (
            len(run.class_names), run.model.num_classes))
    if run.condition_vectors and not run.model.uses_labels:
        found.append('--conditioning none uses no labels, so --condition-vectors would be ignored: leave out one '
                     'of the two flags')
    if 'steps' in given and 'epochs' in given:
        found.append('--steps %d and --epochs %d both given: pass only one' % (run.steps, run.epochs))
    if run.steps is None and run.epochs is None:
        found.append('neither --steps nor --epochs: pass one')
    if run.dataset == 'mnist_sample' and run.data is not None:
        found.append('--dataset mnist_sample always reads the bundled sample, so --data %s would not be read: pass '
                     '--dataset mnist --data %s, or leave out --data' % (run.data, run.data))
    if num_examples is not None:
        if run.batch_size > num_examples:
            found.append('--batch-size %d is larger than the %d images of the data: choose at most %d' % (
                run.batch_size, num_examples, num_examples))
        elif num_examples // run.batch_size < run.k_steps:
            found.append('--k-steps %d needs %d batches per generator step, but the data holds only %d batches of '
                         '--batch-size %d: lower one of them' % (run.k_steps, run.k_steps,
                                                                 num_examples // run.batch_size, run.batch_size))
        if run.model.conditioning == 'clusters' and run.model.clusters > num_examples:
            found.append('--clusters %d: the data holds only %d images; pass --clusters %d or fewer (0: none)' % (
                run.model.clusters, num_examples, num_examples))
    return found


def flag_text(field, given):
    """The flag as given, e.g. '--clusters 10' or '--interpolate-conditions'."""
    value = given.get(field) if isinstance(given, dict) else None
    return flag(field) if value is None or value is True else '%s %s' % (flag(field), flag_value(field, value))


def check(run, given=(), num_examples=None):
    """SettingsError with the first problem of `problems`, if any."""
    found = problems(run, given, num_examples)
    if found:
        raise SettingsError(found[0])


# ---------------------------------------------------------------- resolving

def part_defaults(parts):
    """The fields the chosen parts set, later parts winning: parts maps 'loss', 'arch', 'conditioning' (as the
    flag spells it) and 'model_type' to a name."""
    values = {}
    for kind in PART_ORDER:
        values.update(PART_DEFAULTS[kind].get(flag_value(kind, parts[kind]), {}))
    return values


def defaults_of(model_type='gan', conditioning='matching', arch='dcgan', loss='gan'):
    """Every field a variant starts from, model and run ones alike: the dataclasses' defaults and its parts'."""
    values = {field.name: field.default for field in dataclasses.fields(ModelSettings)}
    values.update((field.name, field.default) for field in dataclasses.fields(RunSettings) if field.name != 'model')
    parts = dict(model_type=model_type, conditioning=conditioning, arch=arch, loss=loss)
    values.update(parts)
    values.update(part_defaults(parts))
    return values


def build(values, given=()):
    """RunSettings from a flat {field: value}: the clusters conditioning picked, unread fields set to None;
    returns (run, notes) - a note for each DROPPABLE field given that the parts do not read."""
    values = dict(values)
    if values['conditioning'] in ('none', 'clusters'):
        values['conditioning'] = 'clusters' if values['clusters'] else 'none'
    model = ModelSettings(**{name: values[name] for name in MODEL_FIELDS})
    notes = []
    unread = unread_fields(model)
    for field, why in unread.items():
        if field in given and field in DROPPABLE:
            notes.append('%s is not read by these parts (%s): dropped' % (flag(field), why))
    cleared = {field: unread_value(field) for field in unread if field not in given or field in DROPPABLE}
    model = dataclasses.replace(model, **cleared)
    if values['class_names'] is not None:
        values['class_names'] = tuple(values['class_names'])   # config.json holds a list
    run = RunSettings(model=model, **{name: values[name] for name in RUN_FIELDS})
    return run, notes


def resolve(given, stored=None, name='the run'):
    """(RunSettings, notes) for a run: the fields `given` (flags, by field name; None or absent: not given) on
    top of the stored run's config.json (None for a new run) or, for a new run, the defaults of its parts.

    A given model, data or schedule setting that contradicts the stored run is an error (its checkpoints
    hold another model); --steps, --epochs, --data (the same data moved: main.py compares it) and the cadence
    may change for the session, a changed cadence said in a note. `name` names the
    run in messages. SettingsError carries the first problem.
    """
    given = {field: value for field, value in given.items() if value is not None}
    unknown = set(given) - set(MODEL_FIELDS) - set(RUN_FIELDS)
    if unknown:
        raise SettingsError('unknown settings: %s' % ', '.join(sorted(unknown)))
    if stored is None:
        parts = {kind: given.get(kind, ModelSettings.__dataclass_fields__[kind].default) for kind in PART_ORDER}
        values = dict(defaults_of(**parts), **given)
        if 'condition_vectors' in given:
            values['condition_vectors'] = CONDITION_VECTORS_NAME
        if 'epochs' in given and 'steps' not in given:
            values['steps'] = None
        run, notes = build(values, given)
        check(run, given)
        return run, notes
    return resume(given, from_config(stored), name)


# What a resumed run may change; everything else must be what it was trained with.
MAY_CHANGE = ('steps', 'epochs', 'data') + CADENCE


def resume(given, run, name):
    """The stored run with the given fields: a contradicted model or schedule setting is a SettingsError."""
    notes = []
    unread = unread_fields(run.model)
    for field in [field for field in given if field in unread]:
        if given_as_unread(given, field):
            del given[field]
        elif field not in DROPPABLE:
            raise SettingsError('%s is not read by the model of %s (%s): leave it out' % (
                flag_text(field, given), name, unread[field]))
        else:
            notes.append('%s is not read by the model of %s (%s): dropped' % (flag(field), name, unread[field]))
            del given[field]
    if 'condition_vectors' in given:
        given['condition_vectors'] = CONDITION_VECTORS_NAME   # the file itself is compared by main.py
    for field, value in given.items():
        kept = getattr(run.model if field in MODEL_FIELDS else run, field)
        if field in MAY_CHANGE or field == 'condition_vectors' or flag_value(field, kept) == value or (
                field == 'conditioning' and flag_value(field, kept) == flag_value(field, value)):
            continue
        before = 'without %s' % flag(field) if kept in (None, False) else 'with %s' % flag_text(field, {field: kept})
        raise SettingsError('%s was trained %s, not %s: leave the flag out to resume it, or train a new model with '
                            'another --logdir' % (name, before, flag_text(field, given)))
    changes = {field: value for field, value in given.items() if field in MAY_CHANGE}
    if 'steps' in changes and 'epochs' not in changes:
        changes['epochs'] = None
    elif 'epochs' in changes and 'steps' not in changes:
        changes['steps'] = None
    for field in CADENCE:
        if field in changes and changes[field] != getattr(run, field):
            notes.append('%s %s for %s in this session (its config.json says %s)' % (
                flag(field), changes[field], name, getattr(run, field)))
    run = dataclasses.replace(run, **changes)
    check(run, given)
    return run, notes


def model_settings(model_type='gan', **given):
    """ModelSettings for building a model in code, e.g. model_settings(loss='wgan'): the given fields on top of
    the defaults of the parts they pick. SettingsError for settings that cannot work."""
    unknown = set(given) - set(MODEL_FIELDS)
    if unknown:
        raise SettingsError('unknown model settings: %s' % ', '.join(sorted(unknown)))
    run, _ = resolve(dict(given, model_type=model_type))
    return run.model


# ---------------------------------------------------------------- config.json

def to_config(run, data_fingerprint=None):
    """The run as config.json holds it: every setting, the version, and what identifies its data."""
    config = dataclasses.asdict(run)
    if run.class_names is not None:
        config['class_names'] = list(run.class_names)
    config['version'] = CONFIG_VERSION
    config['data_fingerprint'] = data_fingerprint
    return config


# The kind each field may hold in a config.json: (test, how the message names it).
def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _number(value, low=0.0, high=math.inf, open_low=False):
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and (value > low if open_low else value >= low) and value <= high)


KINDS = {
    'count': (_count, 'a whole number of at least 1'),
    'whole': (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, 'a whole number of 0 or more'),
    'seed': (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= cli.HIGHEST_SEED,
             'a whole number from 0 to %d' % cli.HIGHEST_SEED),
    'rate': (lambda v: _number(v, open_low=True), 'a positive number'),
    'weight': (_number, 'a number of 0 or more'),
    'fraction': (lambda v: _number(v, high=1.0), 'a number from 0 to 1'),
    'below one': (lambda v: _number(v) and v < 1.0, 'a number from 0, below 1'),
    'share': (lambda v: _number(v, high=1.0, open_low=True), 'a number above 0, up to 1'),
    'flag': (lambda v: isinstance(v, bool), 'true or false'),
    'text': (lambda v: isinstance(v, str), 'a string'),
    'design': (lambda v: isinstance(v, dict) and set(v) == {f.name for f in dataclasses.fields(LevelDesign)},
               'an object of %s' % ', '.join(f.name for f in dataclasses.fields(LevelDesign))),
    'names': (lambda v: isinstance(v, list) and len(v) >= 2 and all(isinstance(n, str) and n.strip() for n in v)
              and len(set(v)) == len(v), 'a list of 2 or more different names'),
}
FIELD_KINDS = dict(
    {name: 'count' for name in ('noise_len', 'num_classes', 'g_dim', 'd_dim', 'condition_units', 'd_condition_maps',
                                'level_convs', 'r1_every', 'batch_size', 'k_steps', 'steps', 'epochs', 'save_every',
                                'summary_every', 'sample_every', 'log_every', 'eval_num_per_class')},
    clusters='whole', eval_every='whole', seed='seed', learning_rate='rate', d_learning_rate='rate', clip='rate',
    beta1='below one', lr_decay='fraction', ema_decay='fraction', diversity_weight='weight', r1_weight='weight',
    top_k='share', spectral_norm='flag', projection='flag', minibatch_stddev='flag', concat_every_layer='flag',
    interpolate_conditions='flag', train_on_held_out='flag', level_design='design', class_names='names',
    **{name: 'text' for name in ('model_type', 'conditioning', 'arch', 'loss', 'augment', 'dataset', 'data',
                                 'condition_vectors')})
# Fields that may be null in a config.json.
NULLABLE = ('g_dim', 'd_dim', 'condition_units', 'd_condition_maps', 'projection', 'minibatch_stddev',
            'concat_every_layer', 'beta1', 'clip', 'level_convs', 'level_design', 'data', 'condition_vectors',
            'steps', 'epochs', 'class_names', 'ema_decay', 'spectral_norm', 'r1_every')


def from_config(config):
    """RunSettings from a config.json of any version (legacy.py brings older ones up to date); SettingsError
    naming the field for anything that is missing or of the wrong kind."""
    if not isinstance(config, dict) or not isinstance(config.get('model'), dict):
        raise SettingsError('it has no "model" settings')
    values = legacy.upgrade(config)
    flat = dict(values['model'], **{key: value for key, value in values.items() if key != 'model'})
    missing = [field for field in MODEL_FIELDS + RUN_FIELDS if field not in flat]
    if missing:
        raise SettingsError('it lacks %s' % ', '.join(missing))
    for field in MODEL_FIELDS + RUN_FIELDS:
        allowed, kind = KINDS[FIELD_KINDS[field]]
        value = flat[field]
        if not (value is None and field in NULLABLE) and not allowed(value):
            raise SettingsError('"%s" is %r, not %s' % (field, value, kind))
    if flat['level_design'] is not None:
        flat['level_design'] = LevelDesign(**flat['level_design'])
    run, _ = build(flat)
    found = problems(run)
    if found:
        raise SettingsError(found[0])
    return run


# ---------------------------------------------------------------- naming a run

# Fields that tell one run from another without making it another variant.
NOT_VARIANT = ('seed', 'steps', 'epochs', 'num_classes', 'class_names') + CADENCE   # the classes: the data's


def variant_flags(run):
    """The flags that make `run` differ from the default run, as a list: those picking its parts, then every
    setting that differs from what those parts give by default (clusters, augmentation, rate decay, the
    discriminator's rate, the data file, ...). [] for the default run."""
    model = run.model
    parts = {kind: getattr(model, kind) for kind in PART_ORDER}
    expected, _ = build(defaults_of(**parts))
    flags = []
    for kind in ('model_type', 'conditioning', 'arch', 'loss'):
        if getattr(model, kind) != ModelSettings.__dataclass_fields__[kind].default:
            flags.append('%s %s' % (flag(kind), flag_value(kind, getattr(model, kind))))
    unread = unread_fields(model)
    for source, default in ((model, expected.model), (run, expected)):
        for field in dataclasses.fields(source):
            name = field.name
            value = getattr(source, name)
            if (name in PART_ORDER or name in NOT_VARIANT or name in unread or name == 'model'
                    or value == getattr(default, name)):
                continue
            flags.append(flag(name) if value is True else '%s %s' % (flag(name), shown(value)))
    return flags


def shown(value):
    if isinstance(value, LevelDesign):
        return ','.join('%s=%s' % (f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, str) and '/' in value:
        return value.rsplit('/', 1)[-1]
    return '%g' % value if isinstance(value, float) else str(value)


def variant_name(run):
    """The variant as the flags that train it, e.g. '--conditioning none --clusters 0'; 'default' for none."""
    return ' '.join(variant_flags(run)) or 'default'

