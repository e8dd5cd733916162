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

"""A node's resource state changes: one transaction, no idle dispatch."""

import contextlib
import datetime
from unittest import mock

import fixtures
from heat.common import context
from heat.common import exception
from heat.db import api as heat_db_api
from heat.db import models as heat_models
from heat.engine import resource
from heat.engine import stack as parser
from heat.engine import template
from heat.tests import utils
from oslo_config import cfg
from oslo_db import exception as db_exception
import sqlalchemy as sa
import testtools

from heat_convergence.db import api as db_api
from heat_convergence.db import heat_rows
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.drivers.reduced import state_changes
from heat_convergence.tests import base
from heat_convergence.tests import db_fixture
from heat_convergence.tests import scenario_harness
from heat_convergence.tests import stack_rows


class StateStoredWithItsEvent(scenario_harness.DriverFrameworkTest):
    """Heat stores properties data, resource row and event separately."""

    driver_class = reduced.ReducedDriver

    def test_state_stored_with_its_event(self):
        resource_events = 0
        for statements in self.transactions():
            for sql, params in statements:
                if (sql.startswith('INSERT INTO EVENT') and
                        'OS::Heat::TestResource' in params):
                    # A resource's event: its row was updated with it,
                    # and the event was not read back.
                    resource_events += 1
                    self.assertIn('UPDATE RESOURCE SET',
                                  [s[:19] for s, _ in statements])
                    self.assertNotIn('SELECT EVENT.ID', ' '.join(
                        s for s, _ in statements))
        # 8 resources created and deleted, IN_PROGRESS and COMPLETE each.
        self.assertGreaterEqual(resource_events, 32)


