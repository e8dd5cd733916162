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

"""Live Heat clouds on the Galera cluster, an engine on each node.

The multi-writer topology of ``doc/source/galera.rst``, with its
``[database] mysql_wsrep_sync_wait = 3``: engine *i* writes to node *i*,
heat-api, ``db_sync`` and the tests' queries use node 0.
"""

import os

import fixtures
import sqlalchemy as sa

from heat_convergence.tests.galera_tests import base
from heat_convergence.tests.galera_tests import routing
from heat_convergence_tests.live import cloud


class EngineOnEachNode(cloud.HeatCloud):
    """A HeatCloud on the Galera cluster; engine i connects to node i."""

    def __init__(self, cluster, **kwargs):
        kwargs.setdefault('conf', {}).setdefault('database', {})[
            'mysql_wsrep_sync_wait'] = str(base.SYNC_WAIT)
        super().__init__(**kwargs)
        self.cluster = cluster

    def _admin_engine(self):
        return sa.create_engine(self.cluster.url(0),
                                isolation_level='AUTOCOMMIT')

    def engine_url(self, node):
        """The database URL of the engine writing to ``node``."""
        return base.on_node(self.db_url, self.cluster, node)

    def _spawn(self, name, argv):
        """Start a process; an engine also gets its node's connection."""
        if name.startswith('engine-'):
            node = int(name.split('-')[1]) % self.cluster.nodes
            path = os.path.join(self.dir, 'node%d.conf' % node)
            with open(path, 'w') as f:
                f.write('[database]\nconnection = %s\n' %
                        self.engine_url(node))
            argv = argv + ['--config-file', path]
        return super()._spawn(name, argv)


class EngineBehindRouter(EngineOnEachNode):
    """Engine i connects through a Router preferring node i, then i + 1..."""

    def _setUp(self):
        nodes = self.cluster.nodes
        self.routers = [routing.Router(self.cluster, [
            (first + n) % nodes for n in range(nodes)])
            for first in range(nodes)]
        for router in self.routers:
            self.addCleanup(router.close)
        super()._setUp()

    def engine_url(self, node):
        return sa.engine.make_url(super().engine_url(node)).set(
            port=self.routers[node].port).render_as_string(
                hide_password=False)


def patch_cloud(test, cloud_class, cluster):
    """Make the live tests' HeatCloud a ``cloud_class`` on ``cluster``."""
    test.useFixture(fixtures.MonkeyPatch(
        'heat_convergence_tests.live.cloud.HeatCloud',
        lambda **kwargs: cloud_class(cluster, **kwargs)))
