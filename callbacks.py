"""What fit does every few steps: TensorBoard summaries, log lines, checkpoints, sample grids and quality
points; `for_run` makes the set a training run uses, at the cadence of its settings."""
import collections
import json
import os
import re
import sys
import time

import numpy as np
import tensorflow as tf
from tensorboard.plugins.custom_scalar import layout_pb2, summary as custom_scalar_summary

import checkpoints
import dataset as dataset_lib
import grids
import quality
import rundir
import settings
from cli import write_atomically
from ops import GRID_COLUMNS

# A callback made by hand (not by for_run) keeps a run's own defaults.
RUN = settings.RunSettings

v1 = tf.compat.v1


class Callback(object):
    """Calls func(dataset, step) after every `every_step`-th generator step."""

    def __init__(self, every_step, func):
        if every_step < 1:
            raise ValueError('every_step must be at least 1, not %r' % every_step)
        self.every_step = every_step
        self.func = func

    def __call__(self, dataset, current_step):
        self.func(dataset, current_step)


def fixed_grid_inputs(model, columns=GRID_COLUMNS, seed=1234):
    """The same noise at every call, one row per class: progress is the only thing that changes."""
    noise = np.random.default_rng(seed).normal(size=(model.num_classes * columns, model.noise_len))
    labels = np.repeat(np.arange(model.num_classes), columns)
    return noise.astype(np.float32), labels


