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

"""Differential tests: the ``reduced`` driver against the ``heat`` driver.

The same operations run once under each driver, in Heat's convergence
scenario framework (real engine and worker code, in-process message bus,
real sqlite database), and what they leave in the database is compared
after every step. Stock Heat is the specification: whatever the reduced
graph, the plugin's SyncPoints and the forwarding of data across removed
edges do, the stack and its resources must end up exactly as Heat leaves
them.

Three sources of operations:

* every scenario file (Heat's and ours), compared wherever it calls
  ``verify`` and at its end;
* random stacks drawn by Hypothesis (``strategies.stack_histories``): a
  create, one to three updates that change, replace, add, remove and rewire
  resources, and a delete, each run until no message is left;
* the same, with each operation coming in after a random number of
  messages of the previous one (``strategies.interrupted_histories``), so
  that traversals are superseded mid-way;
* seeded random DAGs shaped like real templates (``random_templates``, the
  benchmark's ``random`` workload): resources reading several
  predecessors' attributes through ``list_join`` and ``str_replace``,
  ``depends_on`` edges that a longer path implies, an update that changes,
  replaces, adds and removes resources.

Both drivers see the same schedule of messages (see :class:`CanonicalOrder`)
so that a scenario interrupted after N messages is interrupted at the same
point under both. Heat runs with one bug of its own corrected, a resource
leak the reduced driver deliberately does not reproduce (see
:func:`_without_replacement_leak` and :class:`SupersededCreatedReplacement`).

Rows are compared through driver-independent names: the ids, uuids and
physical ids of a run are its own, so every resource row is named after its
logical name and generation (``R1#0`` is the first R1 the run has seen,
``R1#1`` its replacement) and every reference to one, in ``requires``,
``replaces``, property values or stored data, is translated to that name.
"""

import collections
import difflib
import functools
import hashlib
import json

import fixtures
from heat.common import short_id
from heat.db import models as heat_models
from heat.engine import stack as parser
from heat.engine import worker as heat_worker
from heat.tests.convergence.framework import reality
from heat.tests.convergence.framework import scenario_template
from heat.tests.convergence.framework import testutils
from hypothesis import given
from hypothesis import settings
from oslo_config import cfg
import sqlalchemy as sa
import testscenarios
from testtools import content

from heat_convergence.db import api as db_api
from heat_convergence.drivers import heat as heat_driver
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.tests import base
from heat_convergence.tests import random_templates
from heat_convergence.tests import scenario_harness
from heat_convergence.tests.unit import strategies

STACK = heat_models.Stack.__table__
RESOURCE = heat_models.Resource.__table__
RESOURCE_DATA = heat_models.ResourceData.__table__
PROPERTIES_DATA = heat_models.ResourcePropertiesData.__table__
RAW_TEMPLATE = heat_models.RawTemplate.__table__
EVENT = heat_models.Event.__table__
SNAPSHOT = heat_models.Snapshot.__table__

PLUGIN_TABLES = (db_api.TRAVERSAL, db_api.SYNC_POINT, db_api.ARRIVAL)

STACK_NAME = 'foo'

# Random examples per test: each runs both drivers through four or five
# operations, one to two seconds in all on a small machine. Every example is
# checked in a scenario of its own: as one test of a minute, they left one of
# stestr's workers busy long after the other had finished.
EXAMPLES = 25

# Seeded random DAGs (DifferentialRandomDags): seeds whose update of a
# stack of DAG_SIZE both replaces resources and changes some in place.
DAG_SEEDS = (5, 6, 10)
DAG_SIZE = 10

# What one driver's run leaves behind: the pictures of the database taken
# at each step, the number of edges the stack stored at each step, and the
# number of rows left in the plugin's tables at each step.
Run = collections.namedtuple('Run', ['pictures', 'edges', 'plugin_rows'])


