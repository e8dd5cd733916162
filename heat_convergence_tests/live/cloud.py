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

"""A real Heat for tests: heat-api, engines, MariaDB/PostgreSQL, AMQP.

:class:`HeatCloud` starts the stock ``heat-wsgi-api`` (noauth; or Heat's
``heat.wsgi.api`` under uWSGI with several processes) and several
engine processes (``heat-convergence-engine`` with a chosen driver, or stock
``heat-engine`` for comparison) on a scratch database and a RabbitMQ vhost
of their own, and drives them with the real ``openstack stack`` CLI. Engines
can be killed, frozen and restarted, and the database and broker restarted,
for the fault-injection tests. Waiting for a stack polls the API directly:
a CLI process per poll costs two to four seconds of CPU on a small machine.

Everything lives under one state directory, removed on success; on failure
the engines' and API's logs are attached to the test.
"""

import collections
from concurrent import futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import fixtures
import sqlalchemy as sa
import testtools
from testtools import content
import yaml

from heat_convergence_tests.live import uwsgi_conf

MYSQL_URL = os.environ.get('HC_TEST_MYSQL_URL',
                           'mysql+pymysql://root@127.0.0.1:3306/')
POSTGRESQL_URL = os.environ.get(
    'HC_TEST_POSTGRESQL_URL',
    'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres')
RABBIT_HOST = os.environ.get('HC_TEST_RABBIT_HOST', '127.0.0.1:5672')
RABBIT_USER = os.environ.get('HC_TEST_RABBIT_USER', 'guest')
RABBIT_PASSWORD = os.environ.get('HC_TEST_RABBIT_PASSWORD', 'guest')

STOCK_ENGINE = 'heat-engine'
PLUGIN_ENGINE = 'heat-convergence-engine'


def _bin(name):
    """Return the path of a console script of this environment."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.exists(path) else shutil.which(name) or name


def openstack_cli():
    """The openstack CLI: $HC_TEST_OPENSTACK, else this environment's.

    tox points HC_TEST_OPENSTACK to a virtualenv holding only the client
    and its Heat plugin: in the test environment, next to Heat's many
    client libraries, the CLI imports fifteen plugins on every call, which
    cost 1.5 s of CPU per call more here.
    """
    return os.environ.get('HC_TEST_OPENSTACK') or _bin('openstack')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, interval=0.5, what='condition'):
    """Poll ``predicate`` until it returns a true value; return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError('Timed out after %ss waiting for %s' %
                                 (timeout, what))
        time.sleep(interval)


def test_resource(value, replace=False, **properties):
    """An ``OS::Heat::TestResource`` whose ``value`` is ``value``.

    ``replace``: an update of its properties replaces it. Other keyword
    arguments are further properties (``fail``, ``action_wait_secs``...).
    """
    props = dict(properties, value=value)
    if replace:
        props['update_replace'] = True
    return {'type': 'OS::Heat::TestResource', 'properties': props}


