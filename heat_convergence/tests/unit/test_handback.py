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

"""Going back: reduced traversals in flight handed back to Heat's path.

A reduced traversal is stalled as when the last plugin engine leaves: the
casts of its ready nodes are lost. Handed back, it runs again on Heat's
path (Heat's SyncPoints, its full graph), routed by the engine_worker
server of a plugin engine, and the stack converges to its template.
"""

import datetime
from unittest import mock

from heat.common import context
from heat.db import models as heat_models
from heat.engine import stack as parser
from heat.objects import user_creds as ucreds_object
from heat.tests.convergence.framework import reality
from heat.tests.convergence.framework import scenario_template as st
from heat.tests.convergence.framework import testutils
from oslo_utils import timeutils
import sqlalchemy as sa

from heat_convergence.db import api as db_api
from heat_convergence.drivers import heat as heat_driver
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.drivers.reduced import handback
from heat_convergence import fleet
from heat_convergence.tests import scenario_harness
from heat_convergence.tests.unit import test_mixed_fleet

HEAT_SYNC_POINT = heat_models.SyncPoint.__table__
RESOURCE = heat_models.Resource.__table__

TEMPLATE = st.Template({
    'A': st.RsrcDef({'a': 'one'}, []),
    'B': st.RsrcDef({'a': 'two', 'c': st.GetRes('A')}, ['A']),
    'C': st.RsrcDef({'ca': st.GetAtt('B', 'a'), 'c': st.GetRes('A')},
                    ['B', 'A']),
    'D': st.RsrcDef({'a': 'three'}, ['A'])})

UPDATED = st.Template({
    'A': st.RsrcDef({'a': 'uno'}, []),
    'B': st.RsrcDef({'a': 'dos', 'c': st.GetRes('A')}, ['A']),
    'C': st.RsrcDef({'ca': st.GetAtt('B', 'a'), 'c': st.GetRes('A')},
                    ['B', 'A']),
    'E': st.RsrcDef({'a': 'cuatro'}, ['C'])})


