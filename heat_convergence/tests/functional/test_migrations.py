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

"""The plugin's schema lives beside Heat's without disturbing it."""

import datetime
import os
import subprocess
import sys
import tempfile

from alembic import autogenerate
from alembic import migration as alembic_migration
from heat.common import context
from heat.db import api as heat_db_api
from heat.db import migration as heat_migration
import sqlalchemy as sa
import testscenarios
import testtools

from heat_convergence.db import api
from heat_convergence.db import migration
from heat_convergence.db import models
from heat_convergence.tests import db_fixture
from heat_convergence.tests import stack_rows

BACKENDS = [(name, {'backend': name})
            for name in ('sqlite', 'mysql', 'postgresql')]


class TestMigrations(testtools.TestCase):

    scenarios = BACKENDS

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(db_fixture.Database(self.backend))

    def test_versions_are_separate(self):
        with self.db.engine.connect() as conn:
            heat_rev = alembic_migration.MigrationContext.configure(
                conn).get_current_revision()
        self.assertEqual('97b2a986f922', heat_rev)
        self.assertEqual(migration.head(),
                         migration.db_version(self.db.engine))
        # heat-manage db_sync again is a no-op: Heat still has one head.
        heat_migration.db_sync(engine=self.db.engine)
        migration.check_current(self.db.engine)

    def test_models_match_migrations(self):
        with self.db.engine.connect() as conn:
            mc = alembic_migration.MigrationContext.configure(
                conn, opts={'include_name': migration.include_name,
                            'include_object': migration.include_object,
                            'compare_type': True})
            diff = autogenerate.compare_metadata(mc, models.BASE.metadata)
        self.assertEqual([], diff)

    def test_purge_deleted_with_plugin_rows(self):
        if self.backend == 'sqlite':
            self.skipTest('heat-manage purge_deleted does not run on sqlite '
                          '(it iterates a closed result); MariaDB and '
                          'PostgreSQL are what it is for')
        ctx = context.get_admin_context()
        stack = stack_rows.create_stack(ctx)
        stack_rows.create_traversal(
            ctx, {'id': 't1', 'stack_id': stack.id, 'action': 'DELETE'},
            [{'entity_id': 1, 'is_update': False, 'node_type': 'resource',
              'predecessors': 0},
             {'entity_id': 2, 'is_update': False, 'node_type': 'resource',
              'predecessors': 1}])
        api.deliver(ctx, 't1', [api.Delivery(
            api.Node('2', False), api.Node('1', False), 1, None, False)])
        long_ago = datetime.datetime(2020, 1, 1)
        heat_db_api.stack_update(ctx, stack.id, {'deleted_at': long_ago},
                                 exp_trvsl=None)
        heat_db_api.purge_deleted(age=1, granularity='days')
        with self.db.engine.connect() as conn:
            stacks = conn.execute(sa.text(
                'SELECT count(*) FROM stack')).scalar()
        self.assertEqual(0, stacks)
        # The plugin rows went with the stack: the foreign keys cascade.
        self.assertIsNone(api.traversal_get(ctx, 't1'))
        for table in (api.SYNC_POINT, api.ARRIVAL):
            with self.db.engine.connect() as conn:
                self.assertEqual(0, conn.execute(
                    sa.select(sa.func.count()).select_from(table)).scalar())


