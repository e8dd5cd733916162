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

"""The purge at the end of a traversal retries Heat's deletes."""

from unittest import mock

import fixtures
from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.engine import template
from heat.tests import utils
from oslo_db import exception as db_exception
import sqlalchemy as sa

from heat_convergence.drivers.reduced import parent_wake
from heat_convergence.drivers.reduced import stack_purge
from heat_convergence.drivers.reduced import sync_points
from heat_convergence.drivers.reduced import traversal
from heat_convergence.tests import base


class PurgeRetried(base.HeatTestCase):
    """A stack whose update completes, and whose purge fails once.

    The failure comes where a Galera certification conflict (a deadlock
    error at commit) or a database node lost mid-transaction comes: in
    the delete, after the stack's COMPLETE state was stored.
    """

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.useFixture(fixtures.MonkeyPatch('oslo_db.api.time.sleep',
                                             lambda seconds: None))
        self.stack = parser.Stack(self.ctx, 'purged',
                                  template.Template(
                                      base.none_template(['a', 'b'])),
                                  convergence=True)
        self.stack.store()
        self.prev_template_id = template.Template(
            base.none_template(['a'])).store(self.ctx)
        self.stack.prev_raw_template_id = self.prev_template_id
        self.stack.state_set(self.stack.UPDATE, self.stack.IN_PROGRESS,
                             'updating')
        # The traversal's own rows: its completion point is this engine's.
        self.patchobject(sync_points, 'claim',
                         return_value=mock.Mock(failures={}))
        self.patchobject(sync_points, 'delete_traversal')
        self.patchobject(parent_wake, 'wake_parent')
        self.driver = mock.Mock(engine_id='engine-1')

    def fail_once(self, name, error, module=heat_db_api):
        """Make ``name`` (in heat.db.api) fail once with ``error``."""
        failed = []
        function = getattr(module, name)

        def fail(context, *args, **kwargs):
            if not failed:
                failed.append(error)
                raise error
            return function(context, *args, **kwargs)

        self.patchobject(module, name, side_effect=fail)
        return failed

    def finish(self):
        traversal.finish(self.driver, self.ctx, self.stack,
                         self.stack.current_traversal)

    def assert_complete_and_purged(self, action='UPDATE'):
        row = heat_db_api.stack_get(self.ctx, self.stack.id,
                                    show_deleted=True)
        self.assertEqual((action, 'COMPLETE'), (row.action, row.status))
        self.assertIsNone(row.prev_raw_template_id)
        self.assertRaises(exception.NotFound, heat_db_api.raw_template_get,
                          self.ctx, self.prev_template_id)

    def fail_template_delete_once(self, error):
        return self.fail_once('template_delete', error, module=stack_purge)

    def test_conflict_on_the_template_delete(self):
        failed = self.fail_template_delete_once(db_exception.DBDeadlock())
        self.finish()
        self.assertEqual(1, len(failed))
        self.assert_complete_and_purged()

    def test_connection_lost_in_the_template_delete(self):
        failed = self.fail_template_delete_once(
            db_exception.DBConnectionError())
        self.finish()
        self.assertEqual(1, len(failed))
        self.assert_complete_and_purged()

    def test_conflict_on_the_stack_delete(self):
        self.stack.state_set(self.stack.DELETE, self.stack.IN_PROGRESS,
                             'deleting')
        failed = self.fail_once('_soft_delete', db_exception.DBDeadlock())
        self.finish()
        self.assertEqual(1, len(failed))
        self.assert_complete_and_purged('DELETE')
        self.assertIsNone(heat_db_api.stack_get(self.ctx, self.stack.id))

    def test_other_errors_are_not_retried(self):
        failed = self.fail_template_delete_once(db_exception.DBError('no'))
        self.assertRaises(db_exception.DBError, self.finish)
        self.assertEqual(1, len(failed))

    def test_purge_outside_a_finish_is_heat_s(self):
        # Heat's code elsewhere (the heat driver, the API) is unchanged.
        failed = self.fail_once('_raw_template_get',
                                db_exception.DBDeadlock())
        self.stack.state_set(self.stack.UPDATE, self.stack.COMPLETE, 'done')
        self.assertRaises(db_exception.DBDeadlock, self.stack.purge_db)
        self.assertEqual(1, len(failed))


class SharedFiles(base.HeatTestCase):
    """A nested stack's previous template, whose files its root shares."""

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.root = parser.Stack(
            self.ctx, 'root', template.Template(
                base.none_template(['r%d' % i for i in range(20)]),
                files={'member.yaml': 'resources: {}'}), convergence=True)
        self.root.store()
        files = self.root.t.files
        self.files_id = files.files_id
        self.nested = parser.Stack(
            self.ctx, 'nested', template.Template(
                base.none_template(['a', 'b']), files=files),
            convergence=True, owner_id=self.root.id)
        self.nested.store()
        self.prev_template_id = template.Template(
            base.none_template(['a']), files=files).store(self.ctx)
        self.nested.prev_raw_template_id = self.prev_template_id
        self.nested.state_set(self.nested.UPDATE, self.nested.COMPLETE,
                              'done')
        self.statements = []
        engine = heat_db_api.get_engine()

        def executed(conn, cursor, statement, *args):
            self.statements.append(statement)

        sa.event.listen(engine, 'before_cursor_execute', executed)
        self.addCleanup(sa.event.remove, engine, 'before_cursor_execute',
                        executed)

    def other_templates_read(self):
        """The statements that read a template whole by its files."""
        return [s for s in self.statements
                if 'raw_template.template' in s and
                'raw_template.files_id =' in s]

    def files(self, files_id):
        return heat_db_api.raw_template_files_get(self.ctx, files_id).files

    def assert_purged(self):
        self.assertRaises(exception.NotFound, heat_db_api.raw_template_get,
                          self.ctx, self.prev_template_id)
        for stack in (self.root, self.nested):
            self.assertIsNotNone(heat_db_api.raw_template_get(
                self.ctx, stack.t.id))
        self.assertEqual({'member.yaml': 'resources: {}'},
                         self.files(self.files_id))

    def test_files_kept_without_reading_another_template(self):
        self.assertIsNotNone(self.files_id)
        with stack_purge.deletes_retried():
            self.nested.purge_db()
        self.assert_purged()
        self.assertEqual([], self.other_templates_read())

    def test_heat_reads_another_template_whole(self):
        # What the function is for: Heat decodes, say, the root's template.
        self.nested.purge_db()
        self.assert_purged()
        self.assertEqual(1, len(self.other_templates_read()))

    def test_files_deleted_with_their_last_template(self):
        first = template.Template(base.none_template(['a']),
                                  files={'x.yaml': 'resources: {}'})
        first_id = first.store(self.ctx)
        second_id = template.Template(base.none_template(['b']),
                                      files=first.files).store(self.ctx)
        files_id = first.files.files_id
        stack_purge.template_delete(self.ctx, first_id)
        self.assertEqual({'x.yaml': 'resources: {}'}, self.files(files_id))
        stack_purge.template_delete(self.ctx, second_id)
        self.assertRaises(exception.NotFound,
                          heat_db_api.raw_template_files_get, self.ctx,
                          files_id)
        self.assertEqual({'member.yaml': 'resources: {}'},
                         self.files(self.files_id))

    def test_gone_already(self):
        stack_purge.template_delete(self.ctx, self.prev_template_id)
        stack_purge.template_delete(self.ctx, self.prev_template_id)
        self.assert_purged()
