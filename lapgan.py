"""LapGANModel: a Laplacian pyramid of conditional GANs (LAPGAN), built on the family's shared base.

A base GAN draws the 7x7 low-pass image. At 14x14 and 28x28 a generator draws the residual (the band-pass
image) between the real image and its upsampled coarser version, given that upsampled image; each level's
discriminator judges (image, upsampled low-pass) pairs. The pyramid uses 2x2 averaging down; a real image is
exactly its upsampled low-pass plus its residual, whichever the upsampling (LEVEL_DESIGNS).

During training every level sees real low-pass images, so the levels learn independently of each other (as
in the paper); one optimizer step over the sum of the level losses is the same as a step per level, since
no variable is shared between levels. Sampling goes coarse to fine through the generators' own outputs.

As in the paper, every level draws from its own noise: the first third of the noise vector feeds the
7x7 level, the second the 14x14 level, the last the 28x28 level. generate.py's (N, noise_len) noise then
still fixes a whole image.
"""
import collections

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


def upsample(images, method='nearest'):
    """Twice the height and width: 'nearest' repeats each pixel, 'bilinear' blends neighbours (3/4, 1/4)."""
    if method == 'bilinear':
        size = images.shape[1] * 2
        return tf.image.resize(images, (size, size), method='bilinear')
    return tf.repeat(tf.repeat(images, 2, axis=1), 2, axis=2)


# How the finer levels are built: `upsampling` of the coarser image; what their discriminators `judge`
# beside the upsampled low-pass image (the 'residual' or the whole 'image'); how the noise and label reach
# their generators (one 'plane' from a dense layer, or as 'maps' tiled over the first convolution's input);
# and whether their convolutions are `dilated` (1, 2, 4, ...: a 3-convolution stack then sees 15x15 pixels,
# not 7x7, enough to follow a stroke across the digit).
LevelDesign = collections.namedtuple('LevelDesign', 'upsampling judge code dilated')
LEVEL_DESIGNS = {
    # Runs stored without the setting: blocky upsampled images, residuals judged, a code plane, no dilation.
    1: LevelDesign(upsampling='nearest', judge='residual', code='plane', dilated=False),
    # Measured together in trials at 2,500 steps (evaluate.py, 1,000 per class): FD 25.9 -> 21.4.
    2: LevelDesign(upsampling='bilinear', judge='image', code='maps', dilated=True),
}


class Level(object):
    """One pyramid level's tensors: `size`, its `noise`, the discriminator's real and fake inputs, the
    generated residual (for real low-pass input), the sampled residual (for the coarser level's sample)
    and the logits."""

    def __init__(self, size, noise):
        self.size, self.noise = size, noise


