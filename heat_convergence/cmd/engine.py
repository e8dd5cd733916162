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

"""heat-convergence-engine: a drop-in replacement for heat-engine.

Same command line and heat.conf as heat-engine (Heat 27's
heat/cmd/engine.py), serving the same RPC topics and versions, with the
convergence driver named by ``[heat_convergence] driver``. A configuration
it cannot run with stops it before it forks, with one line saying why and
what to do.
"""

import gc
import sys

from heat.common import config
from heat.common import messaging
from heat.common import profiler
from heat.engine import template
from heat.rpc import api as rpc_api
from heat import version
from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_db import exception as db_exception
import oslo_i18n as i18n
from oslo_log import log as logging
from oslo_reports import guru_meditation_report as gmr
from oslo_reports import opts as gmr_opts
from oslo_service import service

from heat_convergence import conf as hc_conf
from heat_convergence import drivers
from heat_convergence import engine
from heat_convergence import startup

CONF = cfg.CONF
PROG = 'heat-convergence-engine'


def launch_engine(argv=None):
    i18n.enable_lazy()
    logging.register_options(CONF)
    hc_conf.register_opts(CONF)
    CONF(argv, project='heat', prog=PROG,
         version=version.version_info.version_string(),
         default_config_files=cfg.find_config_files('heat', 'heat-engine'))
    logging.setup(CONF, PROG)
    logging.set_defaults()
    log = logging.getLogger(PROG)
    messaging.setup()

    config.startup_sanity_check()

    mgr = None
    try:
        mgr = template._get_template_extension_manager()
    except template.TemplatePluginNotRegistered as ex:
        log.critical("%s", ex)
    if not mgr or not mgr.names():
        sys.exit("ERROR: No template format plugins registered")

    try:
        driver = drivers.load(CONF)
        startup.startup(driver)
    except (drivers.DriverNotFound, startup.StartupError) as exc:
        log.critical('%s', exc)
        sys.exit('ERROR: %s' % exc)
    except db_exception.DBError as exc:
        log.critical('Database error: %s', exc)
        sys.exit('ERROR: cannot reach the database configured in '
                 '[database] connection: %s' % exc)

    profiler.setup(PROG, CONF.host)
    gmr_opts.set_defaults(CONF)
    gmr.TextGuruMeditation.setup_autorun(version, conf=CONF)
    srv = engine.ConvergenceEngineService(CONF.host, rpc_api.ENGINE_TOPIC,
                                          driver)
    workers = CONF.num_engine_workers
    if not workers:
        workers = max(4, processutils.get_worker_count())

    # Everything loaded so far (Heat's resource plugins, templates, config)
    # lives as long as the process: keep it out of the garbage collector's
    # full passes, which otherwise walk it again and again (up to 0.2 s
    # each, measured in a node), and out of the pages the forked workers
    # copy when those passes touch it.
    gc.freeze()
    return service.launch(CONF, srv, workers=workers,
                          restart_method='mutate')


def main():
    launcher = launch_engine()
    launcher.wait()
