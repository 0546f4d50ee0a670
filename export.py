"""A trained generator as a TensorFlow SavedModel that loads without this project (python generate.py --export DIR).

    exported = tf.saved_model.load(DIR)
    images = exported.signatures['serving_default'](noise=noise, label=labels)['images']   # (N, 28, 28, 1) in [0, 1]
    exported.signatures['metadata']()        # {'class_names': (K,) strings, 'noise_len': int64}

The export is the inference path of the restored tf.compat.v1 graph, copied out as a GraphDef: only what the images
depend on (no discriminator, no training ops), with batch norm fixed to its moving statistics, and the generator's
restored variables as the TF2 variables of a tf.Module that the imported graph reads. So it draws exactly what
runs.Generator.sample draws, mapped to [0, 1] as generate.py's .npy files hold images. An unconditioned run's
serving signature takes noise alone: labels mean nothing to it (the clustered GAN picks its cluster from the first
noise value). docs/export.md says how to draw from it, serve it and convert it.
"""
import collections
import errno
import os
import secrets
import shutil
import tempfile

import cli

tf = cli.import_tensorflow_quietly()

from tensorflow.core.framework import function_pb2, node_def_pb2  # noqa: E402  (after the quiet import)

SERVING = 'serving_default'
METADATA = 'metadata'
# One class name a line, line i naming label i; also in the metadata signature.
CLASS_NAMES_FILE = 'class_names.txt'
FIX = 'name a new or empty folder'


class ExportError(Exception):
    """An export the machine failed to write; the one-line message says where and why."""


# ---------------------------------------------------------------- where it goes

def destination_problem(directory):
    """Why an export cannot go to `directory` (a file or link, a folder not empty, under a file, a place that takes
    no new folder), or None: checked before the work. Nothing is left behind."""
    flag = '--export %s' % directory
    if os.path.islink(directory):
        return '%s is a link: %s' % (flag, FIX)
    if os.path.isdir(directory):
        try:
            if os.listdir(directory):
                return '%s is not empty, and an export replaces nothing: %s' % (flag, FIX)
        except OSError as error:
            return '%s cannot be read (%s): %s' % (flag, error.strerror or error, FIX)
    elif os.path.lexists(directory):
        return '%s is a file: %s' % (flag, FIX)
    folder = cli.existing_folder(directory)
    if not os.path.isdir(folder):
        return '%s cannot be written: %s is a file, not a folder: %s' % (flag, folder, FIX)
    try:
        os.rmdir(temporary_folder(directory))
    except OSError as error:
        return '%s cannot be written: %s' % (flag, cli.unwritable(folder, error, FIX))
    return None


def temporary_folder(directory):
    """A new hidden folder '.<name>.<random>.tmp' in the nearest existing folder of `directory`, on its file system
    so that a rename puts it in place; made as mkdir makes a folder (the umask's permissions), never one already
    there."""
    folder, name = cli.existing_folder(directory), os.path.basename(os.path.abspath(directory))
    while True:
        path = os.path.join(folder, '.%s.%s.tmp' % (name, secrets.token_hex(4)))
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path


# ---------------------------------------------------------------- the inference graph

def source(name):
    """The node of a GraphDef or FunctionDef input ('^node', 'node:1', 'node:output:0')."""
    return name.lstrip('^').split(':')[0]


def used_outputs(graph_def):
    """{node name: the indices of its outputs that other nodes read}."""
    used = collections.defaultdict(set)
    for node in graph_def.node:
        for name in node.input:
            if not name.startswith('^'):
                parts = name.split(':')
                used[parts[0]].add(int(parts[1]) if len(parts) > 1 else 0)
    return used


def function_with_outputs(function, kept, name):
    """A copy of `function` named `name` that returns only its outputs numbered in `kept`, and holds only the nodes
    they need."""
    pruned = function_pb2.FunctionDef()
    pruned.CopyFrom(function)
    pruned.signature.name = name
    outputs = [arg for i, arg in enumerate(function.signature.output_arg) if i in kept]
    del pruned.signature.output_arg[:]
    pruned.signature.output_arg.extend(outputs)
    pruned.ret.clear()
    for arg in outputs:
        pruned.ret[arg.name] = function.ret[arg.name]
    body = {node.name: node for node in function.node_def}
    needed, waiting = set(), [source(function.ret[arg.name]) for arg in outputs]
    while waiting:
        node = waiting.pop()
        if node in body and node not in needed:
            needed.add(node)
            waiting.extend(source(name) for name in body[node].input)
    del pruned.node_def[:]
    pruned.node_def.extend(node for node in function.node_def if node.name in needed)
    return pruned


