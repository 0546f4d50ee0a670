"""GANModel: a conditional GAN as a tf.compat.v1 graph, and its session-based fit loop.

Build it inside a graph you own:

    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(noise_len=100)

The generator draws an image for (noise, label). One discriminator, reused through
its variable scope, judges three pairs: (real image, right label), (real image,
wrong label) and (generated image, right label). Matching-aware training (GAN-CLS)
teaches it to call only the first pair real.
"""
import numpy as np
import tensorflow as tf

import ops

v1 = tf.compat.v1

IMAGE_SHAPE = (28, 28, 1)
CONDITIONINGS = ('matching', 'concat', 'none')
ARCHITECTURES = ('dcgan', 'mlp')
LOSSES = ('gan', 'wgan')


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or infinity: the weights are no longer usable."""


class GANModel(object):

    def __init__(self, noise_len=100, num_classes=10, conditioning='matching', arch='dcgan', loss='gan',
                 g_dim=64, d_dim=64, condition_units=32, d_condition_maps=32, learning_rate=2e-4, d_learning_rate=None,
                 beta1=0.5, clip=0.01, condition_vectors=None, interpolate_conditions=False,
                 minibatch_stddev=True, projection=True, diversity_weight=0.3, seed=None):
        if conditioning not in CONDITIONINGS:
            raise ValueError('conditioning must be one of %s, not %r' % (CONDITIONINGS, conditioning))
        if arch not in ARCHITECTURES:
            raise ValueError('arch must be one of %s, not %r' % (ARCHITECTURES, arch))
        if loss not in LOSSES:
            raise ValueError('loss must be one of %s, not %r' % (LOSSES, loss))
        if interpolate_conditions and conditioning == 'none':
            raise ValueError('interpolate_conditions blends conditions: it needs conditioning matching or concat')
        self.noise_len = noise_len
        self.num_classes = num_classes
        self.conditioning = conditioning
        self.arch = arch
        self.loss = loss
        self.g_dim = g_dim
        self.d_dim = d_dim
        self.condition_units = condition_units
        self.d_condition_maps = d_condition_maps
        self.minibatch_stddev = minibatch_stddev
        self.projection = projection
        self.diversity_weight = diversity_weight
        self.clip = clip
        self.graph = v1.get_default_graph()
        if seed is not None:
            v1.set_random_seed(seed)

        right, wrong = build_inputs(self, noise_len, num_classes, conditioning, condition_vectors)
        # GAN-INT: the generator step also gets second labels; left unfed, they repeat the right ones.
        self.second_condition_input = v1.placeholder_with_default(
            self.right_condition_input, (None,), name='second_condition_input') if interpolate_conditions else None
        # Feeding this tensor hands the generator any condition vectors, e.g. a blend of two digits.
        self.right_condition_vectors = right

        self.global_step = v1.train.get_or_create_global_step()
        self.generated_image = self._generator(self.noise_input, right)
        self.discriminated_real_right_logits = self._discriminator(self.discriminator_input, right)
        self.discriminated_fake_logits = self._discriminator(self.generated_image, right, reuse=True)
        if conditioning == 'matching':
            self.discriminated_real_wrong_logits = self._discriminator(self.discriminator_input, wrong, reuse=True)
        else:
            self.discriminated_real_wrong_logits = None
        self.interpolated_condition_vectors = self.discriminated_interpolated_logits = None
        if interpolate_conditions:
            # Halfway between two labels' condition vectors lies no training pair, yet D should judge G's
            # image for it real: this fills the space between the labels (GAN-INT, beta = 0.5).
            second = tf.gather(self.condition_table, self.second_condition_input)
            self.interpolated_condition_vectors = 0.5 * (right + second)
            updates = v1.get_collection_ref(v1.GraphKeys.UPDATE_OPS)
            kept = len(updates)
            interpolated_image = self._generator(self.noise_input, self.interpolated_condition_vectors, reuse=True)
            # One generator step moves the batch-norm statistics once, by the main pass only.
            del updates[kept:]
            self.discriminated_interpolated_logits = self._discriminator(
                interpolated_image, self.interpolated_condition_vectors, reuse=True)

        self._finish_graph(learning_rate, d_learning_rate, beta1)

    def _finish_graph(self, learning_rate, d_learning_rate, beta1):
        """Once both networks exist: variable lists, losses, optimizers and summaries."""
        self.generator_variables = v1.trainable_variables('generator/')
        self.discriminator_variables = v1.trainable_variables('discriminator/')
        self.generator_state_variables = [v for v in v1.global_variables('generator/')
                                          if v not in self.generator_variables]
        self._build_losses()
        self._build_optimizers(learning_rate, d_learning_rate or learning_rate, beta1)
        self._build_summaries()
        self.last_metrics = {}

    # --- networks ------------------------------------------------------------------------------

    def _generator(self, noise, condition, reuse=False):
        with v1.variable_scope('generator', reuse=reuse):
            net = noise
            if condition is not None:
                if self.conditioning == 'matching':
                    # A learned label embedding. 32 units measured better than 200: a wider one
                    # outweighs the noise and the digits of one class come out too much alike.
                    condition = tf.nn.relu(ops.dense(condition, self.condition_units, 'condition'))
                net = tf.concat([net, condition], axis=1)
            training = self.is_training
            if self.arch == 'mlp':
                for i, units in enumerate((256, 512, 1024)):
                    net = ops.lrelu(ops.batch_norm(ops.dense(net, units, 'dense%d' % i), training, 'bn%d' % i,
                                                   momentum=0.8))
                net = tf.reshape(ops.dense(net, 28 * 28, 'output'), (-1,) + IMAGE_SHAPE)
                return tf.tanh(net)
            g = self.g_dim
            net = tf.nn.relu(ops.batch_norm(ops.dense(net, 7 * 7 * 2 * g, 'dense', use_bias=False), training, 'bn0'))
            net = tf.reshape(net, (-1, 7, 7, 2 * g))
            net = ops.conv2d_transpose(net, g, 4, 2, 'deconv1', use_bias=False)        # 14x14
            net = tf.nn.relu(ops.batch_norm(net, training, 'bn1'))
            net = ops.conv2d_transpose(net, 1, 4, 2, 'deconv2')                          # 28x28
            return tf.tanh(net)

    def _discriminator(self, image, condition, reuse=False):
        with v1.variable_scope('discriminator', reuse=reuse):
            if condition is not None and self.conditioning == 'concat':
                # CGAN: the one-hot label joins the input, tiled over the image.
                image = tf.concat([image, _tile(condition, 28, 28)], axis=3)
                condition = None
            if self.arch == 'mlp':
                net = tf.reshape(image, (-1, int(np.prod(image.shape[1:]))))
                if condition is not None:
                    net = tf.concat([net, ops.dense(condition, self.condition_units, 'condition')], axis=1)
                net = ops.lrelu(ops.dense(net, 512, 'dense0'))
                net = ops.lrelu(ops.dense(net, 256, 'dense1'))
                return ops.dense(net, 1, 'output')
            d = self.d_dim
            net = ops.lrelu(ops.conv2d(image, d, 4, 2, 'conv1'))                         # 14x14
            if condition is not None:
                # The label meets the image features before a convolution and a
                # nonlinearity, so the logit can depend on whether they match.
                embedded = ops.lrelu(ops.dense(condition, self.d_condition_maps, 'condition'))
                net = tf.concat([net, _tile(embedded, 14, 14)], axis=3)
            net = ops.lrelu(ops.conv2d(net, 2 * d, 4, 2, 'conv2'))                       # 7x7
            return discriminator_logit(net, condition, self.minibatch_stddev, self.projection)

    # --- losses, optimizers, summaries -----------------------------------------------------------

    def _build_losses(self):
        real, fake, wrong = (self.discriminated_real_right_logits, self.discriminated_fake_logits,
                             self.discriminated_real_wrong_logits)
        if self.loss == 'wgan':
            # The critic's score has no sigmoid: its loss estimates -W(real, fake).
            self.discriminator_real_right_loss = -tf.reduce_mean(real)
            self.discriminator_fake_loss = tf.reduce_mean(fake)
            self.discriminator_real_wrong_loss = tf.reduce_mean(wrong) if wrong is not None else None
            self.generator_fake_loss = -tf.reduce_mean(fake)
            self.wasserstein_estimate = tf.reduce_mean(real) - tf.reduce_mean(fake)
        else:
            self.discriminator_real_right_loss = _cross_entropy(real, 1.0)
            self.discriminator_fake_loss = _cross_entropy(fake, 0.0)
            self.discriminator_real_wrong_loss = _cross_entropy(wrong, 0.0) if wrong is not None else None
            # Non-saturating: G maximises log D(G(z)) rather than minimising log(1 - D(G(z))).
            self.generator_fake_loss = _cross_entropy(fake, 1.0)
            self.wasserstein_estimate = None
        mixed = self.discriminated_interpolated_logits
        self.interpolated_generator_loss = None
        if mixed is not None:
            self.interpolated_generator_loss = (-tf.reduce_mean(mixed) if self.loss == 'wgan'
                                                else _cross_entropy(mixed, 1.0))
        self.generator_loss = self.generator_fake_loss + (
            self.interpolated_generator_loss if mixed is not None else 0.0)
        self.mode_seeking_loss = None
        if self.diversity_weight:
            labels = self.right_condition_input if self.conditioning != 'none' else None
            self.mode_seeking_loss = mode_seeking_loss(self.generated_image, self.noise_input, labels)
            self.generator_loss += self.diversity_weight * self.mode_seeking_loss
        if wrong is not None:
            self.discriminator_loss = self.discriminator_real_right_loss + (
                self.discriminator_real_wrong_loss + self.discriminator_fake_loss) / 2
        else:
            self.discriminator_loss = self.discriminator_real_right_loss + self.discriminator_fake_loss
        self.p_real = tf.reduce_mean(tf.sigmoid(real))
        self.p_fake = tf.reduce_mean(tf.sigmoid(fake))
        self.p_wrong = tf.reduce_mean(tf.sigmoid(wrong)) if wrong is not None else None

    def _build_optimizers(self, g_learning_rate, d_learning_rate, beta1):
        def optimizer(rate):
            if self.loss == 'wgan':
                return v1.train.RMSPropOptimizer(rate)
            return v1.train.AdamOptimizer(rate, beta1=beta1)

        update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        # Each optimizer runs its own network's batch-norm updates and touches only its variables.
        with v1.variable_scope('train'):
            with tf.control_dependencies([op for op in update_ops if op.name.startswith('discriminator/')]):
                d_step = optimizer(d_learning_rate).minimize(
                    self.discriminator_loss, var_list=self.discriminator_variables, name='d_optimizer')
            if self.loss == 'wgan':
                with tf.control_dependencies([d_step]):
                    d_step = tf.group(*[v.assign(tf.clip_by_value(v, -self.clip, self.clip))
                                        for v in self.discriminator_variables], name='clip')
            self.d_optimizer = d_step
            with tf.control_dependencies([op for op in update_ops if op.name.startswith('generator/')]):
                self.g_optimizer = optimizer(g_learning_rate).minimize(
                    self.generator_loss, var_list=self.generator_variables, global_step=self.global_step,
                    name='g_optimizer')

    def _build_summaries(self):
        """Scalars of one training batch; the digit grid is a separate summary fed fixed noise."""
        scalars = {'loss/generator_loss': self.generator_loss,
                   'loss/discriminator_loss': self.discriminator_loss,
                   'loss/discriminator_real_right_loss': self.discriminator_real_right_loss,
                   'loss/discriminator_fake_loss': self.discriminator_fake_loss}
        if self.discriminator_real_wrong_loss is not None:
            scalars['loss/discriminator_real_wrong_loss'] = self.discriminator_real_wrong_loss
        if self.interpolated_generator_loss is not None:
            scalars['loss/interpolated_generator_loss'] = self.interpolated_generator_loss
        if self.mode_seeking_loss is not None:
            scalars['loss/mode_seeking_loss'] = self.mode_seeking_loss
        if self.loss == 'wgan':
            scalars['critic/wasserstein_estimate'] = self.wasserstein_estimate
        else:
            scalars['probabilities/p_real'] = self.p_real
            scalars['probabilities/p_fake'] = self.p_fake
            if self.p_wrong is not None:
                scalars['probabilities/p_wrong'] = self.p_wrong
        self.metric_tensors = {name.split('/')[-1]: t for name, t in scalars.items()}
        self.summaries = v1.summary.merge([v1.summary.scalar(n, t) for n, t in sorted(scalars.items())])
        self.grid_columns = v1.placeholder_with_default(tf.constant(10), (), name='grid_columns')
        grid = ops.image_grid(self.generated_image, self.grid_columns)
        self.image_summary = v1.summary.image('generated_digits', (grid + 1.0) / 2.0)

    # --- training --------------------------------------------------------------------------------

    def d_feed(self, dataset):
        """The feed of one discriminator step: a real batch, its right and wrong labels, noise."""
        images, right, wrong = dataset.next_batch()
        return {self.discriminator_input: images, self.right_condition_input: right,
                self.wrong_condition_input: wrong, self.noise_input: dataset.next_noise(),
                self.is_training: True}

    def g_feed(self, dataset):
        """The feed of one generator step: fresh noise and fresh labels (two sets for GAN-INT)."""
        feed = {self.noise_input: dataset.next_noise(), self.right_condition_input: dataset.next_label(),
                self.is_training: True}
        if self.second_condition_input is not None:
            feed[self.second_condition_input] = dataset.next_label()
        return feed

    def fit(self, session, dataset, epochs=1, k_steps=1, callbacks=None, max_steps=None):
        """k discriminator steps, then one generator step, then the callbacks due at that step.

        Runs `epochs` passes over the data, or (with `max_steps`) until the global step,
        which a restored checkpoint carries over, reaches max_steps. Returns the global step.
        """
        if epochs is None and max_steps is None:
            raise ValueError('fit needs epochs or max_steps')
        callbacks = callbacks or []
        d_fetches = dict(self.metric_tensors)
        generator_metrics = ('generator_loss', 'interpolated_generator_loss', 'mode_seeking_loss')
        g_fetches = {name: d_fetches.pop(name) for name in generator_metrics if name in d_fetches}
        step = session.run(self.global_step)
        epoch = 0
        while (epochs is None or epoch < epochs) and (max_steps is None or step < max_steps):
            while dataset.has_more_than(k_steps) and (max_steps is None or step < max_steps):
                for _ in range(k_steps):
                    d_values, _ = session.run([d_fetches, self.d_optimizer], self.d_feed(dataset))
                g_values, _ = session.run([g_fetches, self.g_optimizer], self.g_feed(dataset))
                step += 1  # only g_optimizer increments the global step
                self.last_metrics = dict(d_values, **g_values)
                if not all(np.isfinite(v) for v in self.last_metrics.values()):
                    raise NonFiniteLossError('non-finite loss at step %d: %s' % (step, self.last_metrics))
                for callback in callbacks:
                    if step % callback.every_step == 0:
                        callback(dataset, step)
            if not dataset.has_more_than(k_steps):
                dataset.reset()
                epoch += 1
        return step


MODE_SEEKING_IMAGES = 64


def mode_seeking_loss(images, noise, labels=None, epsilon=1e-5):
    """MSGAN (Mao et al., 2019): 1 / mean over pairs of |G(z1) - G(z2)| / |z1 - z2| (mean absolute values).

    Pairs are the batch's images of one label (all pairs when `labels` is None), among its first 64
    images: all pairs of B images hold B * B * 784 differences, gigabytes for a batch of 1,000. A generator
    that maps different noise to the same digit pays for it; 0 when the batch has no pair.
    """
    images, noise = images[:MODE_SEEKING_IMAGES], noise[:MODE_SEEKING_IMAGES]
    labels = labels[:MODE_SEEKING_IMAGES] if labels is not None else None
    count = tf.shape(images)[0]
    flat = tf.reshape(images, tf.stack([count, -1]))
    image_distance = tf.reduce_mean(tf.abs(flat[:, None] - flat[None]), axis=2)
    # The diagonal (an image with itself) is masked out; the eye keeps its division finite.
    noise_distance = tf.reduce_mean(tf.abs(noise[:, None] - noise[None]), axis=2) + tf.eye(count)
    pairs = tf.linalg.band_part(tf.ones(tf.stack([count, count])), 0, -1) - tf.eye(count)
    if labels is not None:
        pairs *= tf.cast(tf.equal(labels[:, None], labels[None]), tf.float32)
    pair_count = tf.reduce_sum(pairs)
    mean_ratio = tf.reduce_sum(pairs * image_distance / noise_distance) / tf.maximum(pair_count, 1.0)
    return tf.where(pair_count > 0, 1.0 / (mean_ratio + epsilon), 0.0)


def _cross_entropy(logits, target):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=logits, labels=tf.fill(tf.shape(logits), target)))


def build_inputs(model, noise_len, num_classes, conditioning, condition_vectors):
    """The placeholders every model of this project feeds the same way; returns the (right, wrong)
    condition vectors, None for an unconditioned model."""
    model.noise_input = v1.placeholder(tf.float32, (None, noise_len), name='noise_input')
    model.right_condition_input = v1.placeholder(tf.int64, (None,), name='right_condition_input')
    model.wrong_condition_input = v1.placeholder(tf.int64, (None,), name='wrong_condition_input')
    model.discriminator_input = v1.placeholder(tf.float32, (None,) + IMAGE_SHAPE, name='discriminator_input')
    # False (the default) normalises with moving statistics: what generation wants.
    model.is_training = v1.placeholder_with_default(False, (), name='is_training')
    # A label becomes a condition vector by a table lookup: one-hot rows by default,
    # or any fixed vectors per class (e.g. sentence embeddings).
    if condition_vectors is None:
        condition_vectors = np.eye(num_classes, dtype=np.float32)
    model.condition_table = tf.constant(np.asarray(condition_vectors, np.float32), name='condition_table')
    if conditioning == 'none':
        return None, None
    return (tf.gather(model.condition_table, model.right_condition_input),
            tf.gather(model.condition_table, model.wrong_condition_input))


def discriminator_logit(feature_maps, condition, minibatch_stddev, projection):
    """The last layer of a convolutional discriminator: (B, H, W, C) features -> (B, 1) logits."""
    if minibatch_stddev:
        # How varied the batch is: a generator that draws one digit over and over is easy to spot.
        feature_maps = tf.concat([feature_maps, _minibatch_stddev(feature_maps)], axis=3)
    net = tf.reshape(feature_maps, (-1, int(np.prod(feature_maps.shape[1:]))))
    logit = ops.dense(net, 1, 'output')
    if condition is not None and projection:
        # Projection term <embed(label), features(image)>: a direct say for the label match.
        embedded = ops.dense(condition, net.shape[-1], 'projection', use_bias=False)
        logit += tf.reduce_sum(embedded * net, axis=1, keepdims=True)
    return logit


def _minibatch_stddev(feature_maps):
    """(B, H, W, C) -> (B, H, W, 1) holding the batch's mean standard deviation."""
    _, variance = tf.nn.moments(feature_maps, axes=[0])
    spread = tf.reduce_mean(tf.sqrt(variance + 1e-8))
    return tf.ones_like(feature_maps[..., :1]) * spread


def _tile(vectors, height, width):
    """(B, C) -> (B, height, width, C)."""
    return tf.tile(vectors[:, None, None, :], [1, height, width, 1])