class Pictures(object):
    """Driver-independent pictures of the database during one run.

    Names are handed out as rows first appear and kept for the whole run,
    so that a row deleted by a later step is still named where something
    refers to it.
    """

    def __init__(self, db_engine):
        self.db_engine = db_engine
        self.by_id = {}
        self.by_physical_id = {}
        self.generations = collections.Counter()

    def learn(self):
        """Name the resource rows that exist now.

        Run after every iteration of the event loop, so that rows created
        and deleted between two pictures (a scenario that deletes a stack
        before its create is done, say) are named too: the events refer to
        them.
        """
        with self.db_engine.connect() as conn:
            self._learn(conn)
        return False

    def _learn(self, conn):
        rows = conn.execute(sa.select(
            RESOURCE.c.id, RESOURCE.c.name, RESOURCE.c.uuid,
            RESOURCE.c.nova_instance, STACK.c.name.label('stack_name'))
            .join_from(RESOURCE, STACK).order_by(RESOURCE.c.id))
        for row in rows:
            if row.id not in self.by_id:
                self.by_id[row.id] = '%s#%d' % (row.name,
                                                self.generations[row.name])
                self.generations[row.name] += 1
            # Heat's physical_resource_name(), which events show for a
            # resource that has no physical id (yet).
            self.by_physical_id['%s-%s-%s' % (
                row.stack_name, row.name, short_id.get_id(row.uuid))] = (
                    self.by_id[row.id])
            if row.nova_instance:
                self.by_physical_id[row.nova_instance] = self.by_id[row.id]

    @staticmethod
    def _template_names(raw_templates):
        """Name each raw template by a digest of its content.

        Not by order of appearance: which templates are left behind can
        depend on the order of messages (Heat orphans the template an
        interrupted update was replacing), and a name must not shift when
        an unreferenced template comes or goes.
        """
        return {row.id: 'template %s' % hashlib.sha256(json.dumps(
            row.template, sort_keys=True).encode()).hexdigest()[:8]
            for row in raw_templates}

    def _resource(self, rsrc_id):
        if rsrc_id is None:
            return None
        return self.by_id.get(rsrc_id, '?%s' % rsrc_id)

    def _value(self, value):
        """Translate the physical ids inside a stored value."""
        if isinstance(value, str):
            return self.by_physical_id.get(value, value)
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v) for v in value]
        return value

    def _graph_nodes(self, current_deps):
        """The nodes of the stored convergence graph, by resource name.

        Snapshot-deletion nodes, named by random uuids, are counted by
        node type instead.
        """
        nodes = {tuple(node)
                 for edge in (current_deps or {}).get('edges', ())
                 for node in edge if node is not None}
        return sorted(
            (self._resource(node[0]) if len(node) == 2 else node[2], node[1])
            for node in nodes)

    def take(self):
        """Return the picture of the database now."""
        with self.db_engine.connect() as conn:
            stacks = conn.execute(
                sa.select(STACK).order_by(STACK.c.name)).all()
            resources = conn.execute(
                sa.select(RESOURCE).order_by(RESOURCE.c.id)).all()
            data = conn.execute(sa.select(RESOURCE_DATA)).all()
            properties = dict(conn.execute(sa.select(
                PROPERTIES_DATA.c.id, PROPERTIES_DATA.c.data)).all())
            raw_templates = conn.execute(sa.select(
                RAW_TEMPLATE.c.id, RAW_TEMPLATE.c.template)).all()
            events = conn.execute(sa.select(EVENT)).all()
            snapshots = conn.execute(sa.select(
                SNAPSHOT.c.name, SNAPSHOT.c.action, SNAPSHOT.c.status,
                SNAPSHOT.c.status_reason)).all()
            self._learn(conn)
        for row in stacks:
            self.by_physical_id[row.id] = 'stack %s' % row.name
        template = self._template_names(raw_templates)
        stored = collections.defaultdict(dict)
        for row in data:
            stored[row.resource_id][row.key] = self._value(row.value)
        return {
            'stacks': [{
                'name': row.name,
                'action': row.action,
                'status': row.status,
                'status_reason': row.status_reason,
                'deleted': row.deleted_at is not None,
                'template': template.get(row.raw_template_id),
                'previous_template': template.get(row.prev_raw_template_id),
                'graph_nodes': self._graph_nodes(row.current_deps),
            } for row in stacks],
            'resources': {self.by_id[row.id]: {
                'action': row.action,
                'status': row.status,
                'status_reason': row.status_reason,
                'physical_id': self._value(row.nova_instance),
                'template': template.get(row.current_template_id),
                'properties': self._value(
                    properties.get(row.rsrc_prop_data_id)),
                'attributes': self._value(properties.get(row.attr_data_id)),
                'data': stored[row.id],
                'metadata': row.rsrc_metadata,
                'requires': sorted(map(self._resource, row.requires or ())),
                'needed_by': sorted(map(self._resource,
                                        row.needed_by or ())),
                'replaces': self._resource(row.replaces),
                'replaced_by': self._resource(row.replaced_by),
                'locked': row.engine_id is not None,
            } for row in resources},
            'snapshots': sorted(tuple(row) for row in snapshots),
            'events': sorted(collections.Counter(
                (row.resource_name, self._value(row.physical_resource_id),
                 row.resource_action, row.resource_status,
                 row.resource_status_reason) for row in events).items(),
                key=repr),
        }

    def edges(self):
        """Return how many edges the stack's stored graph has."""
        with self.db_engine.connect() as conn:
            deps = conn.execute(sa.select(STACK.c.current_deps)).scalar()
        return sum(1 for _rqr, rqd in (deps or {}).get('edges', ())
                   if rqd is not None)

    def plugin_rows(self):
        """Return how many rows the plugin's tables hold."""
        with self.db_engine.connect() as conn:
            return sum(conn.execute(sa.select(sa.func.count())
                                    .select_from(table)).scalar()
                       for table in PLUGIN_TABLES)


