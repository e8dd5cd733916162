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

"""heat-convergence-all: Heat's API and an engine in one process.

Trying Heat takes keystone, a database, a message broker, heat-api and
heat-engine. This runs the stock heat-api WSGI application and a
heat-convergence engine (reduced driver) in one process on an embedded
default: a sqlite file and oslo.messaging's in-process transport in a data
directory, no keystone (noauth: every request is the admin of project
"admin"), listening on 127.0.0.1. The schemas are created on first start.

Drive it with the real CLI::

    export OS_AUTH_TYPE=none OS_ENDPOINT=http://127.0.0.1:8004/v1/admin
    openstack stack create -t template.yaml mystack

Passing ``--config-file heat.conf`` overrides any of the defaults, e.g. to
run on MariaDB and RabbitMQ. It is meant for trying Heat and for
development: noauth is not for production.
"""

import os
import secrets
import signal
import socketserver
import sys
import threading
from wsgiref import simple_server

from heat.common import config
from heat.common import messaging
from heat.db import api as heat_db_api
from heat.db import migration as heat_migration
from heat.engine import template
from heat.rpc import api as rpc_api
from heat import version
from oslo_config import cfg
from oslo_db import exception as db_exception
from oslo_log import log as logging
import oslo_messaging
from oslo_policy import opts as policy_opts
import sqlalchemy as sa

from heat_convergence import conf as hc_conf
from heat_convergence.db import migration
from heat_convergence import drivers
from heat_convergence import engine
from heat_convergence import startup
from heat_convergence import version as hc_version

CONF = cfg.CONF
PROG = 'heat-convergence-all'
LOG = logging.getLogger(PROG)

CLI_OPTS = [
    cfg.PortOpt('port', default=8004,
                help='Port of the Heat API on 127.0.0.1.'),
    cfg.StrOpt('bind-host', default='127.0.0.1',
               help='Address the Heat API listens on.'),
    cfg.StrOpt('data-dir',
               default=os.path.join(os.path.expanduser('~'), '.local',
                                    'share', 'heat-convergence'),
               help='Directory of the embedded database, logs and key.'),
]


def _key(data_dir):
    """A per-installation auth_encryption_key, kept in the data dir."""
    path = os.path.join(data_dir, 'auth_encryption_key')
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
            f.write(secrets.token_hex(16))
    with open(path) as f:
        return f.read().strip()


def _set_defaults(data_dir):
    """The embedded defaults; a --config-file overrides any of them."""
    etc = hc_conf.heat_etc_dir()
    defaults = {
        None: {
            'host': 'all-in-one',
            'transport_url': 'fake://',
            'deferred_auth_method': 'password',
            'auth_encryption_key': _key(data_dir),
            'environment_dir': os.path.join(etc, 'environment.d'),
            'template_dir': os.path.join(etc, 'templates'),
            'log_dir': os.path.join(data_dir, 'log'),
            'periodic_interval': 10,
        },
        'database': {
            'connection': 'sqlite:///' + os.path.join(data_dir, 'heat.sqlite'),
        },
        'paste_deploy': {
            'flavor': 'noauth',
            'api_paste_config': os.path.join(etc, 'api-paste.ini'),
        },
    }
    # oslo.messaging registers transport_url when the transport is built,
    # too late for a default; parsing the (unset) URL registers it now.
    oslo_messaging.TransportURL.parse(CONF)
    # noauth gives every request the admin role, project-scoped.
    policy_opts.set_defaults(CONF, enforce_scope=False,
                             enforce_new_defaults=False)
    for group, values in defaults.items():
        for name, value in values.items():
            CONF.set_default(name, value, group=group)


def _sqlite_wal(engine):
    """Let readers run while the engine writes (sqlite's default locks)."""
    @sa.event.listens_for(engine, 'connect')
    def _wal(dbapi_conn, record):
        dbapi_conn.execute('PRAGMA journal_mode=WAL')
        dbapi_conn.execute('PRAGMA busy_timeout=30000')
    engine.dispose()


def _prepare_database():
    engine = heat_db_api.get_engine()
    if engine.dialect.name == 'sqlite':
        _sqlite_wal(engine)
    if heat_migration.db_version() is None:
        LOG.info('Creating the Heat schema in %s', engine.url)
    heat_migration.db_sync()
    migration.db_sync()


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        LOG.debug('%s - %s', self.address_string(), fmt % args)


def setup(argv=None):
    """Parse the command line and prepare everything; return the parts."""
    CONF.register_cli_opts(CLI_OPTS)
    logging.register_options(CONF)
    hc_conf.register_opts(CONF)
    CONF(argv, project='heat', prog=PROG,
         version=version.version_info.version_string(),
         default_config_files=[])
    data_dir = os.path.abspath(CONF.data_dir)
    os.makedirs(os.path.join(data_dir, 'log'), exist_ok=True)
    # Defaults set after parsing still apply where neither the command line
    # nor a config file gave a value.
    _set_defaults(data_dir)
    logging.setup(CONF, PROG)
    config.set_config_defaults()
    messaging.setup()
    if not template._get_template_extension_manager().names():
        raise startup.StartupError('No template format plugins registered')
    _prepare_database()
    driver = drivers.load(CONF)
    startup.startup(driver)
    app = config.load_paste_app('heat-api')
    srv = engine.ConvergenceEngineService(CONF.host, rpc_api.ENGINE_TOPIC,
                                          driver)
    return app, srv, data_dir


def main(argv=None):
    try:
        app, srv, data_dir = setup(argv)
    except (startup.StartupError, drivers.DriverNotFound, OSError,
            RuntimeError, cfg.Error) as exc:
        sys.exit('ERROR: %s' % exc)
    except db_exception.DBError as exc:
        sys.exit('ERROR: database error: %s' % exc)

    srv.start()
    try:
        httpd = simple_server.make_server(CONF.bind_host, CONF.port, app,
                                          server_class=_Server,
                                          handler_class=_QuietHandler)
    except OSError as exc:
        srv.stop()
        sys.exit('ERROR: cannot listen on %s:%s: %s' % (
            CONF.bind_host, CONF.port, exc))

    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            LOG.info('Signal %d received; stopping', signum)
            threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print('heat-convergence-all %s (Heat %s): Heat API on '
          'http://%s:%d/v1/admin (noauth), data in %s, logs in %s' % (
              hc_version.version_info.version_string(),
              version.version_info.version_string(), CONF.bind_host,
              CONF.port, data_dir, CONF.log_dir), flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
        srv.stop()
        print('heat-convergence-all stopped.', flush=True)
