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

"""Connections return to the pool without a redundant ROLLBACK, safely."""

import sqlalchemy as sa
import testscenarios
import testtools

from heat_convergence.db import connections
from heat_convergence.tests import db_fixture


class TestSkipRedundantRollbacks(testtools.TestCase):

    scenarios = [(b, {'backend': b})
                 for b in ('sqlite', 'mysql', 'postgresql')]

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(db_fixture.Database(self.backend))
        self.engine = db_fixture.make_engine(self.db.url, max_pool_size=1,
                                             max_overflow=0)
        self.addCleanup(self.engine.dispose)
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


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
