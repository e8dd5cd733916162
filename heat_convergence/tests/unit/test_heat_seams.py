# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The Heat seams: each one checked, and the list complete.

The check is tested on stand-ins (a class of this module, or a subclass of
a Heat class changing one method), never by changing Heat's own classes.
The list is tested against the package's source: a private Heat name the
package starts using without an entry, a Heat method it starts overriding
or replacing, or an entry it no longer needs makes a test here fail.
"""

import ast
import collections
import importlib
import inspect
import os
import re

import testtools

import heat_convergence
from heat_convergence import heat_seams
from heat_convergence import thread_patches

PACKAGE = os.path.dirname(os.path.abspath(heat_convergence.__file__))
DESIGN = os.path.join(os.path.dirname(PACKAGE), 'doc', 'source',
                      'design.rst')

# Private names the package uses that are not Heat's: the database
# connection tuning changes SQLAlchemy's pool.
NOT_HEAT = frozenset(['_reset_on_return', '_pre_ping'])

# The class through which the package replaces Heat methods at runtime.
PATCH = thread_patches.ThreadPatch

HOOK_FUNCTIONS = frozenset(['getattr', 'hasattr', 'setattr'])


class Owner(object):
    """A stand-in for a Heat class."""

    LIMIT = 3

    def method(self, context, name, value=None):
        return name, value

    @classmethod
    def load(cls, context):
        return cls()

    def setter(self):
        self.state = 1

    def other(self):
        return self


def _changed(self, existing_resources, current_template_deps):
    """A Heat 27 method with an argument less."""


def _no_assignment(self, existing_resources, current_template_deps,
                   current_resources):
    """A Heat 27 method that no longer sets its attribute."""
    return existing_resources


def _seam(name):
    seam, = [s for s in heat_seams.SEAMS if s.name == name]
    return seam


def _heat_copy(seam, **methods):
    """A subclass of the seam's Heat class, with ``methods`` changed."""
    return type(seam.owner.__name__, (seam.owner,), methods)


def _private(name):
    return name.startswith('_') and not (name.startswith('__') and
                                         name.endswith('__'))


def _modules():
    """Yield (path, source) of the package's modules but tests and seams."""
    seams = os.path.abspath(heat_seams.__file__)
    for dirpath, dirnames, filenames in os.walk(PACKAGE):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in ('tests', '__pycache__'))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.endswith('.py') and path != seams:
                with open(path) as f:
                    yield path, f.read()


def _imports(tree):
    """Return {local name: dotted name} of a module's imports."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = '%s.%s' % (node.module,
                                                               alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split('.')[0]
                names[local] = alias.name if alias.asname else local
    return names


def _heat_object(dotted):
    """Import a dotted name of Heat's (a module, or a name in one)."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition('.')
        return getattr(importlib.import_module(module), name)


