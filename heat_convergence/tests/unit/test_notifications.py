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

"""A stack's state change builds no notification that nobody receives."""

from heat.common import messaging
from heat.engine import stack as parser
from heat.engine import template
from heat.objects import event as event_object
from heat.objects import stack_tag as stack_tag_object
from heat.tests import utils
from oslo_config import cfg
from oslo_messaging.notify import _impl_test

from heat_convergence.drivers.reduced import notifications
from heat_convergence.tests import base


class Notifications(base.HeatTestCase):

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.stack = parser.Stack(
            self.ctx, 'notified',
            template.Template(base.none_template(['a'])), convergence=True)
        self.stack.store()
        self.tag_reads = self.patchobject(
            stack_tag_object.StackTagList, 'get',
            side_effect=stack_tag_object.StackTagList.get)
        _impl_test.reset()
        self.addCleanup(_impl_test.reset)

    def notify_with(self, drivers):
        """Make the process's notifier anew, with these drivers."""
        cfg.CONF.set_override('driver', drivers,
                              group='oslo_messaging_notifications')
        messaging.cleanup()
        messaging.setup('fake://', optional=True)

    def change_state(self):
        """A traversal's end; its stack's tags not yet read."""
        notifications.start()
        self.addCleanup(notifications.stop)
        self.stack._tags = None
        self.stack.state_set(self.stack.CREATE, self.stack.COMPLETE,
                             'Stack CREATE completed successfully')

    def events(self):
        return [(e.resource_action, e.resource_status)
                for e in event_object.Event.get_all_by_stack(
                    self.ctx, self.stack.id)]

    def test_no_driver_sends_nowhere(self):
        # Heat's default: [oslo_messaging_notifications] driver unset.
        self.notify_with([])
        self.assertTrue(notifications.sent_nowhere())

    def test_noop_sends_nowhere(self):
        self.notify_with(['noop'])
        self.assertTrue(notifications.sent_nowhere())

    def test_a_driver_sends(self):
        self.notify_with(['noop', 'test'])
        self.assertFalse(notifications.sent_nowhere())

    def test_sent_nowhere_not_built(self):
        self.notify_with(['noop'])
        self.change_state()
        self.assertEqual(0, self.tag_reads.call_count)
        self.assertEqual([('CREATE', 'COMPLETE')], self.events())
        self.assertEqual(('CREATE', 'COMPLETE'), self.stack.state)

    def test_heat_builds_it_for_nobody(self):
        # What the patch is for: Heat reads the tags for a notification
        # its notifier then drops.
        self.notify_with(['noop'])
        self.stack._tags = None
        self.stack.state_set(self.stack.CREATE, self.stack.COMPLETE,
                             'Stack CREATE completed successfully')
        self.assertEqual(1, self.tag_reads.call_count)

    def test_sent_with_a_driver(self):
        self.notify_with(['test'])
        self.change_state()
        self.assertEqual(1, self.tag_reads.call_count)
        sent = _impl_test.NOTIFICATIONS
        self.assertEqual(['orchestration.stack.create.end'],
                         [n[1]['event_type'] for n in sent])
        payload = sent[0][1]['payload']
        self.assertEqual(self.stack.id, payload['stack_identity'])
        self.assertEqual([('CREATE', 'COMPLETE')], self.events())

    def test_stop_gives_heat_back(self):
        self.notify_with([])
        notifications.start()
        notifications.stop()
        self.stack._tags = None
        self.stack.state_set(self.stack.CREATE, self.stack.COMPLETE,
                             'Stack CREATE completed successfully')
        self.assertEqual(1, self.tag_reads.call_count)
