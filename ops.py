"""The few layers the GAN needs, on tf.compat.v1.get_variable + tf.nn.

Every weight is created with get_variable, so sharing a network is plain
`variable_scope(..., reuse=True)`: no Keras layer objects (which bypass variable
scopes and are not available as tf.compat.v1.layers under Keras 3).
"""
import contextlib

import tensorflow as tf

v1 = tf.compat.v1

# DCGAN initialisation: N(0, 0.02) for weights.
WEIGHT_INIT = v1.truncated_normal_initializer(stddev=0.02)


def dense(x, units, name, use_bias=True):
    with v1.variable_scope(name):
        w = v1.get_variable('w', [x.shape[-1], units], initializer=WEIGHT_INIT)
        y = tf.matmul(x, w)
        if use_bias:
            y = y + v1.get_variable('b', [units], initializer=v1.zeros_initializer())
        return y


def conv2d(x, filters, kernel, stride, name, use_bias=True, joined=None, dilation=1):
    """NHWC convolution with 'SAME' padding; `dilation` spaces the kernel's taps that many pixels apart.

    `joined` (B, C) vectors are convolved as if tiled over x and concatenated to its channels (the kernel
    covers both), but cheaply: a tiled vector is the same at every position, so its convolution is the
    vector times the kernel's taps summed over the positions each output sees, found once per step by
    convolving a map of ones. For the discriminator's label maps that is a third of its largest layer.
    `joined` may be a list of such vectors: then one output for each, x's own part convolved once for all.
    """
    several = isinstance(joined, list)
    vectors = joined if several else [joined]
    if vectors[0] is not None and dilation != 1:
        raise ValueError('conv2d joins vectors to an undilated convolution only, not dilation %d' % dilation)
    with v1.variable_scope(name):
        count = 0 if vectors[0] is None else vectors[0].shape[-1]
        w = v1.get_variable('w', [kernel, kernel, x.shape[-1] + count, filters], initializer=WEIGHT_INIT)
        strides = [1, stride, stride, 1]
        if not count:
            outputs = [tf.nn.conv2d(x, w, strides=strides, padding='SAME', dilations=[1, dilation, dilation, 1])]
        else:
            # Split, not sliced: the gradient of a split is a concatenation, cheaper than a slice's scatter.
            w_x, w_joined = tf.split(w, [x.shape[-1], count], axis=2)
            y = tf.nn.conv2d(x, w_x, strides=strides, padding='SAME')
            taps = tf.reshape(w_joined, [kernel, kernel, 1, count * filters])
            ones = tf.ones([1, x.shape[1], x.shape[2], 1])
            summed = tf.nn.conv2d(ones, taps, strides=strides, padding='SAME')       # (1, H', W', C * F)
            summed = tf.reshape(summed, [y.shape[1] * y.shape[2], count, filters])
            summed = tf.reshape(tf.transpose(summed, [1, 0, 2]), [count, -1])       # (C, H' * W' * F)
            outputs = [y + tf.reshape(tf.matmul(v, summed), tf.shape(y)) for v in vectors]
        if use_bias:
            b = v1.get_variable('b', [filters], initializer=v1.zeros_initializer())
            outputs = [tf.nn.bias_add(y, b) for y in outputs]
        return outputs if several else outputs[0]


def conv2d_transpose(x, filters, kernel, stride, name, use_bias=True):
    """Transposed convolution that multiplies height and width by `stride`."""
    with v1.variable_scope(name):
        _, height, width, channels = x.shape
        w = v1.get_variable('w', [kernel, kernel, filters, channels], initializer=WEIGHT_INIT)
        out_shape = tf.stack([tf.shape(x)[0], height * stride, width * stride, filters])
        y = tf.nn.conv2d_transpose(x, w, out_shape, strides=[1, stride, stride, 1], padding='SAME')
        y.set_shape([None, height * stride, width * stride, filters])
        if use_bias:
            y = tf.nn.bias_add(y, v1.get_variable('b', [filters], initializer=v1.zeros_initializer()))
        return y


