"""GANModel: a conditional GAN as a tf.compat.v1 graph, and its session-based fit loop.

Build it inside a graph you own:

    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(noise_len=100)

The generator draws an image for (noise, label). One discriminator, reused through
its variable scope, judges three pairs: (real image, right label), (real image,
wrong label) and (generated image, right label). Matching-aware training (GAN-CLS)
teaches it to call only the first pair real.

A GAN of the family is a choice of parts (networks.py, losses.py): a conditioning, an architecture and a
loss with its training rule. GANBase owns what every model of the family shares - the placeholders, the
losses built from what its discriminators judged, the optimizers, the summaries and `fit`; a model says
only how its networks are built and wired (GANModel here, LapGANModel in lapgan.py).
"""
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

import clusters as clusters_lib
import losses as losses_lib
import networks
import ops

v1 = tf.compat.v1

IMAGE_SHAPE = networks.IMAGE_SHAPE
CONDITIONINGS = tuple(networks.CONDITIONINGS)
ARCHITECTURES = tuple(networks.ARCHITECTURES)
LOSSES = tuple(losses_lib.RULES)
# Step values fetched with the generator step; every other metric comes with the last critic step.
GENERATOR_METRICS = ('generator_loss', 'interpolated_generator_loss', 'mode_seeking_loss')
# The parts of a loss a model with one discriminator offers as attributes, e.g. model.p_wrong.
PART_NAMES = ('discriminator_real_right_loss', 'discriminator_fake_loss', 'discriminator_real_wrong_loss',
              'interpolated_generator_loss', 'mode_seeking_loss', 'wasserstein_estimate', 'gradient_penalty',
              'p_real', 'p_fake', 'p_wrong')


# Settings every variant starts from, unless one of its parts sets its own (GANBase.variant_defaults). The
# training schedule ('steps', 'k_steps', 'lr_decay') comes from the loss rule (losses.RULES).
FAMILY_DEFAULTS = {'diversity_weight': 0.3, 'concat_every_layer': False, 'augment': '', 'clusters': 0}


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or infinity: the weights are no longer usable."""


class Settings(object):
    """A model's settings as attributes, for the network functions."""

    def __init__(self, **settings):
        self.__dict__.update(settings)