class CommandFailed(Exception):
    def __init__(self, args, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        super().__init__('%s failed (%d): %s' % (
            ' '.join(args), proc.returncode, proc.stderr.strip()[-2000:]))


class HeatCloud(fixtures.Fixture):
    """heat-api and engine processes on real services.

    :param engines: number of engine processes.
    :param driver: ``[heat_convergence] driver`` for plugin engines.
    :param engine_binary: ``heat-convergence-engine`` or ``heat-engine``.
    :param database: ``mysql`` or ``postgresql``.
    :param workers: ``num_engine_workers`` of each engine process.
    :param conf: extra heat.conf settings, {section: {key: value}}.
    :param api_processes: None: heat-api is ``heat-wsgi-api`` (wsgiref, one
        request at a time). A number: Heat's ``heat.wsgi.api`` application
        under uWSGI with that many processes of ``api_threads`` threads
        each, as operators run it; noauth and the port are the same.
    :param api_threads: threads of each uWSGI process (1, as devstack).
    """

    def __init__(self, engines=2, driver='reduced',
                 engine_binary=PLUGIN_ENGINE, database='mysql', workers=1,
                 conf=None, api_processes=None, api_threads=1):
        super().__init__()
        self.engine_count = engines
        self.driver = driver
        self.engine_binary = engine_binary
        self.database = database
        self.workers = workers
        self.extra_conf = conf or {}
        if api_processes is not None and api_processes < 1:
            raise ValueError('api_processes must be None or at least 1')
        self.api_processes = api_processes
        self.api_threads = api_threads

    # Set-up -----------------------------------------------------------------

    def _setUp(self):
        self.name = 'hclive_%s' % uuid.uuid4().hex[:10]
        self.dir = tempfile.mkdtemp(prefix='hc-live-')
        self.log_dir = os.path.join(self.dir, 'log')
        os.makedirs(self.log_dir)
        self.addCleanup(self._remove_dir)
        self.processes = {}
        vhost = self._create_vhost()
        self._create_database()
        self._write_config()
        self.manage('heat-manage', 'db_sync')
        if self.engine_binary == PLUGIN_ENGINE:
            self.manage('heat-convergence-manage', 'db_sync')
        vhost.result()
        # Registered last, so run first: the processes go before their
        # database and vhost.
        self.addCleanup(self.stop_all)
        self.api_port = _free_port()
        self.endpoint = 'http://127.0.0.1:%d/v1/admin' % self.api_port
        self.start_api()
        for index in range(self.engine_count):
            self.start_engine(index)
        self.wait_for_engines(self.engine_count * self.workers)

    def _remove_dir(self):
        if not getattr(self, '_keep_dir', False):
            shutil.rmtree(self.dir, ignore_errors=True)

    def _admin_engine(self):
        url = MYSQL_URL if self.database == 'mysql' else POSTGRESQL_URL
        return sa.create_engine(url, isolation_level='AUTOCOMMIT')

    def _create_database(self):
        admin = self._admin_engine()
        with admin.connect() as conn:
            if self.database == 'mysql':
                conn.execute(sa.text('CREATE DATABASE %s CHARACTER SET utf8'
                                     % self.name))
            else:
                conn.execute(sa.text('CREATE DATABASE %s' % self.name))
        url = admin.url.set(database=self.name)
        admin.dispose()
        self.db_url = url.render_as_string(hide_password=False)
        if self.database == 'mysql':
            self.db_url += '?charset=utf8'
        self.addCleanup(self._drop_database)
        self.db = sa.create_engine(self.db_url, poolclass=sa.pool.NullPool)

    def _drop_database(self):
        self.db.dispose()
        admin = self._admin_engine()
        with admin.connect() as conn:
            if self.database == 'postgresql':
                conn.execute(sa.text(
                    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                    'WHERE datname = :name AND pid <> pg_backend_pid()'),
                    {'name': self.name})
            conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % self.name))
        admin.dispose()

    def _rabbitmqctl(self, *args, check=True):
        subprocess.run(['rabbitmqctl', '-q'] + list(args), check=check,
                       capture_output=True, timeout=60)

    def _create_vhost(self):
        """Start making the vhost; return the Future of its making.

        Each rabbitmqctl call starts an Erlang VM (a second or more of a
        small machine's CPU and time), so the vhost is made while the
        database is, for the broker's user (guest unless
        ``HC_TEST_RABBIT_USER`` says otherwise), not for a user of its own.
        """
        self.transport_url = 'rabbit://%s:%s@%s/%s' % (
            RABBIT_USER, RABBIT_PASSWORD, RABBIT_HOST, self.name)
        # Whatever came of the making: a missing vhost is no error here.
        self.addCleanup(self._rabbitmqctl, 'delete_vhost', self.name,
                        check=False)
        pool = futures.ThreadPoolExecutor(1)
        vhost = pool.submit(self._make_vhost)
        pool.shutdown(wait=False)
        return vhost

    def _make_vhost(self):
        self._rabbitmqctl('add_vhost', self.name)
        self._rabbitmqctl('set_permissions', '-p', self.name, RABBIT_USER,
                          '.*', '.*', '.*')

    def _write_config(self):
        etc = os.path.join(sysconfig.get_paths()['data'], 'etc', 'heat')
        for item in ('api-paste.ini', 'environment.d', 'templates'):
            source = os.path.join(etc, item)
            target = os.path.join(self.dir, item)
            if os.path.isdir(source):
                shutil.copytree(source, target)
            else:
                shutil.copy(source, target)
        conf = {
            'DEFAULT': {
                'debug': 'true',
                'log_dir': self.log_dir,
                'host': self.name,
                'transport_url': self.transport_url,
                'num_engine_workers': str(self.workers),
                'auth_encryption_key': '767c3ed056cbaa3b9dfedb8c6f825bf0',
                'environment_dir': os.path.join(self.dir, 'environment.d'),
                'template_dir': os.path.join(self.dir, 'templates'),
                'convergence_engine': 'true',
                # noauth has no keystone to create trusts with.
                'deferred_auth_method': 'password',
                'periodic_interval': '5',
                'engine_life_check_timeout': '2',
                'executor_thread_pool_size': '16',
            },
            'database': {'connection': self.db_url,
                         'max_pool_size': '16', 'max_overflow': '16'},
            'paste_deploy': {
                'flavor': 'noauth',
                'api_paste_config': os.path.join(self.dir, 'api-paste.ini'),
            },
            # noauth gives every request the admin role, project-scoped.
            'oslo_policy': {'enforce_scope': 'false',
                            'enforce_new_defaults': 'false'},
            'oslo_messaging_notifications': {'driver': 'noop'},
            'heat_convergence': {'driver': self.driver},
        }
        for section, values in self.extra_conf.items():
            conf.setdefault(section, {}).update(values)
        self.conf_file = os.path.join(self.dir, 'heat.conf')
        self._write_conf_file(self.conf_file, conf)

    @staticmethod
    def _write_conf_file(path, conf):
        with open(path, 'w') as f:
            for section, values in conf.items():
                f.write('[%s]\n' % section)
                for key, value in values.items():
                    f.write('%s = %s\n' % (key, value))
                f.write('\n')

    def manage(self, command, *args):
        return self._run([_bin(command), '--config-file', self.conf_file] +
                         list(args), timeout=300)

    # Processes --------------------------------------------------------------

    def _spawn(self, name, argv):
        out = open(os.path.join(self.log_dir, '%s.out' % name), 'ab')
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=self.dir)
        out.close()
        self.processes[name] = proc
        return proc

    def start_api(self):
        """Start heat-api: heat-wsgi-api, or uWSGI (``api_processes``)."""
        if self.api_processes is None:
            self._spawn('api', [_bin('heat-wsgi-api'), '--host', '127.0.0.1',
                                '--port', str(self.api_port), '--',
                                '--config-file', self.conf_file])
            wait_for(self._api_up, 60, what='heat-wsgi-api')
            return
        ini = os.path.join(self.dir, 'api-uwsgi.ini')
        self._write_conf_file(ini, uwsgi_conf.uwsgi_ini(
            self.api_port, 'heat.wsgi.api:application',
            processes=self.api_processes, threads=self.api_threads,
            home=sys.prefix, procname='hclive-api',
            pyargv='--config-file %s --log-file api.log' % self.conf_file))
        self._spawn('api', [_bin('uwsgi'), '--ini', ini])
        # uWSGI listens before its processes have loaded Heat (lazy-apps):
        # up once a request is answered.
        wait_for(self._api_answers, 120, interval=1,
                 what='heat-api under uWSGI')

    def _api_up(self):
        try:
            with socket.create_connection(('127.0.0.1', self.api_port), 1):
                return True
        except OSError:
            return False

    def _api_answers(self):
        """True once heat-api answers a request for its versions."""
        proc = self.processes['api']
        if proc.poll() is not None:
            raise AssertionError('heat-api exited with %s; see %s' % (
                proc.returncode, os.path.join(self.log_dir, 'api.out')))
        url = 'http://127.0.0.1:%d/' % self.api_port
        try:
            with urllib.request.urlopen(url, timeout=10):
                return True
        except urllib.error.HTTPError:
            # The versions document comes as 300 Multiple Choices.
            return True
        except OSError:
            return False

    def start_engine(self, index, binary=None, conf=None):
        """Start engine ``index`` (a launcher and its worker processes).

        ``conf``: heat.conf settings of this engine only, {section: {key:
        value}}, read after the shared ones.
        """
        name = 'engine-%d' % index
        log = os.path.join(self.log_dir, '%s.log' % name)
        argv = [_bin(binary or self.engine_binary),
                '--config-file', self.conf_file]
        if conf:
            path = os.path.join(self.dir, '%s.conf' % name)
            self._write_conf_file(path, conf)
            argv += ['--config-file', path]
        return self._spawn(name, argv + ['--log-file', log])

    def process_pids(self, name):
        """Return the pids of process ``name`` and of its children."""
        proc = self.processes[name]
        children = subprocess.run(
            ['pgrep', '-P', str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        return [proc.pid] + [int(pid) for pid in children]

    def engine_pids(self, index):
        """Return the pids of engine ``index``: launcher and workers."""
        return self.process_pids('engine-%d' % index)

    def signal_engine(self, index, sig):
        """Send ``sig`` to every process of engine ``index``."""
        for pid in self.engine_pids(index):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def kill_engine(self, index):
        """kill -9 engine ``index``, workers included, and reap it."""
        pids = self.engine_pids(index)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.processes.pop('engine-%d' % index).wait(30)

    def stop_engine(self, index, timeout=120, wait=True):
        """Stop engine ``index`` as an operator would (SIGTERM), and reap it.

        Its workers finish the messages they are running and deregister.
        ``wait=False``: return at once; :meth:`reap_engine` waits for the
        exit (a graceful stop of an idle engine takes several seconds, which
        a test can spend starting the next one).
        """
        self.signal_engine(index, signal.SIGTERM)
        if wait:
            self.reap_engine(index, timeout)

    def reap_engine(self, index, timeout=120):
        """Wait until engine ``index``, already signalled, has exited."""
        name = 'engine-%d' % index
        self.processes[name].wait(timeout)
        del self.processes[name]

    def wait_for_engines(self, count, timeout=90, binary=None):
        """Wait until ``count`` engine workers have reported as services.

        ``binary``: count only the engines of that binary.
        """
        def registered():
            with self.db.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT count(*) FROM service WHERE deleted_at IS NULL "
                    "AND topic = 'engine' AND service.binary LIKE :binary"),
                    {'binary': binary or '%'}).scalar() >= count
        wait_for(registered, timeout, what='%d engine workers' % count)
        # The RPC servers start a moment after the service row exists.
        time.sleep(1)

    def stop_all(self):
        """Kill every process, at once: their database and vhost go next.

        Nothing is left to stop gracefully at the end of a test (a test of
        a graceful stop calls :meth:`stop_engine`), and an idle engine's
        graceful stop takes seconds.
        """
        for proc in self.processes.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.processes.values():
            proc.wait(30)
        self.processes.clear()

    def attach_logs(self, test):
        """Attach every log file to ``test`` (call when it failed)."""
        self._keep_dir = True
        for name in sorted(os.listdir(self.log_dir)):
            path = os.path.join(self.log_dir, name)
            test.addDetail('log:%s' % name,
                           content.content_from_file(path, buffer_now=True))

    # The CLI ----------------------------------------------------------------

    def _run(self, argv, timeout=120, env=None):
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=self.dir)
        if proc.returncode:
            raise CommandFailed(argv, proc)
        return proc.stdout

    def openstack(self, *args, timeout=180):
        """Run ``openstack <args>`` against this cloud; return stdout."""
        env = dict(os.environ, OS_AUTH_TYPE='none',
                   OS_ENDPOINT=self.endpoint)
        for var in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_TOKEN'):
            env.pop(var, None)
        return self._run([openstack_cli()] + list(args), timeout=timeout,
                         env=env)

    def openstack_json(self, *args, **kwargs):
        return json.loads(self.openstack(*(args + ('-f', 'json')), **kwargs))

    def write_template(self, name, template):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            yaml.safe_dump(template, f)
        return path

    def stack(self, name):
        return self.openstack_json('stack', 'show', name)

    def _api_get(self, path):
        """GET ``path`` of the orchestration API, as the CLI would."""
        url = '%s/%s' % (self.endpoint, path)
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)

    def api_stack(self, name):
        """The stack ``stack show`` would show, without a CLI process."""
        return self._api_get('stacks/%s' % urllib.parse.quote(name))['stack']

    def api_resources(self, name):
        """{resource name: resource} of a stack, without a CLI process."""
        found = self._api_get('stacks/%s/resources' % urllib.parse.quote(name))
        return {r['resource_name']: r for r in found['resources']}

    def wait_stack(self, name, statuses, timeout=300):
        """Wait until the stack is in one of ``statuses``; return it.

        Returns the API's view of the stack (``stack_status``,
        ``stack_status_reason``, ...).
        """
        if isinstance(statuses, str):
            statuses = (statuses,)
        seen = {}

        rollback = any(s.startswith('ROLLBACK') for s in statuses)

        def settled():
            stack = self.api_stack(name)
            status = seen['last'] = stack['stack_status']
            if status.endswith('IN_PROGRESS'):
                return None
            if (rollback and status.endswith('_FAILED') and
                    not status.startswith('ROLLBACK')):
                # Heat stores the failure a moment before it starts the
                # rollback the caller waits for.
                return None
            return stack
        stack = wait_for(settled, timeout, interval=1,
                         what='stack %s to leave IN_PROGRESS (last: %s)' %
                         (name, seen))
        if stack['stack_status'] not in statuses:
            raise AssertionError('stack %s is %s (%s), expected %s' % (
                name, stack['stack_status'], stack['stack_status_reason'],
                ' or '.join(statuses)))
        return stack

    def resources(self, name, nested_depth=0):
        """Return {resource name: resource dict} of a stack."""
        args = ['stack', 'resource', 'list', name, '--long']
        if nested_depth:
            args += ['--nested-depth', str(nested_depth)]
        return {r['resource_name']: r for r in self.openstack_json(*args)}

    # The database -----------------------------------------------------------

    def query(self, sql, **params):
        with self.db.connect() as conn:
            return conn.execute(sa.text(sql), params).all()


