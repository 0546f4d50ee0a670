"""LapGANModel: a Laplacian pyramid of conditional GANs (LAPGAN), built on the family's shared base.

A base GAN draws the 7x7 low-pass image. At 14x14 and 28x28 a generator draws the residual (the band-pass
image) between the real image and its upsampled coarser version, given that upsampled image; each level's
discriminator judges (image, upsampled low-pass) pairs. The pyramid uses 2x2 averaging down; a real image is
exactly its upsampled low-pass plus its residual, whichever the upsampling (settings.LevelDesign says
which, and how else the finer levels are built).

During training every level sees real low-pass images, so the levels learn independently of each other (as
in the paper); one optimizer step over the sum of the level losses is the same as a step per level, since
no variable is shared between levels. Sampling goes coarse to fine through the generators' own outputs.

As in the paper, every level draws from its own noise: the first third of the noise vector feeds the
7x7 level, the second the 14x14 level, the last the 28x28 level. generate.py's (N, noise_len) noise then
still fixes a whole image.
"""
import numpy as np
import tensorflow as tf

import losses as losses_lib
import model
import networks
import ops

v1 = tf.compat.v1

LEVEL_SIZES = (7, 14, 28)


def downsample(images):
    return tf.nn.avg_pool2d(images, 2, 2, 'VALID')


def upsample(images, method):
    """Twice the height and width: 'nearest' repeats each pixel, 'bilinear' blends neighbours (3/4, 1/4)."""
    if method == 'bilinear':
        size = images.shape[1] * 2
        return tf.image.resize(images, (size, size), method='bilinear')
    return tf.repeat(tf.repeat(images, 2, axis=1), 2, axis=2)


class Level(object):
    """One pyramid level's tensors: `size`, its `noise`, the discriminator's real and fake inputs, the
    generated residual (for real low-pass input), the sampled residual (for the coarser level's sample)
    and the logits."""

    def __init__(self, size, noise):
        self.size, self.noise = size, noise