def with_moving_statistics(graph_def, switch):
    """graph_def with every tf.cond on `switch` (batch norm's is_training) replaced by a call of its False branch,
    the moving statistics, pruned to the outputs read. The call gets a new name: a function call's nodes are named
    under it, and the cond's own name already has nodes under it."""
    library = {function.signature.name: function for function in graph_def.library.function}
    used = used_outputs(graph_def)
    renamed = {}
    for node in graph_def.node:
        if node.op not in ('If', 'StatelessIf') or source(node.input[0]) != switch:
            continue
        kept = sorted(used[node.name])
        branch = node.attr['else_branch'].func.name
        name = '%s_outputs_%s' % (branch, '_'.join(str(i) for i in kept))
        if name not in library:
            library[name] = function_with_outputs(library[branch], kept, name)
            graph_def.library.function.append(library[name])
        call = node_def_pb2.NodeDef(name=node.name + '/moving_statistics', op='StatefulPartitionedCall',
                                    input=node.input[1:], device=node.device)
        call.attr['f'].func.name = name
        call.attr['Tin'].CopyFrom(node.attr['Tin'])
        call.attr['Tout'].list.type.extend(node.attr['Tout'].list.type[i] for i in kept)
        renamed[node.name] = (call.name, {old: new for new, old in enumerate(kept)})
        node.CopyFrom(call)
    for node in graph_def.node:
        for i, name in enumerate(node.input):
            if source(name) in renamed:
                call, numbers = renamed[source(name)]
                parts = name.split(':')
                node.input[i] = ('^' + call if name.startswith('^')
                                 else '%s:%d' % (call, numbers[int(parts[1]) if len(parts) > 1 else 0]))
    return graph_def


def keep_called_functions(graph_def):
    """Drop the functions of graph_def's library that no node calls (the training graph's branches and
    gradients)."""
    library = {function.signature.name: function for function in graph_def.library.function}

    def called(nodes):
        for node in nodes:
            for value in node.attr.values():
                if value.HasField('func'):
                    yield value.func.name
                yield from (function.name for function in value.list.func)

    kept, waiting = set(), list(called(graph_def.node))
    while waiting:
        name = waiting.pop()
        if name in library and name not in kept:
            kept.add(name)
            waiting.extend(called(library[name].node_def))
    del graph_def.library.function[:]
    del graph_def.library.gradient[:]
    graph_def.library.function.extend(library[name] for name in sorted(kept))


# The inference graph of a generator: its GraphDef (the variables' handles left as inputs of that name), the
# variables in the order of `handles`, the names of its placeholders for noise and (None for an unconditioned
# model) labels, and of the images in [-1, 1].
Inference = collections.namedtuple('Inference', 'graph_def handles variables noise label images')


def inference_graph(drawing):
    """The Inference of a runs.Drawing: what its images depend on, batch norm on its moving statistics."""
    images = drawing.images.op.name
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(drawing.graph.as_graph_def(), [images])
    graph_def = with_moving_statistics(graph_def, drawing.is_training.op.name)
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [images])
    keep_called_functions(graph_def)
    restored = {variable.op.name: variable for variable in drawing.variables}
    handles = [node.name for node in graph_def.node if node.op == 'VarHandleOp']
    inputs = {node.name for node in graph_def.node if node.op in ('Placeholder', 'PlaceholderWithDefault')}
    others = sorted(set(handles) - set(restored)) + sorted(inputs - {drawing.noise.op.name, drawing.label.op.name})
    if others:
        raise ValueError('the images depend on more than the restored generator and its inputs: %s' % others)
    nodes = [node for node in graph_def.node if node.op != 'VarHandleOp']
    del graph_def.node[:]
    graph_def.node.extend(nodes)
    label = drawing.label.op.name if drawing.label.op.name in inputs else None
    return Inference(graph_def, handles, [restored[name] for name in handles], drawing.noise.op.name, label, images)