class StateChangeRetried(base.HeatTestCase):
    """A state change that failed before its commit runs again, whole.

    The failure comes after Heat's compare-and-swap of the resource row
    (which bumps the resource's atomic key) and its insert of the
    properties data: what a Galera certification failure at commit, or a
    database node lost mid-transaction, undoes.
    """

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.stack = parser.Stack(self.ctx, 'retried', template.Template({
            'heat_template_version': '2018-08-31',
            'resources': {'r': {'type': 'OS::Heat::TestResource',
                                'properties': {'value': 'v'}}}}))
        self.stack.store()
        self.rsrc = self.stack['r']
        self.rsrc.state_set(self.rsrc.INIT, self.rsrc.COMPLETE)
        self.rsrc._stored_properties_data = {'value': 'v'}
        self.rsrc._calling_engine_id = 'engine-1'
        self.useFixture(fixtures.MonkeyPatch('oslo_db.api.time.sleep',
                                             lambda seconds: None))

    def fail_once(self, error):
        """Make the first attempt fail with ``error`` after its writes."""
        failed = []
        purge = state_changes._purge_now_and_then

        def fail(context, stack_id):
            if not failed:
                failed.append(error)
                raise error
            return purge(context, stack_id)

        self.patchobject(state_changes, '_purge_now_and_then',
                         side_effect=fail)
        return failed

    def state_set(self):
        with state_changes.in_node():
            self.rsrc.state_set(self.rsrc.CREATE, self.rsrc.IN_PROGRESS,
                                lock=self.rsrc.LOCK_ACQUIRE)

    def assert_stored_once(self):
        row = heat_db_api.resource_get(self.ctx, self.rsrc.id)
        self.assertEqual(('CREATE', 'IN_PROGRESS', 'engine-1', 1),
                         (row.action, row.status, row.engine_id,
                          row.atomic_key))
        self.assertEqual(1, self.rsrc._atomic_key)
        self.assertEqual(row.rsrc_prop_data_id, self.rsrc._rsrc_prop_data_id)
        self.assertEqual({'value': 'v'}, row.rsrc_prop_data.data)
        events = heat_db_api.event_get_all_by_stack(self.ctx, self.stack.id)
        self.assertEqual([('CREATE', 'IN_PROGRESS')], [
            (e.resource_action, e.resource_status) for e in events
            if e.resource_action != 'INIT'])

    def test_events_purged_after_the_commit(self):
        cfg.CONF.set_override('max_events_per_stack', 1)
        cfg.CONF.set_override('event_purge_batch_size', 1)
        in_transaction = []
        purge = state_changes._purge

        def spy(context, stack_id, **kwargs):
            facade = getattr(context, '_enginefacade_context', None)
            in_transaction.append(getattr(facade, 'current', None))
            return purge(context, stack_id, **kwargs)

        self.patchobject(state_changes, '_purge', side_effect=spy)
        self.state_set()
        self.assertEqual([None], in_transaction)
        # It ran: the stack had its maximum of one event, which went.
        self.assertEqual([], heat_db_api.event_get_all_by_stack(
            self.ctx, self.stack.id))

    def test_purge_after_the_commit_runs_again_after_a_deadlock(self):
        # A purge's deletes can deadlock with another engine's inserts of
        # the stack's events (MariaDB 1213): seen once at N = 1,000.
        cfg.CONF.set_override('max_events_per_stack', 1)
        cfg.CONF.set_override('event_purge_batch_size', 1)
        delete = state_changes._delete_oldest_events
        deadlocks = []

        def deadlock_once(session, stack_id, limit):
            if not deadlocks:
                deadlocks.append(stack_id)
                raise db_exception.DBDeadlock()
            return delete(session, stack_id, limit)

        self.patchobject(state_changes, '_delete_oldest_events',
                         side_effect=deadlock_once)
        self.state_set()
        self.assertEqual([self.stack.id], deadlocks)
        self.assertNotIn('Failed to purge events', self.LOG.output)
        self.assertEqual([], heat_db_api.event_get_all_by_stack(
            self.ctx, self.stack.id))

    def test_conflict(self):
        failed = self.fail_once(db_exception.DBDeadlock())
        self.state_set()
        self.assertEqual(1, len(failed))
        self.assert_stored_once()

    def test_connection_lost_in_a_statement(self):
        failed = self.fail_once(db_exception.DBConnectionError())
        self.state_set()
        self.assertEqual(1, len(failed))
        self.assert_stored_once()

    def test_invalid_transaction_after_heat_retry(self):
        failed = self.fail_once(sa.exc.PendingRollbackError('lost', None,
                                                            None))
        self.state_set()
        self.assertEqual(1, len(failed))
        self.assert_stored_once()

    def deadlock_in_update(self):
        """Make the resource row's UPDATE a deadlock victim, once.

        As the server does with a victim (an InnoDB deadlock, a Galera
        brute-force abort), the whole transaction is rolled back: the
        database connection's, at the DBAPI level, under the session, which
        still takes its transaction for open. The deadlock error is raised
        from the statement's execution (``before_cursor_execute``), where
        a real one comes from, so that it goes up through Heat's
        ``resource_update`` and its retry decorator unchanged. Patching
        ``resource_update`` itself would replace the function the fix
        changes; failing at the state change's level would not reach
        Heat's retry at all.

        Return the list of statements sent after that point: the verb and
        table of each INSERT and UPDATE.
        """
        statements = []

        def execute(conn, cursor, statement, *args):
            words = statement.split()
            if words[0].upper() not in ('INSERT', 'UPDATE'):
                return
            verb = ' '.join(words[:3] if words[0].upper() == 'INSERT'
                            else words[:2]).upper()
            statements.append(verb)
            if verb == 'UPDATE RESOURCE' and statements.count(verb) == 1:
                conn.connection.dbapi_connection.rollback()
                raise db_exception.DBDeadlock()

        engine = heat_db_api.get_engine()
        sa.event.listen(engine, 'before_cursor_execute', execute)
        self.addCleanup(sa.event.remove, engine, 'before_cursor_execute',
                        execute)
        return statements

    def test_deadlock_in_the_compare_and_swap(self):
        # Heat's resource_update retries itself after a deadlock: it ran
        # the UPDATE again in a new transaction, without the properties
        # data inserted before it, and committed the row and the event
        # with a reference to data that did not exist.
        statements = self.deadlock_in_update()
        self.state_set()
        attempt = ['INSERT INTO RESOURCE_PROPERTIES_DATA', 'UPDATE RESOURCE']
        self.assertEqual(attempt * 2, statements[:4])
        self.assertEqual(1, statements.count('INSERT INTO EVENT'))
        self.assert_stored_once()

    def lose_commit(self, committed):
        """Lose the connection at the state change's COMMIT, once.

        ``committed``: whether the transaction committed all the same.
        Return the list of commits lost.
        """
        using = heat_db_api.context_manager.writer.using
        depth = []
        lost = []

        @contextlib.contextmanager
        def lost_at_commit(context):
            # The state change's transaction; the inner ones join it.
            first = not depth and not lost
            depth.append(context)
            try:
                with using(context) as session:
                    yield session
                    if first and not committed:
                        lost.append(context)
                        raise db_exception.DBConnectionError()
            finally:
                depth.pop()
            if first and committed:
                lost.append(context)
                raise db_exception.DBConnectionError()

        facade = mock.Mock()
        facade.writer.using = lost_at_commit
        facade.reader = heat_db_api.context_manager.reader
        self.patchobject(heat_db_api, 'context_manager', new=facade)
        return lost

    def test_commit_lost_after_committing(self):
        # Not run again: the event would be stored twice.
        lost = self.lose_commit(committed=True)
        self.state_set()
        self.assertEqual(1, len(lost))
        self.assert_stored_once()

    def test_commit_lost_before_committing(self):
        lost = self.lose_commit(committed=False)
        self.state_set()
        self.assertEqual(1, len(lost))
        self.assert_stored_once()


