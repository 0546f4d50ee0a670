"""The networks of the GAN family: how the label enters (a conditioning) and the layers (an architecture).

A conditioning decides, in one place, where the condition vector meets noise and image:

- `none`: nowhere (the original GAN);
- `concat`: the one-hot vector joins the inputs of both networks (CGAN);
- `matching`: a learned embedding joins the noise, and in the discriminator it meets the image features
  before a convolution and a nonlinearity, plus a projection term; the discriminator also judges real
  images with wrong labels (GAN-CLS);
- `clusters`: no label, but the networks see a cluster of the training images where `matching` sees a
  label, and judge it the same way (the model finds the clusters: clusters.py).

An architecture is a generator function and a discriminator function with one signature each:

    generator(noise, condition, conditioning, settings, training) -> images in [-1, 1]
    discriminator(images, condition, conditioning, settings) -> logits (B, 1)

The discriminator's `condition` may also be a list (the matching conditioning's right and wrong labels for
one real batch): then it returns a list of logits, one for each, and may compute what comes before the
label joins once for all of them.

`settings` is the model's settings.ModelSettings. They are called inside the `generator` / `discriminator`
variable scopes, which the model opens (and reuses), so every call of one network shares its variables.
"""
import numpy as np
import tensorflow as tf

import ops

v1 = tf.compat.v1

IMAGE_SHAPE = (28, 28, 1)


# --- conditionings -------------------------------------------------------------------------------

class NoConditioning(object):
    """The original GAN: neither network sees a label."""

    judges_wrong_pairs = False

    def __init__(self, settings):
        self.settings = settings

    def generator_input(self, noise, condition):
        return noise

    def discriminator_input(self, inputs, condition):
        return inputs

    def generator_vectors(self, condition):
        """Vectors (B, C) that join every hidden layer of the generator; None when the label joins no
        hidden layer."""
        return None

    def discriminator_vectors(self, condition, rank):
        """Vectors (B, C) that join the discriminator's first hidden features, tiled over feature maps
        (rank 4) or beside a flat layer (rank 2); None when the label joins nowhere inside."""
        return None

    def discriminator_logit(self, logit, flat_features, condition):
        return logit


class ConcatConditioning(NoConditioning):
    """CGAN: the condition vector is concatenated to the noise and to the discriminator's input and, with
    `concat_every_layer`, to the input of every hidden layer of both networks as well."""


    def generator_input(self, noise, condition):
        return tf.concat([noise, condition], axis=1)

    def discriminator_input(self, inputs, condition):
        return join(inputs, condition)

    def generator_vectors(self, condition):
        return condition if self.settings.concat_every_layer else None

    def discriminator_vectors(self, condition, rank):
        return condition if self.settings.concat_every_layer else None


class MatchingConditioning(NoConditioning):
    """GAN-CLS: label embeddings, a wrong-label pair for the discriminator, and a projection term."""

    judges_wrong_pairs = True

    def generator_input(self, noise, condition):
        # A learned label embedding, narrow so that it does not outweigh the noise (digits of one class would
        # come out too much alike).
        embedded = tf.nn.relu(ops.dense(condition, self.settings.condition_units, 'condition'))
        return tf.concat([noise, embedded], axis=1)

    def discriminator_vectors(self, condition, rank):
        # The label meets the image features before a convolution (or dense layer) and a nonlinearity, so
        # the logit can depend on whether they match (joined only before the last linear layer, it could not).
        if rank == 4:
            return ops.lrelu(ops.dense(condition, self.settings.d_condition_maps, 'condition'))
        return ops.dense(condition, self.settings.condition_units, 'condition')

    def discriminator_logit(self, logit, flat_features, condition):
        if not self.settings.projection:
            return logit
        # Projection term <embed(label), features(image)>: a direct say for the label match.
        embedded = ops.dense(condition, flat_features.shape[-1], 'projection', use_bias=False)
        return logit + tf.reduce_sum(embedded * flat_features, axis=1, keepdims=True)


CONDITIONINGS = {'matching': MatchingConditioning, 'concat': ConcatConditioning, 'clusters': MatchingConditioning,
                 'none': NoConditioning}


def join(inputs, condition):
    """Condition vectors (B, C) joined to inputs: tiled over a (B, H, W, _) map, or beside (B, _) vectors;
    the inputs alone when there is no condition."""
    if condition is None:
        return inputs
    if inputs.shape.ndims == 4:
        return tf.concat([inputs, tile(condition, inputs.shape[1], inputs.shape[2])], axis=3)
    return tf.concat([inputs, condition], axis=1)


def tile(vectors, height, width):
    """(B, C) -> (B, height, width, C)."""
    return tf.tile(vectors[:, None, None, :], [1, height, width, 1])


# --- DCGAN: strided (transposed) convolutions, batch norm and ReLU in G, LeakyReLU in D -------------

