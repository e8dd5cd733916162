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

"""How the SyncPoint store retries a transaction, on sqlite.

A conflict (a deadlock, a Galera certification failure) is retried at once
a few times before Heat's retry, whose pauses start at a second; a retry
that follows a commit whose answer was lost must be harmless. The same
rules on a real Galera cluster: heat_convergence.tests.galera_tests.
"""

import fixtures
from oslo_db import exception as db_exception
import sqlalchemy as sa

from heat_convergence.db import api
from heat_convergence.tests.unit import test_db_api


class Flaky(object):
    """A callable that raises ``error`` ``failures`` times, then works."""

    def __init__(self, failures, error):
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, context):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return 'done'


class TestRetried(test_db_api.DBAPITestCase):

    def setUp(self):
        super().setUp()
        self.sleeps = []
        # oslo.db logs the conflict that ends its quick retries.
        self.useFixture(fixtures.FakeLogger('oslo_db.api'))
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_db.api.time.sleep', self.sleeps.append))

    def test_conflicts_first_retried_within_half_a_second(self):
        flaky = Flaky(api.CONFLICT_RETRIES, db_exception.DBDeadlock())
        self.assertEqual('done', api._retried(flaky)(self.ctx))
        self.assertEqual(api.CONFLICT_RETRIES + 1, flaky.calls)
        self.assertEqual(0.01, self.sleeps[0])
        self.assertLessEqual(max(self.sleeps), 0.5)

    def test_then_heat_retries(self):
        flaky = Flaky(api.CONFLICT_RETRIES + 1, db_exception.DBDeadlock())
        self.assertEqual('done', api._retried(flaky)(self.ctx))
        # Heat's retry_on_db_error: [database] db_retry_interval, 1 s.
        self.assertEqual(1, self.sleeps[-1])

    def test_lost_connection_retried_by_heat_only(self):
        flaky = Flaky(1, db_exception.DBConnectionError())
        self.assertEqual('done', api._retried(flaky)(self.ctx))
        self.assertEqual([1], self.sleeps)

    def test_other_errors_not_retried(self):
        flaky = Flaky(1, db_exception.DBDuplicateEntry())
        self.assertRaises(db_exception.DBDuplicateEntry,
                          api._retried(flaky), self.ctx)
        self.assertEqual(1, flaky.calls)

    def test_joined_transaction_not_retried(self):
        # The statement cannot run again in a transaction that failed: the
        # outer transaction's retry applies.
        flaky = Flaky(1, db_exception.DBConnectionError())
        with api.context_manager.reader.using(self.ctx):
            self.assertRaises(db_exception.DBConnectionError,
                              api.retried(flaky), self.ctx)
        self.assertEqual(1, flaky.calls)
        self.assertEqual('done', api.retried(flaky)(self.ctx))

    def test_reads_of_a_node_retried_after_a_lost_connection(self):
        # A node's reads, as its engine's connections to a database node
        # that died are cut.
        self.create('t1', [test_db_api.node(1, 0)])
        execute = sa.engine.Connection.execute
        lost = []

        def lose_once(conn, *args, **kwargs):
            if not lost:
                lost.append(args)
                raise db_exception.DBConnectionError()
            return execute(conn, *args, **kwargs)

        for read, args in ((api.traversal_get, ('t1',)),
                           (api.is_ours, ('t1',))):
            del lost[:]
            with fixtures.MonkeyPatch('sqlalchemy.engine.Connection.execute',
                                      lose_once):
                read(self.ctx, *args)
            self.assertEqual(1, len(lost), read.__name__)


class TestRetryAfterCommit(test_db_api.DBAPITestCase):

    def values(self, traversal_id, action='UPDATE'):
        return {'id': traversal_id, 'stack_id': self.stack.id,
                'action': action}

    def traversals(self):
        with self.db.engine.connect() as conn:
            return conn.execute(
                sa.select(api.TRAVERSAL.c.id)).scalars().all()

    def test_begin_again_finds_its_row(self):
        # As a retry does after a commit whose answer was lost.
        api.traversal_begin(self.ctx, self.values('old', 'CREATE'))
        api.traversal_begin(self.ctx, self.values('new'))
        self.assertEqual(['new'], self.traversals())
        api.traversal_begin(self.ctx, self.values('new'))
        self.assertEqual(['new'], self.traversals())
        self.assertEqual(0, api.traversal_get(self.ctx, 'new').node_count)

    def test_create_begins_in_one_statement(self):
        del self.statements[:]
        api.traversal_begin(self.ctx, self.values('first', 'CREATE'))
        self.assertEqual(1, len([s for s in self.statements
                                 if not s.startswith(('BEGIN', 'COMMIT'))]))
        self.assertEqual(['first'], self.traversals())
