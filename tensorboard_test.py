"""What TensorBoard shows of a run, read back with TensorBoard's own reader and its custom-scalars plugin:
the tags users look for, the means of the steps between two summaries, and one chart holding p_real, p_fake
and p_wrong together."""
import json
import re
import types

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import data_provider, event_accumulator, plugin_event_multiplexer
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin
from tensorboard.plugins.custom_scalar import custom_scalars_plugin, metadata as layout_metadata
from tensorboard.plugins.scalar import scalars_plugin

import callbacks
from conftest import NO_R1, build
from lapgan import LapGANModel

v1 = tf.compat.v1

TINY = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8',
        '--seed', '0', '--save-every', '2', '--sample-every', '2', '--summary-every', '2', '--log-every', '2',
        '--eval-every', '0'] + NO_R1
PROBABILITIES = ['probabilities/p_real', 'probabilities/p_fake', 'probabilities/p_wrong']
HELD_OUT = 'probabilities/p_held_out'


@pytest.fixture
def offline(monkeypatch, tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    for name, value in (('GAN_OFFLINE', '1'), ('HOME', str(home)), ('KERAS_HOME', str(home / '.keras'))):
        monkeypatch.setenv(name, value)


def read_back(logdir):
    """Everything TensorBoard's event reader keeps of the run in logdir."""
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0, event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


class Dashboard:
    """The custom-scalars dashboard of one logdir, answered by TensorBoard's own plugin as its HTTP API would."""

    def __init__(self, logdir):
        multiplexer = plugin_event_multiplexer.EventMultiplexer()
        multiplexer.AddRunsFromDirectory(str(logdir))
        multiplexer.Reload()
        context = base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer, plugin_name_to_instance={},
                                        data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(logdir)))
        context.plugin_name_to_instance['scalars'] = scalars_plugin.ScalarsPlugin(context)
        self.plugin = custom_scalars_plugin.CustomScalarsPlugin(context)
        self.multiplexer = multiplexer

    def layout(self):
        return json.loads(self.plugin.layout_impl(RequestContext(), ''))

    def charts(self):
        """{chart title: its tag regexes}, over every category."""
        return {chart['title']: chart['multiline']['tag']
                for category in self.layout()['category'] for chart in category['chart']}

    def chart_data(self, run, regex):
        """{tag: [(step, value), ...]} of what a chart draws for one of its regexes."""
        answer = self.plugin.scalars_impl(RequestContext(), run, regex, '')
        return {tag: [(step, value) for _, step, value in events]
                for tag, events in answer['tag_to_events'].items()}


def test_written_losses_and_probabilities_are_the_means_of_the_steps_since_the_last_write(tmp_path):
    tags = {'p_real': 'probabilities/p_real', 'generator_loss': 'loss/generator_loss'}
    model = types.SimpleNamespace(metric_tags=tags, last_metrics={}, num_classes=10, noise_len=2, noise_input=None,
                                  right_condition_input=None, grid_columns=None, image_summary=None)
    session = v1.Session(graph=tf.Graph())
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=2, image_every_step=10 ** 9)
    p_real, generator_loss = [0.1, 0.3, 0.5, 0.9, 0.2], [4.0, 2.0, 1.0, 3.0, 8.0]
    for step, values in enumerate(zip(p_real, generator_loss), start=1):
        model.last_metrics = dict(zip(['p_real', 'generator_loss'], values))
        if step % summary.every_step == 0:   # as fit calls its callbacks
            summary(None, step)
    summary.close()
    run = read_back(tmp_path)
    assert [(e.step, round(e.value, 6)) for e in run.Scalars('probabilities/p_real')] == [(2, 0.2), (4, 0.7)]
    assert [(e.step, e.value) for e in run.Scalars('loss/generator_loss')] == [(2, 3.0), (4, 2.0)]


def layout_charts(model):
    layout = callbacks.custom_scalars_layout(model.metric_tags)
    return {chart.title: list(chart.multiline.tag) for category in layout.category for chart in category.chart}


def tags_drawn(regexes, tags):
    return sorted(tag for tag in tags if any(re.match(regex, tag) for regex in regexes))


