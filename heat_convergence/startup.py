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

"""Start-up checks of heat-convergence-engine.

The plugin binds to Heat internals (:mod:`heat_convergence.heat_seams`
lists them) and, for drivers with their own tables, needs its schema. Each
failure is reported once, with the fix, before the engine forks its workers
rather than as a traceback in the middle of a stack operation. A setting
that works but falls short (Galera without causality checks) is a warning,
and so is a fleet with stock heat-engines in it, which works but where
stacks run on two paths (:mod:`heat_convergence.fleet`).
"""

from heat.common import context
from heat.db import api as heat_db_api
from oslo_log import log as logging
import sqlalchemy as sa

from heat_convergence.db import migration
from heat_convergence import fleet
from heat_convergence import heat_seams

LOG = logging.getLogger(__name__)


class StartupError(Exception):
    """heat-convergence-engine cannot run in this environment."""


def check_heat_version(found=None):
    found = found or heat_seams.heat_version()
    try:
        major = int(found.split('.')[0])
    except ValueError:
        major = None
    if major != heat_seams.SUPPORTED_HEAT_MAJOR:
        raise StartupError('openstack-heat %s is installed; %s. %s' %
                           (found, heat_seams.series(),
                            heat_seams.install_hint()))


def check_heat_seams():
    """Refuse, in one line, a Heat differing in a seam of the plugin."""
    try:
        heat_seams.check()
    except heat_seams.SeamMismatch as exc:
        raise StartupError(str(exc))


def check_galera_settings(conf, engine=None):
    """Warn when Heat's database is a Galera node without causality checks.

    With several writers, or right after a failover, a read on one Galera
    node may not see yet what another engine committed on another node: a
    graph node made ready there would not be claimed here until the
    recovery dispatches it again, ``ready_timeout`` later. oslo.db's
    ``[database] mysql_wsrep_sync_wait`` makes reads wait for the node to
    catch up (``doc/source/galera.rst``).

    :returns: whether the database is a Galera node.
    """
    engine = engine or heat_db_api.get_engine()
    if engine.dialect.name != 'mysql':
        return False
    with engine.connect() as conn:
        row = conn.execute(sa.text("SHOW VARIABLES LIKE 'wsrep_on'")).first()
    if row is None or str(row[1]).upper() != 'ON':
        return False
    if not conf.database.mysql_wsrep_sync_wait:
        LOG.warning('Heat\'s database is a Galera cluster node and '
                    '[database] mysql_wsrep_sync_wait is not set: with '
                    'several writers, or after a failover, a node made '
                    'ready through another database node may wait '
                    '[heat_convergence] ready_timeout before it runs. Set '
                    'mysql_wsrep_sync_wait = 3 in heat.conf.')
    return True


def startup(driver):
    """Run every check for ``driver``; raise StartupError on the first."""
    check_heat_version()
    check_heat_seams()
    if driver.uses_plugin_tables:
        try:
            migration.check_current()
        except migration.SchemaError as exc:
            raise StartupError(str(exc))
        check_galera_settings(driver.conf)
    if driver.worker_topic:
        fleet.report(context.get_admin_context(),
                     driver.conf.heat_convergence.driver)