class DispatchToSinks(base.HeatTestCase):
    """Heat starts a thread per event, even for a stack without sinks."""

    def dispatched(self, sinks):
        stack = mock.Mock(spec=parser.Stack)
        stack.env.get_event_sinks.return_value = sinks
        heat_dispatch = mock.Mock()
        state_changes._to_sinks(heat_dispatch, True, stack, 'ev')
        return heat_dispatch.call_args_list

    def test_no_sinks_no_dispatch(self):
        self.assertEqual([], self.dispatched([]))

    def test_sinks_get_the_event(self):
        self.assertEqual([mock.call(mock.ANY, 'ev')],
                         self.dispatched([mock.sentinel.sink]))


class EventInsert(base.HeatTestCase):
    """Events are inserted without reading them back, purged as by Heat."""

    def insert(self, ctx, name):
        return state_changes._insert_event(None, True, ctx, {
            'stack_id': 'stack-1', 'resource_name': name,
            'resource_action': 'CREATE', 'resource_status': 'COMPLETE',
            'resource_status_reason': 'state changed'})

    def test_inserted_row_answers_event_store(self):
        ctx = utils.dummy_context()
        row = dict(self.insert(ctx, 'r'))
        self.assertIsNotNone(row['id'])
        self.assertIsNotNone(row['uuid'])
        self.assertIsNotNone(row['created_at'])
        self.assertEqual('state changed', row['_resource_status_reason'])

    def test_oldest_purged_past_the_limit(self):
        # With a batch of 1, Heat checks the count on every insert and
        # deletes one event once the stack has the maximum.
        cfg.CONF.set_override('max_events_per_stack', 3)
        cfg.CONF.set_override('event_purge_batch_size', 1)
        ctx = utils.dummy_context()
        for i in range(6):
            self.insert(ctx, 'r%d' % i)
        kept = heat_db_api.event_get_all_by_stack(ctx, 'stack-1')
        self.assertEqual(['r3', 'r4', 'r5'],
                         sorted(e.resource_name for e in kept))