def batch_norm(x, training, name, momentum=0.9, epsilon=1e-5):
    """Batch norm over all axes but the last, for 2-D or NHWC 4-D inputs.

    `training` is a boolean tensor: True normalises with the batch statistics and
    (through the ops put in UPDATE_OPS) moves the moving averages towards them;
    False normalises with the moving averages, so one image comes out the same
    whatever else is in its batch.
    """
    with v1.variable_scope(name):
        channels = x.shape[-1]
        gamma = v1.get_variable('gamma', [channels], initializer=v1.ones_initializer())
        beta = v1.get_variable('beta', [channels], initializer=v1.zeros_initializer())
        moving_mean = v1.get_variable('moving_mean', [channels], trainable=False,
                                      initializer=v1.zeros_initializer())
        moving_var = v1.get_variable('moving_variance', [channels], trainable=False,
                                     initializer=v1.ones_initializer())
        # The fused kernel wants NHWC; a dense layer's output is viewed as 1x1 maps.
        x4 = x if x.shape.ndims == 4 else tf.reshape(x, [-1, 1, 1, channels])

        def with_batch_stats():
            return v1.nn.fused_batch_norm(x4, gamma, beta, epsilon=epsilon, is_training=True)

        def with_moving_stats():
            y, _, _ = v1.nn.fused_batch_norm(x4, gamma, beta, mean=moving_mean, variance=moving_var,
                                             epsilon=epsilon, is_training=False)
            return y, tf.identity(moving_mean), tf.identity(moving_var)

        y, mean, var = tf.cond(training, with_batch_stats, with_moving_stats)
        if moving_mean.op.name.endswith(RECOMPUTED_SUFFIX):
            # Statistics kept for averaged weights (recomputed_copies): recompute_statistics sets them to the
            # batch's own.
            v1.add_to_collection(RECOMPUTE_OPS, v1.assign(moving_mean, mean))
            v1.add_to_collection(RECOMPUTE_OPS, v1.assign(moving_var, var))
        # At inference mean == moving_mean, so these updates are no-ops there.
        decay = 1.0 - momentum
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS,
                             v1.assign_sub(moving_mean, (moving_mean - mean) * decay))
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS,
                             v1.assign_sub(moving_var, (moving_var - var) * decay))
        y = tf.reshape(y, tf.shape(x)) if x.shape.ndims != 4 else y
        y.set_shape(x.shape)
        return y


@contextlib.contextmanager
def no_new_update_ops():
    """Batch-norm layers built inside add no moving-average updates: for extra passes through a network
    (e.g. sampling) that must not move its statistics a second time in one training step."""
    updates = v1.get_collection_ref(v1.GraphKeys.UPDATE_OPS)
    kept = len(updates)
    try:
        yield
    finally:
        del updates[kept:]


# --- an averaged copy of a network's weights -------------------------------------------------------------

AVERAGE_SUFFIX = '_average'


def averaged_copies(variables):
    """{variable: its average}: a non-trainable copy of each, named <name>_average beside it and starting at its
    initial value, for a network drawn from the moving average of its weights (`update_averages`)."""
    # Built from the variable's own initial value tensor: one initialising run computes it once for both.
    return {variable: v1.Variable(variable.initial_value, trainable=False,
                                  name=variable.op.name + AVERAGE_SUFFIX) for variable in variables}


def update_averages(averages, decay, step):
    """One op moving each average by (1 - d) toward its variable, d = min(decay, (1 + step) / (10 + step)): a
    short horizon while the weights are young, as tf.train.ExponentialMovingAverage's num_updates gives."""
    step = tf.cast(step, tf.float32)
    rate = 1.0 - tf.minimum(decay, (1.0 + step) / (10.0 + step))
    return tf.group(*[average.assign_add(rate * (variable - average)) for variable, average in averages.items()],
                    name='update_averages')


RECOMPUTED_SUFFIX = '_recomputed'
# Statistics recomputed from the weights whenever they are needed, so never saved in a checkpoint, and the ops
# that set them to the statistics of the batch they are run on.
RECOMPUTED = 'recomputed_statistics'
RECOMPUTE_OPS = 'recompute_statistics'


def recomputed_copies(statistics):
    """{moving statistic: a copy}, named <name>_recomputed: batch-norm statistics for a network drawn from averaged
    weights, which the trained weights' moving statistics do not fit. Kept out of checkpoints (`saved_variables`):
    `recompute_statistics` sets them from the weights."""
    collections = [v1.GraphKeys.GLOBAL_VARIABLES, RECOMPUTED]
    return {statistic: v1.Variable(statistic.initial_value, trainable=False, collections=collections,
                                   name=statistic.op.name + RECOMPUTED_SUFFIX) for statistic in statistics}


def recompute_statistics():
    """One op setting every copy made by recomputed_copies to the statistics of the batch it is run on, in training
    mode, through the network that reads them: run once on a large fixed batch, every image drawn after is
    normalised alike, and still does not depend on the rest of its own batch."""
    return tf.group(*v1.get_collection(RECOMPUTE_OPS), name='recompute_statistics')


def saved_variables():
    """The graph's variables a checkpoint holds: all but the statistics recomputed from the weights."""
    recomputed = set(v1.get_collection(RECOMPUTED))
    return [v for v in v1.global_variables() if v not in recomputed]


