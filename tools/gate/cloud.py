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

"""Bring up and tear down the gate's small cloud: keystone, heat-api, engines.

Everything a run creates is recorded in ``state.json`` as soon as it
exists (databases, DB user, RabbitMQ vhost and user) or in a pid file
(processes), so that teardown, or the next run after a gate that was
killed outright, removes exactly that and nothing else.
"""

import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time

import accounts
import configs
import infra
import procs
import pymysql

from heat_convergence_tests.live import uwsgi_conf

PREFIX = 'hcgate'

# What --engine selects: the engine binary and the [heat_convergence]
# driver it runs with (stock heat-engine ignores the option).
ENGINES = {
    'reduced': ('heat-convergence-engine', 'reduced'),
    'heat': ('heat-convergence-engine', 'heat'),
    'stock': ('heat-engine', 'heat'),
}


class GateError(Exception):
    """A user or environment problem; printed as one line, no traceback."""


class Run(object):
    """Settings and paths of one gate run."""

    def __init__(self, args):
        self.state_dir = os.path.abspath(args.state_dir)
        self.venv = sys.prefix
        self.bin_dir = os.path.dirname(sys.executable)
        self.engine = args.engine
        self.engine_binary, self.driver = ENGINES[args.engine]
        self.engine_count = args.engines
        self.engine_workers = args.engine_workers
        self.keystone_port = args.keystone_port
        self.heat_port = args.heat_port
        self.keystone_url = 'http://127.0.0.1:%d/v3' % self.keystone_port
        self.debug = args.debug
        self.mysql_url = args.mysql_url
        self.engine_kill = args.engine_kill
        self.cancel_running_actions = not args.stock_cancel
        # Only the reduced driver interrupts running actions on cancel.
        self.interrupting_cancel = (self.driver == 'reduced' and
                                    self.cancel_running_actions)
        self.log_dir = self.path('logs')
        self.admin_password = secrets.token_hex(8)
        self.service_password = secrets.token_hex(8)
        self.demo_password = secrets.token_hex(8)
        self.db_password = secrets.token_hex(8)
        self.rabbit_password = secrets.token_hex(8)
        self.db_user = PREFIX
        self.keystone_db = PREFIX + '_keystone'
        self.heat_db = PREFIX + '_heat'
        self.vhost = self.rabbit_user = PREFIX
        self.heat_domain_id = None
        self.transport_url = None
        self.keystone_db_url = self.heat_db_url = None
        self.skip_list = []

    def path(self, *parts):
        return os.path.join(self.state_dir, *parts)

    def binary(self, name):
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise GateError('%s not found in %s: run the gate from the '
                            'environment that has the test requirements '
                            '("tox -e gate", or pip install -r '
                            'test-requirements.txt).'
                            % (name, self.bin_dir))
        return path

    @property
    def heat_conf(self):
        return self.path('etc/heat/heat.conf')

    @property
    def engine_kill_command(self):
        return self.path('bin', 'hcgate-kill-engine') \
            if self.engine_kill else ''