class EventPurge(testtools.TestCase):
    """The oldest events go, with the properties data nothing else uses.

    On sqlite here; on MariaDB and PostgreSQL in the functional tests.
    """

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(db_fixture.Database(self.backend))
        self.ctx = context.get_admin_context()
        self.stack_id = stack_rows.create_stack(self.ctx).id

    def add_events(self, count, data=None, stack_id=None):
        return [heat_db_api.event_create(self.ctx, {
            'stack_id': stack_id or self.stack_id, 'resource_name': 'e',
            'rsrc_prop_data_id': data}).id for _ in range(count)]

    def purge(self, limit):
        with heat_db_api.context_manager.writer.using(self.ctx):
            state_changes._delete_oldest_events(self.ctx.session,
                                                self.stack_id, limit)

    def event_ids(self):
        event = heat_models.Event.__table__
        with self.db.engine.connect() as conn:
            return list(conn.execute(sa.select(event.c.id).where(
                event.c.stack_id == self.stack_id).order_by(
                    event.c.id)).scalars())

    def test_properties_data_kept_while_referenced(self):
        data = {name: heat_db_api.resource_prop_data_create(
            self.ctx, {'data': {'p': name}}).id for name in 'ABCD'}
        other = stack_rows.create_stack(self.ctx, name='other').id
        # The four oldest events use A, B, C and D; a newer one uses C.
        for name in 'ABCDC':
            self.add_events(1, data[name])
        newest = self.event_ids()[-1]
        # D is also a resource's of this stack, B of another stack's.
        for stack_id, name in ((self.stack_id, 'D'), (other, 'B')):
            heat_db_api.resource_create(self.ctx, {
                'stack_id': stack_id, 'name': 'r' + name,
                'rsrc_prop_data_id': data[name]})
        self.purge(4)
        self.assertEqual([newest], self.event_ids())
        with heat_db_api.context_manager.reader.using(self.ctx):
            kept = set(self.ctx.session.execute(sa.select(
                heat_models.ResourcePropertiesData.id)).scalars())
        self.assertEqual({data['B'], data['C'], data['D']}, kept)

    def test_events_another_purge_holds_are_skipped(self):
        if self.backend == 'sqlite':
            self.skipTest('sqlite has no row locks')
        ids = self.add_events(6)
        event = heat_models.Event.__table__
        with self.db.engine.connect() as other:
            # Another purge took the two oldest and has not committed.
            other.begin()
            other.execute(sa.select(event.c.id).where(
                event.c.id.in_(ids[:2])).with_for_update())
            self.purge(2)
            other.rollback()
        # Without waiting for them: the next two instead on PostgreSQL;
        # MariaDB 10.11 returns no row at all then, and deletes none.
        expected = ids[:2] + ids[4:] if self.backend == 'postgresql' else ids
        self.assertEqual(expected, self.event_ids())


class ResourceUpdate(base.HeatTestCase):
    """A resource row is updated without reading it back."""

    def setUp(self):
        super(ResourceUpdate, self).setUp()
        self.ctx = utils.dummy_context()
        stack = stack_rows.create_stack(self.ctx)
        self.rsrc = heat_db_api.resource_create(self.ctx, {
            'name': 'r', 'stack_id': stack.id, 'action': 'CREATE',
            'status': 'IN_PROGRESS', 'engine_id': 'engine-1'})

    @contextlib.contextmanager
    def data_statements(self):
        """Collect the verbs of the data statements sent within."""
        verbs = []

        def execute(conn, cursor, statement, *args):
            verb = statement.split()[0].upper()
            if verb in ('SELECT', 'INSERT', 'UPDATE', 'DELETE'):
                verbs.append(verb)

        engine = heat_db_api.get_engine()
        sa.event.listen(engine, 'before_cursor_execute', execute)
        try:
            yield verbs
        finally:
            sa.event.remove(engine, 'before_cursor_execute', execute)

    def update(self, resource_id, values):
        with self.data_statements() as verbs:
            state_changes._update_without_read_back(
                None, True, self.ctx, resource_id, values)
        return verbs

    def test_one_update_stores_the_values(self):
        statements = self.update(self.rsrc.id, {
            'physical_resource_id': 'phys-1', 'engine_id': None})
        self.assertEqual(['UPDATE'], statements)
        row = heat_db_api.resource_get(self.ctx, self.rsrc.id)
        self.assertEqual('phys-1', row.physical_resource_id)
        self.assertIsNone(row.engine_id)
        self.assertEqual('IN_PROGRESS', row.status)

    def test_missing_row_is_not_found(self):
        self.assertRaises(exception.NotFound, self.update,
                          self.rsrc.id + 1000, {'engine_id': None})

    def test_resource_id_set_in_a_node(self):
        # Heat's read, update and read back, as the one UPDATE.
        rsrc = mock.Mock(id=self.rsrc.id, context=self.ctx)
        with state_changes.in_node(), self.data_statements() as verbs:
            resource.Resource.resource_id_set(rsrc, 'phys-2')
        self.assertEqual(['UPDATE'], verbs)
        self.assertEqual('phys-2', heat_db_api.resource_get(
            self.ctx, self.rsrc.id).physical_resource_id)


