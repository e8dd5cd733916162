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

"""Detecting stock heat-engine processes on the same message bus.

The ``engine`` and ``engine_worker`` topics are anycast: a stock heat-engine
listening beside heat-convergence-engine receives a share of the graph
nodes of traversals it knows nothing about (their SyncPoints are in the
plugin's tables), drops them, and the traversal stalls without an error.
Heat records every engine in its ``service`` table with its binary name, so
a stock engine that is up is visible there.
"""

from heat.common import service_utils
from heat.objects import service as service_objects
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

STOCK_BINARY = 'heat-engine'


class MixedFleet(Exception):
    """A stock heat-engine is running on the same bus."""


def stock_engines(cnxt):
    """Return the services of stock heat-engine processes that are up."""
    services = (service_utils.format_service(s)
                for s in service_objects.Service.get_all(cnxt))
    return [s for s in services
            if s['binary'] == STOCK_BINARY and s['status'] == 'up']


def _describe(engines):
    return ', '.join('%s (engine %s)' % (s['hostname'], s['engine_id'])
                     for s in engines)


def check_no_stock_engines(cnxt):
    """Raise MixedFleet if a stock heat-engine is up."""
    engines = stock_engines(cnxt)
    if engines:
        raise MixedFleet(
            'Stock heat-engine processes are running on the same message '
            'bus: %s. Their workers would receive graph nodes of '
            'heat-convergence traversals and drop them, stalling stacks. '
            'Stop them (or run heat-convergence-engine with '
            '[heat_convergence] driver = heat) before starting '
            'heat-convergence-engine.' % _describe(engines))


def warn_about_stock_engines(cnxt):
    """Log an error for every stock heat-engine found up."""
    engines = stock_engines(cnxt)
    if engines:
        LOG.error('Stock heat-engine processes are running on the same '
                  'message bus as heat-convergence-engine: %s. Traversals '
                  'whose nodes reach them stall. Stop them.',
                  _describe(engines))
    return engines
