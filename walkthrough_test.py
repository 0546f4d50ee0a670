"""docs/walkthrough.md stays true: every test it cites exists in the suite, and every code excerpt it quotes
is found verbatim in the file it names, so the walkthrough fails here as soon as the code moves."""
import ast
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
WALKTHROUGH = os.path.join(HERE, 'docs', 'walkthrough.md')
# An excerpt: a fenced python block whose first line names its file, e.g. "# model.py".
EXCERPT = re.compile(r'^```python\n# (?P<file>[\w/]+\.py)\n(?P<code>.*?)\n```$', re.M | re.S)
CITED_TEST = re.compile(r'\btest_\w+')


def read(path):
    with open(path) as stream:
        return stream.read()


def suite_tests(directory=HERE):
    """The names of the test functions of every *_test.py file."""
    names = set()
    for name in os.listdir(directory):
        if name.endswith('_test.py'):
            names.update(node.name for node in ast.walk(ast.parse(read(os.path.join(directory, name))))
                         if isinstance(node, ast.FunctionDef) and node.name.startswith('test_'))
    return names


def unknown_tests(text, tests):
    return sorted(set(CITED_TEST.findall(text)) - tests)


def excerpts(text):
    return [(match.group('file'), match.group('code')) for match in EXCERPT.finditer(text)]


def misquoted(text, directory=HERE):
    """The excerpts of text that are not found verbatim in the file they name, as 'file: first line'."""
    wrong = []
    for name, code in excerpts(text):
        path = os.path.join(directory, name)
        if not os.path.isfile(path) or code not in read(path):
            wrong.append('%s: %s' % (name, code.splitlines()[0]))
    return wrong


def test_every_test_the_walkthrough_cites_is_in_the_suite():
    cited = unknown_tests(read(WALKTHROUGH), suite_tests())
    assert not cited, 'the walkthrough cites tests the suite does not have: %s' % ', '.join(cited)


def test_every_code_excerpt_of_the_walkthrough_is_found_verbatim_in_its_file():
    wrong = misquoted(read(WALKTHROUGH))
    assert not wrong, 'excerpts no longer in their files (update docs/walkthrough.md): %s' % '; '.join(wrong)


def test_the_walkthrough_goes_through_the_spec_tests_in_the_order_they_were_written():
    text = read(WALKTHROUGH)
    steps = ['test_generate', 'test_discriminate_real_with_right_condition',
             'test_discriminate_real_with_wrong_condition', 'test_discriminate_fake',
             'test_three_discriminator_outputs_use_one_set_of_variables',
             'test_each_optimizer_changes_only_its_own_network', 'test_fit_runs_k_discriminator_steps_per_generator_step',
             'test_generation_does_not_depend_on_the_rest_of_the_batch',
             'test_wrong_labels_never_equal_right_labels',
             'test_summary_callback_writes_probabilities_losses_and_a_digit_grid',
             'test_training_writes_config_checkpoints_events_and_grids',
             'test_generate_writes_a_png_row_of_the_digit_asked_for']
    places = [text.index('def %s(' % name) for name in steps]
    assert places == sorted(places)
    assert len(excerpts(text)) >= 20


def test_the_checks_catch_a_renamed_test_and_a_changed_line(tmp_path):
    (tmp_path / 'lib.py').write_text('def f():\n    return 1\n')
    (tmp_path / 'lib_test.py').write_text('def test_f():\n    pass\n')
    doc = 'See `test_f` and `test_g`.\n\n```python\n# lib.py\ndef f():\n    return 2\n```\n'
    assert unknown_tests(doc, suite_tests(str(tmp_path))) == ['test_g']
    assert misquoted(doc, str(tmp_path)) == ['lib.py: def f():']
    assert misquoted(doc.replace('return 2', 'return 1'), str(tmp_path)) == []