def _diff(expected, actual):
    """A unified diff of two pictures, for a failure message."""
    def lines(picture):
        return json.dumps(picture, indent=1, sort_keys=True).splitlines()
    return '\n'.join(difflib.unified_diff(lines(expected), lines(actual),
                                          'heat', 'reduced', lineterm=''))


class CanonicalOrder(object):
    """Deliver the worker's messages in an order both drivers share.

    When a node completes, Heat casts to the successors it made ready in
    the iteration order of a set of ConvergenceNodes, which changes with
    PYTHONHASHSEED; the reduced driver casts in its plan's order. A message
    bus promises no order, so both are right, but a scenario that
    interrupts an operation after a fixed number of messages would compare
    two different interleavings. So what the processing of one message
    casts is held back and queued sorted: cleanup nodes first, then by
    resource id, the way both drivers sort the leaves of a traversal.
    Snapshot-deletion nodes, named by random uuids, follow in the order
    they were sent.

    Install :meth:`send` as the worker queue's, and the instance as an event
    loop processor after each real one.
    """

    def __init__(self, queue):
        self._send = queue.send
        self._held = []

    def send(self, name, data=None):
        self._held.append((name, data))

    @staticmethod
    def _key(message):
        _name, data = message
        if data.node_type != parser.NODE_TYPE_RESOURCE:
            return (data.is_update, 1, 0)
        return (data.is_update, 0, int(data.resource_id))

    def __call__(self):
        held, self._held = self._held, []
        for name, data in sorted(held, key=self._key):
            self._send(name, data)
        return False


