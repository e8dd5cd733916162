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

"""Real databases for tests: sqlite files, MariaDB and PostgreSQL.

Each test process creates one scratch database per backend, migrates it
with Heat's migrations and then the plugin's (the way an operator does), and
hands it to every test of that process with the tables emptied in between.
Heat's enginefacade is pointed at it for the duration of a test, so Heat's
own DB API and the plugin's run against the same engine.

The server URLs come from the environment (``HC_TEST_MYSQL_URL``,
``HC_TEST_POSTGRESQL_URL``); the defaults match this project's CI machine.
A backend that cannot be reached fails the test, unless
``HC_TEST_SKIP_UNAVAILABLE=1`` is set: silently skipping would let the
concurrency tests "pass" without ever running.
"""

import atexit
import os
import tempfile
import uuid

import fixtures
from heat.db import api as heat_db_api
from heat.db import migration as heat_migration
from oslo_config import cfg
from oslo_db import options as db_options
from oslo_db.sqlalchemy import engines
import sqlalchemy as sa
import testtools

from heat_convergence.db import migration

SERVERS = {
    'mysql': os.environ.get('HC_TEST_MYSQL_URL',
                            'mysql+pymysql://root@127.0.0.1:3306/'),
    'postgresql': os.environ.get(
        'HC_TEST_POSTGRESQL_URL',
        'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres'),
}

_databases = {}


def _admin_url(backend, server=None):
    return sa.engine.make_url(server or SERVERS[backend])


def create_database(backend, server=None):
    """Create and migrate a scratch database; return its URL (a string).

    :param server: the server's URL, if not the default of ``backend``.
    """
    name = 'hc_test_%s' % uuid.uuid4().hex[:12]
    if backend == 'sqlite':
        directory = tempfile.mkdtemp(prefix='hc-test-')
        url = 'sqlite:///%s' % os.path.join(directory, name + '.db')
    else:
        admin = sa.create_engine(_admin_url(backend, server),
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            if backend == 'mysql':
                conn.execute(sa.text('CREATE DATABASE %s CHARACTER SET utf8'
                                     % name))
            else:
                conn.execute(sa.text('CREATE DATABASE %s' % name))
        admin.dispose()
        url = _admin_url(backend, server).set(
            database=name).render_as_string(hide_password=False)
        if backend == 'mysql':
            url += '?charset=utf8'
        atexit.register(drop_database, backend, name, server)
    engine = make_engine(url)
    heat_migration.db_sync(engine=engine)
    migration.db_sync(engine=engine)
    engine.dispose()
    return url


def drop_database(backend, name, server=None):
    admin = sa.create_engine(_admin_url(backend, server),
                             isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        if backend == 'postgresql':
            conn.execute(sa.text(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE datname = :name AND pid <> pg_backend_pid()'),
                {'name': name})
        conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
    admin.dispose()


def make_engine(url, **kwargs):
    """Create an engine the way oslo.db (and so Heat) configures one."""
    kwargs.setdefault('max_pool_size', 5)
    kwargs.setdefault('max_overflow', 70)
    kwargs.setdefault('mysql_sql_mode', 'TRADITIONAL')
    kwargs.setdefault('sqlite_synchronous', False)
    return engines.create_engine(url, **kwargs)


def database_url(backend, server=None):
    """Return this process's scratch database URL for ``backend``."""
    if (backend, server) not in _databases:
        _databases[backend, server] = create_database(backend, server)
    return _databases[backend, server]


def use_heat_engine(engine):
    """Point Heat's enginefacade at ``engine``; return the undo callable."""
    db_options.set_defaults(cfg.CONF, connection='sqlite://')
    return heat_db_api.context_manager.patch_engine(engine)


def empty_tables(engine):
    """Delete the rows of every table, children first."""
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    with engine.begin() as conn:
        for table in reversed(meta.sorted_tables):
            if 'alembic_version' not in table.name:
                conn.execute(table.delete())


class Database(fixtures.Fixture):
    """A migrated scratch database of one backend, wired into Heat.

    ``server``, the URL of a server of that backend, overrides the default
    one (``SERVERS``).
    """

    def __init__(self, backend, server=None, **engine_kwargs):
        super().__init__()
        self.backend = backend
        self.server = server
        self.engine_kwargs = engine_kwargs

    def _setUp(self):
        try:
            self.url = database_url(self.backend, self.server)
        except sa.exc.OperationalError as exc:
            if os.environ.get('HC_TEST_SKIP_UNAVAILABLE') == '1':
                raise testtools.TestCase.skipException(
                    '%s unavailable: %s' % (self.backend, exc))
            raise
        self.engine = make_engine(self.url, **self.engine_kwargs)
        self.addCleanup(self.engine.dispose)
        self.addCleanup(use_heat_engine(self.engine))
        self.addCleanup(empty_tables, self.engine)