class PrebuiltStatements(testtools.TestCase):
    """In a node, the resource row CAS and the event insert are prebuilt.

    On sqlite here; on MariaDB and PostgreSQL in the functional tests.
    """

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database(self.backend))
        self.ctx = context.get_admin_context()
        stack = stack_rows.create_stack(self.ctx)
        self.rsrc = heat_db_api.resource_create(self.ctx, {
            'name': 'r', 'stack_id': stack.id, 'action': 'CREATE',
            'status': 'IN_PROGRESS', 'engine_id': 'engine-1',
            'atomic_key': 3})
        # Heat's ORM update, which the statement replaces in a node.
        self.orm_update = self.useFixture(fixtures.MockPatchObject(
            sa.orm.Query, 'update', autospec=True,
            side_effect=sa.orm.Query.update)).mock

    def cas(self, values, atomic_key, expected_engine_id=None):
        with state_changes.in_node():
            return heat_db_api.resource_update(
                self.ctx, self.rsrc.id, values, atomic_key,
                expected_engine_id=expected_engine_id)

    def row(self):
        return heat_db_api.resource_get(self.ctx, self.rsrc.id)

    def test_stores_heat_s_values(self):
        values = {'status': 'COMPLETE', 'physical_resource_id': 'phys-1',
                  'requires': [3, 2], 'status_reason': 'done',
                  'engine_id': None}
        self.assertTrue(self.cas(values, 3, expected_engine_id='engine-1'))
        # The atomic key bumped into the caller's values, as Heat does.
        self.assertEqual(4, values['atomic_key'])
        row = self.row()
        self.assertEqual(
            ('COMPLETE', 'phys-1', [3, 2], None, 4, 'done'),
            (row.status, row.physical_resource_id, row.requires,
             row.engine_id, row.atomic_key, row.status_reason))
        self.orm_update.assert_not_called()

    def test_refused_unless_engine_and_key_match(self):
        self.assertFalse(self.cas({'status': 'FAILED'}, 3,
                                  expected_engine_id='engine-2'))
        self.assertFalse(self.cas({'status': 'FAILED'}, 2,
                                  expected_engine_id='engine-1'))
        # Heat's filter_by(engine_id=None): no engine holds it.
        self.assertFalse(self.cas({'status': 'FAILED'}, 3))
        self.assertEqual(('IN_PROGRESS', 3),
                         (self.row().status, self.row().atomic_key))

    def test_lock_taken_from_no_engine_and_no_key(self):
        heat_db_api.resource_update_and_save(
            self.ctx, self.rsrc.id, {'engine_id': None, 'atomic_key': None})
        self.assertTrue(self.cas({'engine_id': 'engine-2'}, None))
        self.assertEqual(('engine-2', 1),
                         (self.row().engine_id, self.row().atomic_key))

    def test_statement_built_once(self):
        built = self.useFixture(fixtures.MockPatchObject(
            heat_rows, '_resource_cas_statement',
            side_effect=heat_rows._resource_cas_statement)).mock
        self.useFixture(fixtures.MockPatchObject(db_api, '_PREBUILT', {}))
        for key in (3, 4):
            self.assertTrue(self.cas({'status': 'COMPLETE'}, key,
                                     expected_engine_id='engine-1'))
        self.assertEqual(1, built.call_count)
        self.assertEqual(5, self.row().atomic_key)

    def test_outside_a_node_heat_s_own(self):
        self.assertTrue(heat_db_api.resource_update(
            self.ctx, self.rsrc.id, {'status': 'COMPLETE'}, 3,
            expected_engine_id='engine-1'))
        self.assertEqual(1, self.orm_update.call_count)

    def test_data_stored_without_orm_objects(self):
        heat_read = self.useFixture(fixtures.MockPatchObject(
            heat_db_api, '_resource_data_get_by_key')).mock
        flush = self.useFixture(fixtures.MockPatchObject(
            sa.orm.Session, 'flush', autospec=True,
            side_effect=sa.orm.Session.flush)).mock
        with state_changes.in_node():
            first = heat_db_api.resource_data_set(
                self.ctx, self.rsrc.id, 'k', 'v1')
            again = heat_db_api.resource_data_set(self.ctx, self.rsrc.id,
                                                  'k', 'v2')
            heat_db_api.resource_data_set(self.ctx, self.rsrc.id, 'secret',
                                          's', redact=True)
        heat_read.assert_not_called()
        flush.assert_not_called()
        # One row per key, the latest value, the secret encrypted.
        self.assertEqual({'k': 'v2', 'secret': 's'},
                         heat_db_api.resource_data_get_all(self.ctx,
                                                           self.rsrc.id))
        with heat_db_api.context_manager.reader.using(self.ctx):
            stored = {row.key: row for row in self.ctx.session.query(
                heat_models.ResourceData).filter_by(
                    resource_id=self.rsrc.id)}
        self.assertEqual(['k', 'secret'], sorted(stored))
        self.assertEqual(('', False), (stored['k'].decrypt_method,
                                       stored['k'].redact))
        self.assertEqual('cryptography_decrypt_v1',
                         stored['secret'].decrypt_method)
        self.assertNotEqual('s', stored['secret'].value)
        self.assertIsNotNone(stored['k'].created_at)
        # What comes back is the row, as Heat's returns it.
        self.assertEqual((stored['k'].id, 'k', 'v1', self.rsrc.id),
                         (first.id, first.key, first.value,
                          first.resource_id))
        self.assertEqual((stored['k'].id, 'v2'), (again.id, again.value))

    def test_event_inserted_without_the_unit_of_work(self):
        flush = self.useFixture(fixtures.MockPatchObject(
            sa.orm.Session, 'flush', autospec=True,
            side_effect=sa.orm.Session.flush)).mock

        def insert(**values):
            return state_changes._insert_event(None, True, self.ctx, dict({
                'stack_id': self.rsrc.stack_id, 'resource_name': 'r',
                'resource_action': 'CREATE', 'resource_status': 'COMPLETE',
                'rsrc_prop_data_id': None}, **values))

        event = insert(resource_status_reason='x' * 300)
        flush.assert_not_called()
        stored = heat_db_api.event_get_all_by_stack(self.ctx,
                                                    self.rsrc.stack_id)
        self.assertEqual(1, len(stored))
        # The object answers as the row reads: id, the defaults, the
        # reason truncated by the model, the values given. (MariaDB keeps
        # whole seconds of the creation time, as of Heat's own insert.)
        self.assertEqual(
            (stored[0].id, stored[0].uuid, 'x' * 255, 'r', None),
            (event.id, event.uuid, event.resource_status_reason,
             event.resource_name, event.rsrc_prop_data_id))
        self.assertLess(abs(event.created_at - stored[0].created_at),
                        datetime.timedelta(seconds=1))
        second = insert()
        self.assertNotEqual(event.uuid, second.uuid)
        self.assertGreater(second.id, event.id)


