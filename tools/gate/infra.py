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

"""The gate's objects in the shared MariaDB and RabbitMQ servers.

The servers are the machine's (other developers run database tests on them
at the same time), so the gate only ever creates and drops objects whose
names start with its own prefix, and only those it recorded as created in
its state file: a database it did not create is never dropped.
"""

import shutil
import subprocess

import pymysql
from sqlalchemy.engine import url as sa_url


class InfraError(Exception):
    """MariaDB or RabbitMQ is missing or refused an operation."""


class MariaDB(object):
    """Databases and a user on the MariaDB server of ``admin_url``."""

    def __init__(self, admin_url):
        try:
            self.url = sa_url.make_url(admin_url)
        except Exception as exc:
            raise InfraError('invalid MariaDB admin URL %r: %s'
                             % (admin_url, exc))
        self.host = self.url.host or '127.0.0.1'
        self.port = self.url.port or 3306

    def _connect(self):
        try:
            return pymysql.connect(host=self.host, port=self.port,
                                   user=self.url.username or 'root',
                                   password=self.url.password or '',
                                   autocommit=True, connect_timeout=10)
        except pymysql.err.MySQLError as exc:
            raise InfraError(
                'cannot connect to MariaDB at %s:%s as %s (%s). Is it '
                'running (tools/start-services)? --mysql-url names the '
                'account to use.'
                % (self.host, self.port, self.url.username or 'root', exc))

    def execute(self, *statements):
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                for stmt in statements:
                    cur.execute(stmt)
        except pymysql.err.MySQLError as exc:
            raise InfraError('MariaDB refused "%s": %s' % (stmt, exc))
        finally:
            conn.close()

    def check(self):
        self.execute('SELECT 1')

    def create(self, user, password, databases):
        """Create ``databases`` fresh and ``user`` with all rights on them."""
        stmts = []
        for db in databases:
            stmts += ['DROP DATABASE IF EXISTS `%s`' % db,
                      'CREATE DATABASE `%s` CHARACTER SET utf8' % db]
        for host in ('127.0.0.1', 'localhost'):
            stmts += ["DROP USER IF EXISTS '%s'@'%s'" % (user, host),
                      "CREATE USER '%s'@'%s' IDENTIFIED BY '%s'"
                      % (user, host, password)]
            stmts += ["GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%s'"
                      % (db, user, host) for db in databases]
        self.execute(*stmts)

    def drop(self, user, databases):
        stmts = ['DROP DATABASE IF EXISTS `%s`' % db for db in databases]
        stmts += ["DROP USER IF EXISTS '%s'@'%s'" % (user, host)
                  for host in ('127.0.0.1', 'localhost')]
        self.execute(*stmts)

    def connection_url(self, user, password, database):
        return ('mysql+pymysql://%s:%s@%s:%s/%s?charset=utf8'
                % (user, password, self.host, self.port, database))


class RabbitMQ(object):
    """A vhost and a user of the local RabbitMQ, through rabbitmqctl."""

    def __init__(self, port=5672):
        self.port = port
        self.ctl = shutil.which('rabbitmqctl')

    def _run(self, *args, check=True):
        if not self.ctl:
            raise InfraError('rabbitmqctl is not on PATH; the gate needs a '
                             'local RabbitMQ (tools/start-services).')
        proc = subprocess.run([self.ctl, '-q'] + list(args),
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode:
            raise InfraError('rabbitmqctl %s failed: %s'
                             % (' '.join(args[:2]),
                                (proc.stderr or proc.stdout).strip()))
        return proc

    def check(self):
        self._run('status')

    def create(self, vhost, user, password):
        self.drop(vhost, user)
        self._run('add_vhost', vhost)
        self._run('add_user', user, password)
        self._run('set_permissions', '-p', vhost, user, '.*', '.*', '.*')

    def drop(self, vhost, user):
        # Absent objects are fine: this also clears a half-done create.
        self._run('delete_vhost', vhost, check=False)
        self._run('delete_user', user, check=False)

    def transport_url(self, vhost, user, password):
        return 'rabbit://%s:%s@127.0.0.1:%d/%s' % (user, password,
                                                   self.port, vhost)
