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

"""Pooled connections without redundant round trips, safely."""

from unittest import mock

import fixtures
import sqlalchemy as sa
import testscenarios
import testtools

from heat_convergence.db import connections
from heat_convergence.tests import db_fixture


class PoolTestCase(testtools.TestCase):
    """An engine whose pool holds one connection, on each backend."""

    scenarios = [(b, {'backend': b})
                 for b in ('sqlite', 'mysql', 'postgresql')]

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(db_fixture.Database(self.backend))
        self.engine = db_fixture.make_engine(self.db.url, max_pool_size=1,
                                             max_overflow=0)
        self.addCleanup(self.engine.dispose)


class TestSkipRedundantRollbacks(PoolTestCase):

    def setUp(self):
        super().setUp()
        self.probe = connections._in_transaction_probe(self.engine.dialect)
        self.assertTrue(connections.skip_redundant_rollbacks(self.engine))

    def checked_out(self):
        conn = self.engine.raw_connection()
        self.addCleanup(conn.close)
        return conn

    def count(self):
        with self.engine.connect() as conn:
            return conn.execute(sa.text('SELECT count(*) FROM hc_conn_test')
                                ).scalar()

    def test_open_transaction_is_still_rolled_back(self):
        with self.engine.begin() as conn:
            conn.execute(sa.text('CREATE TABLE hc_conn_test (x INTEGER)'))
        self.addCleanup(self.drop)
        conn = self.engine.raw_connection()
        cursor = conn.cursor()
        cursor.execute('BEGIN')
        cursor.execute('INSERT INTO hc_conn_test (x) VALUES (1)')
        self.assertTrue(self.probe(conn.dbapi_connection))
        conn.close()  # back to the pool with the transaction open
        again = self.engine.raw_connection()
        self.assertFalse(self.probe(again.dbapi_connection))
        again.close()
        self.assertEqual(0, self.count())

    def drop(self):
        with self.engine.begin() as conn:
            conn.execute(sa.text('DROP TABLE hc_conn_test'))

    def test_no_rollback_after_commit(self):
        if self.backend != 'mysql':
            self.skipTest('counted with MySQL session status')

        def rollbacks(cursor):
            cursor.execute("SHOW SESSION STATUS LIKE 'Com_rollback'")
            return int(cursor.fetchone()[1])

        conn = self.engine.raw_connection()
        cursor = conn.cursor()
        before = rollbacks(cursor)
        conn.commit()
        conn.close()
        conn = self.checked_out()  # the same connection: pool of one
        self.assertEqual(before, rollbacks(conn.cursor()))


class TestPingIdleConnectionsOnly(PoolTestCase):

    def setUp(self):
        super().setUp()
        self.pings = mock.Mock(side_effect=self.engine.dialect.do_ping)
        self.useFixture(fixtures.MockPatchObject(
            self.engine.dialect, 'do_ping', self.pings))

    def use(self):
        """Check a connection out, run a statement; return its backend id."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(self.backend_id())).scalar()

    def backend_id(self):
        return {'mysql': 'SELECT CONNECTION_ID()',
                'postgresql': 'SELECT pg_backend_pid()',
                'sqlite': 'SELECT 1'}[self.backend]

    def test_recently_returned_connection_is_not_pinged(self):
        if isinstance(self.engine.pool, sa.pool.NullPool):
            self.skipTest('every checkout is a new connection')
        self.assertTrue(connections.ping_idle_connections_only(self.engine,
                                                               idle=60))
        self.use()
        pinged = self.pings.call_count  # the first checkout pings
        for _ in range(5):
            self.use()
        self.assertEqual(pinged, self.pings.call_count)

    def test_idle_connection_is_pinged(self):
        connections.ping_idle_connections_only(self.engine, idle=0)
        self.use()
        before = self.pings.call_count
        self.use()
        self.use()
        self.assertEqual(before + 2, self.pings.call_count)

    def test_failed_ping_reconnects(self):
        if self.backend == 'sqlite':
            self.skipTest('no server to lose the connection')
        connections.ping_idle_connections_only(self.engine, idle=0)
        first = self.use()
        # The server closes the pooled connection while it is idle.
        killer = db_fixture.make_engine(self.db.url)
        self.addCleanup(killer.dispose)
        with killer.connect() as conn:
            conn.execute(sa.text(
                'KILL %d' % first if self.backend == 'mysql'
                else 'SELECT pg_terminate_backend(%d)' % first))
        second = self.use()
        self.assertNotEqual(first, second)

    def test_engine_without_pre_ping_is_left_alone(self):
        self.engine.pool._pre_ping = False
        self.assertFalse(connections.ping_idle_connections_only(self.engine))


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