def _resolve(expr, imports):
    """The Heat object ``expr`` (e.g. ``scheduler.TaskRunner``) names.

    None for anything that is not reached from an import of Heat.
    """
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.insert(0, expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in imports:
        return None
    dotted = imports[expr.id]
    if not dotted.startswith('heat.'):
        return None
    obj = _heat_object(dotted)
    for part in parts:
        obj = getattr(obj, part)
    return obj


def _called(func):
    if isinstance(func, ast.Attribute):
        return func.attr
    return getattr(func, 'id', None)


class _Names(ast.NodeVisitor):
    """Others' private names a module uses, and the names it defines.

    Defined are the methods and class attributes of its classes and the
    attributes it assigns on ``self``. A private name read from a module of
    the package is the package's own, and not counted as used.
    """

    def __init__(self):
        self.imports = {}
        self.used = set()
        self.defined = set()
        self.hooks = []

    def _own_module(self, node):
        return (isinstance(node, ast.Name) and
                self.imports.get(node.id, '').startswith('heat_convergence'))

    def visit_Attribute(self, node):
        if _private(node.attr) and not self._own_module(node.value):
            self.used.add(node.attr)
        if (isinstance(node.ctx, ast.Store) and
                isinstance(node.value, ast.Name) and
                node.value.id == 'self'):
            self.defined.add(node.attr)
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        for stmt in node.body:
            targets = (stmt.targets if isinstance(stmt, ast.Assign) else
                       [stmt.target] if isinstance(stmt, ast.AnnAssign)
                       else [])
            self.defined.update(t.id for t in targets
                                if isinstance(t, ast.Name))
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defined.add(stmt.name)
        self.generic_visit(node)

    def visit_Call(self, node):
        called = _called(node.func)
        named = [a.value for a in node.args[1:2]
                 if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if called == PATCH.__name__ and named:
            self.hooks.append((_resolve(node.args[0], self.imports),
                               named[0]))
        elif called in HOOK_FUNCTIONS and named and _private(named[0]):
            self.used.add(named[0])
        self.generic_visit(node)


def _scan():
    """Return the package's _Names, all modules together."""
    names = _Names()
    for path, source in _modules():
        tree = ast.parse(source, path)
        names.imports = _imports(tree)
        names.visit(tree)
    return names


def _subclasses():
    """Yield (class node, Heat base classes) of the package's classes."""
    for path, source in _modules():
        tree = ast.parse(source, path)
        imports = _imports(tree)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            bases = [b for b in (_resolve(e, imports) for e in cls.bases)
                     if inspect.isclass(b)]
            if bases:
                yield cls, bases


def _heat_mro(bases):
    return [k for base in bases for k in base.__mro__
            if k.__module__.startswith('heat.')]


def _overrides():
    """Yield (Heat class, name) of each Heat method a package class overrides.

    Dunder methods other than ``__init__`` are left out: their signatures
    are the language's.
    """
    for cls, bases in _subclasses():
        for node in cls.body:
            if (isinstance(node, ast.FunctionDef) and
                    (node.name == '__init__' or
                     not node.name.startswith('__'))):
                yield from ((_defining(base, node.name), node.name)
                            for base in bases
                            if _defining(base, node.name) is not None)


def _state_writes():
    """Yield (Heat class, name) of private Heat state a subclass assigns.

    That is each ``self._name = ...`` in a package class whose name a Heat
    base class assigns too, in its own source.
    """
    for cls, bases in _subclasses():
        names = {n.attr for n in ast.walk(cls)
                 if isinstance(n, ast.Attribute) and
                 isinstance(n.ctx, ast.Store) and _private(n.attr) and
                 isinstance(n.value, ast.Name) and n.value.id == 'self'}
        for klass in _heat_mro(bases):
            source = inspect.getsource(klass)
            yield from ((klass, name) for name in sorted(names)
                        if re.search(r'\bself\.%s\s*=[^=]' % re.escape(name),
                                     source))


def _defining(cls, name):
    """The Heat class in ``cls``'s MRO that defines ``name``, or None."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass if klass.__module__.startswith('heat.') else None
    return None


class TestInstalledHeat(testtools.TestCase):

    def test_every_seam_matches(self):
        self.assertEqual([], heat_seams.mismatches())
        heat_seams.check()

    def test_seams_are_listed_once(self):
        counts = collections.Counter((s.owner, s.name)
                                     for s in heat_seams.SEAMS)
        self.assertEqual([], [k for k, n in counts.items() if n > 1])

    def test_records(self):
        for seam in heat_seams.SEAMS:
            self.assertIn(seam.kind, heat_seams.KINDS, seam)
            self.assertTrue(seam.signature, seam)
            self.assertTrue(seam.why, seam)
            self.assertNotIn('\n', seam.why)
            self.assertIsNone(re.search(r'heat_convergence|\.py\b',
                                        seam.why), seam)

    def test_replaced_method_checked_by_heat_signature(self):
        replaced = _heat_copy(heat_seams.SEAMS[0])
        hook = PATCH(replaced, '_converge_create_or_update',
                     lambda heat, value, stack, **kw: None)
        with hook.active():
            heat_seams.check([heat_seams.SEAMS[0]._replace(owner=replaced)])


class TestCheck(testtools.TestCase):

    def seam(self, name, kind, signature):
        return heat_seams.Seam(Owner, name, kind, signature, 'a test')

    def assertMismatch(self, seams, *phrases):
        exc = self.assertRaises(heat_seams.SeamMismatch, heat_seams.check,
                                seams)
        message = str(exc)
        self.assertNotIn('\n', message)
        self.assertIn('this heat-convergence supports openstack-heat 27.x',
                      message)
        for phrase in phrases:
            self.assertIn(phrase, message)
        return message

    def test_matching_stand_ins(self):
        heat_seams.check([
            self.seam('method', heat_seams.CALLED,
                      '(self, context, name, value=None)'),
            self.seam('load', heat_seams.PATCHED, '(cls, context)'),
            self.seam('state', heat_seams.STATE, 'setter'),
            self.seam('LIMIT', heat_seams.CONSTANT, 'int')])

    def test_changed_signature(self):
        self.assertMismatch(
            [self.seam('method', heat_seams.OVERRIDDEN,
                       '(self, context, name)')],
            __name__ + '.Owner.method (overridden): expected (self, '
            'context, name), found (self, context, name, value=None)')

    def test_changed_signature_of_a_heat_method(self):
        seam = _seam('_compute_convg_dependencies')
        changed = _heat_copy(seam, _compute_convg_dependencies=_changed)
        self.assertMismatch(
            [seam._replace(owner=changed)],
            '._compute_convg_dependencies (called): expected (self, '
            'existing_resources, current_template_deps, current_resources)'
            ', found (self, existing_resources, current_template_deps)')

    def test_missing_name(self):
        self.assertMismatch([self.seam('gone', heat_seams.CALLED, '(self)')],
                            '.Owner.gone (called): expected (self), found '
                            'nothing')

    def test_state_no_longer_assigned(self):
        self.assertMismatch(
            [self.seam('state', heat_seams.STATE, 'other')],
            '.Owner.state (state): expected self.state set in other, found '
            'no self.state set in other')

    def test_state_setter_gone(self):
        self.assertMismatch(
            [self.seam('state', heat_seams.STATE, 'gone')],
            'expected self.state set in gone, found no gone')

    def test_state_of_a_heat_class(self):
        seam = _seam('_convg_deps')
        changed = _heat_copy(seam,
                             _compute_convg_dependencies=_no_assignment)
        heat_seams.check([seam])
        self.assertMismatch(
            [seam._replace(owner=changed)],
            '._convg_deps (state): expected self._convg_deps set in '
            '_compute_convg_dependencies, found no self._convg_deps set in '
            '_compute_convg_dependencies')

    def test_constant(self):
        self.assertMismatch(
            [self.seam('LIMIT', heat_seams.CONSTANT, 'bool'),
             self.seam('GONE', heat_seams.CONSTANT, 'bool')],
            '.Owner.LIMIT (constant): expected a bool, found a int',
            '.Owner.GONE (constant): expected a bool, found nothing')

    def test_every_mismatch_in_one_line(self):
        message = self.assertMismatch(
            [self.seam('gone', heat_seams.CALLED, '(self)'),
             self.seam('method', heat_seams.CALLED, '(self)'),
             self.seam('load', heat_seams.PATCHED, '(cls, context)')],
            '.Owner.gone (called)', '.Owner.method (called)')
        self.assertNotIn('.Owner.load', message)


class TestCoverage(testtools.TestCase):
    """SEAMS lists every Heat internal the package uses, and no other."""

    def test_private_names_used_are_listed(self):
        names = _scan()
        listed = {s.name for s in heat_seams.SEAMS}
        unlisted = names.used - names.defined - NOT_HEAT - listed
        self.assertEqual(set(), unlisted,
                         'private names used by the package and not listed '
                         'in heat_seams.SEAMS')

    def test_replaced_methods_are_listed(self):
        hooked = _scan().hooks
        self.assertNotEqual([], hooked)
        patched = {(s.owner, s.name) for s in heat_seams.SEAMS
                   if s.kind == heat_seams.PATCHED}
        self.assertEqual([], [h for h in hooked if h not in patched])

    def test_overridden_methods_are_listed(self):
        overridden = set(_overrides())
        self.assertNotEqual(set(), overridden)
        listed = {(s.owner, s.name) for s in heat_seams.SEAMS
                  if s.kind == heat_seams.OVERRIDDEN}
        self.assertEqual(set(), overridden - listed)

    def test_heat_state_assigned_by_subclasses_is_listed(self):
        assigned = set(_state_writes())
        self.assertNotEqual(set(), assigned)
        listed = {(s.owner, s.name) for s in heat_seams.SEAMS
                  if s.kind == heat_seams.STATE}
        self.assertEqual(set(), assigned - listed)

    def test_every_seam_is_used(self):
        text = '\n'.join(source for _path, source in _modules())
        stale = [s.qualname for s in heat_seams.SEAMS
                 if not re.search(r'\b%s\b' % re.escape(s.name), text)]
        self.assertEqual([], stale)

    def test_design_lists_every_seam(self):
        if not os.path.exists(DESIGN):
            self.skipTest('no documentation beside the package')
        with open(DESIGN) as f:
            section = f.read().split('\nHeat seams\n', 1)[-1]
        documented = re.findall(r'^   \* - ``([\w.]+)``$', section, re.M)
        self.assertEqual(sorted(s.qualname for s in heat_seams.SEAMS),
                         sorted(documented))
