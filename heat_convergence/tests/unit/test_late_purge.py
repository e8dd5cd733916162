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

"""A new operation is not lost to the late purge of a failed traversal."""

from unittest import mock

from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.engine import template
from heat.tests import utils

from heat_convergence.drivers.reduced import late_purge
from heat_convergence.tests import base


class LatePurge(base.HeatTestCase):
    """A stack whose update failed, loaded before its purge landed."""

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        stack = parser.Stack(
            self.ctx, 'failed', template.Template(base.none_template(['a'])),
            convergence=True)
        stack.current_traversal = 'failed-traversal'
        stack.store()
        stack.state_set(stack.UPDATE, stack.FAILED, 'Resource CREATE failed')
        self.stack_id = stack.id
        # The user saw UPDATE_FAILED and updated at once: loaded before
        # Heat's purge_db cleared the traversal id.
        self.loaded = parser.Stack.load(self.ctx, stack_id=stack.id)
        self.loaded.thread_group_mgr = mock.Mock()

    def set_row(self, **values):
        heat_db_api.stack_update(self.ctx, self.stack_id, values)

    def update(self, patched=True):
        new = template.Template(base.none_template(['a', 'b']))
        if not patched:
            self.loaded.converge_stack(new, action=parser.Stack.UPDATE)
            return
        with late_purge.CONVERGE.active():
            self.loaded.converge_stack(new, action=parser.Stack.UPDATE)

    def assert_started(self, started):
        row = heat_db_api.stack_get(self.ctx, self.stack_id)
        if started:
            self.assertEqual(('UPDATE', 'IN_PROGRESS'),
                             (row.action, row.status))
            self.assertEqual(self.loaded.current_traversal,
                             row.current_traversal)
        else:
            self.assertNotEqual(self.loaded.current_traversal,
                                row.current_traversal)
        converging = [c for c in
                      self.loaded.thread_group_mgr.start.call_args_list
                      if c.args[1] == self.loaded._converge_create_or_update]
        self.assertEqual(1 if started else 0, len(converging))

    def test_purged_before_the_store(self):
        self.set_row(current_traversal='')
        self.update()
        self.assert_started(True)

    def test_heat_drops_it(self):
        # What the patch is for: Heat's converge_stack alone aborts.
        self.set_row(current_traversal='')
        self.update(patched=False)
        self.assert_started(False)
        self.assertEqual('FAILED', heat_db_api.stack_get(
            self.ctx, self.stack_id).status)

    def test_not_purged(self):
        self.update()
        self.assert_started(True)

    def test_not_after_another_operation_started(self):
        self.set_row(current_traversal='another-traversal',
                     status='IN_PROGRESS')
        self.update()
        self.assert_started(False)
        self.assertEqual('another-traversal', heat_db_api.stack_get(
            self.ctx, self.stack_id).current_traversal)

    def test_not_after_another_operation_failed(self):
        # Another update started and failed since the load: its template
        # is the stack's now, and this one's view of the stack is stale.
        other = template.Template(base.none_template(['c'])).store(self.ctx)
        self.set_row(current_traversal='', raw_template_id=other)
        self.update()
        self.assert_started(False)

    def test_only_the_first_store(self):
        self.set_row(current_traversal='')
        stores = []
        with late_purge.STORE.active(late_purge._Start(self.loaded)):
            for expected in ('failed-traversal', 'failed-traversal'):
                stores.append(self.loaded.store(exp_trvsl=expected))
        self.assertIsNotNone(stores[0])
        self.assertIsNone(stores[1])
