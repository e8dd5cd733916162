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

"""A stack's whole life with an engine on each Galera node.

The live lifecycle test (``heat_convergence_tests.live.test_lifecycle``:
stock heat-wsgi-api, heat-convergence-engine processes, RabbitMQ, the
openstack CLI) run on the Galera cluster, with three engines each writing
to its own node: the multi-writer topology of ``doc/source/galera.rst``,
with its ``[database] mysql_wsrep_sync_wait = 3``. heat-api and
``db_sync`` use node 0.
"""

import os

import fixtures
import sqlalchemy as sa

from heat_convergence.tests import galera
from heat_convergence.tests.galera_tests import base
from heat_convergence_tests.live import cloud
from heat_convergence_tests.live import test_lifecycle


class EngineOnEachNode(cloud.HeatCloud):
    """A HeatCloud on the Galera cluster; engine i writes to node i."""

    def __init__(self, cluster, **kwargs):
        kwargs.setdefault('conf', {}).setdefault('database', {})[
            'mysql_wsrep_sync_wait'] = str(base.SYNC_WAIT)
        super().__init__(**kwargs)
        self.cluster = cluster

    def _admin_engine(self):
        return sa.create_engine(self.cluster.url(0),
                                isolation_level='AUTOCOMMIT')

    def _spawn(self, name, argv):
        """Start a process; an engine also gets its node's connection."""
        if name.startswith('engine-'):
            node = int(name.split('-')[1]) % self.cluster.nodes
            path = os.path.join(self.dir, 'node%d.conf' % node)
            with open(path, 'w') as f:
                f.write('[database]\nconnection = %s\n' % base.on_node(
                    self.db_url, self.cluster, node))
            argv = argv + ['--config-file', path]
        return super()._spawn(name, argv)


class TestLifecycleOnGalera(test_lifecycle.TestLifecycle):

    cloud_kwargs = {'driver': 'reduced', 'database': 'mysql', 'engines': 3}

    def setUp(self):
        self.cluster = galera.cluster_for_tests()
        self.useFixture(fixtures.MonkeyPatch(
            'heat_convergence_tests.live.cloud.HeatCloud',
            lambda **kwargs: EngineOnEachNode(self.cluster, **kwargs)))
        super().setUp()
        self.conflicts_before = [base.conflicts(self.cluster, n)
                                 for n in range(self.cluster.nodes)]

    def test_lifecycle(self):
        super().test_lifecycle()
        base.show(self, 'create, updates, rollback, check, suspend, resume '
                  'and delete with an engine on each of %d nodes; %s' % (
                      self.cluster.nodes, base.conflicts_since(
                          self.cluster, self.conflicts_before)))
