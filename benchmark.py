"""How fast training and generation are on this machine: one JSON object on stdout.

    python benchmark.py [--steps 60] [--logdir summary/train] [--precision auto]
    python benchmark.py --settings      # training speed under each alternative setting

Training img/s is real images per second through the default model's full training
step (k discriminator steps + one generator step, data pipeline included), after
warm-up, in the arithmetic main.py trains with (--precision, as main.py's). FLOPs per
step are counted by tf.compat.v1.profiler from the executed shapes; the peak is this
machine's fp32 matmul speed measured in the same run. With --logdir, time to quality
is the training minutes until that run's own quality points (quality.jsonl) first
showed accuracy >= 0.99 and FD ratio <= 2 (null if they never did).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from unittest import mock

import numpy as np

import cli

tf = cli.import_tensorflow_quietly()

import callbacks  # noqa: E402  (these import TensorFlow too: after the quiet import)
import checkpoints  # noqa: E402
import dataset as dataset_lib  # noqa: E402
import model as model_lib  # noqa: E402
import quality  # noqa: E402
import runs  # noqa: E402
from model import GANModel  # noqa: E402

v1 = tf.compat.v1
PROG = 'benchmark.py'
# The matmul peak holds three size x size float32 matrices: 805 MB at this size.
MAX_PEAK_SIZE = 8192
MAIN_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'main.py')


def session_config_for(precision):
    """The session configuration main.py trains with under the same --precision."""
    return model_lib.session_config(model_lib.wants_bfloat16(precision))


def seconds_per_run(build, repeats):
    """Mean seconds of session.run(build()) in a fresh graph, after one untimed run."""
    graph = tf.Graph()
    with graph.as_default():
        fetch = build()
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            session.run(fetch)
            start = time.perf_counter()
            for _ in range(repeats):
                session.run(fetch)
            return (time.perf_counter() - start) / repeats


def matmul_peak_gflops(size=2048, repeats=20):
    def product():
        a = v1.get_variable('a', [size, size])
        b = v1.get_variable('b', [size, size])
        return tf.reduce_sum(tf.matmul(a, b))  # a scalar fetch: no copy-out in the timing
    return 2.0 * size ** 3 / seconds_per_run(product, repeats) / 1e9


def new_model(config=None, **kwargs):
    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(seed=0, **kwargs)
        session = v1.Session(graph=graph, config=config)
        session.run(v1.global_variables_initializer())
    return model, session


# Steps trained before each timing: the first runs of a graph are slower.
WARMUP_STEPS = 10


def train_images_per_second(images, labels, batch_size, steps, warmup=WARMUP_STEPS, k_steps=1, config=None,
                            dataset_class=dataset_lib.GANDataset, make_callbacks=lambda model, session: []):
    model, session = new_model(config)
    data = dataset_class(images, labels, model.noise_len, batch_size, seed=0)
    fit_callbacks = make_callbacks(model, session)
    model.fit(session, data, epochs=None, k_steps=k_steps, max_steps=warmup, callbacks=fit_callbacks)
    start = time.perf_counter()
    model.fit(session, data, epochs=None, k_steps=k_steps, max_steps=warmup + steps, callbacks=fit_callbacks)
    seconds = time.perf_counter() - start
    session.close()
    return steps * batch_size * k_steps / seconds, steps / seconds


# --- alternative settings, each measured against the default -------------------------------------

class FixedBatchDataset(dataset_lib.GANDataset):
    """Hands fit the same arrays every step: what is left is the graph, without the data pipeline."""

    def next_batch(self):
        if not hasattr(self, '_fixed_batch'):
            self._fixed_batch = super().next_batch()
        return self._fixed_batch

    def next_noise(self):
        if not hasattr(self, '_fixed_noise'):
            self._fixed_noise = super().next_noise()
        return self._fixed_noise


def unfused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=1e-5, is_training=True):
    """tf.nn.moments + tf.nn.batch_normalization, in place of the fused kernel ops.py uses."""
    if is_training:
        mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
    return tf.nn.batch_normalization(x, mean, variance, offset, scale, epsilon), mean, variance


def threads(intra, inter):
    config = session_config_for('auto')
    config.intra_op_parallelism_threads, config.inter_op_parallelism_threads = intra, inter
    return config


def summaries_every_step(model, session):
    logdir = tempfile.mkdtemp(prefix='benchmark-summary-')
    return [callbacks.SummaryCallback(session, model, logdir, every_step=1, image_every_step=10 ** 9)]


# Each setting changes one thing of main.py's defaults (--precision auto included).
SETTINGS = {
    'default (fused batch norm, NHWC, feed_dict, TF picks threads)': {},
    'float32 arithmetic (--precision float32)': {'config': session_config_for('float32')},
    'fixed batch: no input pipeline': {'dataset_class': FixedBatchDataset},
    'summaries every step': {'make_callbacks': summaries_every_step},
    'unfused batch norm': {'patch': unfused_batch_norm},
    'threads intra 1 inter 1': {'config': threads(1, 1)},
    'threads intra 2 inter 1': {'config': threads(2, 1)},
    'threads intra 2 inter 2': {'config': threads(2, 2)},
    'NCHW convolutions': {'data_format': 'NCHW'},
}


def conv_layer_seconds(data_format, batch_size=64, repeats=20):
    """Forward and backward of the discriminator's second convolution in one data format."""
    def step():
        shape = [batch_size, 14, 14, 96] if data_format == 'NHWC' else [batch_size, 96, 14, 14]
        strides = [1, 2, 2, 1] if data_format == 'NHWC' else [1, 1, 2, 2]
        x = v1.get_variable('x', shape)
        w = v1.get_variable('w', [4, 4, 96, 128])
        y = tf.nn.conv2d(x, w, strides, 'SAME', data_format=data_format)
        # A scalar that needs every gradient element, so nothing can be skipped or copied out.
        return tf.add_n([tf.reduce_sum(g) for g in v1.gradients(tf.reduce_sum(tf.square(y)), [x, w])])
    return seconds_per_run(step, repeats)


