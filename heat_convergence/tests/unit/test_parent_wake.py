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

import queue
from unittest import mock

import fixtures
from heat.db import api as heat_db_api
from heat.engine import service

from heat_convergence.drivers.reduced import cancellation
from heat_convergence.drivers.reduced import parent_wake
from heat_convergence import engine
from heat_convergence import fleet
from heat_convergence.tests.unit import test_db_api


class WakeParent(test_db_api.DBAPITestCase):
    """A nested stack's end wakes the engines acting on its parent."""

    def setUp(self):
        super().setUp()
        self.tgm = service.ThreadGroupManager()
        self.driver = mock.Mock(engine_id='me')
        self.driver.engine.thread_group_mgr = self.tgm
        self.nested = mock.Mock(id='nested', owner_id=self.stack.id,
                                parent_resource_name='level')
        self.services = []
        self.useFixture(fixtures.MockPatch(
            'heat.objects.service.Service.get_all',
            side_effect=lambda cnxt: self.services))
        self.useFixture(fixtures.MockPatch(
            'heat.common.service_utils.format_service',
            side_effect=lambda svc: svc))
        self.listener = self.useFixture(fixtures.MockPatchObject(
            cancellation, 'listener')).mock

    def parent(self, engine_id, name='level'):
        heat_db_api.resource_create(self.ctx, {
            'name': name, 'stack_id': self.stack.id, 'engine_id': engine_id,
            'action': 'CREATE', 'status': 'IN_PROGRESS'})

    def engine_up(self, engine_id, binary):
        self.services.append({'engine_id': engine_id, 'binary': binary,
                              'status': 'up'})

    def test_wakes_the_waiting_threads_here(self):
        self.parent('me')
        self.parent('me', name='other')
        waking, plain = cancellation.WakingQueue('level'), queue.Queue()
        sibling = cancellation.WakingQueue('other')
        for msg_queue in (waking, plain, sibling):
            self.tgm.add_msg_queue(self.stack.id, msg_queue)
        parent_wake.wake_parent(self.driver, self.ctx, self.nested)
        self.assertTrue(waking.arrived.is_set())
        # Another resource of the parent stack waits for a nested stack of
        # its own: it has no reason to read its status now.
        self.assertFalse(sibling.arrived.is_set())
        # Nothing queued: Heat's threads read no unknown message.
        self.assertEqual((0, 0), (waking.qsize(), plain.qsize()))
        self.listener.assert_not_called()

    def test_tells_plugin_engines_only(self):
        # The replaced row and its replacement, on two engines.
        self.parent('theirs')
        self.parent('stock')
        self.engine_up('theirs', fleet.PLUGIN_BINARY)
        self.engine_up('stock', 'heat-engine')
        parent_wake.wake_parent(self.driver, self.ctx, self.nested)
        self.listener.assert_called_once_with('theirs')
        self.listener.return_value.cast.assert_called_once_with(
            self.ctx, 'send', stack_identity={
                'stack_id': self.stack.id, engine.RESOURCE_NAME: 'level'},
            message=parent_wake.WAKE)

    def test_nothing_for_an_idle_parent(self):
        self.parent(None)
        waking = cancellation.WakingQueue()
        self.tgm.add_msg_queue(self.stack.id, waking)
        parent_wake.wake_parent(self.driver, self.ctx, self.nested)
        self.assertFalse(waking.arrived.is_set())
        self.listener.assert_not_called()

    def test_no_query_for_a_top_level_stack(self):
        self.nested.owner_id = None
        before = len(self.statements)
        parent_wake.wake_parent(self.driver, self.ctx, self.nested)
        self.assertEqual(before, len(self.statements))

    def test_a_wake_received_is_not_queued(self):
        tgm = engine.ThreadGroupManager(self.driver)
        self.driver.note_message.return_value = True
        plain = queue.Queue()
        tgm.add_msg_queue('s', plain)
        tgm.send('s', parent_wake.WAKE)
        self.driver.note_message.assert_called_once_with(
            's', parent_wake.WAKE, None)
        self.assertEqual(0, plain.qsize())

    def test_a_wake_received_names_the_resource(self):
        # From the engine listener, as another engine's wake_parent casts
        # it; a stack identity of Heat's names none.
        tgm = engine.ThreadGroupManager(self.driver)
        self.driver.note_message.return_value = True
        listener = engine.EngineListener('host', 'me', tgm)
        listener.send(self.ctx, {'stack_id': 's', engine.RESOURCE_NAME: 'a'},
                      parent_wake.WAKE)
        listener.send(self.ctx, {'stack_id': 's', 'tenant': 't'},
                      parent_wake.WAKE)
        self.assertEqual([mock.call('s', parent_wake.WAKE, 'a'),
                          mock.call('s', parent_wake.WAKE, None)],
                         self.driver.note_message.call_args_list)

    def test_an_unnamed_wake_wakes_every_thread_of_the_stack(self):
        # As an engine of an earlier version sends it.
        queues = [cancellation.WakingQueue(name) for name in ('a', 'b')]
        for msg_queue in queues:
            self.tgm.add_msg_queue('s', msg_queue)
        parent_wake.wake_here(self.tgm, 's')
        self.assertTrue(all(q.arrived.is_set() for q in queues))
