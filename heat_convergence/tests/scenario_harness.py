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

"""Heat's convergence scenario framework, run through our binding.

Heat ships its convergence scenarios (``heat.tests.convergence``) with a
framework that fakes only the message bus and the engine processes: engines
and workers are real ``EngineService`` and ``WorkerService`` objects whose
messages queue in-process, and the database is real (sqlite). We swap in
the binding the way heat-convergence-engine does:

* the framework's synchronous thread group manager becomes one that routes
  ``Stack._converge_create_or_update`` to the driver, like ours does;
* every worker it builds is our ``ConvergenceWorkerService`` with the
  driver.

Scenario files from ``heat_convergence/tests/convergence_scenarios`` run
beside Heat's 21.

The framework and the binding are fixtures (:class:`ScenarioFramework`,
:class:`DriverBinding`) rather than Heat's ``ScenarioTest`` base class, so
that one test can run the same operations under several drivers in turn
(see ``test_differential``).
"""

import functools
import os
import types

import fixtures
from heat.common import context
from heat.db import api as heat_db_api
from heat.engine import resource
from heat.engine import stack as parser
from heat.tests.convergence.framework import engine_wrapper
from heat.tests.convergence.framework import fake_resource
from heat.tests.convergence.framework import message_processor
from heat.tests.convergence.framework import processes
from heat.tests.convergence.framework import scenario as heat_scenario
from heat.tests.convergence.framework import testutils
from heat.tests.convergence.framework import worker_wrapper
from oslo_config import cfg
import sqlalchemy as sa

from heat_convergence.db import api as db_api
from heat_convergence.db import models
from heat_convergence.drivers.reduced import node_loop
from heat_convergence import engine
from heat_convergence.tests import base
from heat_convergence.tests import db_fixture
from heat_convergence import worker

SCENARIO_DIR = os.path.join(os.path.dirname(__file__),
                            'convergence_scenarios')


def own_scenarios():
    names = sorted(f[:-3] for f in os.listdir(SCENARIO_DIR)
                   if f.endswith('.py') and not f.startswith('_'))
    return [(name, {'name': name,
                    'path': os.path.join(SCENARIO_DIR, name + '.py')})
            for name in names]


def all_scenarios():
    return ([(name, {'name': name, 'path': path})
             for name, path in heat_scenario.list_all()] + own_scenarios())


class Replacement(object):
    """For a scenario: remember a resource, later check it was replaced.

    ``store`` and ``check`` go to ``engine.call`` so that they run at that
    point of the scenario; ``check`` returns the replacement.
    """

    def __init__(self, reality, test, name):
        self.reality = reality
        self.test = test
        self.name = name
        self.uuid = None

    def store(self):
        self.uuid = self._current().uuid

    def check(self):
        self.test.assertIsNotNone(self.uuid)
        current = self._current()
        self.test.assertNotEqual(self.uuid, current.uuid)
        return current

    def _current(self):
        return next(iter(self.reality.resources_by_logical_name(self.name)))


class SynchronousThreadGroupManager(engine.ThreadGroupManager):
    """Our thread group manager, running everything inline."""

    def start(self, stack_id, func, *args, **kwargs):
        self.bind(func, kwargs)(*args, **kwargs)


# The two ways a node's ready successors can run: all sent as messages,
# as Heat does, or one kept for the node's own thread and claimed in the
# transaction that made it ready, the production default
# (``[heat_convergence] run_successor_locally``). Every scenario must hold
# either way (see FollowOnMessages).
SUCCESSORS = [('sent', {'run_locally': False}),
              ('local', {'run_locally': True})]


class FollowOnMessages(fixtures.Fixture):
    """Run each successor a node keeps in a message of its own.

    The scenarios interleave operations between single messages, after
    fixed numbers of them; a message that ran a whole chain would move
    those points, and a scenario's checks of intermediate states with them.
    Here the successor a node keeps, claimed already, is queued on the
    worker instead of running next in the same message; the message runs
    it from its claim, exactly as the node's thread would. What the option
    changes in the database (the claim in the delivery, a node run from
    the inputs that claim returned) is exercised; only when it runs moves.
    """

    def __init__(self, worker_processor):
        super().__init__()
        self.worker_processor = worker_processor

    def _setUp(self):
        run = node_loop.run_follow_on

        def defer(driver, worker, cnxt, traversal_id, follow_on):
            node = follow_on.node
            self.worker_processor.run_follow_on(
                (driver, worker, cnxt, traversal_id, follow_on),
                node.rsrc_id, node.is_update, node.node_type)

        @message_processor.asynchronous
        def run_follow_on(processor, step, resource_id, is_update,
                          node_type):
            # The keys of a check_resource message, for CanonicalOrder.
            follow_on = run(*step)
            if follow_on is not None:
                defer(*step[:4], follow_on)

        self.worker_processor.run_follow_on = types.MethodType(
            run_follow_on, self.worker_processor)
        self.addCleanup(delattr, self.worker_processor, 'run_follow_on')
        self.useFixture(fixtures.MockPatchObject(node_loop, 'run_follow_on',
                                                 defer))


class Override(fixtures.Fixture):
    """A ``[heat_convergence]`` option overridden."""

    def __init__(self, name, value):
        super().__init__()
        self.name = name
        self.value = value

    def _setUp(self):
        cfg.CONF.set_override(self.name, self.value, group='heat_convergence')
        self.addCleanup(cfg.CONF.clear_override, self.name,
                        group='heat_convergence')


