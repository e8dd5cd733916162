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

import contextlib
import threading
from unittest import mock

import fixtures
from heat.engine.resources.openstack.heat import resource_group
from heat.engine.resources.openstack.heat import test_resource
from heat.engine import service
from heat.engine import stack as parser

from heat_convergence.drivers.reduced import nested_actions
from heat_convergence.drivers.reduced import running_nodes
from heat_convergence.tests import base


class RunDetached(base.HeatTestCase):
    """A parent's wait for its nested stack leaves the calling thread."""

    def setUp(self):
        super().setUp()
        self.tgm = service.ThreadGroupManager()
        self.running = running_nodes.RunningNodes()
        self.key = ('t', '5', True)
        self.node = parser.ConvergenceNode(5, True)
        self.release = threading.Event()
        self.seen = []

    def scope(self):
        return self.running.tracking('t', self.node)

    def act(self):
        self.seen.append(('act', threading.current_thread(),
                          self.key in self.running))
        self.release.wait(10)
        return 'follow-on'

    def test_acts_in_a_thread_of_the_stack_group(self):
        with self.scope():
            self.assertTrue(nested_actions.run_detached(
                self.tgm, 'stack', self.scope, self.act, self.seen.append))
        # The caller has let go of the node; the thread still holds it.
        self.assertIn(self.key, self.running)
        (_, thread, tracked), = self.seen
        self.assertIsNot(threading.current_thread(), thread)
        self.assertTrue(tracked)
        self.assertEqual(1, len(self.tgm.groups['stack'].threads))
        self.release.set()
        # Heat's graceful stop waits for it.
        self.tgm.stop('stack', graceful=True)
        self.assertEqual('follow-on', self.seen[1])
        self.assertNotIn(self.key, self.running)

    def test_a_full_group_leaves_the_action_to_the_caller(self):
        group = mock.Mock()
        group.add_thread.side_effect = RuntimeError(
            'Maximum number of threads reached')
        self.tgm.groups['stack'] = group
        self.assertFalse(nested_actions.run_detached(
            self.tgm, 'stack', self.scope, self.act, self.seen.append))
        self.assertEqual([], self.seen)

    def test_failure_is_logged_and_releases_the_caller(self):
        log = self.useFixture(fixtures.FakeLogger(
            'heat_convergence.drivers.reduced.nested_actions'))

        def fail():
            raise ValueError('boom')

        self.assertTrue(nested_actions.run_detached(
            self.tgm, 'stack', contextlib.nullcontext, fail,
            self.seen.append))
        self.tgm.stop('stack', graceful=True)
        self.assertEqual([], self.seen)
        self.assertIn('Unhandled exception in a resource action of stack '
                      'stack', log.output)
        self.assertIn('ValueError: boom', log.output)


class WaitsForNested(base.HeatTestCase):

    def test_stack_resources_only(self):
        self.assertTrue(nested_actions.waits_for_nested(
            mock.Mock(spec=resource_group.ResourceGroup)))
        self.assertFalse(nested_actions.waits_for_nested(
            mock.Mock(spec=test_resource.TestResource)))
