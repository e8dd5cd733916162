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

"""A real three-node MariaDB Galera cluster on 127.0.0.1, for tests.

Production Heat databases often run on Galera, which replaces cross-node
row locks by certification at commit. Whether the SyncPoints stay
exactly-once there can only be shown on a real cluster, so this module
starts one from Debian's ``mariadb-server`` and ``galera-4`` packages: three
``mariadbd`` processes with their own data directories under one base
directory and their own ports (SQL 13306-13308, group communication
14567/14577/14587, IST one above and rsync SST two above each), away from
the ports of the services the other tests use.

:class:`GaleraCluster` is a fixture (the cluster lives for the fixture)
with :meth:`GaleraCluster.kill` and :meth:`GaleraCluster.start_node` for
crash tests. From a shell::

    tools/galera start|stop|status [--base-dir DIR]

starts a cluster that outlives the command (default base directory
``/tmp/hc-galera``); the tests reuse it when ``HC_TEST_GALERA_BASE_DIR``
names its base directory.
"""

import argparse
import atexit
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import fixtures
import pymysql
import testtools

MARIADBD = '/usr/sbin/mariadbd'
INSTALL_DB = '/usr/bin/mariadb-install-db'
PROVIDER = '/usr/lib/galera/libgalera_smm.so'
NODES = 3
SQL_PORT = 13306
GCOMM_PORT = 14567
DEFAULT_BASE_DIR = '/tmp/hc-galera'

# Seconds a node may take to accept connections and reach Synced (a
# joiner's first start copies the donor's data directory), and to stop.
START_TIMEOUT = 120
STOP_TIMEOUT = 60

CONFIG = """\
[mysqld]
datadir = {datadir}
socket = {base}/node{n}.sock
pid-file = {base}/node{n}.pid
log-error = {base}/node{n}.err
port = {sql_port}
bind-address = 127.0.0.1
user = {user}
skip-log-bin
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
max_connections = 300
wsrep_on = ON
wsrep_provider = {provider}
wsrep_cluster_name = hc_galera
wsrep_cluster_address = gcomm://{members}
wsrep_node_name = node{n}
wsrep_node_address = 127.0.0.1:{gcomm_port}
wsrep_provider_options = "base_port={gcomm_port}; \
ist.recv_addr=127.0.0.1:{ist_port}; gcache.size=64M; \
pc.wait_prim_timeout=PT30S"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:{sst_port}
wsrep_slave_threads = 2
"""


class GaleraError(Exception):
    """The cluster did not start, or a node did not reach Synced."""


