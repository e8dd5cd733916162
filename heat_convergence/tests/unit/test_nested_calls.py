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

import datetime

from heat.common import exception
from heat.common import identifier
from heat.engine import service
from heat.engine import stack as parser
from heat.engine import template
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object
from heat.rpc import client as rpc_client
from heat.tests import utils
from oslo_config import cfg
import oslo_messaging
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import uuidutils

from heat_convergence.db import api as db_api
from heat_convergence.drivers.reduced import nested_calls
from heat_convergence.tests import base
from heat_convergence.tests import db_fixture

HOT = {'heat_template_version': '2015-04-30',
       'resources': {'a': {'type': 'OS::Heat::None'}}}
OTHER = {'heat_template_version': '2015-04-30',
         'resources': {'b': {'type': 'OS::Heat::None'}}}


class NestedCallTestCase(base.HeatTestCase):
    """Stacks stored on sqlite; the RPC call answers from a list."""

    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database('sqlite'))
        self.ctx = utils.dummy_context()
        self.parent = self.store_stack('parent')
        self.client = rpc_client.EngineClient()
        self.answers = []
        self.calls = self.patchobject(rpc_client.EngineClient, 'call',
                                      side_effect=self.answer)

    def store_stack(self, name, owner_id=None, traversal=None, tmpl=HOT,
                    **kwargs):
        stack = parser.Stack(self.ctx, name,
                             template.Template(tmpl), owner_id=owner_id,
                             current_traversal=traversal, **kwargs)
        stack.store()
        return stack

    def answer(self, ctxt, msg, version=None, timeout=None):
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

    def update(self, nested, template_id, args=None):
        with nested_calls.surviving():
            return self.client._update_stack(
                self.ctx, stack_identity=dict(nested.identifier()),
                template=None, params={}, files={}, args=args or {},
                template_id=template_id)


class NestedCalls(NestedCallTestCase):
    """A call whose engine died: adopted, or made again, or Heat's failure."""

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

    def delete(self, identity):
        with nested_calls.surviving():
            return self.client.delete_stack(self.ctx, identity)

    def test_delete_waits_for_the_delete_a_lost_call_started(self):
        for status in ('IN_PROGRESS', 'COMPLETE'):
            nested = self.store_stack('member-' + status, self.parent.id,
                                      'tr1', action='DELETE', status=status)
            if status == 'COMPLETE':
                # As Heat leaves a deleted stack: soft-deleted.
                stack_object.Stack.delete(self.ctx, nested.id)
            self.answers = [oslo_messaging.MessagingTimeout()]
            self.assertIsNone(self.delete(nested.identifier()))
            self.assertEqual(1, self.calls.call_count)
            self.calls.reset_mock()

    def test_delete_waits_for_a_stack_purged(self):
        self.answers = [oslo_messaging.MessagingTimeout()]
        self.assertIsNone(self.delete(identifier.HeatIdentifier(
            self.ctx.project_id, 'purged', uuidutils.generate_uuid())))
        self.assertEqual(1, self.calls.call_count)

    def test_delete_calls_again_when_it_had_not_started(self):
        for action, status in (('UPDATE', 'COMPLETE'), ('DELETE', 'FAILED')):
            nested = self.store_stack('member-' + action, self.parent.id,
                                      'tr1', action=action, status=status)
            self.answers = [oslo_messaging.MessagingTimeout(), None]
            self.assertIsNone(self.delete(nested.identifier()))
            self.assertEqual(2, self.calls.call_count, action)
            self.calls.reset_mock()


class NestedReads(NestedCallTestCase):
    """A read of a nested stack whose engine died is made once more."""

    # Each read as a parent makes it, by position.
    READS = (('show_stack', ()), ('list_stack_resources', ()),
             ('get_template', ()), ('show_output', ('OS::stack_id',)))

    def setUp(self):
        super().setUp()
        self.identity = dict(self.store_stack('parent-member-x',
                                              self.parent.id,
                                              'tr1').identifier())

    def read(self, name, args):
        return getattr(self.client, name)(self.ctx, self.identity, *args)

    def surviving_read(self, name, args):
        with nested_calls.surviving():
            return self.read(name, args)

    def test_read_is_made_once_more_after_a_timeout(self):
        for name, args in self.READS:
            self.answers = [oslo_messaging.MessagingTimeout(), [name]]
            self.assertEqual([name], self.surviving_read(name, args))
            self.assertEqual(2, self.calls.call_count, name)
            first, again = self.calls.call_args_list
            self.assertEqual(first.args, again.args, name)
            self.assertIn('The call %s of nested stack' % name,
                          self.LOG.output)
            self.calls.reset_mock()

    def test_read_made_once_more_waits_longer(self):
        # A slow engine, not only a dead one, times a read out: the second
        # call waits five times rpc_response_timeout, the first Heat's.
        cfg.CONF.set_override('rpc_response_timeout', 7)
        for name, args in self.READS:
            self.answers = [oslo_messaging.MessagingTimeout(), [name]]
            self.assertEqual([name], self.surviving_read(name, args))
            first, again = self.calls.call_args_list
            self.assertIsNone(first.kwargs.get('timeout'), name)
            self.assertEqual(35, again.kwargs['timeout'], name)
            self.assertEqual(first.args, again.args, name)
            self.assertEqual(first.kwargs.get('version'),
                             again.kwargs.get('version'), name)
            self.calls.reset_mock()

    def test_read_fails_on_a_second_timeout(self):
        for name, args in self.READS:
            self.answers = [oslo_messaging.MessagingTimeout(),
                            oslo_messaging.MessagingTimeout()]
            self.assertRaises(oslo_messaging.MessagingTimeout,
                              self.surviving_read, name, args)
            self.assertEqual(2, self.calls.call_count, name)
            self.calls.reset_mock()

    def test_heat_behaviour_outside_a_node(self):
        for name, args in self.READS:
            self.answers = [oslo_messaging.MessagingTimeout(), [name]]
            self.assertRaises(oslo_messaging.MessagingTimeout,
                              self.read, name, args)
            self.assertEqual(1, self.calls.call_count, name)
            self.calls.reset_mock()

    def test_other_errors_are_heats(self):
        for name, args in self.READS:
            self.answers = [exception.EntityNotFound(entity='Stack',
                                                     name='x')]
            self.assertRaises(exception.EntityNotFound,
                              self.surviving_read, name, args)
            self.assertEqual(1, self.calls.call_count, name)
            self.calls.reset_mock()


