"""LapGANModel: a Laplacian pyramid of conditional GANs (LAPGAN), with the surface of GANModel that the tools use.

A base GAN draws the 7x7 low-pass image. At 14x14 and 28x28 a generator draws the residual (the band-pass
image) between the real image and its upsampled coarser version, given that upsampled image; each level's
discriminator judges (residual, upsampled low-pass) pairs. The pyramid uses 2x2 averaging down and
nearest-neighbour upsampling, so a real image is exactly its upsampled low-pass plus its residual.

During training every level sees real low-pass images, so the levels learn independently of each other (as
in the paper); one Adam step over the sum of the level losses is the same as a step per level, since no
variable is shared between levels. Sampling goes coarse to fine through the generators' own outputs.

As in the paper, every level draws from its own noise: the first third of the noise vector feeds the
7x7 level, the second the 14x14 level, the last the 28x28 level. generate.py's (N, noise_len) noise then
still fixes a whole image.
"""
import numpy as np
import tensorflow as tf

import ops
from model import GANModel, _cross_entropy, _tile, build_inputs, discriminator_logit, mode_seeking_loss

v1 = tf.compat.v1

LEVEL_SIZES = (7, 14, 28)


def downsample(images):
    return tf.nn.avg_pool2d(images, 2, 2, 'VALID')


def upsample(images):
    return tf.repeat(tf.repeat(images, 2, axis=1), 2, axis=2)


class Level(object):
    """One pyramid level's tensors: `size`, its `noise`, the discriminator's real and fake inputs, the
    generated residual (for real low-pass input), the sampled residual (for the coarser level's sample),
    logits and losses."""

    def __init__(self, size):
        self.size = size