def dcgan_generator(noise, condition, conditioning, settings, training):
    g = settings.g_dim
    net = conditioning.generator_input(noise, condition)
    net = tf.nn.relu(ops.batch_norm(ops.dense(net, 7 * 7 * 2 * g, 'dense', use_bias=False), training, 'bn0'))
    net = tf.reshape(net, (-1, 7, 7, 2 * g))
    joined = conditioning.generator_vectors(condition)
    net = ops.conv2d_transpose(join(net, joined), g, 4, 2, 'deconv1', use_bias=False)        # 14x14
    net = tf.nn.relu(ops.batch_norm(net, training, 'bn1'))
    net = ops.conv2d_transpose(join(net, joined), 1, 4, 2, 'deconv2')                          # 28x28
    return tf.tanh(net)


def dcgan_discriminator(images, condition, conditioning, settings):
    d = settings.d_dim
    conditions = several_conditions(condition, conditioning)
    net = conditioning.discriminator_input(images, conditions[0])
    # The label joins here, after the first convolution: for a list of labels, the images' own part of
    # what follows runs once (the real batch's right and wrong pairs: a third of its image convolutions).
    net = ops.lrelu(ops.conv2d(net, d, 4, 2, 'conv1'))                          # 14x14
    joined = each_reusing(conditions, lambda c: conditioning.discriminator_vectors(c, rank=4))
    nets = ops.conv2d(net, 2 * d, 4, 2, 'conv2', joined=joined)                 # 7x7
    logits = each_reusing(list(zip(nets, conditions)),
                          lambda judged: logit_head(ops.lrelu(judged[0]), judged[1], conditioning, settings))
    return logits if isinstance(condition, list) else logits[0]


def several_conditions(condition, conditioning):
    """The list of conditions a discriminator call judges its images under (one unless given a list)."""
    if not isinstance(condition, list):
        return [condition]
    if not conditioning.judges_wrong_pairs:
        raise ValueError('only a conditioning that judges wrong pairs judges one batch under several labels')
    return condition


def each_reusing(items, build):
    """[build(item) for item in items] in the current variable scope: the first creates the variables and the
    rest reuse them, as one network judging several conditions must."""
    scope = v1.get_variable_scope()
    built = []
    for i, item in enumerate(items):
        with v1.variable_scope(scope, reuse=True if i else None):
            built.append(build(item))
    return built


def logit_head(feature_maps, condition, conditioning, settings):
    """The last layer of a convolutional discriminator: (B, H, W, C) features -> (B, 1) logits."""
    if settings.minibatch_stddev:
        # How varied the batch is: a generator that draws one digit over and over is easy to spot.
        feature_maps = tf.concat([feature_maps, minibatch_stddev(feature_maps)], axis=3)
    flat = tf.reshape(feature_maps, (-1, int(np.prod(feature_maps.shape[1:]))))
    return conditioning.discriminator_logit(ops.dense(flat, 1, 'output'), flat, condition)


def minibatch_stddev(feature_maps):
    """(B, H, W, C) -> (B, H, W, 1) holding the batch's mean standard deviation."""
    _, variance = tf.nn.moments(feature_maps, axes=[0])
    spread = tf.reduce_mean(tf.sqrt(variance + 1e-8))
    return tf.ones_like(feature_maps[..., :1]) * spread


# --- MLP: the classic fully connected GAN (G 100-256-512-1024-784, D 784-512-256-1) -----------------

MLP_GENERATOR_UNITS = (256, 512, 1024)
MLP_DISCRIMINATOR_UNITS = (512, 256)


def mlp_generator(noise, condition, conditioning, settings, training):
    net = conditioning.generator_input(noise, condition)
    joined = conditioning.generator_vectors(condition)
    for i, units in enumerate(MLP_GENERATOR_UNITS):
        net = join(net, joined) if i else net
        net = ops.lrelu(ops.batch_norm(ops.dense(net, units, 'dense%d' % i), training, 'bn%d' % i, momentum=0.8))
    net = ops.dense(join(net, joined), int(np.prod(IMAGE_SHAPE)), 'output')
    return tf.tanh(tf.reshape(net, (-1,) + IMAGE_SHAPE))


def mlp_discriminator(images, condition, conditioning, settings):
    if isinstance(condition, list):   # the label joins the input: nothing to compute once
        return each_reusing(several_conditions(condition, conditioning),
                            lambda c: mlp_discriminator(images, c, conditioning, settings))
    net = tf.reshape(images, (-1, int(np.prod(images.shape[1:]))))
    net = conditioning.discriminator_input(net, condition)
    joined = conditioning.discriminator_vectors(condition, rank=2)
    if joined is not None:
        net = tf.concat([net, joined], axis=1)
    for i, units in enumerate(MLP_DISCRIMINATOR_UNITS):
        net = ops.lrelu(ops.dense(net, units, 'dense%d' % i))
    return conditioning.discriminator_logit(ops.dense(net, 1, 'output'), net, condition)


ARCHITECTURES = {'dcgan': (dcgan_generator, dcgan_discriminator), 'mlp': (mlp_generator, mlp_discriminator)}