class Cloud(object):
    """The services of one run, in start order."""

    def __init__(self, run, log):
        self.run = run
        self.log = log
        self.services = []
        self.mariadb = infra.MariaDB(run.mysql_url)
        self.rabbit = infra.RabbitMQ()
        self.state_file = run.path('state.json')

    # -- state ---------------------------------------------------------

    def _record(self, **created):
        state = self._load_state()
        state.update(created)
        with open(self.state_file, 'w') as f:
            json.dump(state, f)

    def _load_state(self):
        try:
            with open(self.state_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def clean_leftovers(self):
        """Undo what an earlier run that was killed outright left behind."""
        stopped = procs.stop_leftovers(self.run.path('pids'),
                                       self.run.state_dir)
        if stopped:
            self.log('stopped leftover processes of an earlier run: %s'
                     % ', '.join(stopped))
        state = self._load_state()
        self._drop(state)

    def _drop(self, state):
        if state.get('databases'):
            self.log('dropping databases %s and DB user %s'
                     % (', '.join(state['databases']), state['db_user']))
            self.mariadb.drop(state['db_user'], state['databases'])
        if state.get('vhost'):
            self.log('deleting RabbitMQ vhost %s and user %s'
                     % (state['vhost'], state['rabbit_user']))
            self.rabbit.drop(state['vhost'], state['rabbit_user'])
        try:
            os.unlink(self.state_file)
        except FileNotFoundError:
            pass

    # -- checks --------------------------------------------------------

    def preflight(self):
        run = self.run
        for name in ('uwsgi', 'keystone-manage', 'heat-manage',
                     'heat-convergence-manage', run.engine_binary, 'stestr'):
            run.binary(name)
        for name, port in (('keystone', run.keystone_port),
                           ('heat-api', run.heat_port)):
            if procs.port_open(port):
                raise GateError(
                    'port %d (for %s) is already in use on 127.0.0.1; stop '
                    'what listens there or pass --%s-port.'
                    % (port, name, name.split('-')[0]))
        try:
            self.mariadb.check()
            self.rabbit.check()
        except infra.InfraError as exc:
            raise GateError(str(exc))
        if not procs.port_open(self.rabbit.port):
            raise GateError('RabbitMQ does not listen on 127.0.0.1:%d; '
                            'start it (tools/start-services).'
                            % self.rabbit.port)

    # -- start ---------------------------------------------------------

    def _service(self, name, argv, env=None):
        svc = procs.Service(name, argv, os.path.join(self.run.log_dir,
                                                     name + '.log'),
                            self.run.path('pids'), env=env,
                            cwd=self.run.state_dir)
        svc.start()
        self.services.append(svc)
        return svc

    def _command(self, name, *args):
        """Run a setup command, its output going to logs/<name>.log."""
        log_path = os.path.join(self.run.log_dir, name + '.log')
        with open(log_path, 'ab') as out:
            proc = subprocess.run(list(args), stdout=out,
                                  stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL,
                                  cwd=self.run.state_dir)
        if proc.returncode:
            raise GateError('"%s" failed (status %d); see %s'
                            % (' '.join(os.path.basename(a) if i == 0 else a
                                        for i, a in enumerate(args[:3])),
                               proc.returncode, log_path))

    def create_infra(self):
        run = self.run
        self._record(databases=[run.keystone_db, run.heat_db],
                     db_user=run.db_user)
        self.mariadb.create(run.db_user, run.db_password,
                            [run.keystone_db, run.heat_db])
        self._record(vhost=run.vhost, rabbit_user=run.rabbit_user)
        self.rabbit.create(run.vhost, run.rabbit_user, run.rabbit_password)
        run.keystone_db_url = self.mariadb.connection_url(
            run.db_user, run.db_password, run.keystone_db)
        run.heat_db_url = self.mariadb.connection_url(
            run.db_user, run.db_password, run.heat_db)
        run.transport_url = self.rabbit.transport_url(
            run.vhost, run.rabbit_user, run.rabbit_password)

    def start_keystone(self):
        run = self.run
        conf = run.path('etc/keystone/keystone.conf')
        configs.write_ini(conf, configs.keystone_conf(run))
        manage = [run.binary('keystone-manage'), '--config-file', conf]
        self._command('keystone-manage', *manage, 'db_sync')
        for cmd in ('fernet_setup', 'credential_setup'):
            self._command('keystone-manage', *manage, cmd,
                          '--keystone-user', pwd.getpwuid(os.getuid())[0],
                          '--keystone-group', grp.getgrgid(os.getgid())[0])
        self._command('keystone-manage', *manage, 'bootstrap',
                      '--bootstrap-password', run.admin_password,
                      '--bootstrap-username', 'admin',
                      '--bootstrap-project-name', 'admin',
                      '--bootstrap-role-name', 'admin',
                      '--bootstrap-service-name', 'keystone',
                      '--bootstrap-region-id', 'RegionOne',
                      '--bootstrap-admin-url', run.keystone_url,
                      '--bootstrap-internal-url', run.keystone_url,
                      '--bootstrap-public-url', run.keystone_url)
        ini = run.path('etc/keystone/uwsgi.ini')
        configs.write_ini(ini, uwsgi_conf.uwsgi_ini(
            run.keystone_port, 'keystone.wsgi.api:application',
            processes=2, threads=1, home=run.venv,
            procname='%s-keystone' % PREFIX))
        # In the environment, not the ini's "env": the pyuwsgi wheel starts
        # Python before it reads the ini, so os.environ never sees those.
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=conf)
        svc = self._service('keystone', [run.binary('uwsgi'), '--ini', ini],
                            env=env)
        svc.wait_port(run.keystone_port)
        run.heat_domain_id = self._retry(accounts.create_heat_accounts, run)

    def _retry(self, func, *args, timeout=60):
        """Call func until keystone answers (uWSGI loads apps lazily)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return func(*args)
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise GateError('keystone did not answer: %s; see %s'
                                    % (exc, self.run.log_dir))
                for svc in self.services:
                    svc.check_running()
                time.sleep(1)

    def start_heat(self):
        run = self.run
        etc = run.path('etc/heat')
        wheel_etc = os.path.join(run.venv, 'etc', 'heat')
        if not os.path.isfile(os.path.join(wheel_etc, 'api-paste.ini')):
            raise GateError('%s/api-paste.ini not found: is openstack-heat '
                            'installed in %s?' % (wheel_etc, run.venv))
        shutil.copy(os.path.join(wheel_etc, 'api-paste.ini'), etc)
        for sub in ('environment.d', 'templates'):
            shutil.copytree(os.path.join(wheel_etc, sub),
                            os.path.join(etc, sub))
        configs.write_ini(run.heat_conf, configs.heat_conf(run))
        self._command('heat-manage', run.binary('heat-manage'),
                      '--config-file', run.heat_conf, 'db_sync')
        self._command('heat-convergence-manage',
                      run.binary('heat-convergence-manage'),
                      '--config-file', run.heat_conf, 'db_sync')

        ini = os.path.join(etc, 'heat-api-uwsgi.ini')
        configs.write_ini(ini, uwsgi_conf.uwsgi_ini(
            run.heat_port, 'heat.wsgi.api:application',
            processes=1, threads=4, home=run.venv,
            procname='%s-heat-api' % PREFIX,
            pyargv='--config-file %s --log-file heat-api.log'
                   % run.heat_conf))
        api = self._service('heat-api-uwsgi',
                            [run.binary('uwsgi'), '--ini', ini])
        engines = []
        for i in range(1, run.engine_count + 1):
            override = os.path.join(etc, 'engine-%d.conf' % i)
            configs.write_ini(override, configs.engine_conf(run, i))
            engines.append(self._service(
                'engine-%d' % i,
                [run.binary(run.engine_binary),
                 '--config-file', run.heat_conf, '--config-file', override,
                 '--log-file', 'engine-%d.log' % i]))
        api.wait_port(run.heat_port)
        self._wait_engines(engines)
        self._write_kill_script(engines[-1])

    def restart_engines(self, timeout=60):
        """Restart the engines on a rewritten heat.conf (heat-api stays).

        Settings that only the engines read (``cancel_running_actions``)
        change this way without a second keystone, heat-api and database.
        """
        run = self.run
        configs.write_ini(run.heat_conf, configs.heat_conf(run))
        engines = [svc for svc in self.services
                   if svc.name.startswith('engine-')]
        for svc in engines:
            svc.terminate()
        deadline = time.monotonic() + timeout
        for svc in engines:
            svc.wait_stopped(deadline)
        # Heat registers a new service row on each start: wait for rows
        # younger than the restart, not for the old engines' rows.
        since = self._db_now()
        for svc in engines:
            svc.start()
        self._wait_engines(engines, since=since)
        self._write_kill_script(engines[-1])

    def _heat_db(self):
        return pymysql.connect(host=self.mariadb.host, port=self.mariadb.port,
                               user=self.run.db_user,
                               password=self.run.db_password,
                               database=self.run.heat_db)

    def _db_now(self):
        conn = self._heat_db()
        try:
            with conn.cursor() as cur:
                cur.execute('SELECT UTC_TIMESTAMP()')
                return cur.fetchone()[0]
        finally:
            conn.close()

    def _wait_engines(self, engines, timeout=120, since=None):
        """Wait until every engine worker has registered in Heat's DB.

        With ``since``, count only the registrations made after it.
        """
        run = self.run
        expected = run.engine_count * run.engine_workers
        query = ('SELECT COUNT(*) FROM service WHERE `binary` = %s AND '
                 'deleted_at IS NULL')
        params = (run.engine_binary,)
        if since is not None:
            query += ' AND created_at >= %s'
            params += (since,)
        deadline = time.monotonic() + timeout
        up = 0
        while time.monotonic() < deadline:
            for svc in engines:
                svc.check_running()
            conn = self._heat_db()
            try:
                with conn.cursor() as cur:
                    cur.execute(query, params)
                    up = cur.fetchone()[0]
            finally:
                conn.close()
            if up >= expected:
                return
            time.sleep(1)
        raise GateError('only %d of %d %s workers registered within %d s; '
                        'see %s/engine-*.log' % (up, expected,
                                                 run.engine_binary, timeout,
                                                 run.log_dir))

    def _write_kill_script(self, engine):
        """The [heat_convergence] engine_kill_command of tempest.conf."""
        path = self.run.path('bin', 'hcgate-kill-engine')
        with open(path, 'w') as f:
            f.write('#!/bin/bash\n'
                    '# SIGKILL %s (its whole process group, workers '
                    'included), as a crash would.\n'
                    'kill -KILL -- -%d\n' % (engine.name, engine.proc.pid))
        os.chmod(path, 0o755)

    def check_services(self):
        """Raise ServiceError if a service died (e.g. during the tests)."""
        for svc in self.services:
            if not (svc.name.startswith('engine-') and self.run.engine_kill):
                svc.check_running()

    # -- stop ----------------------------------------------------------

    def teardown(self, timeout=30):
        # All at once: the engines' graceful shutdown waits for their
        # threads, and there is no point in waiting for each in turn.
        for svc in self.services:
            svc.terminate()
        deadline = time.monotonic() + timeout
        for svc in self.services:
            svc.wait_stopped(deadline)
        self.services = []
        procs.stop_leftovers(self.run.path('pids'), self.run.state_dir)
        self._drop(self._load_state())