class LiveTestCase(testtools.TestCase):
    """A test with a HeatCloud in ``self.cloud`` (see cloud_kwargs)."""

    cloud_kwargs = {}

    def setUp(self):
        super().setUp()
        self.cloud = self.useFixture(HeatCloud(**self.cloud_kwargs))
        self.addOnException(lambda exc_info: self.cloud.attach_logs(self))

    def events(self, stack):
        """{(resource name, action, status): count} of a stack's events.

        Read from Heat's event table, which keeps them after the stack is
        deleted; the stack's own events are left out.
        """
        return collections.Counter({
            (name, action, status): count
            for name, action, status, count in self.cloud.query(
                'SELECT resource_name, resource_action, resource_status, '
                'count(*) FROM event JOIN stack ON stack.id = '
                'event.stack_id WHERE stack.name = :stack AND '
                'resource_name != :stack GROUP BY resource_name, '
                'resource_action, resource_status', stack=stack)})

    def assert_once_each(self, stack, before, names, actions, exact=False):
        """Each of ``names`` has one event of each action and status since.

        ``before``: the events (:meth:`events`) before the traversal.
        ``actions``: {name: the actions it must have gone through}.
        ``exact``: no other event either. Returns the new events.
        """
        new = self.events(stack) - collections.Counter(before)
        self.assertEqual({}, {k: n for k, n in new.items() if n != 1},
                         'resources acted on more than once')
        expected = {(name, action, status) for name in names
                    for action in actions(name)
                    for status in ('IN_PROGRESS', 'COMPLETE')}
        self.assertEqual(set(), expected - set(new), 'actions missing')
        if exact:
            self.assertEqual(set(), set(new) - expected, 'unexpected events')
        return new

    def delete_leaving_nothing(self, stack, timeout=120, plugin=True):
        """Delete ``stack``: its stacks, resources and rows all gone.

        ``plugin``: the plugin's tables are checked empty too (a stack of the
        reduced driver).
        """
        self.cloud.openstack('stack', 'delete', '--yes', stack)
        wait_for(lambda: not self.cloud.query(
            'SELECT id FROM stack WHERE deleted_at IS NULL'), timeout,
            what='stack deletion')
        self.assertEqual([], self.cloud.query('SELECT id FROM resource'))
        if plugin:
            for table in ('traversal', 'sync_point', 'arrival'):
                self.assertEqual(0, self.cloud.query(
                    'SELECT count(*) FROM heat_convergence_%s' % table
                )[0][0], table)

    def current_traversal(self, stack):
        return self.cloud.query('SELECT current_traversal FROM stack WHERE '
                                'name = :stack AND deleted_at IS NULL',
                                stack=stack)[0][0]

    def outputs(self, stack):
        """{output key: value} of a stack, as the API resolves them."""
        return {o['output_key']: o['output_value']
                for o in self.cloud.api_stack(stack)['outputs']}
