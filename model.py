"""GANModel: a conditional GAN as a tf.compat.v1 graph, and its session-based fit loop.

Build it inside a graph you own:

    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(noise_len=100)            # or GANModel(settings.model_settings(loss='wgan'))

The generator draws an image for (noise, label). One discriminator, reused through its variable scope,
judges three pairs: (real image, right label), (real image, wrong label) and (generated image, right label).
Matching-aware training (GAN-CLS) teaches it to call only the first pair real.

The graph is built in stages, each passing its result on as a value (as TF-GAN's stages do):

    placeholders -> Conditions (what each network is conditioned on)
                 -> Networks (the generated images, and what each discriminator judged)   <- the model type
                 -> losses.GANLoss (the two losses and their parts)                        <- the loss rule
                 -> TrainOps (a discriminator step, a generator step)
                 -> summaries; fit(session, dataset, ...) runs k discriminator steps per generator step.

GANBase owns every stage but the networks; a model type says only how its networks are built
(GANModel here, LapGANModel in lapgan.py). The parts (networks.py, losses.py) and their settings
(settings.py) are chosen by name.
"""
import collections

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

import clusters as clusters_lib
import losses as losses_lib
import networks
import ops
import settings as settings_lib

v1 = tf.compat.v1

IMAGE_SHAPE = networks.IMAGE_SHAPE
# Step values fetched with the generator step; every other metric comes with the last critic step.
# How many images of each class the averaged generator's batch-norm statistics are recomputed on: 1,000 for ten
# classes, about what a batch drawn for scoring holds.
DRAWING_REFERENCE_PER_CLASS = 100
GENERATOR_METRICS = ('generator_loss', 'interpolated_generator_loss', 'mode_seeking_loss')

# What the networks are conditioned on: the condition vectors the generator draws for (`generator`; None for
# no condition), those the discriminator judges real images with (`right`, `wrong`; None where it judges
# none), the labels the mode-seeking term pairs generated images by, the noise the generator draws from, the
# clusters (clusters.ClusterConditions) where the conditioning has them, and for GAN-INT the `blended`
# condition vectors halfway between the right labels' and second labels'.
Conditions = collections.namedtuple('Conditions', 'generator right wrong labels noise clusters blended',
                                    defaults=(None,) * 4)
# What a model type builds: the generated images, the stages they are drawn through (LAPGAN's pyramid; else
# the images alone), what each discriminator judged ({name: losses.Judged}, '' for a model with one), and
# `final`, the Judged of the discriminator that judges the 28x28 images: the walkthrough's three outputs.
# With --ema-decay, `drawn` is the generator reading `averages` (ops.averaged_copies), what drawing runs, and
# `recompute` the op that sets its batch-norm statistics for those weights (GANBase.recompute_drawing_statistics).
# Its variables live under the 'generator/' and 'discriminator/' scopes.
Networks = collections.namedtuple('Networks', 'generated stages judged final drawn averages recompute',
                                  defaults=(None, None, None))