def _without_replacement_leak(retrigger_replaced):
    """Heat's ``WorkerService._retrigger_replaced``, minus a resource leak.

    Heat marks DELETE a replacement that the stack's newest traversal has no
    node for; when the replacement was already created, the newest
    traversal's cleanup then skips it and the physical resource is never
    deleted. The reduced driver leaves created replacements to that cleanup
    (its ``stale_replacements.retrigger_replaced``). The baseline gets the
    same correction, and is otherwise Heat's own code, so that the
    comparison does not demand the leak.
    """
    def retrigger(worker, is_update, rsrc, stack, check):
        if rsrc.action == rsrc.INIT:
            return retrigger_replaced(worker, is_update, rsrc, stack, check)
        with fixtures.MockPatchObject(heat_worker.db_api,
                                      'resource_update_and_save'):
            return retrigger_replaced(worker, is_update, rsrc, stack, check)
    return retrigger


class DifferentialTestCase(base.HeatTestCase):
    """Runs operations under both drivers and compares what they leave.

    Heat runs once; the reduced driver once in each of ``variants``, each
    a (name, options) pair: ``run_locally`` (see
    :data:`scenario_harness.SUCCESSORS`) and ``dispatch_window`` (the
    option of that name, if not the default). Heat's run does not depend
    on them, so one test checks them all against one run of Heat's.
    """

    variants = scenario_harness.SUCCESSORS

    def setUp(self):
        super().setUp()
        self.framework = self.useFixture(
            scenario_harness.ScenarioFramework())

    def variant(self, options):
        """A fixture that sets up one of ``variants``."""
        parts = [scenario_harness.Successors(self.framework.procs,
                                             options['run_locally'])]
        if options.get('dispatch_window') is not None:
            parts.append(scenario_harness.Override(
                'dispatch_window', options['dispatch_window']))
        return fixtures.CompoundFixture(parts)

    def run_under(self, driver_class, play):
        """Run ``play(step)`` on an empty database under a driver.

        ``play`` drives the framework and calls ``step(name)`` wherever the
        database is to be pictured.
        """
        self.framework.reset()
        pictures = Pictures(self.framework.db_engine)
        run = Run([], [], [])

        def step(name):
            run.pictures.append((name, pictures.take()))
            run.edges.append(pictures.edges())
            run.plugin_rows.append(pictures.plugin_rows())

        procs = self.framework.procs
        order = CanonicalOrder(procs.worker.queue)
        with scenario_harness.DriverBinding(driver_class(cfg.CONF)), \
                fixtures.MockPatchObject(procs.worker.queue, 'send',
                                         order.send), \
                fixtures.MockPatchObject(
                    procs.event_loop, 'processors',
                    (procs.engine, order, procs.worker, order,
                     pictures.learn)):
            play(step)
        return run

    def run_messages(self, count):
        """Run the event loop for ``count`` iterations, or until quiet."""
        loop = self.framework.procs.event_loop
        if count is None:
            loop()
            return
        for _ in range(count):
            if not any([processor() for processor in loop.processors]):
                return

    def play_history(self, history, pauses, step):
        """Run the operations of a history, picturing after each.

        ``pauses`` gives each operation the number of event loop iterations
        it runs before the next operation comes in (None: until no message
        is left). The last one is then run to the end and pictured again.
        """
        engine = self.framework.procs.engine
        operations = ([functools.partial(engine.create_stack, STACK_NAME,
                                         history[0])] +
                      [functools.partial(engine.update_stack, STACK_NAME,
                                         tmpl) for tmpl in history[1:]] +
                      [functools.partial(engine.delete_stack, STACK_NAME)])
        for operation, pause in zip(operations, pauses):
            operation()
            self.run_messages(pause)
            step('%s %r' % (operation.func.__name__, operation.args[1:]))
        self.run_messages(None)
        step('the end')

    def assertSameOutcome(self, play):
        """Run ``play`` under Heat and each variant; assert identical pictures.

        The reduced driver must also store no more edges than Heat at every
        step. Heat runs with one known bug corrected (see
        :func:`_without_replacement_leak`). Returns Heat's run and the
        reduced driver's, one per variant.
        """
        with fixtures.MockPatchObject(
                heat_worker.WorkerService, '_retrigger_replaced',
                _without_replacement_leak(
                    heat_worker.WorkerService._retrigger_replaced)):
            expected = self.run_under(heat_driver.HeatDriver, play)
        actuals = []
        for name, options in self.variants:
            with self.variant(options):
                actual = self.run_under(reduced.ReducedDriver, play)
            self.assertEqual([step for step, _ in expected.pictures],
                             [step for step, _ in actual.pictures])
            for (step, want), (_, got) in zip(expected.pictures,
                                              actual.pictures):
                if want != got:
                    self.fail('The drivers differ (reduced, %s) after %s:'
                              '\n%s' % (name, step, _diff(want, got)))
            for heat_edges, reduced_edges in zip(expected.edges,
                                                 actual.edges):
                self.assertLessEqual(reduced_edges, heat_edges)
            actuals.append(actual)
        return expected, actuals