# ---------------------------------------------------------------- the SavedModel

def exported_module(inference, values, noise_len, class_names, names_file):
    """A tf.Module holding the generator's variables (set to `values`), the class names file and the functions
    behind the two signatures, `draw` and `metadata`."""
    module = tf.Module()
    module.generator_variables = [tf.Variable(value, trainable=False, name=name)
                                  for name, value in zip(inference.handles, values)]
    module.class_names_file = tf.saved_model.Asset(names_file)

    def images(noise, label=None):
        # Each variable's handle stands where its VarHandleOp stood; an identity captures it in the function.
        inputs = {name + ':0': tf.identity(variable.handle)
                  for name, variable in zip(inference.handles, module.generator_variables)}
        inputs[inference.noise + ':0'] = noise
        if label is not None:
            inputs[inference.label + ':0'] = label
        generated, = tf.graph_util.import_graph_def(inference.graph_def, input_map=inputs, name='generator',
                                                    return_elements=[inference.images + ':0'])
        return {'images': tf.clip_by_value((generated + 1.0) / 2.0, 0.0, 1.0)}

    def draw(noise, label):
        return images(noise, label)

    def draw_from_noise(noise):
        return images(noise)

    def metadata():
        return {'class_names': tf.constant(list(class_names), tf.string),
                'noise_len': tf.constant(noise_len, tf.int64)}

    noise = tf.TensorSpec([None, noise_len], tf.float32, name='noise')
    if inference.label is None:
        module.draw = tf.function(draw_from_noise, input_signature=[noise])
    else:
        module.draw = tf.function(draw, input_signature=[noise, tf.TensorSpec([None], tf.int64, name='label')])
    module.metadata = tf.function(metadata, input_signature=[])
    return module


def write_export(generator, class_names, directory):
    """The SavedModel of a runs.Generator in `directory`, a new or empty folder (destination_problem says why not):
    written into a temporary sibling and renamed into place, so that a failure leaves nothing. ExportError if the
    machine fails."""
    inference = inference_graph(generator.drawing)
    values = generator.values(inference.variables)
    try:
        temporary = temporary_folder(directory)
    except OSError as error:
        raise ExportError(failure(directory, error))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            names_file = os.path.join(scratch, CLASS_NAMES_FILE)
            with open(names_file, 'w') as stream:
                stream.write(''.join(name + '\n' for name in class_names))
            module = exported_module(inference, values, generator.noise_len, class_names, names_file)
            tf.saved_model.save(module, temporary, signatures={SERVING: module.draw.get_concrete_function(),
                                                               METADATA: module.metadata.get_concrete_function()})
        os.makedirs(os.path.dirname(os.path.abspath(directory)), exist_ok=True)
        # Replaces an empty folder; a folder filled meanwhile stays as it is, and the rename fails.
        os.rename(temporary, directory)
    except (OSError, tf.errors.OpError) as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise ExportError(failure(directory, error))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return directory


def failure(directory, error):
    """The one line for an OSError or a TensorFlow error while writing the export."""
    folder = cli.existing_folder(directory)
    if isinstance(error, OSError):
        return cli.unwritable(folder, error, 'free some space or %s' % FIX if error.errno == errno.ENOSPC else FIX)
    return 'cannot write the export %s (%s): %s' % (directory, error.message.splitlines()[0], FIX)


def description(generator):
    """What an export of the generator takes and gives, for the line generate.py prints."""
    if generator.conditioned:
        return ('a SavedModel of the generator: %s takes noise (N, %d) and label (N,), gives images (N, 28, 28, 1) '
                'in [0, 1]; %s gives class_names and noise_len' % (SERVING, generator.noise_len, METADATA))
    return ('a SavedModel of the generator: %s takes noise (N, %d) alone (the model draws no particular digit), gives '
            'images (N, 28, 28, 1) in [0, 1]; %s gives class_names and noise_len' % (SERVING, generator.noise_len,
                                                                                     METADATA))
