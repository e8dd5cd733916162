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

"""A nested stack call whose engine died: what it left, read from the DB."""

from heat.engine import stack as parser
from heat.engine import template
from heat.rpc import client as rpc_client
from heat.tests import utils
import oslo_messaging

from heat_convergence.drivers.reduced import nested_calls
from heat_convergence.tests import base

HOT = {'heat_template_version': '2015-04-30',
       'resources': {'a': {'type': 'OS::Heat::None'}}}


class NestedCalls(base.HeatTestCase):

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.parent = self.store_stack('parent')
        self.client = rpc_client.EngineClient()
        self.answers = []
        self.calls = self.patchobject(rpc_client.EngineClient, 'call',
                                      side_effect=self.answer)

    def store_stack(self, name, owner_id=None, traversal=None):
        stack = parser.Stack(self.ctx, name,
                             template.Template(HOT), owner_id=owner_id,
                             current_traversal=traversal)
        stack.store()
        return stack

    def answer(self, ctxt, msg, version=None):
        """The RPC call: each answer in turn, an exception raised."""
        result = self.answers.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def create(self):
        with nested_calls.surviving():
            return self.client._create_stack(
                self.ctx, stack_name='parent-member-x', template=None,
                params={}, files={}, args={}, owner_id=self.parent.id,
                template_id=7)

    def test_create_adopts_the_stack_a_lost_call_started(self):
        nested = self.store_stack('parent-member-x', self.parent.id, 'tr1')
        self.answers = [oslo_messaging.MessagingTimeout()]
        result = self.create()
        self.assertEqual(nested.id, result['stack_id'])
        self.assertEqual('parent-member-x', result['stack_name'])
        self.assertEqual(1, self.calls.call_count)

    def test_create_calls_again_when_nothing_was_stored(self):
        # Another parent's nested stack of that name is not this one.
        self.store_stack('parent-member-x', self.store_stack('other').id,
                         'tr1')
        self.answers = [oslo_messaging.MessagingTimeout(), {'stack_id': 'n'}]
        self.assertEqual({'stack_id': 'n'}, self.create())
        self.assertEqual(2, self.calls.call_count)

    def test_create_fails_on_a_stack_never_started(self):
        self.store_stack('parent-member-x', self.parent.id)
        self.answers = [oslo_messaging.MessagingTimeout()]
        self.assertRaises(oslo_messaging.MessagingTimeout, self.create)
        self.assertEqual(1, self.calls.call_count)

    def test_create_fails_on_a_second_timeout(self):
        self.answers = [oslo_messaging.MessagingTimeout(),
                        oslo_messaging.MessagingTimeout()]
        self.assertRaises(oslo_messaging.MessagingTimeout, self.create)
        self.assertEqual(2, self.calls.call_count)

    def test_heat_behaviour_outside_a_node(self):
        self.store_stack('parent-member-x', self.parent.id, 'tr1')
        self.answers = [oslo_messaging.MessagingTimeout()]
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          self.client._create_stack, self.ctx,
                          stack_name='parent-member-x', template=None,
                          params={}, files={}, args={},
                          owner_id=self.parent.id)

    def update(self, nested, template_id):
        with nested_calls.surviving():
            return self.client._update_stack(
                self.ctx, stack_identity=dict(nested.identifier()),
                template=None, params={}, files={}, args={},
                template_id=template_id)

    def test_update_waits_for_the_update_a_lost_call_started(self):
        nested = self.store_stack('parent-member-x', self.parent.id, 'tr1')
        self.answers = [oslo_messaging.MessagingTimeout()]
        result = self.update(nested, nested.t.id)
        self.assertEqual(nested.id, result['stack_id'])
        self.assertEqual(1, self.calls.call_count)

    def test_update_calls_again_when_it_had_not_started(self):
        nested = self.store_stack('parent-member-x', self.parent.id, 'tr1')
        self.answers = [oslo_messaging.MessagingTimeout(), {'stack_id': 'u'}]
        self.assertEqual({'stack_id': 'u'},
                         self.update(nested, nested.t.id + 1))
        self.assertEqual(2, self.calls.call_count)

    def test_other_errors_are_heats(self):
        self.answers = [ValueError('boom')]
        self.assertRaises(ValueError, self.create)
        self.assertEqual(1, self.calls.call_count)