def compare_settings(images, labels, steps, warmup=WARMUP_STEPS):
    """Training img/s at batch 64 under each setting; NCHW is compared on one convolution layer."""
    results = {}
    # The first graph runs slower.
    train_images_per_second(images, labels, 64, steps, warmup, config=session_config_for('auto'))
    for name, setting in SETTINGS.items():
        try:
            if 'data_format' in setting:
                nhwc, nchw = conv_layer_seconds('NHWC'), conv_layer_seconds(setting['data_format'])
                results[name] = {'conv_layer_ms': round(1e3 * nchw, 2), 'nhwc_conv_layer_ms': round(1e3 * nhwc, 2),
                                 'error': ''}
                continue
            kwargs = {k: v for k, v in setting.items() if k != 'patch'}
            kwargs.setdefault('config', session_config_for('auto'))
            with mock.patch.object(v1.nn, 'fused_batch_norm', setting.get('patch', v1.nn.fused_batch_norm)):
                img_per_s, _ = train_images_per_second(images, labels, 64, steps, warmup, **kwargs)
            results[name] = {'img_per_s': round(img_per_s, 1), 'error': ''}
        except (tf.errors.OpError, ValueError) as error:
            results[name] = {'img_per_s': 0.0, 'error': str(error).splitlines()[0][:200]}
    return results


def gflop_per_step(images, labels, batch_size, k_steps=1):
    """Profiled per optimizer in a fresh graph, so one run's shapes do not count for the other."""
    total = 0.0
    for name, repeats in (('d_optimizer', k_steps), ('g_optimizer', 1)):
        model, session = new_model()
        data = dataset_lib.GANDataset(images, labels, model.noise_len, batch_size, seed=0)
        feed = model.d_feed(data) if name == 'd_optimizer' else model.g_feed(data)
        metadata = v1.RunMetadata()
        session.run(getattr(model, name), feed, run_metadata=metadata,
                    options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE))
        options = v1.profiler.ProfileOptionBuilder.float_operation()
        options['output'] = 'none'
        profile = v1.profiler.profile(model.graph, run_meta=metadata, cmd='op', options=options)
        total += repeats * profile.total_float_ops / 1e9
        session.close()
    return total


def generate_100_seconds(logdir):
    """Restore the generator from a checkpoint and draw 100 digits."""
    start = time.perf_counter()
    generator = runs.load_generator(logdir)
    generator.sample(np.arange(100) % generator.num_classes, seed=0)
    seconds = time.perf_counter() - start
    generator.close()
    return seconds


def time_to_quality(logdir):
    """Training minutes until the run's quality points first reached accuracy >= 0.99 and FD ratio <= 2."""
    return quality.minutes_to_quality(quality.read_quality_record(logdir))