class GANBase(object):
    """The shared surface of every model of the family; subclasses implement `_build_networks`.

    A setting left at None takes the default of the variant chosen (see `variant_defaults`): the
    learning rate of its loss, for instance, or no mode-seeking term for the MLP.
    """

    # Settings a model type starts from, before those of its parts (e.g. LAPGAN's default step count).
    model_defaults = {}
    # Whether the model can condition an unconditioned GAN on clusters of the training images.
    takes_clusters = True

    def __init__(self, noise_len=100, num_classes=10, conditioning='matching', arch='dcgan', loss='gan',
                 g_dim=64, d_dim=64, condition_units=32, d_condition_maps=32, learning_rate=None,
                 d_learning_rate=None, beta1=None, clip=0.01, condition_vectors=None, interpolate_conditions=False,
                 minibatch_stddev=True, projection=True, diversity_weight=None, concat_every_layer=None, augment=None,
                 clusters=None, seed=None):
        for name, value, table in (('conditioning', conditioning, CONDITIONINGS),
                                   ('arch', arch, ARCHITECTURES), ('loss', loss, LOSSES)):
            if value not in table:
                raise ValueError('%s must be one of %s, not %r' % (name, table, value))
        if interpolate_conditions and conditioning == 'none':
            raise ValueError('interpolate_conditions blends conditions: it needs conditioning matching or concat')
        defaults = self.variant_defaults(arch, conditioning, loss)
        self.clusters = defaults['clusters'] if clusters is None else clusters
        problem = self.clusters_problem(self.clusters, conditioning)
        if problem:
            raise ValueError(problem)
        learning_rate = learning_rate or defaults['learning_rate']
        # The discriminator's own rate, where the variant has one (two time-scales); else the generator's.
        d_learning_rate = d_learning_rate or defaults.get('d_learning_rate') or learning_rate
        beta1 = defaults['beta1'] if beta1 is None else beta1
        self.noise_len, self.num_classes = noise_len, num_classes
        self.conditioning, self.arch, self.loss = conditioning, arch, loss
        self.g_dim, self.d_dim = g_dim, d_dim
        self.condition_units, self.d_condition_maps = condition_units, d_condition_maps
        self.minibatch_stddev, self.projection = minibatch_stddev, projection
        self.diversity_weight = defaults['diversity_weight'] if diversity_weight is None else diversity_weight
        self.interpolate_conditions = interpolate_conditions
        # Differentiable augmentation of every image the discriminator sees (ops.diff_augment), e.g. 'translation'.
        self.augment = defaults['augment'] if augment is None else augment
        self.rule = losses_lib.RULES[loss]
        self.clip = clip if self.rule.clip is not None else None
        self.concat_every_layer = (defaults['concat_every_layer'] if concat_every_layer is None
                                   else concat_every_layer)
        self.settings = Settings(g_dim=g_dim, d_dim=d_dim, condition_units=condition_units,
                                 d_condition_maps=d_condition_maps, minibatch_stddev=minibatch_stddev,
                                 projection=projection, concat_every_layer=self.concat_every_layer)
        # With clusters, the networks see a cluster where GAN-CLS sees a label, and judge it the same way.
        self.conditioner = networks.CONDITIONINGS['matching' if self.clusters else conditioning](self.settings)
        # Real images with wrong labels are judged where the conditioning has them and the loss rule wants them.
        self.judges_wrong_pairs = self.conditioner.judges_wrong_pairs and self.rule.wrong_pairs
        self.graph = v1.get_default_graph()
        if seed is not None:
            v1.set_random_seed(seed)

        right, wrong = self._build_inputs(condition_vectors)
        self.global_step = v1.train.get_or_create_global_step()
        # GAN-INT: the generator step also gets second labels; left unfed, they repeat the right ones.
        self.second_condition_input = v1.placeholder_with_default(
            self.right_condition_input, (None,), name='second_condition_input') if interpolate_conditions else None
        self.interpolated_condition_vectors = self.discriminated_interpolated_logits = None
        self.judged = self._build_networks(right, wrong)
        self.generator_variables = v1.trainable_variables('generator/')
        self.discriminator_variables = v1.trainable_variables('discriminator/')
        # What drawing needs besides the weights: batch-norm moving statistics, and the clusters' shares.
        self.generator_state_variables = [v for v in v1.global_variables('generator/')
                                          if v not in self.generator_variables]
        if self.clusters:
            self.generator_state_variables.append(self.cluster_shares)
        self._build_losses()
        self._build_optimizers(learning_rate, d_learning_rate, beta1)
        self._build_summaries()
        self.last_metrics = {}

    @classmethod
    def clusters_problem(cls, clusters, conditioning):
        """What is wrong with conditioning this model type on `clusters` clusters (main.py says it as a flag
        error, the constructor raises it); None when nothing is."""
        if clusters == 1 or clusters < 0:
            return ('--clusters %d: a real image needs another cluster to be judged with: pass 0 (none) or at '
                    'least 2' % clusters)
        if clusters and (conditioning != 'none' or not cls.takes_clusters):
            return ('--clusters %d conditions the unconditioned GAN on clusters of its images: it needs '
                    '--conditioning none and --model gan' % clusters)
        return None

    @classmethod
    def variant_defaults(cls, arch='dcgan', conditioning='matching', loss='gan'):
        """The settings a variant starts from, model and training ones ('steps', 'k_steps') alike: the
        family's, then those its loss rule, architecture, conditioning and model type each set (a later
        part wins, so a part that learns slowly can ask for more steps than its loss rule gives)."""
        defaults = dict(FAMILY_DEFAULTS)
        for part in (losses_lib.RULES[loss].defaults, networks.ARCHITECTURE_DEFAULTS[arch],
                     networks.CONDITIONINGS[conditioning].defaults, cls.model_defaults):
            defaults.update(part)
        return defaults

    # --- what every model feeds the same way ---------------------------------------------------------

    def _build_inputs(self, condition_vectors):
        """The placeholders; returns the (right, wrong) condition vectors, None for an unconditioned model."""
        self.noise_input = v1.placeholder(tf.float32, (None, self.noise_len), name='noise_input')
        self.right_condition_input = v1.placeholder(tf.int64, (None,), name='right_condition_input')
        self.wrong_condition_input = v1.placeholder(tf.int64, (None,), name='wrong_condition_input')
        self.discriminator_input = v1.placeholder(tf.float32, (None,) + IMAGE_SHAPE, name='discriminator_input')
        # False (the default) normalises with moving statistics: what generation wants.
        self.is_training = v1.placeholder_with_default(False, (), name='is_training')
        # A label becomes a condition vector by a table lookup: one-hot rows by default,
        # or any fixed vectors per class (e.g. sentence embeddings).
        if condition_vectors is None:
            condition_vectors = np.eye(self.num_classes, dtype=np.float32)
        self.condition_table = tf.constant(np.asarray(condition_vectors, np.float32), name='condition_table')
        self.right_condition_vectors = None
        # What the generator draws from: the noise, and the condition vectors of the labels fed.
        self.generator_noise = self.noise_input
        if self.clusters:
            return self._build_clusters()
        if not self.conditioner.uses_labels:
            self.generator_condition_vectors = None
            return None, None
        # Feeding this tensor hands the generator any condition vectors, e.g. a blend of two digits.
        self.right_condition_vectors = tf.gather(self.condition_table, self.right_condition_input)
        self.generator_condition_vectors = self.right_condition_vectors
        return self.right_condition_vectors, tf.gather(self.condition_table, self.wrong_condition_input)

    def _build_clusters(self):
        """An unconditioned GAN conditioned on clusters of the training images (clusters.py): a real image's
        cluster is its nearest centroid; a generated image's is drawn from the first noise value, through
        the cumulative shares of the clusters, so the image stays a function of the noise alone. The
        generator gets the rest of the noise. Returns the (right, wrong) one-hot clusters of the real images."""
        pixels = int(np.prod(IMAGE_SHAPE))
        with v1.variable_scope('clusters'):
            # Set once from the training images (find_clusters) and saved in checkpoints with the weights.
            self.cluster_centroids = v1.get_variable('centroids', (self.clusters, pixels), trainable=False,
                                                     initializer=v1.zeros_initializer())
            self.cluster_shares = v1.get_variable('shares', (self.clusters,), trainable=False,
                                                  initializer=v1.constant_initializer(1.0 / self.clusters))
            self._found_clusters = (v1.placeholder(tf.float32, self.cluster_centroids.shape, 'found_centroids'),
                                    v1.placeholder(tf.float32, self.cluster_shares.shape, 'found_shares'))
            self._keep_found_clusters = tf.group(self.cluster_centroids.assign(self._found_clusters[0]),
                                                 self.cluster_shares.assign(self._found_clusters[1]))
        real = tf.reshape(self.discriminator_input, (-1, pixels))
        distances = (tf.reduce_sum(real ** 2, axis=1, keepdims=True) - 2.0 * tf.matmul(
            real, self.cluster_centroids, transpose_b=True) + tf.reduce_sum(self.cluster_centroids ** 2, axis=1))
        self.real_clusters = tf.argmin(distances, axis=1)
        # Adding 1..K-1 modulo K never gives the right cluster and hits each other one equally often.
        offsets = v1.random_uniform(tf.shape(self.real_clusters), 1, self.clusters, dtype=tf.int64)
        wrong_clusters = (self.real_clusters + offsets) % self.clusters
        uniform = 0.5 * (1.0 + tf.math.erf(self.noise_input[:, 0] / np.sqrt(2.0)))
        bounds = tf.cumsum(self.cluster_shares)
        self.generated_clusters = tf.minimum(
            tf.searchsorted(bounds, uniform, side='right', out_type=tf.int64), self.clusters - 1)
        self.generator_noise = self.noise_input[:, 1:]
        self.generator_condition_vectors = tf.one_hot(self.generated_clusters, self.clusters)
        return tf.one_hot(self.real_clusters, self.clusters), tf.one_hot(wrong_clusters, self.clusters)

    def find_clusters(self, session, images, seed=0):
        """Cluster the training images (k-means in pixel space) and keep the centroids and the share of the
        images in each; nothing for a model without clusters."""
        if not self.clusters:
            return
        centroids, counts = clusters_lib.kmeans(np.reshape(images, (len(images), -1)), self.clusters, seed=seed)
        session.run(self._keep_found_clusters, dict(zip(self._found_clusters, (centroids, counts / counts.sum()))))

    def _build_networks(self, right, wrong):
        """Build the networks; set generated_image and the discriminated_* logits; return {name: Judged}
        for every discriminator, '' for a model with one, whose losses are summed."""
        raise NotImplementedError

    def generator_labels(self):
        """The labels the mode-seeking term pairs images by: none when the generator sees no label."""
        if self.clusters:
            return self.generated_clusters
        return self.right_condition_input if self.conditioner.uses_labels else None

    # --- losses, optimizers, summaries ----------------------------------------------------------------

    def _build_losses(self):
        """Each discriminator's losses by the rule, plus the generator's extra terms; summed over them."""
        d_terms, g_terms, self.scalars = [], [], {}
        for name, judged in self.judged.items():
            parts = self.rule.losses(judged)
            generator_loss = parts.generator
            scalars = dict(parts.scalars, discriminator_loss=parts.discriminator)
            if judged.extra_fake_logits is not None:
                scalars['interpolated_generator_loss'] = self.rule.generator_loss(judged.extra_fake_logits)
                generator_loss += scalars['interpolated_generator_loss']
            if self.diversity_weight and judged.generated is not None:
                scalars['mode_seeking_loss'] = losses_lib.mode_seeking_loss(
                    judged.generated, judged.noise, self.generator_labels())
                generator_loss += self.diversity_weight * scalars['mode_seeking_loss']
            scalars['generator_loss'] = generator_loss
            d_terms.append(parts.discriminator)
            g_terms.append(generator_loss)
            prefix = name + '/' if name else ''
            self.scalars.update({prefix + key: value for key, value in scalars.items()})
        self.discriminator_loss = tf.add_n(d_terms)
        self.generator_loss = tf.add_n(g_terms)
        self.generator_fake_loss = self.rule.generator_loss(self.discriminated_fake_logits)
        # The parts of a single discriminator's loss, by name (None where the model has no such part).
        single = '' in self.judged
        for key in PART_NAMES:
            setattr(self, key, self.scalars.get(key) if single else None)
        if not single:
            # Several discriminators: the log line shows the mean of their probabilities.
            for key in ('p_real', 'p_fake', 'p_wrong'):
                values = [self.scalars[n + '/' + key] for n in self.judged if n + '/' + key in self.scalars]
                if values:
                    self.scalars[key] = tf.add_n(values) / len(values)
                    setattr(self, key, self.scalars[key])
        self.scalars['generator_loss'] = self.generator_loss
        self.scalars['discriminator_loss'] = self.discriminator_loss

    def _build_optimizers(self, g_learning_rate, d_learning_rate, beta1):
        # fit feeds this to follow a learning-rate schedule (e.g. a decay over the last part of a run).
        self.learning_rate_scale = v1.placeholder_with_default(1.0, (), name='learning_rate_scale')
        g_learning_rate, d_learning_rate = (rate * self.learning_rate_scale for rate in (g_learning_rate,
                                                                                          d_learning_rate))
        update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        # Each optimizer runs its own network's batch-norm updates and touches only its variables.
        with v1.variable_scope('train'):
            with tf.control_dependencies([op for op in update_ops if op.name.startswith('discriminator/')]):
                d_step = self.rule.optimizer(d_learning_rate, beta1).minimize(
                    self.discriminator_loss, var_list=self.discriminator_variables, name='d_optimizer')
            if self.clip is not None:
                with tf.control_dependencies([d_step]):
                    d_step = tf.group(*[v.assign(tf.clip_by_value(v, -self.clip, self.clip))
                                        for v in self.discriminator_variables], name='clip')
            self.d_optimizer = d_step
            with tf.control_dependencies([op for op in update_ops if op.name.startswith('generator/')]):
                self.g_optimizer = self.rule.optimizer(g_learning_rate, beta1).minimize(
                    self.generator_loss, var_list=self.generator_variables, global_step=self.global_step,
                    name='g_optimizer')

    def _build_summaries(self):
        """Scalars by short name (metric_tensors) and TensorBoard tag (metric_tags); a digit grid fed fixed noise."""
        self.metric_tensors, self.metric_tags = {}, {}
        for name, tensor in self.scalars.items():
            short = name.replace('/', '_')
            self.metric_tensors[short] = tensor
            self.metric_tags[short] = name if '/' in name else scalar_tag(name)
        self.summaries = v1.summary.merge([v1.summary.scalar(self.metric_tags[n], t)
                                           for n, t in sorted(self.metric_tensors.items())])
        self.grid_columns = v1.placeholder_with_default(tf.constant(10), (), name='grid_columns')
        grid = ops.image_grid(self.generated_image, self.grid_columns)
        self.image_summary = v1.summary.image('generated_digits', (grid + 1.0) / 2.0)

    # --- training --------------------------------------------------------------------------------------

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

    def critic_steps(self, step, k_steps):
        """Discriminator steps before generator step `step` (0-based): k_steps, or the rule's warm-up."""
        return self.rule.critic_steps(step, k_steps)

    def fit(self, session, dataset, epochs=1, k_steps=1, callbacks=None, max_steps=None, learning_rate_scale=None):
        """k discriminator steps, then one generator step, then the callbacks due at that step.

        Runs `epochs` passes over the data, or (with `max_steps`) until the global step,
        which a restored checkpoint carries over, reaches max_steps. Returns the global step.
        An epoch ends when it cannot supply the next generator step's discriminator batches.
        `learning_rate_scale(step)`, if given, multiplies both learning rates at generator step `step`.
        """
        if epochs is None and max_steps is None:
            raise ValueError('fit needs epochs or max_steps')
        if epochs is not None and dataset.batches_per_epoch < k_steps:
            raise ValueError('an epoch of %d batches cannot feed %d discriminator steps per generator step: '
                             'lower k_steps or the batch size' % (dataset.batches_per_epoch, k_steps))
        callbacks = callbacks or []
        d_fetches = dict(self.metric_tensors)
        g_fetches = {name: d_fetches.pop(name) for name in list(d_fetches)
                     if name.endswith(GENERATOR_METRICS)}
        step = session.run(self.global_step)
        epoch = 0
        while max_steps is None or step < max_steps:
            critic_steps = self.critic_steps(step, k_steps)
            if epochs is not None and not dataset.has_more_than(min(critic_steps, dataset.batches_per_epoch)):
                epoch += 1
                if epoch >= epochs:
                    break
                dataset.reset()
            scale = {} if learning_rate_scale is None else {self.learning_rate_scale: learning_rate_scale(step)}
            for _ in range(critic_steps):
                d_values, _ = session.run([d_fetches, self.d_optimizer], {**self.d_feed(dataset), **scale})
            g_values, _ = session.run([g_fetches, self.g_optimizer], {**self.g_feed(dataset), **scale})
            step += 1  # only g_optimizer increments the global step
            self.last_metrics = dict(d_values, **g_values)
            if not all(np.isfinite(v) for v in self.last_metrics.values()):
                raise NonFiniteLossError('non-finite loss at step %d: %s' % (step, self.last_metrics))
            for callback in callbacks:
                if step % callback.every_step == 0:
                    callback(dataset, step)
        return step