class DifferentialScenarios(DifferentialTestCase):
    """Every scenario file, pictured at each ``verify`` and at its end."""

    scenarios = scenario_harness.all_scenarios()

    def test_scenario(self):
        def play(step):
            def verify(tmpl):
                testutils.verify(self, reality.reality, tmpl)
                step('verify %r' % tmpl)

            self.framework.run_scenario(self, self.name, self.path,
                                        verify=verify)
            step('the end')

        _, actuals = self.assertSameOutcome(play)
        for actual in actuals:
            self.assertEqual(0, actual.plugin_rows[-1])


class DifferentialRandomStacks(DifferentialTestCase):
    """Random stacks: a create, one to three updates, a delete."""

    scenarios = [('example%d' % n, {'index': n}) for n in range(EXAMPLES)]

    def check_example(self, strategy, check):
        """Run ``check`` on this scenario's example of ``strategy``.

        Every scenario draws the same EXAMPLES derandomized examples, which
        is cheap, and checks the one at its index: together they check the
        examples one test of EXAMPLES would, the same ones every run. The
        example is attached to the test's result.
        """
        examples = []

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                  database=None)
        @given(strategy)
        def draw(example):
            examples.append(example)

        draw()
        self.assertEqual(EXAMPLES, len(examples))
        example = examples[self.index]
        self.addDetail('example', content.text_content(repr(example)))
        check(example)

    def test_random_stacks(self):
        """Each operation runs until no message is left."""
        def check(history):
            expected, actuals = self.assertSameOutcome(functools.partial(
                self.play_history, history, [None] * (len(history) + 1)))
            for name, picture in expected.pictures:
                stack, = picture['stacks']
                self.assertEqual('COMPLETE', stack['status'], name)
            for actual in actuals:
                self.assertEqual([0] * len(actual.plugin_rows),
                                 actual.plugin_rows)

        self.check_example(strategies.stack_histories(), check)

    def test_interrupted_updates(self):
        """Operations come in while the previous one is still running.

        Superseded traversals: their queued messages must be refused, the
        nodes the newest traversal waits for re-triggered, and what was
        forwarded for the older traversal never used by the newer one.
        """
        def check(example):
            history, pauses = example
            expected, actuals = self.assertSameOutcome(functools.partial(
                self.play_history, history, pauses))
            stack, = expected.pictures[-1][1]['stacks']
            self.assertEqual(('DELETE', 'COMPLETE'),
                             (stack['action'], stack['status']))
            for actual in actuals:
                self.assertEqual(0, actual.plugin_rows[-1])

        self.check_example(strategies.interrupted_histories(), check)


