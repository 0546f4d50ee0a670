"""Checkpoints of a run: naming, saving, finding, restoring and pruning them, and the file saved beside each.

A checkpoint `<logdir>/model.ckpt-<step>` holds both networks, both optimizers and the global step. Beside
it, `model.ckpt-<step>.dataset.json` holds the data order (GANDataset.state_dict()), so that a resumed run
draws the batches an uninterrupted one would have, and `training_seconds`: the wall-clock seconds the run
had trained for, over all its sessions, when the checkpoint was saved.
"""
import glob
import json
import os
import re

import cli

tf = cli.import_tensorflow_quietly()
v1 = tf.compat.v1

CHECKPOINT_NAME = 'model.ckpt'
TRAINING_SECONDS = 'training_seconds'


class CheckpointError(Exception):
    """A checkpoint that cannot be restored into the model; the message says why, the caller adds the fix."""

    def __init__(self, message, corrupt):
        super().__init__(message)
        self.corrupt = corrupt


# ---------------------------------------------------------------- names

def checkpoints_in(logdir):
    """Checkpoint paths in logdir, oldest first.

    Found by their .index files (written last, once the data is in place) rather than through the
    `checkpoint` list, which holds absolute paths when the logdir was given as one, and so would point
    into the original after the logdir is copied or moved.
    """
    found = []
    for index in glob.glob(os.path.join(glob.escape(logdir), CHECKPOINT_NAME + '-*.index')):
        match = re.search(r'-(\d+)\.index$', index)
        if match:
            found.append((int(match.group(1)), index[:-len('.index')]))
    return [path for _, path in sorted(found)]


def latest_checkpoint(logdir):
    paths = checkpoints_in(logdir)
    return paths[-1] if paths else None


def checkpoint_step(path):
    return int(re.search(r'-(\d+)$', path).group(1))


def fallback_hint(path):
    """How to get past a corrupt checkpoint by falling back to the one before it, or None if there is none."""
    earlier = [p for p in checkpoints_in(os.path.dirname(path) or '.') if checkpoint_step(p) < checkpoint_step(path)]
    return 'delete %s.* to fall back to %s' % (path, earlier[-1]) if earlier else None


def dataset_state_path(checkpoint_path):
    return checkpoint_path + '.dataset.json'


# ---------------------------------------------------------------- saving

class Saver(object):
    """Saves checkpoints into logdir and keeps the last `keep` of them, counting those already there.

    The underlying Saver names the newest checkpoint in the `checkpoint` file only once it is completely
    written, so a run killed while saving leaves the previous one usable.
    """

    def __init__(self, session, logdir, keep=3):
        os.makedirs(logdir, exist_ok=True)
        self.session = session
        self.prefix = os.path.join(logdir, CHECKPOINT_NAME)
        with session.graph.as_default():   # TF2 refuses a Saver outside a graph
            self.saver = v1.train.Saver(max_to_keep=keep)
        # A resumed run goes on pruning the checkpoints of its earlier sessions too.
        self.saver.set_last_checkpoints_with_time(
            [(path, os.path.getmtime(path + '.index')) for path in checkpoints_in(logdir)])

    def save(self, step, dataset_state=None, training_seconds=None):
        """The path of the checkpoint of `step`, with the data order and training time beside it when given."""
        if dataset_state is not None:
            beside = dict(dataset_state)
            if training_seconds is not None:
                beside[TRAINING_SECONDS] = training_seconds
            cli.write_json_atomically(dataset_state_path('%s-%d' % (self.prefix, step)), beside)
        with self.session.graph.as_default():
            path = self.saver.save(self.session, self.prefix, global_step=step)
        remove_orphaned_dataset_states(os.path.dirname(self.prefix))
        return path


def remove_orphaned_dataset_states(logdir):
    """The saver deletes old checkpoints; the files beside them go with them."""
    for path in glob.glob(os.path.join(glob.escape(logdir), CHECKPOINT_NAME + '-*.dataset.json')):
        if not os.path.exists(path[:-len('.dataset.json')] + '.index'):
            os.remove(path)


# ---------------------------------------------------------------- reading

def restore_checkpoint(session, saver, path, variables):
    """Restore `variables` from `path`; CheckpointError says whether it is corrupt or made for another model."""
    try:
        reader = tf.train.load_checkpoint(path)
        shapes = reader.get_variable_to_shape_map()
        # Reading every tensor checks its checksum: a truncated file is refused even where the
        # variables asked for happen to lie in the part that survived.
        for name in shapes:
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as error:
        # The reader reports a short read as IndexError and other damage as ValueError or RuntimeError.
        raise CheckpointError('checkpoint %s is corrupt or truncated (%s)' % (path, short_error(error)), corrupt=True)
    for variable in variables:
        name, shape = variable.op.name, variable.shape.as_list()
        if name not in shapes:
            raise CheckpointError('checkpoint %s does not match the model in config.json: it has no %s'
                                  % (path, name), corrupt=False)
        if list(shapes[name]) != shape:
            raise CheckpointError('checkpoint %s does not match the model in config.json: %s is %s there, %s in '
                                  'the model' % (path, name, list(shapes[name]), shape), corrupt=False)
    try:
        with session.graph.as_default():
            saver.restore(session, path)
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError('checkpoint %s is corrupt or truncated (%s)' % (path, short_error(error)), corrupt=True)


def short_error(error):
    """TensorFlow's messages run over many lines: the error's class and its first informative line."""
    lines = [line.strip() for line in getattr(error, 'message', str(error)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(('Graph execution error', 'Detected at node',
                                                            'Restoring from checkpoint failed'))]
    text = (useful or lines or [''])[0]
    return '%s: %s' % (type(error).__name__, text[:200])


def read_data_state(checkpoint_path):
    """What was saved beside a checkpoint: its data order and training time; None if nothing was, and
    CheckpointError if it is corrupt."""
    path = dataset_state_path(checkpoint_path)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as stream:
            state = json.load(stream)
        if not isinstance(state, dict):
            raise ValueError('it holds no data order')
    except (OSError, ValueError) as error:
        raise CheckpointError('%s is corrupt (%s)' % (path, error), corrupt=True)
    return state


def training_seconds(checkpoint_path):
    """The seconds the run had trained for when it saved this checkpoint; None if that is unknown (it was
    saved before the time was recorded, or resumed from such a checkpoint) or unreadable."""
    try:
        state = read_data_state(checkpoint_path)
    except CheckpointError:
        return None
    return None if state is None else state.get(TRAINING_SECONDS)