def cpu_has_bfloat16():
    """True on processors with native bfloat16 arithmetic (AVX512-BF16 or AMX), where oneDNN runs it fast."""
    try:
        with open('/proc/cpuinfo') as stream:
            flags = stream.read()
    except OSError:
        return False
    return 'avx512_bf16' in flags or 'amx_bf16' in flags


PRECISIONS = ('auto', 'float32', 'bfloat16')


def wants_bfloat16(precision):
    """Whether a --precision ('auto': bfloat16 where the processor has it) trains in bfloat16."""
    return precision == 'bfloat16' or (precision == 'auto' and cpu_has_bfloat16())


def session_config(bfloat16=False):
    """The session configuration for training. With bfloat16, TensorFlow's graph rewriter runs the
    convolutions and matrix products in bfloat16 on oneDNN (weights and optimizer state stay float32):
    measured 1.5-1.7x the training speed on this project's CPUs, at the same quality."""
    config = v1.ConfigProto()
    if bfloat16:
        config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
            rewriter_config_pb2.RewriterConfig.ON)
    return config


def linear_decay(total_steps, fraction):
    """A learning-rate scale: 1 until the last `fraction` of total_steps, then down linearly towards 0."""
    start = total_steps * (1.0 - fraction)

    def scale(step):
        return 1.0 if step < start or fraction <= 0 else max(0.0, (total_steps - step) / (total_steps - start))
    return scale