class LapGANModel(model.GANBase):
    """GANBase with a pyramid of level GANs in place of one generator and one discriminator."""

    model_type = 'lapgan'

    def build_networks(self, conditions):
        settings = self.settings
        self.conditioner = networks.CONDITIONINGS[settings.conditioning](settings)
        # As in the paper, every level draws from its own part of the noise.
        bounds = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(settings.noise_len),
                                                                        len(LEVEL_SIZES))])
        self.level_noise_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        # The real pyramid: low-pass images at 28, 14 and 7.
        real = {28: self.discriminator_input}
        real[14] = downsample(real[28])
        real[7] = downsample(real[14])
        right, wrong = conditions.right, conditions.wrong
        self.levels = [Level(size, self.noise_input[:, part])
                       for size, part in zip(LEVEL_SIZES, self.level_noise_slices)]
        judged = {'level%d' % level.size: self._build_level(level, real, right, wrong) for level in self.levels}

        # Sampling, coarse to fine; these generator passes must not move the batch-norm statistics again.
        with ops.no_new_update_ops():
            sample = tf.tanh(self._generator(self.levels[0], right, None, reuse=True))
            pyramid = [sample]
            for level in self.levels[1:]:
                coarse = upsample(sample, self.settings.level_design.upsampling)
                level.sampled_residual = self._generator(level, right, coarse, reuse=True)
                sample = tf.clip_by_value(coarse + level.sampled_residual, -1.0, 1.0)
                pyramid.append(sample)
        return model.Networks(sample, pyramid, judged, judged['level%d' % LEVEL_SIZES[-1]])

    def _build_level(self, level, real, right, wrong):
        """One level's generator and discriminator on real low-pass input; returns what its discriminator judged."""
        if level.size == LEVEL_SIZES[0]:
            level.generated_residual = tf.tanh(self._generator(level, right, None))
            level.discriminator_real_input = real[level.size]
            level.discriminator_fake_input = level.generated_residual
        else:
            coarse = upsample(real[level.size // 2], self.settings.level_design.upsampling)
            level.generated_residual = self._generator(level, right, coarse)
            if self.settings.level_design.judge == 'image':
                level.discriminator_real_input = tf.concat([real[level.size], coarse], axis=3)
                level.discriminator_fake_input = tf.concat([coarse + level.generated_residual, coarse], axis=3)
            else:
                level.discriminator_real_input = tf.concat([real[level.size] - coarse, coarse], axis=3)
                level.discriminator_fake_input = tf.concat([level.generated_residual, coarse], axis=3)

        def discriminate(inputs, condition, reuse=True):
            return self._discriminator(level, inputs, condition, reuse=reuse)

        level.real_logits = discriminate(level.discriminator_real_input, right, reuse=False)
        level.fake_logits = discriminate(level.discriminator_fake_input, right)
        level.wrong_logits = (discriminate(level.discriminator_real_input, wrong)
                              if self.judges_wrong_pairs else None)
        return losses_lib.Judged(level.real_logits, level.fake_logits, level.wrong_logits,
                                 real_inputs=level.discriminator_real_input,
                                 fake_inputs=level.discriminator_fake_input, right=right,
                                 critic=discriminate,
                                 # Diversity comes from the coarsest level: a finer level paid for varied
                                 # residuals draws varied noise over the strokes of its coarse image.
                                 generated=level.generated_residual if level.size == LEVEL_SIZES[0] else None,
                                 noise=level.noise)

    def _generator(self, level, condition, coarse, reuse=False):
        """The base level returns pre-tanh 7x7 images; finer levels return residuals (linear output)."""
        size, g = level.size, self.settings.g_dim
        with v1.variable_scope('generator/level%d' % size, reuse=reuse):
            code = self.conditioner.generator_input(level.noise, condition)
            training = self.is_training
            joined = None   # vectors joined to the first convolution's input, as if tiled over it
            if coarse is None:
                net = ops.dense(code, size * size * 2 * g, 'dense', use_bias=False)
                net = tf.nn.relu(ops.batch_norm(net, training, 'bn0'))
                net = tf.reshape(net, (-1, size, size, 2 * g))
            elif self.settings.level_design.code == 'maps':
                net, joined = coarse, code
            else:
                # The noise and label enter as one extra plane beside the upsampled coarse image.
                plane = tf.reshape(ops.dense(code, size * size, 'code'), (-1, size, size, 1))
                net = tf.concat([coarse, plane], axis=3)
            dilated = coarse is not None and self.settings.level_design.dilated
            for i in range(1, self.settings.level_convs + 1):
                dilation = 2 ** (i - 1) if dilated else 1
                net = ops.conv2d(net, g, 3, 1, 'conv%d' % i, use_bias=False, joined=joined, dilation=dilation)
                net = tf.nn.relu(ops.batch_norm(net, training, 'bn%d' % i))
                joined = None
            return ops.conv2d(net, 1, 3, 1, 'conv%d' % (self.settings.level_convs + 1), joined=joined)

    def _discriminator(self, level, inputs, condition, reuse=False):
        size, d = level.size, self.settings.d_dim
        with v1.variable_scope('discriminator/level%d' % size, reuse=reuse):
            net = self.conditioner.discriminator_input(inputs, condition)
            net = ops.lrelu(ops.conv2d(net, d, 4, 2 if size > 7 else 1, 'conv1'))
            joined = self.conditioner.discriminator_vectors(condition, rank=4)
            net = ops.lrelu(ops.conv2d(net, 2 * d, 4, 2, 'conv2', joined=joined))
            return networks.logit_head(net, condition, self.conditioner, self.settings)

    def g_feed(self, dataset):
        """Fresh noise, with the last real batch and its labels: finer levels draw residuals for its low-pass."""
        images = dataset.last_image_batch
        return {self.noise_input: dataset.next_noise()[:len(images)], self.discriminator_input: images,
                self.right_condition_input: dataset.last_right_labels, self.is_training: True}