def _scenario_resource(node):
    """A random_templates node as a scenario framework TestResource.

    The framework's TestResource stores each property as the attribute of
    the same name; '!' properties replace it when they change. Its tag goes
    to '!a' where the node replaces on update, else to 'ca'; 'a' joins the
    tag with its first read's 'a', 'b' reads the other reads' '!a' through
    str_replace, 'c' takes the picked read's id or '!a' directly.
    """
    tag = '%s.%d' % (node.name, node.salt)
    properties = {'!a' if node.replace else 'ca': tag, 'a': {'list_join': [
        '-', [tag] + [{'get_attr': [p, 'a']} for p in node.reads[:1]]]}}
    others = node.reads[1:]
    if others:
        keys = ['<%d>' % i for i in range(len(others))]
        properties['b'] = {'str_replace': {
            'template': ' '.join(keys),
            'params': {key: {'get_attr': [p, '!a']}
                       for key, p in zip(keys, others)}}}
    if node.reads:
        picked = node.reads[node.pick]
        properties['c'] = (scenario_template.GetRes(picked)
                           if node.form == 'str_split' else
                           scenario_template.GetAtt(picked, '!a'))
    return scenario_template.RsrcDef(properties, list(node.depends_on))


def random_dag_history(seed, size):
    """The create and update templates of a seeded random DAG."""
    graph = random_templates.random_graph(size, seed, nested=False)
    return [scenario_template.Template({node.name: _scenario_resource(node)
                                        for node in nodes})
            for nodes in (graph, random_templates.updated_graph(
                graph, seed, nested=False))]


class DifferentialRandomDags(DifferentialTestCase):
    """Seeded random DAGs shaped like real templates: create, update, delete.

    Resources read several predecessors' attributes through nested
    functions and depend explicitly on ancestors a longer path already
    reaches: the reduced driver removes those edges and must forward their
    data along the kept paths, before and after replacements.
    """

    scenarios = [('seed%d' % seed, {'seed': seed}) for seed in DAG_SEEDS]
    variants = scenario_harness.SUCCESSORS + [
        # Leaves sent one at a time, the others as nodes end.
        ('window1', {'run_locally': True, 'dispatch_window': 1})]

    def test_random_dag(self):
        history = random_dag_history(self.seed, DAG_SIZE)
        self.addDetail('history', content.text_content(repr(history)))
        expected, actuals = self.assertSameOutcome(functools.partial(
            self.play_history, history, [None] * (len(history) + 1)))
        for name, picture in expected.pictures:
            stack, = picture['stacks']
            self.assertEqual('COMPLETE', stack['status'], name)
        for actual in actuals:
            self.assertLess(actual.edges[0], expected.edges[0])
            self.assertEqual([0] * len(actual.plugin_rows),
                             actual.plugin_rows)


class SupersededCreatedReplacement(DifferentialTestCase):
    """A created replacement whose update is superseded (a Heat leak).

    The first update replaces R and creates the replacement before the
    second update comes in and takes it over as R's resource; the delete
    comes in before the second update's node for it runs. Heat marks the
    replacement DELETE when that node's stale message arrives, so the
    delete skips it and its physical resource leaks; the reduced driver
    deletes it.
    """

    HISTORY = [
        scenario_template.Template({
            'R': scenario_template.RsrcDef({'!a': 'one'}, [])}),
        scenario_template.Template({
            'R': scenario_template.RsrcDef({'!a': 'two'}, [])}),
        scenario_template.Template({
            'R': scenario_template.RsrcDef({'!a': 'two', 'a': 'three'},
                                           [])}),
    ]
    # Quiet after the create; two messages of the first update (R, then
    # the replacement's create); the second update and the delete at once.
    PAUSES = [None, 2, 0, 0]

    def test_replacement_deleted(self):
        _, actuals = self.assertSameOutcome(functools.partial(
            self.play_history, self.HISTORY, self.PAUSES))
        for actual in actuals:
            events = dict(actual.pictures[-1][1]['events'])
            self.assertIn(('R', 'R#1', 'CREATE', 'COMPLETE',
                           'state changed'), events)
            self.assertIn(('R', 'R#1', 'DELETE', 'COMPLETE',
                           'state changed'), events)


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
