"""What a resumed run takes back from its logdir: the checkpoint's variables, the data order saved beside it,
its condition vectors, and the check that data given at a new path is the data it was trained on.

A new run takes nothing back: its variables are initialised and its data shuffled afresh.
"""
import os

import numpy as np

import checkpoints
import cli
import dataset as dataset_lib
import ops
import runs
from cli import UsageError

v1 = cli.import_tensorflow_quietly().compat.v1

# The fix for a --condition-vectors file that cannot be used.
FLAG_VECTORS_FIX = 'pass a .npy file of condition vectors, one row per class, saved with numpy.save'


def restore_or_initialise(session, checkpoint_path, run, say):
    """Every variable from the checkpoint (or initialised, for a run without one), which must have been trained
    as `run`'s model; what was saved beside it, or None where nothing usable was (the data is then
    reshuffled, said through `say`)."""
    with session.graph.as_default():
        variables = ops.saved_variables()
        # Whatever is not saved is recomputed from the weights; until then it holds its initial value.
        session.run(v1.variables_initializer([v for v in v1.global_variables() if v not in variables]))
        if not checkpoint_path:
            session.run(v1.variables_initializer(variables))
            return None
        restorer = v1.train.Saver(variables)
    try:
        checkpoints.restore_checkpoint(session, restorer, checkpoint_path, variables)
    except checkpoints.CheckpointError as error:
        raise runs.unusable_checkpoint(error, checkpoint_path)
    runs.check_trained_as(checkpoint_path, run)
    try:
        saved = checkpoints.read_data_state(checkpoint_path)
    except checkpoints.CheckpointError as error:
        # Only the data order is lost, not the model: go on as if it had never been saved.
        say('%s: the data is reshuffled' % error)
        return None
    if saved is None:
        say('no saved data order beside the checkpoint (%s): the data is reshuffled' % (
            checkpoints.dataset_state_path(checkpoint_path)))
    return saved


def resume_data_order(data, saved, checkpoint_path, say):
    """The data order saved with the checkpoint; a damaged one is treated like a missing one: a reshuffle."""
    if saved is None:
        return
    if isinstance(saved.get('num_examples'), int) and saved['num_examples'] != len(data.labels):
        raise UsageError('the data order saved with %s is for %d examples, but the data holds %d: train afresh '
                         'with another --logdir' % (checkpoint_path, saved['num_examples'], len(data.labels)))
    fresh = data.state_dict()
    try:
        data.load_state_dict(saved)
    except (ValueError, KeyError, TypeError) as error:
        data.load_state_dict(fresh)
        say('%s is corrupt (%s: %s): the data is reshuffled' % (
            checkpoints.dataset_state_path(checkpoint_path), type(error).__name__, error))


def check_same_data(logdir, stored, given_path, data, say):
    """A resumed run given --data at another path than it was trained with: the data must be the same."""
    if stored is None or given_path is None or given_path == stored.get('data'):
        return
    kept = stored.get('data_fingerprint')
    if kept is None:
        raise UsageError('%s was trained with --data %s and stores no fingerprint of it, so --data %s cannot be '
                         'checked against it: put the data back, or train a new model with another --logdir' % (
                             logdir, stored.get('data'), given_path))
    if dataset_lib.fingerprint(data.images, data.labels) != kept:
        raise UsageError('--data %s holds other data than %s was trained on (--data %s): pass the same data, or '
                         'train a new model with another --logdir' % (given_path, logdir, stored.get('data')))
    say('--data %s holds the data that %s was trained on (--data %s): its config.json now names %s' % (
        given_path, logdir, stored.get('data'), given_path))


def condition_vectors_of(logdir, run, given_path, resumed):
    """The run's condition vectors (None: one-hot labels): the --condition-vectors file of a new run, or the
    copy a resumed run keeps (a file given again must hold the same vectors)."""
    given = None
    if given_path is not None:
        given = runs.read_condition_vectors(given_path, run.model.num_classes, '--condition-vectors %s' % given_path,
                                            FLAG_VECTORS_FIX)
    if not resumed:
        return given
    kept = runs.stored_condition_vectors(logdir, run)
    if given is not None and (kept is None or not np.array_equal(given, kept)):
        raise UsageError('%s was trained %s, not with --condition-vectors %s: leave the flag out to resume it, or '
                         'train a new model with another --logdir' % (
                             logdir, 'with other condition vectors' if kept is not None else 'on one-hot labels',
                             given_path))
    return kept


def missing_data(logdir, run):
    """The UsageError for a resumed run whose --data file is no longer where it was, or None."""
    if run.data is not None and not os.path.exists(run.data):
        return UsageError('%s was trained on --data %s, which is no longer there: if the file moved, pass '
                          '--data NEWPATH' % (logdir, run.data))
    return None
