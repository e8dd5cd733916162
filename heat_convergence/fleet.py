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

"""The engines on the message bus, and what a mixed fleet means.

Heat records every engine worker in its ``service`` table with its binary
name, so the engines that are up, stock ``heat-engine`` ones included, are
visible there.

Stock heat-engines and heat-convergence engines can share a bus and a
database (a rolling adoption, engine by engine): stacks whose API call
reaches a stock engine run on Heat's own path (Heat's graph, its
``sync_point`` table, the ``engine_worker`` topic), which every engine
serves; the traversals of a driver with a worker topic of its own run on
heat-convergence engines only. The fleet's make-up is logged when an engine
starts, and whenever its stock part changes.
"""

from heat.common import service_utils
from heat.objects import service as service_objects
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

STOCK_BINARY = 'heat-engine'
PLUGIN_BINARY = 'heat-convergence-engine'


def engines_up(cnxt, binary=None):
    """Return the services of the engines that are up, of ``binary`` only.

    ``binary`` None: every engine, stock or not.
    """
    services = (service_utils.format_service(s)
                for s in service_objects.Service.get_all(cnxt))
    return [s for s in services
            if s['status'] == 'up' and s['engine_id'] and
            binary in (None, s['binary'])]


def _describe(engines):
    return ', '.join('%s (engine %s)' % (s['hostname'], s['engine_id'])
                     for s in engines)


def engine_ids(cnxt, binary=None):
    """Return the ids of the engines up now, of ``binary`` only."""
    return frozenset(s['engine_id'] for s in engines_up(cnxt, binary))


def report(cnxt, driver_name, known=None):
    """Log the fleet's make-up; return the stock engine ids up now.

    With ``known``, the ids the previous call returned, it logs only a
    change: a stock engine joining the fleet, or the last one leaving it.
    """
    stock = engines_up(cnxt, STOCK_BINARY)
    ids = frozenset(s['engine_id'] for s in stock)
    if known is not None and ids == known:
        return ids
    if stock:
        LOG.warning(
            'Mixed fleet: stock heat-engine processes are up on this '
            'message bus: %(engines)s. Stacks whose API call reaches one of '
            'them run on Heat\'s own path (Heat\'s graph and sync_point '
            'table), on stock and heat-convergence engines alike; stacks '
            'whose API call reaches a heat-convergence engine run with the '
            '%(driver)s driver, on heat-convergence engines only.',
            {'engines': _describe(stock), 'driver': driver_name})
    elif known:
        LOG.info('No stock heat-engine is up any more: every new traversal '
                 'runs with the %s driver.', driver_name)
    return ids


def others_up(cnxt, binary, engine_id):
    """Whether an engine of ``binary`` other than ``engine_id`` is up.

    Up as Heat's ``service`` table says: an engine removes its row at the
    end of a graceful stop, once its threads have finished, and one killed
    stays up for two report intervals.
    """
    return bool(engine_ids(cnxt, binary) - {engine_id})