def train_one_step(logdir):
    """A one-step run of main.py into logdir, its output on stderr (stdout carries only the JSON); the exit code."""
    command = [sys.executable, MAIN_SCRIPT, '--dataset', 'mnist_sample', '--steps', '1', '--logdir', logdir,
               '--eval-every', '0']
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(result.stdout, end='', file=sys.stderr, flush=True)
    return result.returncode


def peak_size(text):
    value = cli.positive_int(text)
    if value > MAX_PEAK_SIZE:
        raise argparse.ArgumentTypeError('must be at most %d (three matrices of its size squared are held in memory), '
                                         'got %d' % (MAX_PEAK_SIZE, value))
    return value


def logdir_problem(logdir):
    """Why generation and time to quality cannot be measured on the run in logdir, or None: said before any
    timing."""
    try:
        if not os.path.isdir(logdir):
            return 'no training run in %s (no such directory): pass a folder main.py trained into' % logdir
        if runs.read_config(logdir) is None:
            return 'no %s in %s, so it is not a training run: pass a folder main.py trained into' % (
                runs.CONFIG_NAME, logdir)
        if checkpoints.latest_checkpoint(logdir) is None:
            return 'no checkpoint in %s: train it first with python main.py --logdir %s' % (logdir, logdir)
        quality.read_quality_record(logdir)
    except runs.RunError as error:
        return str(error)
    except (OSError, ValueError) as error:
        return '%s: %s: repair or remove that line' % (logdir, error)
    return None


def build_parser():
    parser = cli.OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=cli.positive_int, default=60,
                        help='timed training steps at batch 64, a quarter of them at batch 256 (default 60)')
    parser.add_argument('--warmup', type=cli.non_negative_int, default=WARMUP_STEPS,
                        help='untimed training steps before each timing (default %d)' % WARMUP_STEPS)
    parser.add_argument('--logdir', default=None,
                        help='time generation from this run (default: a one-step run in a temporary folder)')
    parser.add_argument('--settings', action='store_true',
                        help='instead, compare training speed under each alternative setting (input pipeline, '
                             'summaries, batch norm, threads, data format)')
    parser.add_argument('--peak-size', type=peak_size, default=2048,
                        help='matrix size of the matmul peak, at most %d (default 2048)' % MAX_PEAK_SIZE)
    parser.add_argument('--precision', choices=cli.PRECISIONS, default='auto',
                        help='arithmetic of the timed training steps, as main.py --precision (default auto)')
    return parser


def main(argv=None):
    args, code = cli.parse_arguments(build_parser(), argv)
    if args is None:
        return code
    problem = logdir_problem(args.logdir) if args.logdir else None
    if problem:
        return cli.fail(PROG, problem)
    try:
        images, labels = dataset_lib.load_dataset('mnist_sample')
    except dataset_lib.DataError as error:
        return cli.fail(PROG, error)
    if args.settings:
        print(json.dumps(compare_settings(images, labels, args.steps, args.warmup), indent=1))
        return 0

    peak = matmul_peak_gflops(args.peak_size)
    config = session_config_for(args.precision)
    img_64, steps_64 = train_images_per_second(images, labels, 64, args.steps, args.warmup, config=config)
    img_256, _ = train_images_per_second(images, labels, 256, max(args.steps // 4, 1), args.warmup, config=config)
    flops = gflop_per_step(images, labels, 64)
    if args.logdir:
        try:
            generation = generate_100_seconds(args.logdir)
        except runs.RunError as error:
            return cli.fail(PROG, error)
    else:
        with tempfile.TemporaryDirectory() as temporary:
            logdir = os.path.join(temporary, 'run')
            if train_one_step(logdir) != 0:
                return cli.fail(PROG, 'the one-step training run that generation is timed on failed', code=1)
            generation = generate_100_seconds(logdir)
    achieved = flops * steps_64
    minutes = time_to_quality(args.logdir) if args.logdir else None
    minutes = None if minutes is None else round(minutes, 2)
    print(json.dumps({
        'train_img_per_s_b64': round(img_64, 1),
        'train_img_per_s_b256': round(img_256, 1),
        'gflop_per_step': round(flops, 3),
        'achieved_gflops': round(achieved, 1),
        'matmul_peak_gflops': round(peak, 1),
        'utilisation': round(achieved / peak, 3),
        'generate_100_s': round(generation, 3),
        'precision': 'bfloat16' if model_lib.wants_bfloat16(args.precision) else 'float32',
        'minutes_to_quality': minutes,
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main())
