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

"""A Galera node killed with SIGKILL while a stack is being created.

Three engines, each connected through a :class:`.routing.Router` that
prefers its own node (engine 2: node 2, then node 0), create a stack of
LAYERS x WIDTH TestResources that each wait a second in their action and
read two resources of the layer below. Once KILL_AFTER of them are
complete, node 2 is killed, evicted by the survivors, started again after
DOWN seconds, rejoins (SST and IST) and is Synced; engine 2's connections
are cut and it goes on through node 0.

The stack must complete with the outputs its template computes; each
resource must have run its create exactly once (the TestResource logs each
action it runs, in whichever engine), with one row and exactly one
IN_PROGRESS and one COMPLETE event; and the three nodes must then hold the
same rows. A node made READY in a transaction whose answer was lost with
its database node is left to the engines' recovery (``doc/source/
galera.rst``), after READY_TIMEOUT seconds here.
"""

import collections
import glob
import json
import os
import re
import time

import testtools

from heat_convergence.tests import db_fixture
from heat_convergence.tests import galera
from heat_convergence.tests.galera_tests import base
from heat_convergence.tests.galera_tests import clouds
from heat_convergence.tests.galera_tests import snapshots
from heat_convergence.tests import random_templates
from heat_convergence_tests.live import cloud

KILLED = 2
LAYERS = 6
WIDTH = 12
WAIT = 1
KILL_AFTER = 2 * WIDTH
DOWN = 3
# A node made READY by a transaction whose answer was lost with its
# database node is dispatched again by the recovery after this long
# (instead of two minutes).
READY_TIMEOUT = '30'
# A TestResource's log line as its action starts.
ACTION = re.compile(r' (\S+) wait_secs:\S+ action:(\w+)')


def layered():
    """(template, files): each resource reads two of the layer below."""
    graph = []
    for layer in range(LAYERS):
        for i in range(WIDTH):
            reads = () if not layer else tuple(
                'l%d_%d' % (layer - 1, j % WIDTH) for j in (i, i + 1))
            graph.append(random_templates.Node(
                'l%d_%d' % (layer, i), reads, (), 'list_join', 'test',
                False, 0))
    template, files = random_templates.hot(graph)
    for resource in template['resources'].values():
        resource['properties']['action_wait_secs'] = {'create': WAIT}
    return template, files


class TestNodeKilledMidStack(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = galera.cluster_for_tests()
        self.heat = self.useFixture(clouds.EngineBehindRouter(
            self.cluster, driver='reduced', database='mysql', engines=3,
            conf={'heat_convergence': {'ready_timeout': READY_TIMEOUT}}))
        self.addOnException(lambda exc_info: self.heat.attach_logs(self))
        self.conflicts_before = [base.conflicts(self.cluster, n)
                                 for n in range(self.cluster.nodes)]

    def complete(self):
        return sum(r['resource_status'] == 'CREATE_COMPLETE'
                   for r in self.heat.api_resources('layered').values())

    def kill_and_rejoin(self):
        """Kill node KILLED mid-create, restart it; return what was seen."""
        cloud.wait_for(lambda: self.complete() >= KILL_AFTER, 120,
                       interval=0.2, what='%d resources' % KILL_AFTER)
        killed = time.monotonic()
        self.cluster.kill(KILLED)
        cloud.wait_for(lambda: self.cluster.status(0).get(
            'wsrep_cluster_size') == str(self.cluster.nodes - 1), 60,
            interval=0.2, what='node%d evicted' % KILLED)
        seen = {'complete at the kill': self.complete(),
                'evicted after s': time.monotonic() - killed}
        time.sleep(DOWN)
        started = time.monotonic()
        self.cluster.start_node(KILLED)
        self.cluster.wait_synced(range(self.cluster.nodes))
        seen['Synced again after s'] = time.monotonic() - started
        return seen

    def actions_run(self):
        """Counter of (resource, action) the engines' logs say were run."""
        runs = collections.Counter()
        for path in glob.glob(os.path.join(self.heat.log_dir,
                                           'engine-*.log')):
            with open(path, errors='replace') as f:
                runs.update(m.groups() for m in map(ACTION.search, f) if m)
        return runs

    def node_snapshot(self, node):
        engine = db_fixture.make_engine(
            base.on_node(self.heat.db_url, self.cluster, node),
            mysql_wsrep_sync_wait=base.SYNC_WAIT)
        self.addCleanup(engine.dispose)
        return snapshots.take(engine)

    def test_stack_completes(self):
        template, files = layered()
        for name, content in files.items():
            with open(os.path.join(self.heat.dir, name), 'w') as f:
                f.write(content)
        started = time.monotonic()
        self.heat.openstack('stack', 'create', '-t', self.heat.write_template(
            'layered.yaml', template), 'layered')
        seen = self.kill_and_rejoin()
        stack = self.heat.wait_stack('layered', 'CREATE_COMPLETE')
        seen['create s'] = time.monotonic() - started
        self.assertEqual(random_templates.expected_outputs(template, files),
                         {o['output_key']: o['output_value']
                          for o in stack['outputs']})
        names = sorted(template['resources'])
        self.assertEqual({(name, 'create'): 1 for name in names},
                         dict(self.actions_run()))
        taken = [self.node_snapshot(n) for n in range(self.cluster.nodes)]
        self.assertEqual({('layered', name): ('CREATE', 'COMPLETE')
                          for name in names}, taken[0].without_ids())
        self.assertEqual({('layered', name, 'CREATE', status): 1
                          for name in names
                          for status in ('IN_PROGRESS', 'COMPLETE')},
                         {key: count for key, count in taken[0].events.items()
                          if key[1] != 'layered'})
        for node in range(1, self.cluster.nodes):
            self.assertEqual(taken[0], taken[node], 'node%d' % node)
        # Engine KILLED went on through the next node.
        routed = self.heat.routers[KILLED].routed
        self.assertGreater(routed[(KILLED + 1) % self.cluster.nodes], 0)
        base.show(self, json.dumps({
            **{key: round(value, 1) for key, value in seen.items()},
            'engine %d connections by node' % KILLED: dict(routed),
            'conflicts': base.conflicts_since(
                self.cluster, self.conflicts_before,
                [n for n in range(self.cluster.nodes) if n != KILLED])}))
