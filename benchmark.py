"""How fast training and generation are on this machine: one JSON object on stdout.

    python benchmark.py [--steps 60] [--logdir summary/train]

Training img/s is real images per second through the default model's full training
step (k discriminator steps + one generator step, data pipeline included), after
warm-up. FLOPs per step are counted by tf.compat.v1.profiler from the executed
shapes; the peak is this machine's fp32 matmul speed measured in the same run.
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import numpy as np

import generate  # quiets TensorFlow's start-up messages before importing it
import dataset as dataset_lib
from model import GANModel

tf = generate.tf
v1 = tf.compat.v1


def matmul_peak_gflops(size=2048, repeats=20):
    graph = tf.Graph()
    with graph.as_default():
        a = v1.get_variable('a', [size, size])
        b = v1.get_variable('b', [size, size])
        product = tf.reduce_sum(tf.matmul(a, b))  # a scalar fetch: no copy-out in the timing
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            session.run(product)
            start = time.perf_counter()
            for _ in range(repeats):
                session.run(product)
            seconds = time.perf_counter() - start
    return 2.0 * size ** 3 * repeats / seconds / 1e9


def new_model(**kwargs):
    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(seed=0, **kwargs)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    return model, session


def train_images_per_second(images, labels, batch_size, steps, warmup=10, k_steps=1):
    model, session = new_model()
    data = dataset_lib.GANDataset(images, labels, model.noise_len, batch_size, seed=0)
    model.fit(session, data, epochs=None, k_steps=k_steps, max_steps=warmup)
    start = time.perf_counter()
    model.fit(session, data, epochs=None, k_steps=k_steps, max_steps=warmup + steps)
    seconds = time.perf_counter() - start
    session.close()
    return steps * batch_size * k_steps / seconds, steps / seconds


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
    generator = generate.load_generator(logdir)
    generator.sample(np.arange(100) % generator.num_classes, seed=0)
    seconds = time.perf_counter() - start
    generator.close()
    return seconds


def train_one_step(logdir):
    import main as train_main
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON
        return train_main.main(['--dataset', 'mnist_sample', '--steps', '1', '--logdir', logdir,
                                '--eval-every', '0'])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=60, help='timed training steps per batch size (default 60)')
    parser.add_argument('--logdir', default=None,
                        help='time generation from this run (default: a one-step run in a temporary folder)')
    args = parser.parse_args(argv)
    images, labels = dataset_lib.load_dataset('mnist_sample')

    peak = matmul_peak_gflops()
    img_64, steps_64 = train_images_per_second(images, labels, 64, args.steps)
    img_256, _ = train_images_per_second(images, labels, 256, max(args.steps // 4, 10))
    flops = gflop_per_step(images, labels, 64)
    if args.logdir:
        generation = generate_100_seconds(args.logdir)
    else:
        with tempfile.TemporaryDirectory() as temporary:
            logdir = os.path.join(temporary, 'run')
            if train_one_step(logdir) != 0:
                print('benchmark.py: error: the one-step training run that generation is timed on failed',
                      file=sys.stderr)
                return 1
            generation = generate_100_seconds(logdir)
    achieved = flops * steps_64
    print(json.dumps({
        'train_img_per_s_b64': round(img_64, 1),
        'train_img_per_s_b256': round(img_256, 1),
        'gflop_per_step': round(flops, 3),
        'achieved_gflops': round(achieved, 1),
        'matmul_peak_gflops': round(peak, 1),
        'utilisation': round(achieved / peak, 3),
        'generate_100_s': round(generation, 3),
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main())
