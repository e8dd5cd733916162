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

"""The operator's view of a traversal, in every node state."""

import datetime
import io
from unittest import mock

import fixtures
from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.objects import sync_point as sync_point_object
from oslo_utils import timeutils

from heat_convergence.cmd import manage
from heat_convergence.db import api
from heat_convergence.db import models
from heat_convergence.db import recovery as db_recovery
from heat_convergence.db import views as db_views
from heat_convergence.drivers.reduced import progress
from heat_convergence import graph
from heat_convergence.tests import stack_rows
from heat_convergence.tests.unit import test_db_api

N = api.Node


class TestThrottledNodes(test_db_api.DBAPITestCase):
    """Nodes over a stack's limit of running nodes are shown as such."""

    def setUp(self):
        super().setUp()
        traversal_id = self.stack.current_traversal
        self.create(traversal_id, [test_db_api.node(i, 0)
                                   for i in range(1, 4)] +
                    [test_db_api.node(4, 3)])
        # A limit of one running node: the first claim runs, the next two
        # are throttled.
        for i in range(1, 4):
            api.claim(self.ctx, traversal_id, N(str(i), True), 'e1',
                      limit=1)

    def test_states(self):
        view = progress.show(self.ctx, self.stack)
        self.assertEqual(
            {'running': 1, 'throttled': 2, 'waiting': 1},
            {k: v for k, v in view.counts.items() if v})
        self.assertEqual(['running', 'throttled', 'throttled', 'waiting'],
                         sorted((n.state for n in view.nodes),
                                key=progress.ORDER.index))
        self.assertEqual(set(progress.LABELS), {
            models.WAITING, models.READY, models.QUEUED, models.THROTTLED,
            models.RUNNING, models.RERUN, models.DONE})
        self.assertEqual(set(progress.LABELS.values()), set(progress.ORDER))

    def test_summary(self):
        (row, name), = progress.in_progress(self.ctx)
        self.assertEqual((1, 2, 0, 1, 0, 'test-stack'),
                         (row.running, row.throttled, row.ready,
                          row.waiting, row.done, name))

    def test_traversal_show(self):
        self.useFixture(fixtures.MockPatchObject(
            manage, '_stack', return_value=self.stack))
        out = self.useFixture(fixtures.MockPatch('sys.stdout',
                                                 io.StringIO())).mock
        manage.do_traversal_show()
        text = out.getvalue()
        self.assertIn('0 done, 1 running, 2 throttled, 0 ready, 0 queued, '
                      '1 waiting, 0 failed (of 4)', text)
        self.assertIn('\nThrottled:\n  resource 2 until the stack runs '
                      'fewer than max_concurrent_resources_per_stack nodes',
                      text)

    def test_traversal_list(self):
        out = self.useFixture(fixtures.MockPatch('sys.stdout',
                                                 io.StringIO())).mock
        manage.do_traversal_list()
        header, line = out.getvalue().splitlines()
        self.assertEqual(['Running', 'Throttled', 'Ready', 'Queued',
                          'Waiting'], header.split()[5:10])
        self.assertEqual(['1', '2', '0', '0', '1'], line.split()[5:10])

    def test_graph_colours(self):
        view = progress.show(self.ctx, self.stack)
        states = {n.name: n.state for n in view.nodes}
        deps = graph.Dependencies([(parser.ConvergenceNode(4, True),
                                    parser.ConvergenceNode(i, True))
                                   for i in range(1, 4)])
        names = {i: 'resource %d' % i for i in range(1, 5)}
        dot = progress.to_dot(deps, names, 'test', states)
        self.assertEqual(2, dot.count('fillcolor=orange'))
        self.assertEqual(1, dot.count('fillcolor=gold'))


