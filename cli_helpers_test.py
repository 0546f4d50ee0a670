"""cli.py's shared pieces: the one-line parser, atomic writes beside a user's files, and output checks."""
import os
import subprocess
import sys

import pytest

import cli

HERE = os.path.dirname(os.path.abspath(__file__))


def number_parser():
    parser = cli.OneLineArgumentParser(prog='prog.py')
    parser.add_argument('--learning-rate', type=cli.positive_float)
    parser.add_argument('--weight', type=cli.non_negative_float)
    parser.add_argument('--steps', type=cli.positive_int)
    return parser


@pytest.mark.parametrize('text', ['-1e-4', '-1E+3', '-2.5e-3', '-1.', '-inf'])
def test_a_negative_number_in_any_notation_reaches_the_flags_own_check(text):
    with pytest.raises(cli.UsageError) as raised:
        number_parser().parse_args(['--learning-rate', text])
    assert 'must be a positive number' in str(raised.value) and text in str(raised.value)
    assert 'expected one argument' not in str(raised.value)


def test_a_negative_exponent_number_still_parses_where_it_is_allowed_and_flags_stay_flags():
    parser = cli.OneLineArgumentParser(prog='prog.py')
    parser.add_argument('--offset', type=float)
    parser.add_argument('--steps', type=cli.positive_int)
    args = parser.parse_args(['--offset', '-1e-4', '--steps', '3'])
    assert args.offset == -1e-4 and args.steps == 3
    with pytest.raises(cli.UsageError, match='expected one argument'):
        parser.parse_args(['--offset', '--steps', '3'])


def test_an_atomic_write_leaves_a_users_file_of_the_temporary_name_alone(tmp_path):
    """The temporary file is a new name: a file of the user's that happens to be called like it survives."""
    theirs = tmp_path / '.picture.png.tmp'
    theirs.write_bytes(b'the user\'s own file')
    target = tmp_path / 'picture.png'
    cli.write_atomically(str(target), lambda stream: stream.write(b'new picture'))
    assert target.read_bytes() == b'new picture'
    assert theirs.read_bytes() == b'the user\'s own file'
    assert sorted(os.listdir(str(tmp_path))) == ['.picture.png.tmp', 'picture.png']


def test_a_failed_atomic_write_removes_only_its_own_temporary_file(tmp_path):
    theirs = tmp_path / '.picture.png.tmp'
    theirs.write_bytes(b'the user\'s own file')

    def fails(stream):
        stream.write(b'half')
        raise OSError(28, 'No space left on device')
    with pytest.raises(OSError):
        cli.write_atomically(str(tmp_path / 'picture.png'), fails)
    assert theirs.read_bytes() == b'the user\'s own file'
    assert os.listdir(str(tmp_path)) == ['.picture.png.tmp']


def test_output_problem_names_a_folder_that_is_a_file_or_an_output_that_is_a_folder(tmp_path):
    (tmp_path / 'notes.txt').write_text('mine')
    (tmp_path / 'folder.png').mkdir()
    under_a_file = cli.output_problem(str(tmp_path / 'notes.txt' / 'sheet.png'), '--sheet')
    assert '--sheet' in under_a_file and 'notes.txt' in under_a_file and 'is a file' in under_a_file
    a_folder = cli.output_problem(str(tmp_path / 'folder.png'), '--sheet')
    assert 'folder.png' in a_folder and 'directory' in a_folder
    assert cli.output_problem(str(tmp_path / 'new' / 'deeper' / 'sheet.png'), '--sheet') is None
    theirs = cli.output_problem(str(tmp_path / 'notes.txt'), '--sheet')
    assert 'notes.txt' in theirs and 'not replaced' in theirs   # a file this project did not write stays
    assert cli.output_problem(str(tmp_path / 'notes.txt'), '--output', replace_unmarked=True) is None
    assert not os.path.exists(str(tmp_path / 'new'))   # the check makes nothing
    assert sorted(os.listdir(str(tmp_path))) == ['folder.png', 'notes.txt']


def test_tensorflow_loads_without_the_scikit_learn_that_keras_would_import_and_leaves_it_importable():
    """Keras, which TensorFlow loads, imports scikit-learn when it is installed, for wrappers the project never
    calls; the commands start without it, and anything that does want it still imports it."""
    code = ('import sys, cli; cli.import_tensorflow_quietly(); loaded = "sklearn" in sys.modules; '
            'import sklearn.base; print(loaded, sklearn.base.BaseEstimator.__module__)')
    result = subprocess.run([sys.executable, '-c', code], cwd=HERE, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['False', 'sklearn.base']