class LapGANModel(object):

    def __init__(self, noise_len=100, num_classes=10, conditioning='matching', arch='dcgan', loss='gan',
                 g_dim=64, d_dim=64, condition_units=32, d_condition_maps=32, learning_rate=2e-4, d_learning_rate=None,
                 beta1=0.5, clip=0.01, condition_vectors=None, interpolate_conditions=False,
                 minibatch_stddev=True, projection=True, diversity_weight=0.3, seed=None):
        if arch != 'dcgan' or loss != 'gan' or interpolate_conditions:
            raise ValueError('--model lapgan has its own convolutional levels and the GAN loss: it takes no --arch '
                             'mlp, --loss wgan or --interpolate-conditions')
        if conditioning not in ('matching', 'concat', 'none'):
            raise ValueError('conditioning must be matching, concat or none, not %r' % conditioning)
        self.noise_len, self.num_classes, self.conditioning = noise_len, num_classes, conditioning
        self.arch, self.loss = arch, loss
        self.g_dim, self.d_dim = g_dim, d_dim
        self.condition_units, self.d_condition_maps = condition_units, d_condition_maps
        self.minibatch_stddev, self.projection = minibatch_stddev, projection
        self.diversity_weight = diversity_weight
        self.graph = v1.get_default_graph()
        if seed is not None:
            v1.set_random_seed(seed)
        if noise_len < len(LEVEL_SIZES):
            raise ValueError('--model lapgan splits the noise between its %d levels: --noise-len must be at least %d'
                             % (len(LEVEL_SIZES), len(LEVEL_SIZES)))
        bounds = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(noise_len), len(LEVEL_SIZES))])
        self.level_noise_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

        right, wrong = build_inputs(self, noise_len, num_classes, conditioning, condition_vectors)
        self.second_condition_input = None
        self.right_condition_vectors = right
        self.global_step = v1.train.get_or_create_global_step()

        # The real pyramid: low-pass images at 28, 14 and 7.
        real = {28: self.discriminator_input}
        real[14] = downsample(real[28])
        real[7] = downsample(real[14])
        self.levels = [Level(size) for size in LEVEL_SIZES]
        for level, part in zip(self.levels, self.level_noise_slices):
            level.noise = self.noise_input[:, part]
        for level in self.levels:
            self._build_level(level, real, right, wrong)

        # Sampling, coarse to fine; these generator passes must not move the batch-norm statistics again.
        updates = v1.get_collection_ref(v1.GraphKeys.UPDATE_OPS)
        kept = len(updates)
        sample = tf.tanh(self._generator(self.levels[0], self.levels[0].noise, right, None, reuse=True))
        pyramid = [sample]
        for level in self.levels[1:]:
            coarse = upsample(sample)
            level.sampled_residual = self._generator(level, level.noise, right, coarse, reuse=True)
            sample = tf.clip_by_value(coarse + level.sampled_residual, -1.0, 1.0)
            pyramid.append(sample)
        del updates[kept:]
        self.sampled_pyramid = pyramid
        self.generated_image = sample

        self._finish_graph(learning_rate, d_learning_rate, beta1)

    # --- one level: its generator and discriminator on real low-pass input --------------------------

    def _build_level(self, level, real, right, wrong):
        size = level.size
        if size == LEVEL_SIZES[0]:
            coarse = None
            level.real_target = real[size]
            level.generated_residual = tf.tanh(self._generator(level, level.noise, right, None))
            level.discriminator_real_input = real[size]
            level.discriminator_fake_input = level.generated_residual
        else:
            coarse = upsample(real[size // 2])
            level.generated_residual = self._generator(level, level.noise, right, coarse)
            level.discriminator_real_input = tf.concat([real[size] - coarse, coarse], axis=3)
            level.discriminator_fake_input = tf.concat([level.generated_residual, coarse], axis=3)
        level.real_logits = self._discriminator(level, level.discriminator_real_input, right)
        level.fake_logits = self._discriminator(level, level.discriminator_fake_input, right, reuse=True)
        level.wrong_logits = (self._discriminator(level, level.discriminator_real_input, wrong, reuse=True)
                              if self.conditioning == 'matching' else None)

    def _condition_code(self, condition, units):
        if self.conditioning == 'matching':
            return tf.nn.relu(ops.dense(condition, units, 'condition'))
        return condition

    def _generator(self, level, noise, condition, coarse, reuse=False):
        """The base level returns pre-tanh 7x7 images; finer levels return residuals (linear output)."""
        size, g = level.size, self.g_dim
        with v1.variable_scope('generator/level%d' % size, reuse=reuse):
            code = noise if condition is None else tf.concat(
                [noise, self._condition_code(condition, self.condition_units)], axis=1)
            training = self.is_training
            if coarse is None:
                net = ops.dense(code, size * size * 2 * g, 'dense', use_bias=False)
                net = tf.nn.relu(ops.batch_norm(net, training, 'bn0'))
                net = tf.reshape(net, (-1, size, size, 2 * g))
            else:
                # The noise and label enter as one extra plane beside the upsampled coarse image.
                plane = tf.reshape(ops.dense(code, size * size, 'code'), (-1, size, size, 1))
                net = tf.concat([coarse, plane], axis=3)
            net = tf.nn.relu(ops.batch_norm(ops.conv2d(net, g, 3, 1, 'conv1', use_bias=False), training, 'bn1'))
            return ops.conv2d(net, 1, 3, 1, 'conv2')

    def _discriminator(self, level, inputs, condition, reuse=False):
        size, d = level.size, self.d_dim
        with v1.variable_scope('discriminator/level%d' % size, reuse=reuse):
            if condition is not None and self.conditioning == 'concat':
                inputs = tf.concat([inputs, _tile(condition, size, size)], axis=3)
            net = ops.lrelu(ops.conv2d(inputs, d, 4, 2 if size > 7 else 1, 'conv1'))
            if condition is not None and self.conditioning == 'matching':
                # The label meets the image features before a convolution and a nonlinearity.
                embedded = ops.lrelu(ops.dense(condition, self.d_condition_maps, 'condition'))
                height, width = net.shape[1], net.shape[2]
                net = tf.concat([net, _tile(embedded, height, width)], axis=3)
            net = ops.lrelu(ops.conv2d(net, 2 * d, 4, 2, 'conv2'))
            return discriminator_logit(net, condition, self.minibatch_stddev, self.projection)

    # --- losses, optimizers, summaries -------------------------------------------------------------

    def _build_losses(self):
        for level in self.levels:
            level.discriminator_loss = _cross_entropy(level.real_logits, 1.0)
            fake = _cross_entropy(level.fake_logits, 0.0)
            if level.wrong_logits is not None:
                level.discriminator_loss += (_cross_entropy(level.wrong_logits, 0.0) + fake) / 2
            else:
                level.discriminator_loss += fake
            level.generator_fake_loss = _cross_entropy(level.fake_logits, 1.0)   # non-saturating
            level.generator_loss = level.generator_fake_loss
            level.mode_seeking_loss = None
            if self.diversity_weight:
                labels = self.right_condition_input if self.conditioning != 'none' else None
                level.mode_seeking_loss = mode_seeking_loss(level.generated_residual, level.noise, labels)
                level.generator_loss += self.diversity_weight * level.mode_seeking_loss
            level.p_real = tf.reduce_mean(tf.sigmoid(level.real_logits))
            level.p_fake = tf.reduce_mean(tf.sigmoid(level.fake_logits))
            level.p_wrong = (tf.reduce_mean(tf.sigmoid(level.wrong_logits)) if level.wrong_logits is not None
                             else None)
        self.discriminator_loss = tf.add_n([level.discriminator_loss for level in self.levels])
        self.generator_loss = tf.add_n([level.generator_loss for level in self.levels])
        self.discriminated_real_right_logits = self.levels[-1].real_logits
        self.discriminated_fake_logits = self.levels[-1].fake_logits
        self.discriminated_real_wrong_logits = self.levels[-1].wrong_logits
        self.wasserstein_estimate = None

    def _build_optimizers(self, g_learning_rate, d_learning_rate, beta1):
        update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        with v1.variable_scope('train'):
            self.d_optimizer = v1.train.AdamOptimizer(d_learning_rate, beta1=beta1).minimize(
                self.discriminator_loss, var_list=self.discriminator_variables, name='d_optimizer')
            with tf.control_dependencies([op for op in update_ops if op.name.startswith('generator/')]):
                self.g_optimizer = v1.train.AdamOptimizer(g_learning_rate, beta1=beta1).minimize(
                    self.generator_loss, var_list=self.generator_variables, global_step=self.global_step,
                    name='g_optimizer')

    def _build_summaries(self):
        scalars = {'loss/generator_loss': self.generator_loss, 'loss/discriminator_loss': self.discriminator_loss}
        for level in self.levels:
            scalars['level%d/generator_loss' % level.size] = level.generator_loss
            scalars['level%d/discriminator_loss' % level.size] = level.discriminator_loss
            scalars['level%d/p_real' % level.size] = level.p_real
            scalars['level%d/p_fake' % level.size] = level.p_fake
            if level.p_wrong is not None:
                scalars['level%d/p_wrong' % level.size] = level.p_wrong
            if level.mode_seeking_loss is not None:
                scalars['level%d/mode_seeking_loss' % level.size] = level.mode_seeking_loss
        # The log line shows the means over the levels.
        self.metric_tensors = {'generator_loss': self.generator_loss, 'discriminator_loss': self.discriminator_loss}
        for name in ('p_real', 'p_fake', 'p_wrong'):
            values = [getattr(level, name) for level in self.levels if getattr(level, name) is not None]
            if values:
                self.metric_tensors[name] = scalars['probabilities/%s' % name] = tf.add_n(values) / len(values)
        self.summaries = v1.summary.merge([v1.summary.scalar(n, t) for n, t in sorted(scalars.items())])
        self.grid_columns = v1.placeholder_with_default(tf.constant(10), (), name='grid_columns')
        grid = ops.image_grid(self.generated_image, self.grid_columns)
        self.image_summary = v1.summary.image('generated_digits', (grid + 1.0) / 2.0)

    # --- training: GANModel's loop; the generator step also needs the real low-pass images -----------

    _finish_graph = GANModel._finish_graph
    d_feed = GANModel.d_feed
    fit = GANModel.fit

    def g_feed(self, dataset):
        """Fresh noise, with the last real batch and its labels: finer levels draw residuals for its low-pass."""
        images = dataset.last_image_batch
        return {self.noise_input: dataset.next_noise()[:len(images)], self.discriminator_input: images,
                self.right_condition_input: dataset.last_right_labels, self.is_training: True}