def scalar_tag(name):
    """The TensorBoard tag of a top-level scalar: probabilities/, critic/ or loss/."""
    if name.startswith('p_'):
        return 'probabilities/' + name
    if name in ('wasserstein_estimate', 'gradient_penalty'):
        return 'critic/' + name
    return 'loss/' + name


class GANModel(GANBase):
    """One generator and one discriminator, of the architecture and conditioning chosen."""

    def _build_networks(self, right, wrong):
        generator, discriminator = networks.ARCHITECTURES[self.arch]

        def generate(condition, reuse):
            with v1.variable_scope('generator', reuse=reuse):
                return generator(self.generator_noise, condition, self.conditioner, self.settings, self.is_training)

        def discriminate(images, condition, reuse=True):
            with v1.variable_scope('discriminator', reuse=reuse):
                return discriminator(ops.diff_augment(images, self.augment), condition, self.conditioner,
                                     self.settings)

        self.generated_image = generate(self.generator_condition_vectors, reuse=False)
        self.discriminated_real_right_logits = discriminate(self.discriminator_input, right, reuse=False)
        self.discriminated_fake_logits = discriminate(self.generated_image, self.generator_condition_vectors)
        self.discriminated_real_wrong_logits = (discriminate(self.discriminator_input, wrong)
                                                if self.judges_wrong_pairs else None)
        judged = losses_lib.Judged(self.discriminated_real_right_logits, self.discriminated_fake_logits,
                                   self.discriminated_real_wrong_logits, real_inputs=self.discriminator_input,
                                   fake_inputs=self.generated_image, right=right,
                                   critic=discriminate, generated=self.generated_image, noise=self.generator_noise)
        if self.interpolate_conditions:
            # Halfway between two labels' condition vectors lies no training pair, yet D should judge G's
            # image for it real: this fills the space between the labels (GAN-INT, beta = 0.5).
            second = tf.gather(self.condition_table, self.second_condition_input)
            self.interpolated_condition_vectors = 0.5 * (right + second)
            with ops.no_new_update_ops():   # one generator step moves the batch-norm statistics once
                interpolated_image = generate(self.interpolated_condition_vectors, reuse=True)
            self.discriminated_interpolated_logits = discriminate(interpolated_image,
                                                                  self.interpolated_condition_vectors)
            judged.extra_fake_logits = self.discriminated_interpolated_logits
        return {'': judged}
