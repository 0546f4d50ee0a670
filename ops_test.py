"""The layers: what each computes, checked against plain TensorFlow."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import ops

v1 = tf.compat.v1
HERE = os.path.dirname(os.path.abspath(__file__))


def test_conv2d_with_joined_vectors_equals_the_convolution_of_the_tiled_concatenation():
    """Vectors tiled over a feature map and concatenated to it, then convolved: the same numbers (and the
    same kernel variable) as the cheap form, which convolves the tiled part once for a map of ones."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 14, 14, 5)).astype(np.float32)
    vectors = rng.normal(size=(3, 4)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        joined = ops.conv2d(tf.constant(x), 6, 4, 2, 'conv', joined=tf.constant(vectors))
        with v1.variable_scope('', reuse=True):
            tiled = tf.tile(tf.constant(vectors)[:, None, None, :], [1, 14, 14, 1])
            plain = ops.conv2d(tf.concat([tf.constant(x), tiled], axis=3), 6, 4, 2, 'conv')
        (kernel,) = [v for v in v1.global_variables() if v.op.name == 'conv/w']
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            session.run(v1.assign(kernel, rng.normal(size=(4, 4, 9, 6)).astype(np.float32)))
            cheap, reference = session.run([joined, plain])
            gradients = session.run([v1.gradients(tf.reduce_sum(t * t), [kernel])[0] for t in (joined, plain)])
    assert cheap.shape == reference.shape == (3, 7, 7, 6)
    np.testing.assert_allclose(cheap, reference, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-3, atol=1e-3)


def test_conv2d_with_a_list_of_joined_vectors_gives_one_output_per_vector_from_one_convolution_of_x():
    """The same feature maps joined with several sets of vectors: each output is that set's convolution alone,
    and x is convolved once for all of them (the kernel is one variable)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 14, 14, 5)).astype(np.float32)
    first, second = (rng.normal(size=(3, 4)).astype(np.float32) for _ in range(2))
    graph = tf.Graph()
    with graph.as_default():
        both = ops.conv2d(tf.constant(x), 6, 4, 2, 'conv', joined=[tf.constant(first), tf.constant(second)])
        with v1.variable_scope('', reuse=True):
            alone = [ops.conv2d(tf.constant(x), 6, 4, 2, 'conv', joined=tf.constant(v)) for v in (first, second)]
        convolutions_of_x = [op for op in graph.get_operations() if op.type == 'Conv2D'
                             and op.inputs[0].shape.as_list() == [3, 14, 14, 5]]
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            computed, reference = session.run([both, alone])
    assert len(graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)) == 2   # one kernel and one bias
    assert len(convolutions_of_x) == 1 + 2   # the list's one, and one for each call alone
    assert len(computed) == 2
    for got, expected in zip(computed, reference):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(computed[0], computed[1])


def test_a_dilated_conv2d_spreads_its_taps_and_keeps_the_size():
    """Dilation 2: a 3x3 kernel's taps 2 pixels apart, so each output sees 5x5 input pixels."""
    x = np.zeros((1, 9, 9, 1), np.float32)
    x[0, 4, 4, 0] = 1.0   # one lit pixel: the output shows where the taps reach
    graph = tf.Graph()
    with graph.as_default():
        y = ops.conv2d(tf.constant(x), 1, 3, 1, 'conv', use_bias=False, dilation=2)
        (kernel,) = v1.global_variables()
        with v1.Session(graph=graph) as session:
            session.run(v1.assign(kernel, np.ones((3, 3, 1, 1), np.float32)))
            out = session.run(y)[0, ..., 0]
    assert out.shape == (9, 9)
    assert sorted(zip(*np.nonzero(out))) == [(r, c) for r in (2, 4, 6) for c in (2, 4, 6)]
    with graph.as_default(), pytest.raises(ValueError, match='dilation'):
        ops.conv2d(tf.constant(x), 1, 3, 1, 'other', joined=tf.ones((1, 2)), dilation=2)


# A dilated convolution's filter gradient has only oneDNN's kernel on the CPU, and TensorFlow turns oneDNN
# on by itself only where the processor has neural-network instructions (AVX-512 VNNI or BF16, AMX).
LEARN_ONE_DILATED_STEP = """
import numpy as np
import cli
tf = cli.import_tensorflow_quietly()
import ops
with tf.Graph().as_default():
    y = ops.conv2d(tf.constant(np.ones((2, 8, 8, 3), np.float32)), 4, 3, 1, 'conv', dilation=2)
    step = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(y * y))
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        session.run(step)
print('learned')
"""


def test_a_dilated_conv2d_learns_on_every_processor_under_the_commands_tensorflow():
    env = {name: value for name, value in os.environ.items() if name != 'TF_ENABLE_ONEDNN_OPTS'}
    done = subprocess.run([sys.executable, '-c', LEARN_ONE_DILATED_STEP], env=env, cwd=HERE,
                          capture_output=True, text=True)
    assert done.returncode == 0, [line for line in done.stderr.splitlines() if 'Error' in line]
    assert done.stdout.split() == ['learned']


def test_no_new_update_ops_keeps_batch_norm_statistics_moving_once():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.ones((2, 3))
        ops.batch_norm(x, tf.constant(True), 'bn')
        before = len(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
        with ops.no_new_update_ops(), v1.variable_scope('', reuse=True):
            ops.batch_norm(x, tf.constant(True), 'bn')
        assert before == 2 and len(v1.get_collection(v1.GraphKeys.UPDATE_OPS)) == before


def singular_values_3_2_1():
    rng = np.random.default_rng(0)
    left, _ = np.linalg.qr(rng.normal(size=(5, 3)))
    right, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return ((left * [3.0, 2.0, 1.0]) @ right.T).astype(np.float32)


def test_spectral_normalisation_divides_a_weight_by_its_largest_singular_value():
    """Each update is one step of power iteration; after a few, the weight a layer reads has a largest singular
    value of 1 and keeps the shape of its spectrum: 3, 2, 1 become 1, 2/3, 1/3."""
    with tf.Graph().as_default():
        with v1.variable_scope('d', custom_getter=ops.spectral_normalisation()):
            read = v1.get_variable('w', initializer=singular_values_3_2_1())
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            first = np.linalg.svd(session.run(read), compute_uv=False)
            for _ in range(30):
                session.run(updates)
            np.testing.assert_allclose(np.linalg.svd(session.run(read), compute_uv=False), [1, 2 / 3, 1 / 3],
                                       rtol=1e-3)
    assert first[0] >= 1 - 1e-5, 'one step from a random vector underestimates the norm: the weight reads larger'


def test_a_shared_network_reads_one_normalised_weight_and_updates_it_once_a_step():
    """The three pairs the discriminator judges read the same normalised weights: one estimate, one update."""
    with tf.Graph().as_default():
        normalised = ops.spectral_normalisation()
        x = tf.ones((2, 4))
        for reuse in (False, True, True):
            with v1.variable_scope('d', reuse=reuse, custom_getter=normalised):
                ops.dense(x, 3, 'layer')
        assert sorted(v.op.name for v in v1.global_variables()) == ['d/layer/b', 'd/layer/w',
                                                                    'd/layer/w' + ops.SINGULAR_VECTOR_SUFFIX]
        assert len(v1.get_collection(v1.GraphKeys.UPDATE_OPS)) == 1
        assert not v1.trainable_variables('d/layer/w' + ops.SINGULAR_VECTOR_SUFFIX)


def run(fetch):
    with v1.Session() as session:
        return session.run(fetch)


def test_translation_shifts_each_image_whole_and_fills_with_background():
    graph = tf.Graph()
    with graph.as_default():
        images = np.full((64, 28, 28, 1), -1.0, np.float32)
        images[:, 10:18, 10:18] = 1.0          # a bright square in the middle of every image
        shifted = run(ops.random_translation(tf.constant(images), 3))
    for image in shifted[..., 0]:
        rows, cols = np.nonzero(image > 0)
        assert len(rows) == 64                 # the square is moved, never cut
        assert 7 <= rows.min() <= 13 and 7 <= cols.min() <= 13
        assert set(np.unique(image)) <= {-1.0, 1.0}
    offsets = {(np.nonzero(i[..., 0] > 0)[0].min(), np.nonzero(i[..., 0] > 0)[1].min()) for i in shifted}
    assert len(offsets) > 10                   # each image its own shift


def test_translation_passes_gradients_back_to_the_image():
    graph = tf.Graph()
    with graph.as_default():
        images = tf.constant(np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype(np.float32))
        (gradient,) = tf.gradients(tf.reduce_sum(ops.random_translation(images, 2)), [images])
        values = run(gradient)
    assert values.shape == (4, 28, 28, 1) and values.max() == 1.0 and values.min() == 0.0


def test_cutout_blanks_one_square_per_image():
    graph = tf.Graph()
    with graph.as_default():
        cut = run(ops.random_cutout(tf.ones((16, 28, 28, 1)), 7))
    for image in cut[..., 0]:
        assert (image == -1.0).sum() <= 49 and (image == -1.0).sum() >= 7   # a 7x7 square, maybe at the edge