class LapGANModel(model.GANBase):
    """GANBase with a pyramid of level GANs in place of one generator and one discriminator."""

    # A LAPGAN step trains three GANs: fewer steps keep its default run in minutes.
    # Its discriminators learn at 8 times the generators' rate (two time-scales): at 2,500 steps FD 14.2 at 4
    # times and 11.5 at 8 (evaluate.py, 1,000 per class); 21.4 at one rate and 17.9 at twice in trials.
    model_defaults = {'steps': 2500, 'level_convs': 3, 'level_design': 2, 'd_learning_rate': 1.6e-3,
                      'lr_decay': 0.5, 'clusters': 0}
    # Its levels draw from slices of the noise and condition on labels only.
    takes_clusters = False

    def __init__(self, noise_len=100, arch='dcgan', interpolate_conditions=False, level_convs=None, level_design=None,
                 **settings):
        if arch != 'dcgan' or interpolate_conditions:
            raise ValueError('--model lapgan has its own convolutional levels: it takes no --arch mlp or '
                             '--interpolate-conditions')
        if noise_len < len(LEVEL_SIZES):
            raise ValueError('--model lapgan splits the noise between its %d levels: --noise-len must be at '
                             'least %d' % (len(LEVEL_SIZES), len(LEVEL_SIZES)))
        bounds = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(noise_len), len(LEVEL_SIZES))])
        self.level_noise_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        # 3x3 convolutions with batch norm and ReLU in each level's generator before its output layer: the
        # paper's levels are small convolutional networks of their own.
        self.level_convs = self.model_defaults['level_convs'] if level_convs is None else level_convs
        self.level_design = self.model_defaults['level_design'] if level_design is None else level_design
        if self.level_design not in LEVEL_DESIGNS:
            raise ValueError('level_design must be one of %s, not %r' % (sorted(LEVEL_DESIGNS), level_design))
        self.design = LEVEL_DESIGNS[self.level_design]
        super().__init__(noise_len=noise_len, arch=arch, **settings)

    def _build_networks(self, right, wrong):
        # The real pyramid: low-pass images at 28, 14 and 7.
        real = {28: self.discriminator_input}
        real[14] = downsample(real[28])
        real[7] = downsample(real[14])
        self.levels = [Level(size, self.noise_input[:, part])
                       for size, part in zip(LEVEL_SIZES, self.level_noise_slices)]
        judged = {'level%d' % level.size: self._build_level(level, real, right, wrong) for level in self.levels}

        # Sampling, coarse to fine; these generator passes must not move the batch-norm statistics again.
        with ops.no_new_update_ops():
            sample = tf.tanh(self._generator(self.levels[0], right, None, reuse=True))
            pyramid = [sample]
            for level in self.levels[1:]:
                coarse = upsample(sample, self.design.upsampling)
                level.sampled_residual = self._generator(level, right, coarse, reuse=True)
                sample = tf.clip_by_value(coarse + level.sampled_residual, -1.0, 1.0)
                pyramid.append(sample)
        self.sampled_pyramid = pyramid
        self.generated_image = sample
        finest = self.levels[-1]
        self.discriminated_real_right_logits = finest.real_logits
        self.discriminated_fake_logits = finest.fake_logits
        self.discriminated_real_wrong_logits = finest.wrong_logits
        return judged

    def _build_level(self, level, real, right, wrong):
        """One level's generator and discriminator on real low-pass input; returns what its discriminator judged."""
        if level.size == LEVEL_SIZES[0]:
            level.generated_residual = tf.tanh(self._generator(level, right, None))
            level.discriminator_real_input = real[level.size]
            level.discriminator_fake_input = level.generated_residual
        else:
            coarse = upsample(real[level.size // 2], self.design.upsampling)
            level.generated_residual = self._generator(level, right, coarse)
            if self.design.judge == 'image':
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
        size, g = level.size, self.g_dim
        with v1.variable_scope('generator/level%d' % size, reuse=reuse):
            code = self.conditioner.generator_input(level.noise, condition)
            training = self.is_training
            joined = None   # vectors joined to the first convolution's input, as if tiled over it
            if coarse is None:
                net = ops.dense(code, size * size * 2 * g, 'dense', use_bias=False)
                net = tf.nn.relu(ops.batch_norm(net, training, 'bn0'))
                net = tf.reshape(net, (-1, size, size, 2 * g))
            elif self.design.code == 'maps':
                net, joined = coarse, code
            else:
                # The noise and label enter as one extra plane beside the upsampled coarse image.
                plane = tf.reshape(ops.dense(code, size * size, 'code'), (-1, size, size, 1))
                net = tf.concat([coarse, plane], axis=3)
            dilated = coarse is not None and self.design.dilated
            for i in range(1, self.level_convs + 1):
                dilation = 2 ** (i - 1) if dilated else 1
                net = ops.conv2d(net, g, 3, 1, 'conv%d' % i, use_bias=False, joined=joined, dilation=dilation)
                net = tf.nn.relu(ops.batch_norm(net, training, 'bn%d' % i))
                joined = None
            return ops.conv2d(net, 1, 3, 1, 'conv%d' % (self.level_convs + 1), joined=joined)

    def _discriminator(self, level, inputs, condition, reuse=False):
        size, d = level.size, self.d_dim
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