class GaleraCluster(fixtures.Fixture):
    """Three Galera nodes under ``base_dir``, bootstrapped from node 0.

    A data directory left by an earlier cluster under ``base_dir`` is
    reused; without ``base_dir`` the cluster lives in a temporary directory
    removed with the fixture.
    """

    def __init__(self, base_dir=None, nodes=NODES):
        super().__init__()
        self.base_dir = base_dir
        self.nodes = nodes
        self.user = _server_user()

    def _setUp(self):
        if self.base_dir is None:
            self.base_dir = tempfile.mkdtemp(prefix='hc-galera-')
            self.addCleanup(shutil.rmtree, self.base_dir, True)
        self.addCleanup(self.stop)
        self.start()

    # Addresses -----------------------------------------------------------

    def sql_port(self, node: int) -> int:
        return SQL_PORT + node

    def url(self, node: int, database: str = '') -> str:
        """The SQLAlchemy URL of ``database`` (or the server) on a node."""
        return 'mysql+pymysql://root@127.0.0.1:%d/%s' % (
            self.sql_port(node), database)

    def _gcomm_port(self, node: int) -> int:
        return GCOMM_PORT + 10 * node

    def _path(self, node: int, suffix: str) -> str:
        return os.path.join(self.base_dir, 'node%d%s' % (node, suffix))

    # Life cycle ----------------------------------------------------------

    def start(self):
        """Start the nodes that are down, each waited for.

        With every node down, node 0 bootstraps a new cluster and the
        others join it.
        """
        os.makedirs(self.base_dir, exist_ok=True)
        shutil.chown(self.base_dir, self.user)
        running = [n for n in range(self.nodes) if self.pid(n)]
        for node in range(self.nodes):
            self._prepare(node)
            if node in running:
                continue
            bootstrap = not running
            if bootstrap:
                self._allow_bootstrap(node)
            self.start_node(node, bootstrap)
            running.append(node)
        self.wait_synced(range(self.nodes))

    def stop(self):
        """Stop every running node cleanly, the bootstrap node last."""
        for node in reversed(range(self.nodes)):
            self.stop_node(node)

    def start_node(self, node: int, bootstrap: bool = False):
        """Start one node; it joins the cluster (IST or SST) and syncs."""
        if self.pid(node):
            raise GaleraError('node%d is already running' % node)
        command = [MARIADBD, '--defaults-file=' + self._path(node, '.cnf')]
        if bootstrap:
            command.append('--wsrep-new-cluster')
        with open(self._path(node, '.out'), 'ab') as out:
            proc = subprocess.Popen(command, stdout=out, stderr=out,
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self._wait(node, lambda: self._state(node, proc) == 'Synced',
                   'reach Synced')

    def stop_node(self, node: int, sig: int = signal.SIGTERM):
        """Signal a node and wait until it has exited."""
        pid = self.pid(node)
        if not pid:
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid):
            if time.monotonic() > deadline:
                raise GaleraError('node%d (pid %d) did not stop in %ds\n%s'
                                  % (node, pid, STOP_TIMEOUT,
                                     self.log_tail(node)))
            time.sleep(0.2)
        if os.path.exists(self._path(node, '.pid')):
            os.unlink(self._path(node, '.pid'))

    def kill(self, node: int):
        """Kill a node with SIGKILL, as a crash would, and wait for it."""
        self.stop_node(node, signal.SIGKILL)

    def wait_synced(self, nodes):
        """Wait until every node in ``nodes`` sees the whole cluster."""
        for node in nodes:
            self._wait(node, lambda n=node: (
                self.status(n).get('wsrep_cluster_size') ==
                str(self.nodes)), 'see all %d nodes' % self.nodes)

    # State ---------------------------------------------------------------

    def pid(self, node: int):
        """The pid of a running node, or None."""
        try:
            with open(self._path(node, '.pid')) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def status(self, node: int) -> dict:
        """The node's ``wsrep_%`` status variables ({} when unreachable)."""
        try:
            conn = pymysql.connect(host='127.0.0.1',
                                   port=self.sql_port(node), user='root',
                                   connect_timeout=2)
        except pymysql.err.OperationalError:
            return {}
        with conn, conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            return dict(cur.fetchall())

    def log_tail(self, node: int, lines: int = 30) -> str:
        """The last lines of the node's error log, for error messages."""
        try:
            with open(self._path(node, '.err'), errors='replace') as f:
                tail = f.readlines()[-lines:]
        except OSError:
            return '(no error log at %s)' % self._path(node, '.err')
        return 'node%d error log:\n%s' % (node, ''.join(tail))

    def _state(self, node: int, proc: subprocess.Popen):
        if proc.poll() is not None:
            raise GaleraError('node%d exited with status %s\n%s' % (
                node, proc.returncode, self.log_tail(node)))
        return self.status(node).get('wsrep_local_state_comment')

    def _wait(self, node: int, done, what: str):
        deadline = time.monotonic() + START_TIMEOUT
        while not done():
            if time.monotonic() > deadline:
                raise GaleraError('node%d did not %s within %ds\n%s' % (
                    node, what, START_TIMEOUT, self.log_tail(node)))
            time.sleep(0.5)

    # Set-up --------------------------------------------------------------

    def _prepare(self, node: int):
        """Write the node's configuration; create its data directory."""
        datadir = self._path(node, '-data')
        gcomm = self._gcomm_port(node)
        with open(self._path(node, '.cnf'), 'w') as f:
            f.write(CONFIG.format(
                datadir=datadir, base=self.base_dir, n=node,
                sql_port=self.sql_port(node), provider=PROVIDER,
                user=self.user,
                members=','.join('127.0.0.1:%d' % self._gcomm_port(m)
                                 for m in range(self.nodes)),
                gcomm_port=gcomm, ist_port=gcomm + 1, sst_port=gcomm + 2))
        if os.path.isdir(os.path.join(datadir, 'mysql')):
            return
        result = subprocess.run(
            [INSTALL_DB, '--no-defaults', '--datadir=' + datadir,
             '--user=' + self.user,
             '--auth-root-authentication-method=normal',
             '--skip-test-db'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if result.returncode:
            raise GaleraError('mariadb-install-db failed for node%d:\n%s' % (
                node, result.stdout.decode(errors='replace')[-3000:]))

    def _allow_bootstrap(self, node: int):
        """Let ``node`` bootstrap even if it was not the last to stop.

        Galera refuses to bootstrap from a node that was not the last one
        to leave the cluster; for a test cluster, node 0's data is good
        enough (the others catch up from it).
        """
        state = os.path.join(self._path(node, '-data'), 'grastate.dat')
        if os.path.exists(state):
            with open(state) as f:
                text = f.read()
            with open(state, 'w') as f:
                f.write(text.replace('safe_to_bootstrap: 0',
                                     'safe_to_bootstrap: 1'))


_shared = []


def missing() -> list:
    """The files of Debian's packages the cluster needs that are missing."""
    return [path for path in (MARIADBD, INSTALL_DB, PROVIDER,
                              shutil.which('rsync') or 'rsync')
            if not os.path.exists(path)]


def cluster_for_tests() -> GaleraCluster:
    """The cluster the tests of this process share, started once.

    With ``HC_TEST_GALERA_BASE_DIR``, the cluster kept there (started by
    ``tools/galera start``, or now if it is down), left running; otherwise
    a new one in a temporary directory, stopped and removed at exit.
    Without the packages, the test fails, or is skipped with
    ``HC_TEST_SKIP_UNAVAILABLE=1`` (as the other database tests are).
    """
    if missing():
        message = 'Galera cluster unavailable: no %s (tools/start-services ' \
            'installs the packages)' % ', '.join(missing())
        if os.environ.get('HC_TEST_SKIP_UNAVAILABLE') == '1':
            raise testtools.TestCase.skipException(message)
        raise GaleraError(message)
    if not _shared:
        base_dir = os.environ.get('HC_TEST_GALERA_BASE_DIR')
        cluster = GaleraCluster(base_dir)
        if base_dir is None:
            cluster.setUp()
            atexit.register(cluster.cleanUp)
        else:
            cluster.start()
        _shared.append(cluster)
    return _shared[0]


def _server_user() -> str:
    """The user the nodes run as: ``mysql`` for root, else oneself.

    A node that joins receives its data through an rsync daemon the SST
    script starts as the node's user; started by root, that daemon would
    switch to ``nobody`` and could not write into the data directory.
    """
    if os.geteuid() == 0:
        return 'mysql'
    return pwd.getpwuid(os.geteuid()).pw_name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child of this process that exited stays a zombie until reaped.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return waited == 0


def main(argv=None):
    """``tools/galera start|stop|status [--base-dir DIR]``."""
    parser = argparse.ArgumentParser(
        prog='tools/galera',
        description='A three-node MariaDB Galera cluster on 127.0.0.1 for '
                    'the Galera tests (SQL ports %d-%d).' % (
                        SQL_PORT, SQL_PORT + NODES - 1))
    parser.add_argument('command', choices=['start', 'stop', 'status'])
    parser.add_argument('--base-dir', default=DEFAULT_BASE_DIR,
                        help='where the nodes keep their data, logs and '
                             'configuration (default %(default)s)')
    args = parser.parse_args(argv)
    cluster = GaleraCluster(os.path.abspath(args.base_dir))
    try:
        if args.command == 'start':
            cluster.start()
        elif args.command == 'stop':
            cluster.stop()
    except GaleraError as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 1
    running = 0
    for node in range(NODES):
        status = cluster.status(node)
        running += bool(status)
        print('node%d  %s  pid %s  %s, cluster size %s' % (
            node, cluster.url(node), cluster.pid(node) or '-',
            status.get('wsrep_local_state_comment', 'down'),
            status.get('wsrep_cluster_size', '-')))
    return 0 if args.command != 'status' or running else 3


if __name__ == '__main__':
    sys.exit(main())