class ManageCommandMixin(object):

    def fresh_database(self, with_heat=True):
        if self.backend == 'sqlite':
            path = os.path.join(tempfile.mkdtemp(prefix='hc-cli-'), 'h.db')
            url = 'sqlite:///' + path
        else:
            name = 'hc_cli_%d_%s' % (os.getpid(), self.getUniqueInteger())
            admin = sa.create_engine(db_fixture._admin_url(self.backend),
                                     isolation_level='AUTOCOMMIT')
            with admin.connect() as conn:
                conn.execute(sa.text('CREATE DATABASE %s' % name))
            admin.dispose()
            self.addCleanup(db_fixture.drop_database, self.backend, name)
            url = db_fixture._admin_url(self.backend).set(
                database=name).render_as_string(hide_password=False)
        if with_heat:
            engine = db_fixture.make_engine(url)
            heat_migration.db_sync(engine=engine)
            engine.dispose()
        return url

    def manage(self, url, *args):
        conf = os.path.join(tempfile.mkdtemp(prefix='hc-cli-'), 'heat.conf')
        with open(conf, 'w') as f:
            # One connection attempt: oslo.db would retry for 100 seconds.
            f.write('[database]\nconnection = %s\nmax_retries = 0\n' % url)
        proc = subprocess.run(
            [sys.executable, '-c',
             'from heat_convergence.cmd import manage; manage.main()',
             '--config-file', conf] + list(args),
            capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr


class TestManageCommand(ManageCommandMixin, testtools.TestCase):
    """heat-convergence-manage db_sync / db_version, as an operator runs it."""

    scenarios = BACKENDS

    def test_db_sync_and_version(self):
        url = self.fresh_database()
        rc, out, err = self.manage(url, 'db_version')
        self.assertEqual((0, 'None'), (rc, out.strip()), err)
        rc, out, err = self.manage(url, 'db_sync')
        self.assertEqual(0, rc, err)
        self.assertIn(migration.head(), out)
        rc, out, err = self.manage(url, 'db_version')
        self.assertEqual((0, migration.head()), (rc, out.strip()), err)

    def test_db_drop(self):
        if self.backend == 'sqlite':
            self.skipTest('what the operator runs it on: MariaDB and '
                          'PostgreSQL (the same code on sqlite)')
        url = self.fresh_database()
        self.assertEqual(0, self.manage(url, 'db_sync')[0])
        engine = db_fixture.make_engine(url)
        self.addCleanup(engine.dispose)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO raw_template (template, created_at) VALUES "
                "('{}', :now)"), {'now': datetime.datetime(2026, 1, 1)})
            tmpl = conn.execute(sa.text(
                'SELECT max(id) FROM raw_template')).scalar()
            conn.execute(sa.text(
                "INSERT INTO stack (id, name, raw_template_id, "
                "current_traversal, created_at, disable_rollback, "
                "convergence, action, status) VALUES ('s1', 'web', :t, "
                "'t1', :now, false, true, 'CREATE', 'IN_PROGRESS')"),
                {'t': tmpl, 'now': datetime.datetime(2026, 1, 1)})
            conn.execute(models.Traversal.__table__.insert().values(
                id='t1', stack_id='s1', action='CREATE', node_count=1,
                created_at=datetime.datetime(2026, 1, 1)))
        # A traversal in progress: refused, nothing dropped.
        rc, out, err = self.manage(url, 'db_drop')
        self.assertEqual(1, rc)
        self.assertIn('1 stacks run a traversal of the reduced driver', err)
        self.assertNotIn('Traceback', err)
        self.assertTrue(sa.inspect(engine).has_table(
            models.Traversal.__tablename__))
        # Handed back (another traversal id): dropped, Heat's tables kept.
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE stack SET current_traversal = 't2'"))
        rc, out, err = self.manage(url, 'db_drop')
        self.assertEqual(0, rc, err)
        tables = set(sa.inspect(engine).get_table_names())
        self.assertEqual(set(), {t for t in tables
                                 if t.startswith(models.TABLE_PREFIX)})
        self.assertIn('stack', tables)
        self.assertIsNone(migration.db_version(engine))

    def test_db_sync_before_heat_is_a_clear_error(self):
        url = self.fresh_database(with_heat=False)
        rc, out, err = self.manage(url, 'db_sync')
        self.assertEqual(1, rc)
        self.assertIn('run "heat-manage db_sync" first', err)
        self.assertNotIn('Traceback', err)


class TestManageErrors(ManageCommandMixin, testtools.TestCase):

    def test_unreachable_database_is_a_clear_error(self):
        rc, out, err = self.manage(
            'mysql+pymysql://nobody:wrong@127.0.0.1:1/none', 'db_version')
        self.assertEqual(1, rc)
        self.assertIn('ERROR: database error', err)
        self.assertNotIn('Traceback', err)

    def test_missing_connection_is_a_clear_error(self):
        rc, out, err = self.manage('', 'db_version')
        self.assertEqual(1, rc)
        self.assertIn('ERROR', err)
        self.assertNotIn('Traceback', err)


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
