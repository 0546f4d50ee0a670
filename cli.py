"""What every command line of the project shares: one-line usage errors, the number types of its flags, atomic
file writes and the quiet TensorFlow import.

It imports no module of the project, so that every other module may import it.
"""
import argparse
import errno
import json
import math
import os
import sys

# numpy's and TensorFlow's seeds are unsigned 32-bit numbers.
HIGHEST_SEED = 2 ** 32 - 1


def import_tensorflow_quietly():
    """TensorFlow, with its own log kept off the terminal, so that an error stays one line.

    Its start-up notices ignore TF_CPP_MIN_LOG_LEVEL, so stderr is muted while it loads; later it logs
    harmless graph-rewrite failures at level E, so the level defaults to 3 (fatal only); and its Python
    side warns about deprecated calls inside its own Saver. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
    """
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    if 'tensorflow' in sys.modules or os.environ['TF_CPP_MIN_LOG_LEVEL'] == '0':
        import tensorflow
        return tensorflow
    import logging
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow
            finally:
                os.dup2(saved_stderr, 2)
    finally:
        os.close(saved_stderr)
    return tensorflow


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """Reports a bad flag as a UsageError that points to --help, instead of printing the usage and exiting."""

    def error(self, message):
        raise UsageError('%s (see python %s --help)' % (message, self.prog))


def fail(prog, message, code=2):
    """Print `prog: error: message` on stderr; returns the exit code."""
    print('%s: error: %s' % (prog, message), file=sys.stderr, flush=True)
    return code


def parse_arguments(parser, argv):
    """(args, None); or (None, the exit code) once --help is printed or a bad flag reported in one line."""
    try:
        return parser.parse_args(argv), None
    except UsageError as error:
        return None, fail(parser.prog, error)
    except SystemExit as done:   # --help
        return None, done.code


# ---------------------------------------------------------------- argparse types

def _number(text, kind, lowest, what, highest=math.inf):
    """`text` as `kind`, finite and from `lowest` to `highest`; `what` says which numbers are allowed."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a %s' % (text, 'whole number' if kind is int else 'number'))
    if not (math.isfinite(value) and lowest <= value <= highest):
        raise argparse.ArgumentTypeError('must be %s, got %s' % (what, text))
    return value


def positive_int(text):
    return _number(text, int, 1, 'at least 1')


def non_negative_int(text):
    return _number(text, int, 0, '0 or more')


def positive_float(text):
    value = _number(text, float, 0.0, 'a positive number')
    if value == 0.0:
        raise argparse.ArgumentTypeError('must be a positive number, got %s' % text)
    return value


def non_negative_float(text):
    return _number(text, float, 0.0, '0 or a positive number')


def fraction(text):
    """A number from 0 to 1."""
    value = _number(text, float, 0.0, 'a number from 0 to 1')
    if value > 1.0:
        raise argparse.ArgumentTypeError('must be a number from 0 to 1, got %s' % text)
    return value


def seed(text):
    return _number(text, int, 0, 'a whole number from 0 to %d' % HIGHEST_SEED, highest=HIGHEST_SEED)


# ---------------------------------------------------------------- files

# The hidden temporary files of write_atomically, by name: '.<name>.tmp' beside the file being written.
TEMPORARY_PATTERN = '.*.tmp'


def write_atomically(path, write):
    """write(binary file) into a hidden temporary file beside `path`, then rename: a crash never leaves half a
    file, and a failed write (a full disk) removes its temporary file."""
    temporary = os.path.join(os.path.dirname(path), '.%s.tmp' % os.path.basename(path))
    try:
        with open(temporary, 'wb') as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        remove_if_there(temporary)
        raise
    return path


def remove_if_there(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_json_atomically(path, data):
    return write_atomically(path, lambda stream: stream.write(json.dumps(data).encode()))


def unwritable(directory, error, fix):
    """The one line for an OSError while writing into `directory`: a full disk is said as such."""
    if error.errno == errno.ENOSPC:
        return 'no space left on the device holding %s: %s' % (directory, fix)
    return 'cannot write into %s (%s): %s' % (directory, error.strerror or error, fix)