# The training ops: a discriminator (critic) step, a generator step that counts the global step, and the
# placeholder that scales both learning rates (a schedule).
# d_step_with_r1: lazy R1's discriminator step, on the same optimizer (None where every d_step pays R1).
TrainOps = collections.namedtuple('TrainOps', 'd_step g_step learning_rate_scale d_step_with_r1')


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or infinity: the weights are no longer usable."""


class GANBase(object):
    """The shared surface of every model of the family; a model type implements `build_networks`.

    GANModel(settings=None, condition_vectors=None, **given): a settings.ModelSettings, or the settings given
    by name on top of the defaults of the parts they choose (settings.model_settings); `condition_vectors`
    (num_classes, D) replace one-hot labels.
    """

    model_type = 'gan'

    def __init__(self, settings=None, condition_vectors=None, **given):
        if settings is None:
            settings = settings_lib.model_settings(self.model_type, **given)
        elif given or settings.model_type != self.model_type:
            raise ValueError('pass settings or settings by name, for a %s model' % self.model_type)
        else:
            settings_lib.check(settings)
        self.settings = settings
        self.noise_len, self.num_classes = settings.noise_len, settings.num_classes
        self.rule = losses_lib.RULES[settings.loss]
        self.graph = v1.get_default_graph()
        v1.set_random_seed(settings.seed)

        self._build_inputs(condition_vectors)
        self.conditions = self.build_conditions()
        self.global_step = v1.train.get_or_create_global_step()
        self.networks = self.build_networks(self.conditions)
        self.generator_variables = v1.trainable_variables('generator/')
        self.discriminator_variables = v1.trainable_variables('discriminator/')
        # What drawing needs besides the weights: batch-norm moving statistics, the averaged weights
        # (--ema-decay), and the clusters' shares.
        self.generator_state_variables = [v for v in ops.saved_variables()
                                          if v.op.name.startswith('generator/') and v not in self.generator_variables]
        # The averaged generator's batch-norm statistics: not saved, recomputed from the weights.
        self.drawing_statistics = v1.get_collection(ops.RECOMPUTED)
        self._statistics_step = None   # (session, step) they were last recomputed for
        if self.conditions.clusters is not None:
            self.generator_state_variables.append(self.conditions.clusters.shares)
        top_k = losses_lib.top_k_share(settings.top_k, self.epoch_input) if settings.top_k < 1 else None
        self.loss = losses_lib.gan_loss(self.rule, self.networks.judged, settings.diversity_weight,
                                        self.conditions.labels, settings.r1_weight, top_k, settings.r1_every)
        self.train_ops = build_train_ops(self.rule, settings, self.loss, self.discriminator_variables,
                                         self.generator_variables, self.global_step, self.networks.averages)
        # What drawing runs: the generator of the averaged weights where there is one, else the trained one.
        self.generated_image = self.networks.generated if self.networks.drawn is None else self.networks.drawn
        self._build_summaries()
        self.last_metrics = {}

        # The walkthrough's names for what the stages built.
        final = self.networks.final
        self.discriminated_real_right_logits, self.discriminated_fake_logits = final.real, final.fake
        self.discriminated_real_wrong_logits = final.wrong
        self.generator_loss, self.discriminator_loss = self.loss.generator, self.loss.discriminator
        self.d_optimizer, self.g_optimizer = self.train_ops.d_step, self.train_ops.g_step
        self.d_optimizer_with_r1 = self.train_ops.d_step_with_r1
        self.interpolated_condition_vectors = self.conditions.blended
        self.learning_rate_scale = self.train_ops.learning_rate_scale

    # --- placeholders and conditions ------------------------------------------------------------------

    def _build_inputs(self, condition_vectors):
        self.noise_input = v1.placeholder(tf.float32, (None, self.noise_len), name='noise_input')
        self.right_condition_input = v1.placeholder(tf.int64, (None,), name='right_condition_input')
        self.wrong_condition_input = v1.placeholder(tf.int64, (None,), name='wrong_condition_input')
        self.discriminator_input = v1.placeholder(tf.float32, (None,) + IMAGE_SHAPE, name='discriminator_input')
        # False (the default) normalises with moving statistics: what generation wants.
        self.is_training = v1.placeholder_with_default(False, (), name='is_training')
        # The epochs trained so far, fed by fit: what top-k anneals by.
        self.epoch_input = v1.placeholder_with_default(0.0, (), name='epoch')
        # GAN-INT: the generator step also gets second labels; left unfed, they repeat the right ones.
        self.second_condition_input = v1.placeholder_with_default(
            self.right_condition_input, (None,), name='second_condition_input') if (
                self.settings.interpolate_conditions) else None
        # A label becomes a condition vector by a table lookup: one-hot rows by default, or any fixed vectors
        # per class (e.g. sentence embeddings).
        if condition_vectors is None:
            condition_vectors = np.eye(self.num_classes, dtype=np.float32)
        self.condition_table = tf.constant(np.asarray(condition_vectors, np.float32), name='condition_table')

    def build_conditions(self):
        """The Conditions of the settings' conditioning: labels looked up in the condition table, clusters of
        the training images (their noise's first value picks a generated image's), or nothing."""
        conditioning = self.settings.conditioning
        self.right_condition_vectors = None
        # Noise values that pick the cluster rather than shape the image (clusters.py draws with them).
        self.picking_noise_values = clusters_lib.PICKING_NOISE_VALUES if conditioning == 'clusters' else 0
        if conditioning == 'clusters':
            found = clusters_lib.cluster_conditions(self.discriminator_input, self.noise_input, self.settings.clusters)
            vectors = [tf.one_hot(clusters, self.settings.clusters) for clusters in (found.generated, found.real,
                                                                                  found.wrong)]
            return Conditions(*vectors, labels=found.generated,
                              noise=self.noise_input[:, self.picking_noise_values:], clusters=found)
        if conditioning == 'none':
            return Conditions(None, None, None, noise=self.noise_input)
        # Feeding this tensor hands the generator any condition vectors, e.g. a blend of two digits.
        self.right_condition_vectors = right = tf.gather(self.condition_table, self.right_condition_input)
        blended = None
        if self.settings.interpolate_conditions:
            # GAN-INT, beta = 0.5: no training pair lies halfway between two labels' condition vectors.
            blended = 0.5 * (right + tf.gather(self.condition_table, self.second_condition_input))
        return Conditions(right, right, tf.gather(self.condition_table, self.wrong_condition_input),
                          labels=self.right_condition_input, noise=self.noise_input, blended=blended)

    def find_clusters(self, session, images, seed=0):
        """Cluster the training images (k-means in pixel space) and keep the centroids and the share of the
        images in each; nothing for a model without clusters."""
        found = self.conditions.clusters
        if found is None:
            return
        centroids, counts = clusters_lib.kmeans(np.reshape(images, (len(images), -1)), self.settings.clusters,
                                                seed=seed)
        session.run(found.keep, dict(zip(found.found, (centroids, counts / counts.sum()))))

    @property
    def judges_wrong_pairs(self):
        """Whether the discriminator judges real images with wrong labels: where the conditioning has them and
        the loss rule wants them (matching-aware training)."""
        return networks.CONDITIONINGS[self.settings.conditioning].judges_wrong_pairs and self.rule.wrong_pairs

    def build_networks(self, conditions):
        """The model type's generator and discriminators: a Networks value."""
        raise NotImplementedError

    # --- summaries -------------------------------------------------------------------------------------

    def _build_summaries(self):
        """Scalars by short name (metric_tensors) and TensorBoard tag (metric_tags); a digit grid fed fixed noise."""
        self.metric_tensors, self.metric_tags = {}, {}
        for name, tensor in self.loss.scalars.items():
            short = name.replace('/', '_')
            self.metric_tensors[short] = tensor
            self.metric_tags[short] = name if '/' in name else scalar_tag(name)
        self.summaries = v1.summary.merge([v1.summary.scalar(self.metric_tags[n], t)
                                           for n, t in sorted(self.metric_tensors.items())])
        self.grid_columns = v1.placeholder_with_default(tf.constant(ops.GRID_COLUMNS), (), name='grid_columns')
        grid = ops.image_grid(self.generated_image, self.grid_columns)
        self.image_summary = v1.summary.image('generated_digits', (grid + 1.0) / 2.0)

    # --- drawing --------------------------------------------------------------------------------------

    def drawing_reference(self):
        """The fixed batch the averaged generator's statistics are recomputed on: DRAWING_REFERENCE_PER_CLASS of
        each class, with noise of one fixed seed, so that the same weights always get the same statistics."""
        labels = np.repeat(np.arange(self.num_classes), DRAWING_REFERENCE_PER_CLASS)
        noise = np.random.RandomState(0).normal(size=(len(labels), self.noise_len)).astype(np.float32)
        return {self.noise_input: noise, self.right_condition_input: labels, self.is_training: True}

    def recompute_drawing_statistics(self, session, step=None):
        """Sets the averaged generator's batch-norm statistics to those of its weights on drawing_reference()
        (nothing for a model drawing from its trained weights). Whatever draws from a session calls it first; given
        the training step, once per step however often it is asked."""
        if self.networks.recompute is None:
            return
        if step is not None and (session, step) == self._statistics_step:
            return
        session.run(self.networks.recompute, self.drawing_reference())
        self._statistics_step = (session, step)

    def use_trained_statistics(self, session):
        """Sets the averaged generator's statistics to the trained generator's moving ones: what it drew with
        before they were recomputed for its weights, for comparing."""
        trained = {v.op.name: v for v in self.generator_state_variables}
        with self.graph.as_default():
            session.run([copy.assign(trained[copy.op.name[:-len(ops.RECOMPUTED_SUFFIX)]])
                         for copy in self.drawing_statistics])

    # --- judging real images ----------------------------------------------------------------------------

    @property
    def judges_held_out(self):
        """Whether real_probabilities means what p_real means: a model of one discriminator whose loss gives
        probabilities (a Wasserstein critic gives scores; LAPGAN's p_real is the mean of three discriminators)."""
        return 'p_real' in self.metric_tags and list(self.networks.judged) == ['']

    def real_probabilities(self, session, images, labels):
        """The discriminator's output, a probability, for each real image with its right label: what p_real
        averages over training batches. On real images it never trained on, a discriminator that has learned its
        training images by heart says lower."""
        logits = session.run(self.discriminated_real_right_logits,
                             {self.discriminator_input: images, self.right_condition_input: labels})
        return 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))

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
        if self.settings.interpolate_conditions:
            feed[self.second_condition_input] = dataset.next_label()
        return feed

    def critic_steps(self, step, k_steps):
        """Discriminator steps before generator step `step` (0-based): k_steps, or the rule's warm-up."""
        return self.rule.critic_steps(step, k_steps)

    def fit(self, session, dataset, epochs=1, k_steps=settings_lib.RunSettings.k_steps, callbacks=None, max_steps=None,
            learning_rate_scale=None):
        """k discriminator steps, then one generator step, then the callbacks due at that step.

        With lazy R1 (settings.r1_every N above 1) the first discriminator step of every Nth generator step,
        counted from the global step, is the one that pays R1.

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
        # Lazy R1: the penalty is measured (a second backward pass) only on the steps that pay it.
        lazy_r1 = self.d_optimizer_with_r1 is not None
        d_fetches_with_r1 = dict(d_fetches)
        if lazy_r1:
            d_fetches = {name: tensor for name, tensor in d_fetches.items() if not name.endswith('r1_penalty')}
        step = session.run(self.global_step)
        steps_per_epoch = max(1, dataset.batches_per_epoch // k_steps)
        epoch = 0
        while max_steps is None or step < max_steps:
            critic_steps = self.critic_steps(step, k_steps)
            if epochs is not None and not dataset.has_more_than(min(critic_steps, dataset.batches_per_epoch)):
                epoch += 1
                if epoch >= epochs:
                    break
                dataset.reset()
            # What both steps are fed besides their batches: the epochs so far (top-k) and the rates' schedule.
            schedule = {self.epoch_input: step / steps_per_epoch}
            if learning_rate_scale is not None:
                schedule[self.learning_rate_scale] = learning_rate_scale(step)
            d_values = {}
            for critic_step in range(critic_steps):
                if lazy_r1 and critic_step == 0 and step % self.settings.r1_every == 0:
                    fetches, d_optimizer = d_fetches_with_r1, self.d_optimizer_with_r1
                else:
                    fetches, d_optimizer = d_fetches, self.d_optimizer
                values, _ = session.run([fetches, d_optimizer], {**self.d_feed(dataset), **schedule})
                d_values.update(values)
            g_values, _ = session.run([g_fetches, self.g_optimizer], {**self.g_feed(dataset), **schedule})
            step += 1  # only g_optimizer increments the global step
            self.last_metrics = dict(d_values, **g_values)
            if not all(np.isfinite(v) for v in self.last_metrics.values()):
                raise NonFiniteLossError('non-finite loss at step %d: %s' % (step, self.last_metrics))
            for callback in callbacks:
                if step % callback.every_step == 0:
                    callback(dataset, step)
        return step


def build_train_ops(rule, settings, loss, d_variables, g_variables, global_step, averages=None):
    """TrainOps: each optimizer (the rule's, at the settings' rates) minimises its network's loss over its own
    variables and runs its own network's batch-norm updates; the rule's op after each critic step (WGAN's
    clipping) runs after the discriminator's; the generator's `averages`, if any, follow its step. With lazy R1
    the discriminator has a second step, for the loss that pays it."""
    scale = v1.placeholder_with_default(1.0, (), name='learning_rate_scale')
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    with v1.variable_scope('train'):
        # Lazy R1's step minimises another loss with the same optimizer: one set of Adam moments for both.
        d_optimizer = rule.optimizer(settings.d_learning_rate * scale, settings.beta1)
        d_updates = [op for op in update_ops if op.name.startswith('discriminator/')]

        def d_step_of(d_loss, name):
            with tf.control_dependencies(d_updates):
                step = d_optimizer.minimize(d_loss, var_list=d_variables, name=name)
            if rule.after_critic_step is None:
                return step
            with tf.control_dependencies([step]):
                return rule.after_critic_step(d_variables, settings)

        d_step = d_step_of(loss.discriminator, 'd_optimizer')
        d_step_with_r1 = None if loss.discriminator_with_r1 is None else d_step_of(loss.discriminator_with_r1,
                                                                                     'd_optimizer_with_r1')
        with tf.control_dependencies([op for op in update_ops if op.name.startswith('generator/')]):
            g_step = rule.optimizer(settings.learning_rate * scale, settings.beta1).minimize(
                loss.generator, var_list=g_variables, global_step=global_step, name='g_optimizer')
        if averages:
            with tf.control_dependencies([g_step]):
                g_step = ops.update_averages(averages, settings.ema_decay, global_step)
    return TrainOps(d_step, g_step, scale, d_step_with_r1)


def scalar_tag(name):
    """The TensorBoard tag of a top-level scalar: probabilities/, critic/ or loss/."""
    if name.startswith('p_'):
        return 'probabilities/' + name
    if name in ('wasserstein_estimate', 'gradient_penalty'):
        return 'critic/' + name
    return 'loss/' + name


class GANModel(GANBase):
    """One generator and one discriminator, of the architecture and conditioning chosen."""

    def build_networks(self, conditions):
        generator, discriminator = networks.ARCHITECTURES[self.settings.arch]
        conditioner = networks.CONDITIONINGS[self.settings.conditioning](self.settings)

        def generate(condition, reuse):
            with v1.variable_scope('generator', reuse=reuse):
                return generator(conditions.noise, condition, conditioner, self.settings, self.is_training)

        # With --spectral-norm every call reads the same normalised weights (ops.spectral_normalisation).
        normalised = ops.spectral_normalisation() if self.settings.spectral_norm else None

        def discriminate(images, condition, reuse=True):
            with v1.variable_scope('discriminator', reuse=reuse, custom_getter=normalised):
                return discriminator(ops.diff_augment(images, self.settings.augment), condition, conditioner,
                                     self.settings)

        generated = generate(conditions.generator, reuse=False)
        # One discriminator, its variables shared by scope, judges the three pairs: the real batch under its
        # right and its wrong labels in one call, which computes the image's part of it once for both.
        if self.judges_wrong_pairs:
            real_right, real_wrong = discriminate(self.discriminator_input, [conditions.right, conditions.wrong],
                                                  reuse=False)
        else:
            real_right, real_wrong = discriminate(self.discriminator_input, conditions.right, reuse=False), None
        fake = discriminate(generated, conditions.generator)
        extra_fake = None
        if conditions.blended is not None:
            # GAN-INT: D should judge G's image for a blend of two labels real too, which fills the space
            # between the labels.
            with ops.no_new_update_ops():   # one generator step moves the batch-norm statistics once
                blended_image = generate(conditions.blended, reuse=True)
            extra_fake = discriminate(blended_image, conditions.blended)
        drawn, averages, recompute = None, None, None
        if self.settings.ema_decay:
            # The same generator once more, reading the moving average of its weights: what drawing uses. Its
            # batch norm reads statistics of its own, recomputed for those weights (recompute_drawing_statistics):
            # the trained generator's moving statistics were gathered for other weights.
            averages = ops.averaged_copies(v1.trainable_variables('generator/'))
            statistics = ops.recomputed_copies([v for v in v1.global_variables('generator/')
                                                if v.op.name.endswith(('/moving_mean', '/moving_variance'))])
            with v1.variable_scope('', custom_getter=ops.reading({**averages, **statistics})), \
                    ops.no_new_update_ops():
                drawn = generate(conditions.generator, reuse=True)
            recompute = ops.recompute_statistics()
        judged = losses_lib.Judged(real_right, fake, real_wrong, real_inputs=self.discriminator_input,
                                   fake_inputs=generated, right=conditions.right, critic=discriminate,
                                   generated=generated, noise=conditions.noise, extra_fake=extra_fake)
        return Networks(generated, [generated if drawn is None else drawn], {'': judged}, judged, drawn, averages,
                        recompute)


# --- sessions ------------------------------------------------------------------------------------

def cpu_has_bfloat16():
    """True on processors with native bfloat16 arithmetic (AVX512-BF16 or AMX), where oneDNN runs it fast."""
    try:
        with open('/proc/cpuinfo') as stream:
            flags = stream.read()
    except OSError:
        return False
    return 'avx512_bf16' in flags or 'amx_bf16' in flags


def wants_bfloat16(precision):
    """Whether a --precision ('auto': bfloat16 where the processor has it) trains in bfloat16."""
    return precision == 'bfloat16' or (precision == 'auto' and cpu_has_bfloat16())


def session_config(bfloat16=False):
    """The session configuration for training. With bfloat16, TensorFlow's graph rewriter runs the
    convolutions and matrix products in bfloat16 on oneDNN; weights and optimizer state stay float32."""
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
