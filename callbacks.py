"""What fit does every few steps: TensorBoard summaries, log lines, checkpoints and sample grids."""
import glob
import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

import grids

v1 = tf.compat.v1

CHECKPOINT_NAME = 'model.ckpt'


class Callback(object):
    """Calls func(dataset, step) after every `every_step`-th generator step."""

    def __init__(self, every_step, func):
        if every_step < 1:
            raise ValueError('every_step must be at least 1, not %r' % every_step)
        self.every_step = every_step
        self.func = func

    def __call__(self, dataset, current_step):
        self.func(dataset, current_step)


def fixed_grid_inputs(model, columns=10, seed=1234):
    """The same noise at every call, one row per class: progress is the only thing that changes."""
    noise = np.random.default_rng(seed).normal(size=(model.num_classes * columns, model.noise_len))
    labels = np.repeat(np.arange(model.num_classes), columns)
    return noise.astype(np.float32), labels


def last_batch_feed(model, dataset):
    """The last real batch fit saw, with noise of the same size, for measuring it."""
    noise = dataset.last_noise_batch[:len(dataset.last_image_batch)]
    return {model.discriminator_input: dataset.last_image_batch,
            model.right_condition_input: dataset.last_right_labels,
            model.wrong_condition_input: dataset.last_wrong_labels,
            model.noise_input: noise}


class SummaryCallback(Callback):
    """TensorBoard: losses and p_real / p_fake / p_wrong of the last batch, and a grid of every digit."""

    def __init__(self, session, model, logdir, every_step=100, image_every_step=None, columns=10):
        with session.graph.as_default():  # TF2 refuses a FileWriter or Saver outside a graph
            self.writer = v1.summary.FileWriter(logdir, session.graph)
        noise, labels = fixed_grid_inputs(model, columns)
        image_every_step = image_every_step or every_step
        grid_feed = {model.noise_input: noise, model.right_condition_input: labels,
                     model.grid_columns: columns}

        def func(dataset, step):
            self.writer.add_summary(session.run(model.summaries, last_batch_feed(model, dataset)), step)
            if step % image_every_step == 0:
                self.writer.add_summary(session.run(model.image_summary, grid_feed), step)
            self.writer.flush()

        super().__init__(every_step, func)

    def close(self):
        self.writer.close()


class LogCallback(Callback):
    """One line: step, losses, probabilities, steps/s, img/s and the time left."""

    def __init__(self, model, batch_size, k_steps=1, every_step=100, total_steps=None, stream=None):
        stream = stream or sys.stdout
        state = {'time': time.time(), 'step': None}

        def func(dataset, step):
            now = time.time()
            if state['step'] is None:
                state['step'] = step - every_step
            steps_per_s = (step - state['step']) / max(now - state['time'], 1e-9)
            state['time'], state['step'] = now, step
            metrics = model.last_metrics
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


def format_seconds(seconds):
    seconds = int(round(max(seconds, 0)))
    if seconds >= 3600:
        return '%dh%02dm' % (seconds // 3600, seconds % 3600 // 60)
    return '%dm%02ds' % (seconds // 60, seconds % 60)


class CheckpointCallback(Callback):
    """Saves the model (both networks, both optimizers, the global step) and the data order.

    The saver keeps the last few checkpoints and names the newest in the `checkpoint`
    file only once it is completely written, so a killed run leaves the previous one usable.
    """

    def __init__(self, session, logdir, every_step=1000, keep=3):
        os.makedirs(logdir, exist_ok=True)
        with session.graph.as_default():
            self.saver = v1.train.Saver(max_to_keep=keep)
        self.prefix = os.path.join(logdir, CHECKPOINT_NAME)
        self.session = session
        self.last_path = None
        super().__init__(every_step, self.save)

    def save(self, dataset, step):
        if dataset is not None:
            write_json_atomically('%s-%d.dataset.json' % (self.prefix, step), dataset.state_dict())
        with self.session.graph.as_default():
            self.last_path = self.saver.save(self.session, self.prefix, global_step=step)
        self._remove_orphaned_dataset_states()
        return self.last_path


    def _remove_orphaned_dataset_states(self):
        """The saver deletes old checkpoints; their data-order files go with them."""
        for path in glob.glob(self.prefix + '-*.dataset.json'):
            if not glob.glob(path[:-len('.dataset.json')] + '.index'):
                os.remove(path)


def dataset_state_path(checkpoint_path):
    return checkpoint_path + '.dataset.json'


def write_atomically(path, write):
    """write(binary file) into a temporary file, then rename: a crash never leaves half a file."""
    temporary = path + '.tmp'
    with open(temporary, 'wb') as f:
        write(f)
    os.replace(temporary, path)


def write_json_atomically(path, data):
    write_atomically(path, lambda f: f.write(json.dumps(data).encode()))


class SampleGridCallback(Callback):
    """A PNG grid (one row per class, fixed noise) every few steps, under logdir/samples/."""

    def __init__(self, session, model, logdir, every_step=500, columns=10, row_labels=None):
        self.directory = os.path.join(logdir, 'samples')
        noise, labels = fixed_grid_inputs(model, columns)
        feed = {model.noise_input: noise, model.right_condition_input: labels}
        self.last_path = None

        def func(dataset, step):
            images = session.run(model.generated_image, feed)
            path = os.path.join(self.directory, 'step_%07d.png' % step)
            self.last_path = grids.save_png(path, grids.make_grid(images, columns, row_labels=row_labels))

        super().__init__(every_step, func)


class EvaluationCallback(Callback):
    """Quality in TensorBoard: how often the classifier agrees with the condition, the Fréchet
    distance to real digits and the diversity per digit (see evaluate.py).

    make_evaluator() is called at the first evaluation: the classifier it may have to train
    costs nothing to a run that never gets there.
    """

    def __init__(self, session, model, writer, make_evaluator, every_step=2500, chunk=500, stream=None):
        stream = stream or sys.stdout
        self.last_result = None
        self.evaluator = None
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
            noise_rng['rng'] = np.random.default_rng(0)  # the same noise at every evaluation
            result = self.evaluator.evaluate(sample, seed=0)
            values = {'quality/accuracy': result['accuracy'],
                      'quality/frechet_distance': result['frechet_distance'],
                      'quality/min_diversity_ratio': min(result['diversity_ratio'])}
            for digit, accuracy in enumerate(result['per_class_accuracy']):
                values['quality_per_digit/accuracy_%d' % digit] = accuracy
            writer.add_summary(v1.Summary(value=[v1.Summary.Value(tag=tag, simple_value=float(value))
                                                 for tag, value in sorted(values.items())]), step)
            writer.flush()
            self.last_result = result
            print('quality at step %d: accuracy %.3f  Frechet distance %.1f  min diversity ratio %.2f' % (
                step, result['accuracy'], result['frechet_distance'], min(result['diversity_ratio'])),
                file=stream, flush=True)

        super().__init__(every_step, func)