class MetricMeans(object):
    """The means of the metrics added since the last take(): a summary shows the trend, not one batch's noise."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, metrics):
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
            self.counts[name] = self.counts.get(name, 0) + 1

    def take(self):
        means = {name: total / self.counts[name] for name, total in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


def scalar_summary(values):
    """A summary of plain scalars, {tag: value}."""
    return v1.Summary(value=[v1.Summary.Value(tag=tag, simple_value=float(value))
                             for tag, value in sorted(values.items())])


# Curves that tell one story, drawn on one chart of TensorBoard's custom-scalars dashboard, by the last part of
# their tags: the discriminator's mean output on the three pairs, the WGAN critic's estimate, the two losses.
# p_held_out: the discriminator's output for real digits held out of training (SummaryCallback).
CHART_GROUPS = (('p_real', 'p_fake', 'p_wrong', 'p_held_out'), ('wasserstein_estimate',),
                ('discriminator_loss', 'generator_loss'))
HELD_OUT_TAG = 'probabilities/p_held_out'
# Held-out digits the discriminator judges at each summary, the same ones every time, as many of each class.
HELD_OUT_JUDGED = 500
TRAINING_DIRECTORIES = ('probabilities', 'critic', 'loss')
# EvaluationCallback's headline figures, in charts of one scale each: the accuracy and the diversity ratio are
# near 1, the Frechet distance and its ratio to real digits' start far higher.
QUALITY_GROUPS = (('accuracy', 'min_diversity_ratio'), ('frechet_distance',), ('frechet_ratio',))


def multiline_chart(directory, names):
    """A chart titled 'directory: names', with a curve for each tag directory/name."""
    return layout_pb2.Chart(title='%s: %s' % (directory, ', '.join(names)), multiline=layout_pb2.MultilineChartContent(
        tag=['^%s$' % re.escape('%s/%s' % (directory, name)) for name in names]))


def custom_scalars_layout(metric_tags, quality_charts=True):
    """TensorBoard's custom-scalars layout for a model's {name: tag}: p_real, p_fake and p_wrong on one chart
    (or the WGAN critic's estimate), the losses on another, the quality figures, and one category per tag
    directory of its own (LAPGAN's levels) with the same charts.
    """
    tags = set(metric_tags.values())
    directories = sorted({tag.rpartition('/')[0] for tag in tags},
                         key=lambda name: [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)])
    charts = []   # (directory, chart), the groups in CHART_GROUPS order
    for group in CHART_GROUPS:
        for directory in directories:
            names = [name for name in group if '%s/%s' % (directory, name) in tags]
            if names:
                charts.append((directory, multiline_chart(directory, names)))
    categories = [('training', [chart for directory, chart in charts if directory in TRAINING_DIRECTORIES])]
    if quality_charts:
        categories.append(('quality', [multiline_chart('quality', names) for names in QUALITY_GROUPS]))
    categories += [(name, [chart for directory, chart in charts if directory == name])
                   for name in directories if name not in TRAINING_DIRECTORIES]
    return layout_pb2.Layout(category=[layout_pb2.Category(title=title, chart=chart_list)
                                       for title, chart_list in categories if chart_list])


def held_out_sample(held_out, num_classes, count=HELD_OUT_JUDGED):
    """A fixed choice of count held-out (images, labels), as many of each class as it has."""
    images, labels = held_out
    chosen = quality.stratified_sample(np.asarray(labels), count // num_classes, num_classes)
    return np.asarray(images, np.float32)[chosen], np.asarray(labels, np.int64)[chosen]


class SummaryCallback(Callback):
    """TensorBoard: the losses and p_real / p_fake / p_wrong, each the mean over the steps since the last
    summary, a grid of every digit, and the custom-scalars layout that charts the curves together.

    With `held_out` (images, labels) never trained on, p_held_out beside them: the discriminator's mean output
    for a fixed sample of those, with their labels, at each summary. Far below p_real, the discriminator knows
    its training images by heart; as low as p_fake, it tells them from every other image, real or generated.

    fit calls it after every step, to take in that step's metrics; it writes every `every_step` steps.
    `quality_charts`: the run writes quality/ figures too (EvaluationCallback), so the layout charts them.
    """

    def __init__(self, session, model, logdir, every_step=RUN.summary_every, image_every_step=None,
                 columns=GRID_COLUMNS, quality_charts=True, held_out=None):
        # TensorFlow names an events file by the second it opens it: a session resumed within that second
        # would truncate the earlier session's file. A nanosecond suffix gives it a file of its own that sorts
        # after the earlier one, as TensorBoard reads them. TF2 refuses a FileWriter outside a graph.
        with session.graph.as_default():
            self.writer = v1.summary.FileWriter(logdir, session.graph, filename_suffix='.%d' % time.time_ns())
        # At step 0 whatever the run's step, so that a resumed run's restart marker (at a later step) never
        # drops it; each session writes it again, and the dashboard shows the newest.
        judged = None
        if held_out is not None and model.judges_held_out:
            judged = held_out_sample(held_out, model.num_classes)
        tags = dict(model.metric_tags, p_held_out=HELD_OUT_TAG) if judged is not None else model.metric_tags
        self.writer.add_summary(custom_scalar_summary.pb(custom_scalars_layout(tags, quality_charts)), 0)
        noise, labels = fixed_grid_inputs(model, columns)
        image_every_step = image_every_step or every_step
        grid_feed = {model.noise_input: noise, model.right_condition_input: labels,
                     model.grid_columns: columns}
        means = MetricMeans()

        def func(dataset, step):
            means.add(model.last_metrics)
            if step % every_step == 0:
                values = {model.metric_tags.get(name, name): value for name, value in means.take().items()}
                if judged is not None:
                    values[HELD_OUT_TAG] = np.mean(model.real_probabilities(session, *judged))
                self.writer.add_summary(scalar_summary(values), step)
            if step % image_every_step == 0:
                model.recompute_drawing_statistics(session, step)
                self.writer.add_summary(session.run(model.image_summary, grid_feed), step)
            if step % every_step == 0 or step % image_every_step == 0:
                self.writer.flush()

        super().__init__(every_step, func)
        self.every_step = 1   # fit's schedule: every step's metrics go into the means

    def close(self):
        self.writer.close()


class LogCallback(Callback):
    """One line: step, losses and probabilities (means since the last line), steps/s, img/s and the time left."""

    def __init__(self, model, batch_size, k_steps=RUN.k_steps, every_step=RUN.log_every, total_steps=None, stream=None):
        stream = stream or sys.stdout
        state = {'time': time.time(), 'step': None}
        means = MetricMeans()

        def func(dataset, step):
            means.add(model.last_metrics)
            if step % every_step:
                return
            now = time.time()
            if state['step'] is None:
                state['step'] = step - every_step
            steps_per_s = (step - state['step']) / max(now - state['time'], 1e-9)
            state['time'], state['step'] = now, step
            metrics = means.take()
            parts = ['step %d' % step if total_steps is None else 'step %d/%d' % (step, total_steps)]
            for name in ('discriminator_loss', 'generator_loss', 'p_real', 'p_fake', 'p_wrong',
                         'wasserstein_estimate'):
                if name in metrics:
                    short = name.replace('discriminator_loss', 'd_loss').replace('generator_loss', 'g_loss')
                    parts.append('%s %.3f' % (short, metrics[name]))
            parts.append('%.1f steps/s' % steps_per_s)
            parts.append('%.0f img/s' % (steps_per_s * batch_size * k_steps))
            if total_steps is not None and steps_per_s > 0:
                parts.append('ETA %s' % format_seconds((total_steps - step) / steps_per_s))
            print('  '.join(parts), file=stream, flush=True)
            self.steps_per_second = steps_per_s

        self.steps_per_second = None
        super().__init__(every_step, func)
        self.every_step = 1   # fit's schedule: every step's metrics go into the means


def format_seconds(seconds):
    seconds = int(round(max(seconds, 0)))
    if seconds >= 3600:
        return '%dh%02dm' % (seconds // 3600, seconds % 3600 // 60)
    return '%dm%02ds' % (seconds // 60, seconds % 60)


class CheckpointCallback(Callback):
    """Saves a checkpoint (see checkpoints.py): the model, and beside it the data order and the training time.

    The time is `seconds_before` (what the run trained for in earlier sessions; None: unknown, and so the total
    stays unknown) plus the wall-clock time since this callback was made.
    """

    def __init__(self, session, logdir, every_step=RUN.save_every, keep=checkpoints.KEEP, seconds_before=0.0,
                 trained_as=None):
        self.saver = checkpoints.Saver(session, logdir, keep)
        self.trained_as = trained_as   # the model settings, as config.json holds them, saved beside each one
        self.seconds_before = seconds_before
        self.started = time.monotonic()
        self.last_path = None
        super().__init__(every_step, self.save)

    def training_seconds(self):
        if self.seconds_before is None:
            return None
        return self.seconds_before + time.monotonic() - self.started

    def save(self, dataset, step):
        state = None if dataset is None else dataset.state_dict()
        self.last_path = self.saver.save(step, state, self.training_seconds(), self.trained_as)
        return self.last_path


class SampleGridCallback(Callback):
    """A PNG grid (one row per class, fixed noise) every few steps, under logdir/samples/."""

    def __init__(self, session, model, logdir, every_step=RUN.sample_every, columns=GRID_COLUMNS, row_labels=None):
        self.directory = os.path.join(logdir, rundir.SAMPLES_NAME)
        noise, labels = fixed_grid_inputs(model, columns)
        feed = {model.noise_input: noise, model.right_condition_input: labels}
        self.last_path = None

        def func(dataset, step):
            model.recompute_drawing_statistics(session, step)
            images = session.run(model.generated_image, feed)
            path = os.path.join(self.directory, 'step_%07d.png' % step)
            self.last_path = grids.save_png(path, grids.make_grid(images, columns, row_labels=row_labels))

        super().__init__(every_step, func)


class EvaluationCallback(Callback):
    """Quality during training (see quality.py): into TensorBoard under quality/, and one JSON object per
    evaluation appended to record_path (default quality.jsonl beside the writer's event files).

    make_evaluator() is called at the first evaluation: the classifier it may have to train costs
    nothing to a run that never gets there. The evaluator keeps the classifier and the real digits'
    figures, so each later point costs only drawing and scoring the generated digits.
    clock(), if given, returns the training seconds so far; each point records it. `class_word` is what the printed
    line calls a class: a digit, or a class where the classes are not digits.
    """

    def __init__(self, session, model, writer, make_evaluator, every_step=RUN.eval_every, chunk=500, stream=None,
                 clock=None, record_path=None, class_word='digit'):
        stream = stream or sys.stdout
        self.record_path = record_path or os.path.join(writer.get_logdir(), quality.QUALITY_RECORD_NAME)
        self.last_result = None
        self.last_step = None
        self.evaluator = None
        conditioned = model.settings.uses_labels
        noise_rng = {}

        def sample(labels):
            rng = noise_rng['rng']
            parts = []
            for start in range(0, len(labels), chunk):
                part = labels[start:start + chunk]
                noise = rng.normal(size=(len(part), model.noise_len)).astype(np.float32)
                parts.append(session.run(model.generated_image,
                                         {model.noise_input: noise, model.right_condition_input: part}))
            return np.concatenate(parts)

        def func(dataset, step):
            if self.evaluator is None:
                self.evaluator = make_evaluator()
                forget_records_from(self.record_path, step)   # a resumed run redoes those steps
            started = time.time()   # the cost of a point, without the one-off classifier set-up
            noise_rng['rng'] = np.random.default_rng(0)  # the same noise at every evaluation
            model.recompute_drawing_statistics(session, step)
            result = self.evaluator.evaluate(sample, seed=0, conditioned=conditioned)
            figures = quality.headline(result)
            write_quality_summary(writer, step, figures, result)
            record = dict(step=int(step), **figures, evaluation_seconds=round(time.time() - started, 2))
            if clock is not None:
                record['training_seconds'] = round(clock(), 1)
            append_json_line(self.record_path, quality.without_nan(record))
            self.last_result, self.last_step = result, step
            print(quality_line(step, figures, record['evaluation_seconds'], class_word), file=stream, flush=True)

        super().__init__(every_step, func)

    def finish(self, dataset, step):
        """A point at the run's last step too, when the run has points and that one is missing: a run whose
        steps are not a multiple of every_step still ends on a measured point, and a run shorter than
        every_step (a smoke test, tiny data with nothing held out) is not evaluated at all."""
        if self.last_step is not None and self.last_step != step:
            self(dataset, step)


def write_quality_summary(writer, step, figures, result):
    values = {'quality/' + name: value for name, value in figures.items()
              if name not in ('memorisation_flag', 'min_class_share', 'max_class_share')}
    per_class = result['per_class_accuracy'] or []
    for digit, accuracy in enumerate(per_class):
        values['quality_per_digit/accuracy_%d' % digit] = accuracy
    if not result['conditioned']:
        for digit, share in enumerate(result['class_shares']):
            values['quality_per_digit/share_%d' % digit] = share
    writer.add_summary(v1.Summary(value=[v1.Summary.Value(tag=tag, simple_value=float(value))
                                         for tag, value in sorted(values.items()) if value is not None]), step)
    writer.flush()


def quality_line(step, figures, seconds, class_word='digit'):
    parts = ['quality at step %d:' % step]
    if figures['accuracy'] is not None:
        parts.append('accuracy %.3f (lowest %s %.3f)' % (figures['accuracy'], class_word,
                                                          figures['lowest_digit_accuracy']))
    else:
        parts.append('class shares %.3f-%.3f' % (figures['min_class_share'], figures['max_class_share']))
    parts.append('FD %.1f (%.2fx real data)' % (figures['frechet_distance'], figures['frechet_ratio']))
    parts.append('diversity %.2f-%.2f' % (figures['min_diversity_ratio'], figures['max_diversity_ratio']))
    parts.append('memorisation %.2f%s' % (figures['memorisation_ratio'],
                                          ' (copying?)' if figures['memorisation_flag'] else ''))
    parts.append('[%.1f s]' % seconds)
    return '  '.join(parts)


def append_json_line(path, record):
    with open(path, 'a') as stream:
        stream.write(json.dumps(record) + '\n')


def forget_records_from(path, step):
    """Drop the points at or after step: written by a session that was killed before its next checkpoint."""
    try:
        with open(path) as stream:
            lines = stream.readlines()
    except FileNotFoundError:
        return
    kept = []
    for line in lines:
        try:
            if json.loads(line)['step'] < int(step):
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            pass   # a line cut short by a kill
    write_atomically(path, lambda f: f.write(''.join(kept).encode()))


# What fit calls after each step for a run, by job; `evaluations` is empty unless the run measures its quality.
RunCallbacks = collections.namedtuple('RunCallbacks', 'summary log checkpoint samples evaluations')


def for_run(logdir, run, session, model, checkpoint_path=None, held_out=None):
    """The callbacks of a training run (a settings.RunSettings) into logdir, at its cadence; a resumed run's
    (checkpoint_path) carry on its training time and tell TensorBoard where the resumed session starts. `held_out`:
    (images, labels) the run does not train on, for p_held_out."""
    evaluating = bool(run.eval_every)
    # The training time goes on from the checkpoint's; unknown stays unknown.
    seconds_before = checkpoints.training_seconds(checkpoint_path) if checkpoint_path else 0.0
    with session.graph.as_default():
        summary = SummaryCallback(session, model, logdir, every_step=run.summary_every,
                                  image_every_step=run.sample_every, quality_charts=evaluating, held_out=held_out)
        log = LogCallback(model, run.batch_size, run.k_steps, every_step=run.log_every, total_steps=run.steps)
        checkpoint = CheckpointCallback(session, logdir, every_step=run.save_every,
                                        seconds_before=seconds_before, trained_as=settings.to_config(run)['model'])
        names = dataset_lib.run_class_names(run)
        row_labels = dataset_lib.row_labels(names) if run.model.uses_labels else None
        samples = SampleGridCallback(session, model, logdir, every_step=run.sample_every, row_labels=row_labels)
    evaluations = []
    if evaluating:
        def make_evaluator():
            return quality.Evaluator(run.dataset, run.data, num_per_class=max(run.eval_num_per_class, 2))
        evaluations.append(EvaluationCallback(
            session, model, summary.writer, make_evaluator, every_step=run.eval_every,
            clock=checkpoint.training_seconds if seconds_before is not None else None,
            class_word='digit' if dataset_lib.are_digits(names) else 'class'))
    if checkpoint_path:
        # TensorBoard drops the steps that a killed session logged after this checkpoint (every event at or
        # after the marker's step, hence + 1: the checkpoint's own step was logged and is kept).
        summary.writer.add_session_log(v1.SessionLog(status=v1.SessionLog.START), checkpoints.checkpoint_step(
            checkpoint_path) + 1)
    return RunCallbacks(summary, log, checkpoint, samples, evaluations)