def reading(averages):
    """A custom getter for variable_scope: a network built under it reads the averages in place of the weights."""
    by_name = {variable.op.name: average for variable, average in averages.items()}

    def read_average(getter, *args, **kwargs):   # variable_scope passes the next getter as `getter`
        variable = getter(*args, **kwargs)
        return by_name.get(variable.op.name, variable)
    return read_average


# --- spectral normalisation (Miyato et al. 2018) ----------------------------------------------------------

SINGULAR_VECTOR_SUFFIX = '_singular_vector'


def spectral_normalisation():
    """A custom getter for variable_scope: every weight matrix or kernel read under it is divided by its largest
    singular value, estimated by one step of power iteration from a vector kept beside it (<name>_singular_vector).
    The estimate's update joins UPDATE_OPS, so that each step of the network's own optimizer moves it once.
    A network built several times under one getter (the discriminator's three pairs) reads one estimate."""
    normalised = {}

    def read_normalised(getter, *args, **kwargs):
        weight = getter(*args, **kwargs)
        if weight.shape.ndims < 2 or not kwargs.get('trainable', True):
            return weight                      # biases and statistics are read as they are
        if weight.op.name not in normalised:
            normalised[weight.op.name] = _divided_by_spectral_norm(weight)
        return normalised[weight.op.name]
    return read_normalised


def _divided_by_spectral_norm(weight):
    matrix = tf.reshape(weight, (-1, weight.shape[-1]))              # (inputs, outputs), a kernel's taps as inputs
    with v1.init_scope():                                              # created once, outside any reuse or loop
        vector = v1.Variable(tf.math.l2_normalize(v1.random_normal((int(matrix.shape[1]), 1))), trainable=False,
                             name=weight.op.name + SINGULAR_VECTOR_SUFFIX)
    # Named beside the weight (a getter runs outside the network's name scope), so that the update goes with
    # the network's own optimizer step (model.build_train_ops picks its UPDATE_OPS by name).
    with tf.name_scope(weight.op.name + '_spectral_norm/'):
        left = tf.math.l2_normalize(tf.matmul(matrix, vector))
        right = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(matrix, left, transpose_a=True)))
        sigma = tf.squeeze(tf.matmul(tf.stop_gradient(left), tf.matmul(matrix, right), transpose_a=True))
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, vector.assign(right))
        return weight / sigma


def random_translation(images, max_shift, fill=-1.0):
    """Each (B, H, W, C) image moved by its own random whole-pixel shift of up to max_shift in each
    direction, the uncovered border filled with `fill` (the background); gradients flow back to the pixels."""
    _, height, width, _ = images.shape
    count = tf.shape(images)[0]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]],
                     constant_values=fill)
    offsets = v1.random_uniform(tf.stack([count, 2]), 0, 2 * max_shift + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(height)[None]
    cols = offsets[:, 1:] + tf.range(width)[None]
    return tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)


def random_cutout(images, size, fill=-1.0):
    """Each image with one size x size square, centred at a random pixel, set to `fill`."""
    _, height, width, _ = images.shape
    count = tf.shape(images)[0]
    centres = v1.random_uniform(tf.stack([count, 2]), 0, 1) * tf.constant([height, width], tf.float32)
    rows = tf.abs(tf.range(height, dtype=tf.float32)[None] + 0.5 - centres[:, :1]) <= size / 2   # (B, H)
    cols = tf.abs(tf.range(width, dtype=tf.float32)[None] + 0.5 - centres[:, 1:]) <= size / 2    # (B, W)
    mask = tf.cast(rows[:, :, None] & cols[:, None, :], images.dtype)[..., None]
    return images * (1.0 - mask) + fill * mask


AUGMENTATIONS = {'translation': lambda images: random_translation(images, 2),
                 'cutout': lambda images: random_cutout(images, 7)}


def diff_augment(images, policy):
    """Differentiable augmentation (Zhao et al. 2020): the policy's transforms, e.g. 'translation,cutout',
    applied to every image the discriminator sees, real and generated alike; '' leaves them as they are."""
    for name in filter(None, policy.split(',')):
        images = AUGMENTATIONS[name](images)
    return images


def lrelu(x, alpha=0.2):
    return tf.nn.leaky_relu(x, alpha)


# Samples in a row of a grid: ten, as there are digits.
GRID_COLUMNS = 10


def image_grid(images, columns):
    """(rows * columns, H, W, C) images -> one (1, rows * H, columns * W, C) picture, row by row."""
    _, height, width, channels = images.shape
    rows = tf.shape(images)[0] // columns
    grid = tf.reshape(images[:rows * columns], tf.stack([rows, columns, height, width, channels]))
    grid = tf.transpose(grid, [0, 2, 1, 3, 4])
    return tf.reshape(grid, tf.stack([1, rows * height, columns * width, channels]))