class PluginWritesRetried(base.HeatTestCase):
    """A resource plugin's own writes in a node, retried once failed."""

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        stack = stack_rows.create_stack(self.ctx)
        self.rsrc = heat_db_api.resource_create(self.ctx, {
            'name': 'r', 'stack_id': stack.id, 'action': 'CREATE',
            'status': 'IN_PROGRESS', 'engine_id': 'engine-1'})
        self.useFixture(fixtures.MonkeyPatch('oslo_db.api.time.sleep',
                                             lambda seconds: None))

    def fail_once(self, name, error, owner=heat_db_api):
        """Make ``name`` (in ``owner``) fail once, in the transaction."""
        failed = []
        heat_function = getattr(owner, name)

        def fail(*args, **kwargs):
            if not failed:
                failed.append(error)
                raise error
            return heat_function(*args, **kwargs)

        self.patchobject(owner, name, side_effect=fail)
        return failed

    def resource_id_set(self, physical_id):
        # Heat logs a failure to store the physical id, and goes on
        # without it.
        rsrc = mock.Mock(id=self.rsrc.id, context=self.ctx)
        with state_changes.in_node():
            resource.Resource.resource_id_set(rsrc, physical_id)

    def physical_id(self):
        return heat_db_api.resource_get(
            self.ctx, self.rsrc.id).physical_resource_id

    def test_resource_id_set_after_a_lost_connection(self):
        failed = self.fail_once('_truncate_status_reason',
                                db_exception.DBConnectionError())
        self.resource_id_set('phys-1')
        self.assertEqual(1, len(failed))
        self.assertEqual('phys-1', self.physical_id())

    def test_resource_id_set_after_a_conflict(self):
        failed = self.fail_once('_truncate_status_reason',
                                db_exception.DBDeadlock())
        self.resource_id_set('phys-1')
        self.assertEqual(1, len(failed))
        self.assertEqual('phys-1', self.physical_id())

    def test_not_retried_within_an_outer_transaction(self):
        # The outer transaction's retry applies there: the statement could
        # not run again in its transaction.
        failed = self.fail_once('_data_id', db_exception.DBDeadlock(),
                                owner=heat_rows)
        with state_changes.in_node():
            with heat_db_api.context_manager.writer.using(self.ctx):
                self.assertRaises(db_exception.DBDeadlock,
                                  heat_db_api.resource_data_set, self.ctx,
                                  self.rsrc.id, 'k', 'v')
        self.assertEqual(1, len(failed))
        self.assertRaises(exception.NotFound,
                          heat_db_api.resource_data_get_all, self.ctx,
                          self.rsrc.id)

    def test_compare_and_swap_outside_a_transaction_is_heat_s(self):
        # Retried by Heat, in a node too: only within a state change's
        # transaction does the state change's retry take over.
        failed = self.fail_once('_truncate_status_reason',
                                db_exception.DBDeadlock())
        with state_changes.in_node():
            self.assertTrue(heat_db_api.resource_update(
                self.ctx, self.rsrc.id, {'status': 'COMPLETE'},
                self.rsrc.atomic_key, expected_engine_id='engine-1'))
        self.assertEqual(1, len(failed))
        self.assertEqual('COMPLETE', heat_db_api.resource_get(
            self.ctx, self.rsrc.id).status)

    def test_data_set_after_a_lost_connection(self):
        failed = self.fail_once('_data_id', db_exception.DBConnectionError(),
                                owner=heat_rows)
        with state_changes.in_node():
            heat_db_api.resource_data_set(self.ctx, self.rsrc.id, 'k', 'v')
        self.assertEqual(1, len(failed))
        self.assertEqual({'k': 'v'}, heat_db_api.resource_data_get_all(
            self.ctx, self.rsrc.id))

    def test_data_set_outside_a_node_is_heat_s(self):
        failed = self.fail_once('_resource_data_get_by_key',
                                db_exception.DBConnectionError())
        self.assertRaises(db_exception.DBConnectionError,
                          heat_db_api.resource_data_set, self.ctx,
                          self.rsrc.id, 'k', 'v')
        self.assertEqual(1, len(failed))
