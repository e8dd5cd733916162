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
to its own node (:class:`.clouds.EngineOnEachNode`).
"""

from heat_convergence.tests import galera
from heat_convergence.tests.galera_tests import base
from heat_convergence.tests.galera_tests import clouds
from heat_convergence_tests.live import test_lifecycle


class TestLifecycleOnGalera(test_lifecycle.TestLifecycle):

    cloud_kwargs = {'driver': 'reduced', 'database': 'mysql', 'engines': 3}

    def setUp(self):
        self.cluster = galera.cluster_for_tests()
        clouds.patch_cloud(self, clouds.EngineOnEachNode, self.cluster)
        super().setUp()
        self.conflicts_before = [base.conflicts(self.cluster, n)
                                 for n in range(self.cluster.nodes)]

    def test_lifecycle(self):
        super().test_lifecycle()
        base.show(self, 'create, updates, rollback, check, suspend, resume '
                  'and delete with an engine on each of %d nodes; %s' % (
                      self.cluster.nodes, base.conflicts_since(
                          self.cluster, self.conflicts_before)))