class NestedReadsServedHere(NestedCallTestCase):
    """In an engine, a node's read of its nested stack makes no call."""

    def setUp(self):
        super().setUp()
        nested = self.store_stack('parent-member-x', self.parent.id, 'tr1')
        self.identity = dict(nested.identifier())
        self.engine = service.EngineService('a-host', 'a-topic')

    def served(self, name, *args):
        with nested_calls.surviving(self.engine):
            return getattr(self.client, name)(self.ctx, self.identity,
                                              *args)

    def test_no_call(self):
        for name, args in NestedReads.READS[:3]:
            self.served(name, *args)
        self.assertEqual(0, self.calls.call_count)

    def test_answer_is_the_call_s(self):
        # As the RPC server sends it: JSON types only.
        shown, = self.served('show_stack')
        self.assertEqual('parent-member-x', shown['stack_name'])
        self.assertEqual(self.identity, shown['stack_identity'])
        self.assertIsInstance(shown['creation_time'], str)
        self.assertEqual(shown, jsonutils.loads(jsonutils.dumps(shown)))
        self.assertEqual(self.engine.list_stack_resources(
            self.ctx, self.identity), self.served('list_stack_resources'))
        self.assertEqual(HOT['resources'],
                         self.served('get_template')['resources'])

    def test_heat_errors_raised_as_themselves(self):
        # Not the ExpectedException that Heat's request_context wraps them
        # in for the RPC server.
        self.assertRaises(exception.NotFound, self.served, 'show_output',
                          'no-such-output')
        self.identity['stack_id'] = uuidutils.generate_uuid()
        self.assertRaises(exception.EntityNotFound, self.served,
                          'show_stack')
        self.assertEqual(0, self.calls.call_count)


class RepeatedNestedUpdate(NestedCallTestCase):
    """A parent's action run again does not send its nested update twice."""

    def setUp(self):
        super().setUp()
        self.began = timeutils.utcnow()
        db_api.traversal_begin(self.ctx, {'id': 'tr-parent', 'action':
                                          'UPDATE',
                                          'stack_id': self.parent.id})
        self.parent.current_traversal = 'tr-parent'
        self.parent.store()

    def nested(self, updated_time, status='COMPLETE'):
        return self.store_stack('parent-member-x', self.parent.id, 'tr1',
                                action='UPDATE', status=status,
                                updated_time=updated_time)

    def again(self, tmpl=HOT):
        return template.Template(tmpl).store(self.ctx)

    def assert_sent(self, nested, template_id, args=None):
        self.answers = [{'stack_id': nested.id}]
        self.update(nested, template_id, args)
        self.assertEqual(1, self.calls.call_count)
        raw_template_object.RawTemplate.get_by_id(self.ctx, template_id)

    def test_same_update_since_the_traversal_began_is_waited_for(self):
        for status in ('IN_PROGRESS', 'COMPLETE'):
            nested = self.nested(timeutils.utcnow(), status)
            template_id = self.again()
            self.assertEqual(nested.id,
                             self.update(nested, template_id)['stack_id'])
            self.assertEqual(0, self.calls.call_count)
            # The template the parent stored for the call is not left.
            self.assertRaises(exception.NotFound,
                              raw_template_object.RawTemplate.get_by_id,
                              self.ctx, template_id)
            nested.delete()

    def test_update_of_an_earlier_traversal_is_sent(self):
        nested = self.nested(self.began - datetime.timedelta(seconds=5))
        self.assert_sent(nested, self.again())

    def test_other_contents_are_sent(self):
        nested = self.nested(timeutils.utcnow())
        self.assert_sent(nested, self.again(OTHER))

    def test_converge_is_sent(self):
        nested = self.nested(timeutils.utcnow())
        self.assert_sent(nested, self.again(), {'converge': True})

    def test_failed_update_is_sent(self):
        nested = self.nested(timeutils.utcnow(), 'FAILED')
        self.assert_sent(nested, self.again())
