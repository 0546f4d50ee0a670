"""The shape of the code: dependencies point one way, from the command lines to the library.

Read from the sources with ast, so an import inside a function counts as much as one at the top.
"""
import ast
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = {'main', 'generate', 'evaluate', 'benchmark'}


def is_test(name):
    return name.endswith('_test') or name == 'conftest'


def project_modules():
    """The top-level modules of the project, tests and setup.py left out."""
    names = {name[:-3] for name in os.listdir(HERE) if name.endswith('.py')}
    return {name for name in names if not is_test(name) and name != 'setup'}


def parse(name):
    with open(os.path.join(HERE, name + '.py')) as stream:
        return ast.parse(stream.read(), name + '.py')


def imported_modules(tree, modules):
    """The project modules that a module imports, wherever the import stands."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split('.')[0])
    return found & modules


def import_graph():
    modules = project_modules()
    return {name: imported_modules(parse(name), modules) - {name} for name in modules}


def find_cycle(graph):
    """One import cycle as a list of module names (first == last), or None."""
    done, path = set(), []

    def visit(name):
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        path.append(name)
        for imported in sorted(graph[name]):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def private_names_used(tree, modules):
    """`from X import _y` and `X._y` where X is another project module: (module, name) pairs."""
    used, aliases = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
            used.update((node.module, alias.name) for alias in node.names if is_private(alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and is_private(node.attr)):
            used.add((aliases[node.value.id], node.attr))
    return used


def is_private(name):
    return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))


def test_the_import_graph_of_the_modules_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: %s' % ' -> '.join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set(), 'c': {'a', 'b'}}) is None


def test_no_module_imports_a_command_line_script():
    wrong = sorted('%s imports %s' % (name, imported) for name, imports in import_graph().items()
                   for imported in imports & SCRIPTS)
    assert not wrong, 'scripts are entry points, not libraries: %s' % '; '.join(wrong)


def test_no_module_uses_a_private_name_of_another_module():
    modules = project_modules()
    wrong = sorted('%s uses %s.%s' % (name, owner, private) for name in modules
                   for owner, private in private_names_used(parse(name), modules - {name}))
    assert not wrong, 'private names stay in their module: %s' % '; '.join(wrong)


def test_the_private_name_finder_sees_both_forms():
    tree = ast.parse('from model import _tile, build\nimport ops as o\nx = o._dense(o.__name__)\ny = other._z')
    assert private_names_used(tree, {'model', 'ops'}) == {('model', '_tile'), ('ops', '_dense')}


def setup_py_modules():
    for node in ast.walk(parse('setup')):
        if isinstance(node, ast.keyword) and node.arg == 'py_modules':
            return set(ast.literal_eval(node.value))
    raise AssertionError('setup.py names no py_modules')


def test_setup_installs_every_module_of_the_project():
    # A module left out of py_modules is missing after a plain `pip install .`.
    assert setup_py_modules() == project_modules()