class Successors(fixtures.Fixture):
    """Ready successors run as ``run_locally`` says (:data:`SUCCESSORS`)."""

    def __init__(self, procs, run_locally):
        super().__init__()
        self.procs = procs
        self.run_locally = run_locally

    def _setUp(self):
        self.useFixture(Override('run_successor_locally', self.run_locally))
        if self.run_locally:
            self.useFixture(FollowOnMessages(self.procs.worker))


class ScenarioFramework(fixtures.Fixture):
    """Heat's scenario framework, ready to run operations on a stack.

    What Heat's ``ScenarioTest.setUp`` prepares (the fake TestResource, the
    in-process engine and worker, check_resource casts onto the worker's
    queue, convergence on), plus the plugin's tables in Heat's test
    database. Use within a HeatTestCase, which provides that database.
    ``run_locally`` sets ``run_successor_locally`` (see
    :data:`SUCCESSORS`).
    """

    def __init__(self, run_locally=False):
        super().__init__()
        self.run_locally = run_locally

    def _setUp(self):
        self.useFixture(fixtures.MockPatchObject(context, 'StoredContext'))
        resource._register_class('OS::Heat::TestResource',
                                 fake_resource.TestResource)
        self.procs = processes.Processes()
        # Every check_resource cast, in casts.call_args_list.
        self.casts = self.useFixture(fixtures.MockPatch(
            'heat.rpc.worker_client.WorkerClient.check_resource',
            side_effect=self.procs.worker.check_resource)).mock
        cfg.CONF.set_default('convergence_engine', True)
        self.useFixture(Successors(self.procs, self.run_locally))
        self.db_engine = db_api.context_manager.writer.get_engine()
        models.BASE.metadata.create_all(self.db_engine)

    def reset(self):
        """Drop every queued message and every row, Heat's and ours."""
        self.procs.clear()
        db_fixture.empty_tables(self.db_engine)

    def run_scenario(self, test, name, path, **names):
        """Run a scenario file; ``names`` add to or replace its globals."""
        self.procs.clear()
        runner = heat_scenario.Scenario(name, path)
        runner(self.procs.event_loop,
               **dict(testutils.scenario_globals(self.procs, test), **names))


class DriverBinding(fixtures.Fixture):
    """Bind a driver into the framework, as heat-convergence-engine does.

    The framework builds a thread group manager for every engine call and a
    WorkerService for every check_resource message, so the binding patches
    the two classes it instantiates. The worker class is replaced in the
    framework's worker wrapper only: the driver's own code reaches Heat's
    ``WorkerService`` through ``heat.engine.worker``, which must stay the
    real class.
    """

    def __init__(self, driver):
        super().__init__()
        self.driver = driver

    def _setUp(self):
        self.useFixture(fixtures.MockPatchObject(
            engine_wrapper, 'SynchronousThreadGroupManager',
            new=functools.partial(SynchronousThreadGroupManager,
                                  self.driver)))
        self.useFixture(fixtures.MockPatchObject(
            worker_wrapper, 'worker', new=types.SimpleNamespace(
                WorkerService=functools.partial(
                    worker.ConvergenceWorkerService, driver=self.driver))))


class DriverFrameworkTest(base.HeatTestCase):
    """Heat's scenario framework with ``driver_class`` bound in."""

    driver_class = None
    run_locally = False

    def setUp(self):
        super().setUp()
        self.framework = self.useFixture(ScenarioFramework(self.run_locally))
        self.driver = self.driver_class(cfg.CONF)
        self.useFixture(DriverBinding(self.driver))

    def transactions(self, name='dense_graph'):
        """Run a scenario; return the statements of each transaction.

        Each statement is a (SQL in upper case on one line, parameters)
        pair; the transactions are in the order they ended.
        """
        done = []
        open_ = {}

        def execute(conn, cursor, statement, params, context, many):
            open_.setdefault(id(conn), []).append(
                (' '.join(statement.split()).upper(), params))

        def end(conn):
            done.append(open_.pop(id(conn), []))

        db_engine = heat_db_api.get_engine()
        for event, listener in (('before_cursor_execute', execute),
                                ('commit', end), ('rollback', end)):
            sa.event.listen(db_engine, event, listener)
            self.addCleanup(sa.event.remove, db_engine, event, listener)
        self.framework.run_scenario(self, name, os.path.join(
            SCENARIO_DIR, name + '.py'))
        return done


class DriverScenarioTest(DriverFrameworkTest):
    """Runs every scenario with ``driver_class`` bound in."""

    scenarios = all_scenarios()

    def setUp(self):
        super().setUp()
        self.converges = []
        self.started = []
        converge = self.driver.converge
        converge_stack = parser.Stack.converge_stack

        def recording_converge(stack, *args, **kwargs):
            self.converges.append((stack.action, stack.current_traversal))
            return converge(stack, *args, **kwargs)

        def recording_converge_stack(stack, *args, **kwargs):
            result = converge_stack(stack, *args, **kwargs)
            self.started.append((stack.action, stack.current_traversal))
            return result

        self.patchobject(self.driver, 'converge',
                         side_effect=recording_converge)
        self.patchobject(parser.Stack, 'converge_stack',
                         new=recording_converge_stack)

    def test_scenario(self):
        self.framework.run_scenario(self, self.name, self.path)
        # Every traversal Heat started went to the driver, once, and the
        # driver converged nothing else.
        self.assertIn('CREATE', [action for action, _ in self.started])
        self.assertEqual(self.started, self.converges)