@pytest.mark.parametrize('variant', ['gan', 'unconditioned', 'clustered', 'wgan', 'wgan-gp', 'lapgan'])
def test_layout_has_a_chart_per_story_for_every_variant(variant):
    # 'clustered' is the unconditioned GAN's default: its clusters give it a wrong pair, hence a p_wrong.
    settings = {'gan': {}, 'unconditioned': {'conditioning': 'none', 'clusters': 0},
                'clustered': {'conditioning': 'none'}, 'wgan': {'loss': 'wgan'}, 'wgan-gp': {'loss': 'wgan-gp'},
                'lapgan': {}}
    model, session = build(LapGANModel if variant == 'lapgan' else None, noise_len=6, g_dim=8, d_dim=8,
                           condition_units=8, seed=0, **settings[variant])
    session.close()
    tags = set(model.metric_tags.values())
    quality = {'quality/accuracy', 'quality/frechet_distance', 'quality/frechet_ratio', 'quality/min_diversity_ratio'}
    drawn = {title: tags_drawn(regexes, tags | quality) for title, regexes in layout_charts(model).items()}
    assert all(drawn.values()), drawn   # no empty chart
    charts = sorted(drawn.values())
    assert sorted(quality) == sorted(tag for chart in charts for tag in chart if tag.startswith('quality'))
    assert ['loss/discriminator_loss', 'loss/generator_loss'] in charts
    if variant.startswith('wgan'):
        assert ['critic/wasserstein_estimate'] in charts
        assert not any(tag.startswith('probabilities/') for chart in charts for tag in chart)
    elif variant == 'unconditioned':
        assert sorted(PROBABILITIES[:2]) in charts
    else:
        assert sorted(PROBABILITIES) in charts
    if variant == 'lapgan':
        for size in (7, 14, 28):
            assert sorted('level%d/%s' % (size, name) for name in ('p_real', 'p_fake', 'p_wrong')) in charts
            assert ['level%d/discriminator_loss' % size, 'level%d/generator_loss' % size] in charts


def test_a_short_run_shows_its_curves_charts_and_digits_in_tensorboard(offline, tmp_path):
    import main
    logdir = tmp_path / 'run'
    assert main.main(TINY + ['--logdir', str(logdir), '--steps', '4']) == 0
    assert main.main(TINY + ['--logdir', str(logdir), '--steps', '6']) == 0   # resumed: the layout is written again

    run = read_back(logdir)
    for tag in PROBABILITIES + ['loss/generator_loss', 'loss/discriminator_loss', 'loss/discriminator_fake_loss',
                                'loss/discriminator_real_right_loss', 'loss/discriminator_real_wrong_loss']:
        assert [event.step for event in run.Scalars(tag)] == [2, 4, 6], tag
    [image_tag] = [tag for tag in run.Tags()['images'] if tag.startswith('generated_digits')]
    grid = run.Images(image_tag)[-1]
    assert (grid.step, grid.height, grid.width) == (6, 10 * 28, 10 * 28)   # a row per digit, ten columns
    # Written by each session of the run, the same layout each time: the dashboard shows it once.
    assert len({event.tensor_proto.string_val[0] for event in run.Tensors(layout_metadata.CONFIG_SUMMARY_TAG)}) == 1

    dashboard = Dashboard(logdir)
    [title] = [title for title in dashboard.charts() if 'p_real' in title]
    drawn = {}
    for regex in dashboard.charts()[title]:
        drawn.update(dashboard.chart_data('.', regex))
    # Beside the three pairs, the discriminator's output for real digits held out of training.
    assert sorted(drawn) == sorted(PROBABILITIES + [HELD_OUT])
    for tag in PROBABILITIES + [HELD_OUT]:
        steps, values = zip(*drawn[tag])
        assert steps == (2, 4, 6) and all(0 <= value <= 1 for value in values)
    np.testing.assert_allclose([value for _, value in drawn['probabilities/p_real']],
                               [event.value for event in run.Scalars('probabilities/p_real')])


def test_p_held_out_is_the_discriminators_output_for_digits_it_never_trained_on(offline, tmp_path, monkeypatch):
    """p_held_out, at each summary: the mean of the discriminator's output for a fixed sample of the held-out
    digits with their labels, the digits the quality figures compare with."""
    import main
    import model as model_lib
    judged = []
    original = model_lib.GANBase.real_probabilities

    def recording(self, session, images, labels):
        judged.append((np.asarray(images).copy(), np.asarray(labels).copy()))
        return original(self, session, images, labels)
    monkeypatch.setattr(model_lib.GANBase, 'real_probabilities', recording)
    logdir = tmp_path / 'run'
    assert main.main(TINY + ['--logdir', str(logdir), '--steps', '4']) == 0
    assert len(judged) == 2 and all(np.array_equal(judged[0][0], images) for images, _ in judged)
    import classifier
    _, _, held_images, held_labels, _, _ = classifier.load_training_and_held_out('mnist_sample')
    held = {image.tobytes(): label for image, label in zip(held_images.astype(np.float32), held_labels)}
    images, labels = judged[0]
    assert len(images) == callbacks.HELD_OUT_JUDGED
    assert all(held.get(image.tobytes()) == label for image, label in zip(images, labels))
    assert sorted(np.bincount(labels)) == [callbacks.HELD_OUT_JUDGED // 10] * 10


@pytest.mark.parametrize('flags', [['--train-on-held-out'], ['--loss', 'wgan-gp']])
def test_no_p_held_out_without_held_out_digits_or_probabilities(offline, tmp_path, flags):
    import main
    logdir = tmp_path / 'run'
    assert main.main(TINY + flags + ['--logdir', str(logdir), '--steps', '2']) == 0
    assert HELD_OUT not in read_back(logdir).Tags()['scalars']
