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

"""The driver contract holds: declared, implemented, and all that is used.

Code outside a driver (the engine, the worker endpoint, the start-up
checks, the commands) may use only what ``drivers/base.py`` declares; each
driver implements all of it with the contract's signatures; and a driver's
own modules use only members their driver has. The uses are found by
reading the source: any attribute taken of an expression named ``driver``
(``driver.x``, ``self.driver.x``, ``worker.driver.x``).
"""

import ast
import inspect
import os

from oslo_config import cfg
import testtools

import heat_convergence
from heat_convergence.drivers import base
from heat_convergence.drivers import heat as heat_driver
from heat_convergence.drivers.reduced import driver as reduced_driver

PACKAGE = os.path.dirname(heat_convergence.__file__)
DRIVERS = os.path.join(PACKAGE, 'drivers')
TESTS = os.path.join(PACKAGE, 'tests')

IMPLEMENTATIONS = (heat_driver.HeatDriver, reduced_driver.ReducedDriver)


def driver_uses(source):
    """Return {member: [line, ...]} taken of an expression named driver."""
    uses = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        name = (owner.id if isinstance(owner, ast.Name) else
                owner.attr if isinstance(owner, ast.Attribute) else None)
        if name == 'driver':
            uses.setdefault(node.attr, []).append(node.lineno)
    return uses


def modules(top, exclude=()):
    """Yield the paths of the package's modules under ``top``."""
    for directory, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs
                   if os.path.join(directory, d) not in exclude]
        for name in files:
            if name.endswith('.py'):
                yield os.path.join(directory, name)


def uses_in(paths):
    """Return {member: ['path:line', ...]} over the modules at ``paths``."""
    found = {}
    for path in paths:
        with open(path) as f:
            for member, lines in driver_uses(f.read()).items():
                found.setdefault(member, []).extend(
                    '%s:%d' % (os.path.relpath(path, PACKAGE), line)
                    for line in lines)
    return found


def members(cls):
    """Return the public members of a driver class and its instances."""
    concrete = type('Concrete', (cls,),
                    dict.fromkeys(cls.__abstractmethods__))
    instance = vars(concrete(cfg.CONF))
    return {name for name in set(dir(cls)) | set(instance)
            if not name.startswith('_')}


class TestUsesOutsideDrivers(testtools.TestCase):

    def test_only_declared_members_are_used(self):
        used = uses_in(modules(PACKAGE, exclude=(DRIVERS, TESTS)))
        undeclared = {member: where for member, where in used.items()
                      if member not in members(base.ConvergenceDriver)}
        self.assertEqual({}, undeclared,
                         'used outside the drivers, not declared in '
                         'drivers/base.py')
        # The scan sees the engine's and the worker's calls (it is not
        # vacuous): every seam of the contract is used somewhere.
        self.assertEqual(
            {'begin_traversal', 'converge', 'cancel_running',
             'note_message', 'check_resource', 'snapshot_node_done',
             'stop_traversal', 'prepare_database', 'start', 'drain', 'stop',
             'uses_plugin_tables',
             'conf', 'worker_topic', 'owns_message', 'on_heat_path'},
            set(used))

    def test_undeclared_use_is_found(self):
        used = driver_uses('def f(self, worker):\n'
                           '    self.driver.dispatch(1)\n'
                           '    worker.driver.converge(2)\n'
                           '    return driver.limit\n')
        self.assertEqual({'dispatch': [2], 'converge': [3], 'limit': [4]},
                         used)
        self.assertNotIn('dispatch', members(base.ConvergenceDriver))
        self.assertNotIn('limit', members(base.ConvergenceDriver))


class TestImplementations(testtools.TestCase):

    def test_nothing_left_abstract(self):
        for cls in IMPLEMENTATIONS:
            self.assertEqual(frozenset(), cls.__abstractmethods__, cls)
            self.assertIsInstance(cls(cfg.CONF), base.ConvergenceDriver)

    def test_signatures_are_the_contract(self):
        for name, declared in inspect.getmembers(base.ConvergenceDriver,
                                                 inspect.isfunction):
            if name.startswith('_'):
                continue
            want = list(inspect.signature(declared).parameters)
            for cls in IMPLEMENTATIONS:
                got = list(inspect.signature(getattr(cls, name)).parameters)
                # Implementations may name the worker argument otherwise.
                self.assertEqual(
                    len(want), len(got), '%s.%s' % (cls.__name__, name))
                self.assertEqual(
                    [w for w in want if w != 'worker'],
                    [g for g in got if g not in ('worker', 'worker_service')],
                    '%s.%s' % (cls.__name__, name))

    def test_contract_is_documented(self):
        for name, declared in inspect.getmembers(base.ConvergenceDriver,
                                                 inspect.isfunction):
            if not name.startswith('_'):
                self.assertTrue(inspect.getdoc(declared), name)


class TestUsesInsideReducedDriver(testtools.TestCase):

    def test_modules_use_members_of_their_driver(self):
        used = uses_in(modules(os.path.join(DRIVERS, 'reduced')))
        missing = {member: where for member, where in used.items()
                   if member not in members(reduced_driver.ReducedDriver)}
        self.assertEqual({}, missing)
        self.assertIn('dispatch', used)