class TestTraversalPaths(test_db_api.DBAPITestCase):
    """Which path runs each stack's traversal, in a mixed fleet."""

    def setUp(self):
        super().setUp()
        # self.stack: the reduced driver's traversal.
        self.create(self.stack.current_traversal, [test_db_api.node(1, 0)])
        self.stock = stack_rows.create_stack(self.ctx, name='stock')
        sync_point_object.SyncPoint.create(self.ctx, {
            'entity_id': '1', 'traversal_id': self.stock.current_traversal,
            'is_update': True, 'stack_id': self.stock.id, 'atomic_key': 0,
            'input_data': {}})
        self.stalled = stack_rows.create_stack(self.ctx, name='stalled')
        done = stack_rows.create_stack(self.ctx, name='done')
        heat_db_api.stack_update(self.ctx, done.id, {'status': 'COMPLETE'})

    def test_paths(self):
        rows = {row.name: row for row in db_views.traversal_paths(self.ctx)}
        self.assertEqual(['stalled', 'stock', 'test-stack'], sorted(rows))
        self.assertEqual((True, 0), (rows['test-stack'].ours,
                                     rows['test-stack'].heat_sync_points))
        self.assertEqual((False, 1), (rows['stock'].ours,
                                      rows['stock'].heat_sync_points))
        self.assertEqual((False, 0), (rows['stalled'].ours,
                                      rows['stalled'].heat_sync_points))
        self.assertEqual(self.stock.current_traversal,
                         rows['stock'].current_traversal)

    def test_command(self):
        out = self.useFixture(fixtures.MockPatch('sys.stdout',
                                                 io.StringIO())).mock
        manage.do_traversal_paths()
        lines = out.getvalue().splitlines()
        self.assertEqual(['Stack', 'Name', 'Action', 'Traversal', 'Path'],
                         lines[0].split())
        paths = {line.split()[1]: line.split(None, 4)[4]
                 for line in lines[1:]}
        self.assertEqual({
            'test-stack': 'reduced (heat-convergence engines)',
            'stock': "heat (1 sync points in Heat's table; any engine)",
            'stalled': 'none (no sync points: stalled, or just starting)',
        }, paths)

    def test_handback_refused_while_plugin_engines_are_up(self):
        self.useFixture(fixtures.MockPatch(
            'heat_convergence.fleet.engine_ids',
            return_value=frozenset(['e1'])))
        self.useFixture(fixtures.MockPatchObject(
            manage, 'CONF', mock.Mock(command=mock.Mock(
                stack=None, force=False))))
        error = self.assertRaises(manage.UserError,
                                  manage.do_traversal_handback)
        self.assertIn('1 heat-convergence-engine processes are up',
                      str(error))
        # A killed engine is "up" for a while: what to do then.
        self.assertIn('if they were killed, run this again then',
                      str(error))
        # Nothing was handed back.
        self.assertEqual('reduced', {
            row.name: 'reduced' if row.ours else 'other'
            for row in db_views.traversal_paths(self.ctx)}['test-stack'])

    def test_handback_names_the_new_traversal(self):
        """The operator sees which traversal of Heat's to follow."""
        self.useFixture(fixtures.MockPatch(
            'heat_convergence.fleet.engine_ids', return_value=frozenset()))
        self.useFixture(fixtures.MockPatch(
            'heat.common.messaging.setup'))
        self.useFixture(fixtures.MockPatchObject(
            manage, 'CONF', mock.Mock(command=mock.Mock(
                stack=None, force=False))))
        out = self.useFixture(fixtures.MockPatch('sys.stdout',
                                                 io.StringIO())).mock
        with mock.patch.object(manage.handback, 'by_operator',
                               return_value=[('s1', 't-old', 't-new')]):
            manage.do_traversal_handback()
        self.assertEqual("Stack s1: traversal t-old handed back to Heat's "
                         "path as traversal t-new.\n", out.getvalue())


class _IdleTest(test_db_api.DBAPITestCase):
    """A stack with a resource; what makes its traversal look busy."""

    def setUp(self):
        super().setUp()
        self.traversal_id = self.stack.current_traversal
        self.rsrc = heat_db_api.resource_create(self.ctx, {
            'name': 'R', 'stack_id': self.stack.id})
        self.later = timeutils.utcnow() + datetime.timedelta(minutes=1)
        self.earlier = timeutils.utcnow() - datetime.timedelta(minutes=1)

    def add_event_after_later(self):
        heat_db_api.event_create(self.ctx, {
            'stack_id': self.stack.id, 'resource_name': 'R',
            'resource_action': 'CREATE', 'resource_status': 'COMPLETE',
            'created_at': self.later + datetime.timedelta(seconds=1)})

    def lock(self, engine_id):
        heat_db_api.resource_update_and_save(self.ctx, self.rsrc.id,
                                             {'engine_id': engine_id})


class TestTraversalQuietSince(_IdleTest):
    """When an engine of the heat driver may hand a traversal back."""

    def setUp(self):
        super().setUp()
        self.create(self.traversal_id, [test_db_api.node(1, 0)])

    def quiet(self, before, traversal_id=None):
        return db_recovery.traversal_quiet_since(
            self.ctx, self.stack.id, traversal_id or self.traversal_id,
            before)

    def test_quiet(self):
        self.assertEqual(set(), self.quiet(self.later))

    def test_written_since(self):
        self.assertIsNone(self.quiet(self.earlier))

    def test_event_since(self):
        self.add_event_after_later()
        self.assertIsNone(self.quiet(self.later))

    def test_lock_holders(self):
        self.lock('e1')
        self.assertEqual({'e1'}, self.quiet(self.later))

    def test_not_ours(self):
        self.assertIsNone(self.quiet(self.later, 'other'))


class TestHeatTraversalIdle(_IdleTest):
    """When the recovery may look at a traversal of Heat's."""

    def setUp(self):
        super().setUp()
        sync_point_object.SyncPoint.create(self.ctx, {
            'entity_id': '1', 'traversal_id': self.traversal_id,
            'is_update': True, 'stack_id': self.stack.id, 'atomic_key': 0,
            'input_data': {}})

    def idle(self, before):
        return db_recovery.heat_traversal_idle(self.ctx, self.stack.id,
                                               self.traversal_id, before)

    def test_idle(self):
        self.assertTrue(self.idle(self.later))
        (row,) = db_recovery.heat_sync_points(self.ctx, self.traversal_id)
        self.assertEqual(('1', True), (row.entity_id, row.is_update))

    def test_sync_point_written_since(self):
        self.assertFalse(self.idle(self.earlier))

    def test_event_since(self):
        self.add_event_after_later()
        self.assertFalse(self.idle(self.later))

    def test_resource_locked(self):
        self.lock('e1')
        self.assertFalse(self.idle(self.later))

    def test_no_sync_points(self):
        self.assertFalse(db_recovery.heat_traversal_idle(
            self.ctx, self.stack.id, 'other', self.later))
