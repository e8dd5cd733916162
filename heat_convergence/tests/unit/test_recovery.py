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

"""A recovery pass goes on past a stack that vanished, or a failing row."""

import collections
import datetime
from unittest import mock

import fixtures
from heat.common import context
from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import stack as parser
from oslo_config import cfg
import oslo_messaging
import testtools

from heat_convergence import conf
from heat_convergence.db import recovery as db_recovery
from heat_convergence.drivers.reduced import cancellation
from heat_convergence.drivers.reduced import recovery
from heat_convergence.tests import db_fixture
from heat_convergence.tests import stack_rows

Row = collections.namedtuple('Row', ['id', 'stack_id', 'engine_id',
                                     'created_at', 'abandon'])

LONG_AGO = datetime.datetime(2020, 1, 1)


class TestRecoveryPass(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        conf.register_opts(self.conf)
        self.driver = mock.Mock(conf=self.conf, engine_id='me')
        self.recovery = recovery.Recovery(self.driver)
        self.stacks = {}
        self.useFixture(fixtures.MockPatchObject(
            parser.Stack, 'load', side_effect=self.load))
        # The stacks are mocks: they have no stored credentials to run in.
        self.useFixture(fixtures.MockPatchObject(
            recovery, 'stack_context', side_effect=lambda cnxt, _: cnxt))

    def load(self, cnxt, stack_id, force_reload):
        if stack_id not in self.stacks:
            # What Heat's Stack.load raises for a stack row that is gone.
            raise exception.NotFound('No stack exists with id "%s"' %
                                     stack_id)
        return self.stacks[stack_id]

    def stack(self, stack_id, traversal_id):
        stack = mock.Mock(id=stack_id, current_traversal=traversal_id,
                          owner_id=None)
        stack.name = stack_id
        stack.has_timed_out.return_value = True
        self.stacks[stack_id] = stack
        return stack

    def patch_db(self, **answers):
        for name, answer in answers.items():
            self.useFixture(fixtures.MockPatchObject(
                db_recovery, name, return_value=answer))

    def test_timeouts_enforced_past_a_vanished_stack(self):
        log = self.useFixture(fixtures.FakeLogger())
        rows = [Row('t1', 'gone', None, LONG_AGO, False),
                Row('t2', 's2', None, LONG_AGO, False)]
        self.patch_db(overdue=rows, expire=True)
        stack = self.stack('s2', 't2')
        self.recovery.enforce_timeouts(None)
        stack.mark_failed.assert_called_once_with('Timed out')
        self.assertIn('enforce_timeouts', log.output)
        self.assertNotIn('Traceback', log.output)

    def test_traversals_restarted_past_a_vanished_stack(self):
        rows = [Row('t1', 'gone', 'dead', LONG_AGO, False),
                Row('t2', 's2', 'dead', LONG_AGO, True)]
        self.patch_db(starting=rows, take_over_start=True)
        self.useFixture(fixtures.MockPatchObject(
            self.recovery, 'is_alive', return_value=False))
        stack = self.stack('s2', 't2')
        self.recovery.restart_unstarted(None)
        self.driver.converge.assert_called_once_with(stack, abandon=True)

    def test_ready_nodes_sent_again_after_a_death(self):
        held = mock.Mock(traversal_id='t1', entity_id='1', is_update=True,
                         node_type='resource')
        ready = mock.Mock(traversal_id='t2', entity_id='2', is_update=True,
                          node_type='resource')
        self.patch_db(holders={'dead'}, nodes_held_by=[held],
                      take_over=True, touch_ready=True)
        ready_since = self.useFixture(fixtures.MockPatchObject(
            db_recovery, 'ready_since', return_value=[ready])).mock
        self.useFixture(fixtures.MockPatchObject(
            self.recovery, 'is_alive', return_value=False))
        self.recovery.take_over_dead_engines(None)
        self.assertEqual(['t1', 't2'], [
            c.args[1] for c in self.driver.resume.call_args_list])
        # Of every traversal, not only stalled ones; READY before the pass.
        (_, before, _, stalled_only), _ = ready_since.call_args
        self.assertFalse(stalled_only)

    def test_no_ready_nodes_sent_without_a_death(self):
        self.patch_db(holders={'busy'})
        ready_since = self.useFixture(fixtures.MockPatchObject(
            db_recovery, 'ready_since')).mock
        self.useFixture(fixtures.MockPatchObject(
            self.recovery, 'is_alive', return_value=True))
        self.recovery.take_over_dead_engines(None)
        ready_since.assert_not_called()
        self.driver.resume.assert_not_called()

    def test_nodes_resumed_past_a_failing_one(self):
        rows = [mock.Mock(traversal_id=t, entity_id=str(i), is_update=True,
                          node_type='resource')
                for i, t in enumerate(('t1', 't2', 't3'))]
        self.patch_db(holders={'dead'}, nodes_held_by=rows, take_over=True,
                      ready_since=[])
        self.useFixture(fixtures.MockPatchObject(
            self.recovery, 'is_alive', return_value=False))
        self.driver.resume.side_effect = [None, RuntimeError('broker'),
                                          None]
        self.recovery.take_over_dead_engines(None)
        self.assertEqual(['t1', 't2', 't3'],
                         [c.args[1] for c in
                          self.driver.resume.call_args_list])

    def test_options_from_the_drivers_conf(self):
        self.conf.set_override('periodic_interval', 7, 'heat_convergence')
        self.assertEqual(datetime.timedelta(seconds=14),
                         recovery.Recovery(self.driver)._grace())


class TestLiveness(testtools.TestCase):
    """An engine is taken for dead only if it misses a longer second call."""

    def setUp(self):
        super().setUp()
        driver = mock.Mock(engine_id='me')
        driver.conf.engine_life_check_timeout = 2
        self.recovery = recovery.Recovery(driver)
        self.heat_call = self.useFixture(fixtures.MockPatch(
            'heat.rpc.listener_client.EngineListenerClient')).mock
        self.listener = self.useFixture(fixtures.MockPatchObject(
            cancellation, 'listener')).mock
        self.second = self.listener.return_value.prepare.return_value

    def test_answering_heat_call_is_alive(self):
        self.heat_call.return_value.is_alive.return_value = True
        self.assertTrue(self.recovery.is_alive(None, 'busy'))
        self.listener.assert_not_called()

    def test_late_answer_is_alive(self):
        self.heat_call.return_value.is_alive.return_value = False
        self.second.call.return_value = True
        self.assertTrue(self.recovery.is_alive(None, 'busy'))
        self.listener.assert_called_once_with('busy')
        self.listener.return_value.prepare.assert_called_once_with(
            timeout=2 * recovery.CONFIRM_FACTOR)
        self.second.call.assert_called_once_with(None, 'listening')

    def test_no_answer_twice_is_dead(self):
        self.heat_call.return_value.is_alive.return_value = False
        self.second.call.side_effect = oslo_messaging.MessagingTimeout()
        self.assertFalse(self.recovery.is_alive(None, 'gone'))
        # Asked once per pass.
        self.assertFalse(self.recovery.is_alive(None, 'gone'))
        self.assertEqual(1, self.second.call.call_count)


class TestReplacementOf(testtools.TestCase):
    """The row an update node resumes on after its engine died."""

    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database('sqlite'))
        self.ctx = context.get_admin_context()
        self.stack = stack_rows.create_stack(self.ctx)
        self.old = self.row()

    def row(self, replaces=None, template_id=None):
        row = heat_db_api.resource_create(self.ctx, {
            'stack_id': self.stack.id, 'name': 'r', 'replaces': replaces,
            'current_template_id': (template_id or
                                    self.stack.raw_template_id)})
        if replaces is not None:
            heat_db_api.resource_update_and_save(self.ctx, replaces,
                                                 {'replaced_by': row.id})
        return row.id

    def resumes_on(self, is_update=True):
        return recovery.replacement_of(
            self.ctx, self.stack.id,
            parser.ConvergenceNode(self.old, is_update))

    def test_not_replaced(self):
        self.assertIsNone(self.resumes_on())

    def test_replacement(self):
        new = self.row(replaces=self.old)
        self.assertEqual(new, self.resumes_on())
        self.assertIsNone(self.resumes_on(is_update=False))

    def test_last_of_a_chain(self):
        # The first replacement was cut off by a kill, marked FAILED and
        # replaced in turn: the node goes on from the last one. Resumed
        # on the middle one, Heat would replace it again and the last one
        # would be left IN_PROGRESS.
        first = self.row(replaces=self.old)
        last = self.row(replaces=first)
        self.assertEqual(last, self.resumes_on())

    def test_not_one_of_an_older_template(self):
        # In a rollback the stack is back on the old template: the
        # replaced row is the one to run again.
        template = heat_db_api.raw_template_create(self.ctx, {
            'template': {}, 'files': {}, 'environment': {}})
        self.row(replaces=self.old, template_id=template.id)
        self.assertIsNone(self.resumes_on())