class HandBack(scenario_harness.DriverFrameworkTest):

    driver_class = reduced.ReducedDriver

    def setUp(self):
        super().setUp()
        # Plugin engines converge every operation; the messages arrive
        # through the engine_worker server of a plugin engine, which hands
        # Heat's traversals to Heat's worker.
        self.useFixture(test_mixed_fleet.MixedFleetBinding(
            self.driver, 'reduced', then='reduced'))
        self.procs = self.framework.procs
        self.cnxt = context.get_admin_context()
        self.lose_after = None
        self.sent = 0

        def cast(*args, **kwargs):
            self.sent += 1
            if self.lose_after is None or self.sent <= self.lose_after:
                self.procs.worker.check_resource(*args, **kwargs)
        self.framework.casts.side_effect = cast

    def query(self, statement):
        with self.framework.db_engine.connect() as conn:
            return conn.execute(statement).all()

    def stack(self):
        stacks = heat_models.Stack.__table__
        stack_id = self.query(sa.select(stacks.c.id).where(
            stacks.c.name == 'foo'))[0][0]
        return parser.Stack.load(self.cnxt, stack_id=stack_id,
                                 force_reload=True)

    def stall(self, operation, *args, after=1):
        """Run ``operation`` with every cast after the first ``after`` lost.

        ``args``: what it takes after the stack's name (a template).
        :returns: the stalled stack.
        """
        self.sent, self.lose_after = 0, after
        operation('foo', *args)
        self.procs.event_loop()
        self.lose_after = None
        stack = self.stack()
        self.assertEqual('IN_PROGRESS', stack.status)
        self.assertTrue(db_api.is_ours(self.cnxt, stack.current_traversal))
        return stack

    def hand_back(self, stack):
        handed = handback.hand_back(self.cnxt, stack.id,
                                    stack.current_traversal, 'a test')
        self.procs.event_loop()
        return handed

    def assert_on_heat_path(self, stalled):
        """The stack ran a traversal of Heat's, the old one is gone."""
        stack = self.stack()
        self.assertNotEqual(stalled.current_traversal,
                            stack.current_traversal)
        self.assertFalse(db_api.is_ours(self.cnxt, stack.current_traversal))
        self.assertEqual([], self.query(sa.select(db_api.SYNC_POINT)))
        self.assertEqual([], self.query(sa.select(db_api.TRAVERSAL)))
        # Its nodes were cast, with Heat's (empty) input data.
        self.assertIn(stack.current_traversal, [
            call.args[2] for call in self.framework.casts.call_args_list])
        return stack

    def test_create_handed_back(self):
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        self.assertTrue(self.hand_back(stalled))
        stack = self.assert_on_heat_path(stalled)
        self.assertEqual(('CREATE', 'COMPLETE'), stack.state)
        testutils.verify(self, reality.reality, TEMPLATE)
        # Each resource has one row: none was created twice.
        self.assertEqual(['A', 'B', 'C', 'D'], sorted(
            name for name, in self.query(sa.select(RESOURCE.c.name))))
        # Heat stored its full graph: C's redundant edge to A is back.
        c_id = {r.name: r.id for r in stack.resources.values()}['C']
        a_id = {r.name: r.id for r in stack.resources.values()}['A']
        self.assertIn([[c_id, True], [a_id, True]],
                      stack.current_deps['edges'])

    def test_update_handed_back(self):
        self.procs.engine.create_stack('foo', TEMPLATE)
        self.procs.event_loop()
        stalled = self.stall(self.procs.engine.update_stack, UPDATED)
        self.assertIsNotNone(stalled.prev_raw_template_id)
        self.assertTrue(self.hand_back(stalled))
        stack = self.assert_on_heat_path(stalled)
        self.assertEqual(('UPDATE', 'COMPLETE'), stack.state)
        testutils.verify(self, reality.reality, UPDATED)
        # Heat's completion purged the previous template, as after any
        # update: the hand-back kept it as the stack's previous one.
        self.assertIsNone(stack.prev_raw_template_id)

    def test_delete_handed_back(self):
        self.procs.engine.create_stack('foo', TEMPLATE)
        self.procs.event_loop()
        stalled = self.stall(self.procs.engine.delete_stack)
        self.assertEqual('DELETE', stalled.action)
        self.assertTrue(self.hand_back(stalled))
        stack = self.assert_on_heat_path(stalled)
        self.assertEqual(('DELETE', 'COMPLETE'), stack.state)
        self.assertEqual([], self.query(sa.select(RESOURCE)))

    def test_handed_back_in_owner_context(self):
        """Heat's traversal runs with the stack's stored credentials.

        Not in the credential-less admin context of the caller (a stopping
        engine, the manage command): the resources' actions reach the other
        services with the context their node's message carries, and so
        does the end of a delete, which removes the stack's keystone
        project (without credentials: DELETE_FAILED, "Authorization
        failed").
        """
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        trust = ucreds_object.UserCreds.get_by_id(
            self.cnxt, stalled.user_creds_id).trust_id
        self.assertTrue(trust)
        self.assertTrue(self.hand_back(stalled))
        stack = self.assert_on_heat_path(stalled)
        self.assertEqual({trust}, {
            call.args[0].trust_id
            for call in self.framework.casts.call_args_list
            if call.args[2] == stack.current_traversal})

    def test_handed_back_once(self):
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        self.assertTrue(self.hand_back(stalled))
        self.assertFalse(self.hand_back(stalled))
        self.assertEqual(('CREATE', 'COMPLETE'), self.stack().state)

    def test_heat_traversal_left_alone(self):
        self.procs.engine.create_stack('foo', TEMPLATE)
        self.procs.event_loop()
        stack = self.stack()
        self.assertFalse(self.hand_back(stack))
        self.assertEqual(stack.current_traversal,
                         self.stack().current_traversal)

    def test_idle(self):
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        alive = mock.Mock(return_value=True)
        # Not idle for an hour: nothing handed back.
        self.assertEqual(0, handback.idle(self.cnxt, 3600, alive))
        # A resource locked by a live engine: someone still acts on it.
        with self.framework.db_engine.begin() as conn:
            conn.execute(RESOURCE.update().where(RESOURCE.c.name == 'B')
                         .values(engine_id='e-1'))
        self.assertEqual(0, handback.idle(self.cnxt, -1, alive))
        alive.assert_called_once_with('e-1')
        # Its engine is dead: handed back, and Heat steals the lock.
        alive.return_value = False
        self.assertEqual(1, handback.idle(self.cnxt, -1, alive))
        self.procs.event_loop()
        self.assert_on_heat_path(stalled)

    def test_last_engine_hands_back_on_stop(self):
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        self.driver.engine = mock.Mock(engine_id='e-0')
        with mock.patch.object(fleet, 'others_up',
                               return_value=True) as others:
            self.driver.stop()
        others.assert_called_once_with(mock.ANY, fleet.PLUGIN_BINARY, 'e-0')
        self.assertEqual(stalled.current_traversal,
                         self.stack().current_traversal)
        with mock.patch.object(fleet, 'others_up', return_value=False):
            self.driver.stop()
        self.procs.event_loop()
        self.assertEqual(('CREATE', 'COMPLETE'),
                         self.assert_on_heat_path(stalled).state)

    def test_by_operator(self):
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        self.assertEqual([], handback.by_operator(self.cnxt, 'other'))
        handed = handback.by_operator(self.cnxt, 'foo')
        self.procs.event_loop()
        stack = self.assert_on_heat_path(stalled)
        self.assertEqual(('CREATE', 'COMPLETE'), stack.state)
        # The new traversal's id too: the operator's command prints it.
        self.assertEqual([(stalled.id, stalled.current_traversal,
                           stack.current_traversal)], handed)

    def test_heat_driver_hands_back_idle(self):
        stalled = self.stall(self.procs.engine.create_stack, TEMPLATE)
        driver = heat_driver.HeatDriver(self.driver.conf)
        # Idle for less than twice ready_timeout: left alone.
        driver.hand_back_idle()
        self.assertEqual(stalled.current_traversal,
                         self.stack().current_traversal)
        later = timeutils.utcnow() + datetime.timedelta(
            seconds=2 * self.driver.conf.heat_convergence.ready_timeout + 1)
        timeutils.set_time_override(later)
        self.addCleanup(timeutils.clear_time_override)
        driver.hand_back_idle()
        timeutils.clear_time_override()
        self.procs.event_loop()
        self.assertEqual(('CREATE', 'COMPLETE'),
                         self.assert_on_heat_path(stalled).state)
