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

"""Dense and random stacks on Galera and on one server: the same rows.

A dense stack (every resource reads every earlier one) and a seeded random
one (:mod:`heat_convergence.tests.random_templates`: nested stacks,
groups, redundant edges, replacements) are created, updated (changes in
place, replacements, additions, removals) and deleted, side by side, by
three engines on the shared single MariaDB server, then by three engines
each writing to its own Galera node (:class:`.clouds.EngineOnEachNode`).
After each step the outputs must be what the templates compute, and the
database must hold the same on both: each resource row's stack, name,
action and status, the resources an update replaced, and each resource's
events by action and status (an action run twice, lost or stored without
its event shows there).
"""

import json
import os
import time

import testtools

from heat_convergence.tests import db_fixture
from heat_convergence.tests import galera
from heat_convergence.tests.galera_tests import base
from heat_convergence.tests.galera_tests import clouds
from heat_convergence.tests.galera_tests import snapshots
from heat_convergence.tests import random_templates
from heat_convergence_tests.live import cloud

SEED = 22
RANDOM_SIZE = 20
DENSE_SIZE = 12
CLOUD_KWARGS = {'driver': 'reduced', 'database': 'mysql', 'engines': 3}


def stacks():
    """{name: (graph created, graph updated)}."""
    dense = random_templates.dense_graph(DENSE_SIZE)
    drawn = random_templates.random_graph(RANDOM_SIZE, SEED)
    return {'dense': (dense, random_templates.updated_graph(dense, SEED)),
            'random': (drawn, random_templates.updated_graph(drawn, SEED))}


class TestTemplatesOnGalera(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = galera.cluster_for_tests()

    def deploy(self, heat, action, phase):
        """Run ``action`` on every stack with its graph of ``phase``."""
        for name, graphs in stacks().items():
            template, files = random_templates.hot(graphs[phase])
            for file_name, content in files.items():
                with open(os.path.join(heat.dir, file_name), 'w') as f:
                    f.write(content)
            heat.openstack('stack', action, '-t', heat.write_template(
                '%s.yaml' % name, template), name)
        for name, graphs in stacks().items():
            heat.wait_stack(name, '%s_COMPLETE' % action.upper())
            shown = heat.api_stack(name)
            self.assertEqual(
                random_templates.expected_outputs(
                    *random_templates.hot(graphs[phase])),
                {o['output_key']: o['output_value']
                 for o in shown['outputs']}, name)

    def life(self, heat, snapshot_engine):
        """Create, update and delete the stacks; their Snapshots."""
        try:
            return self._life(heat, snapshot_engine)
        except Exception:
            heat.attach_logs(self)
            raise

    def _life(self, heat, snapshot_engine):
        self.deploy(heat, 'create', 0)
        created = snapshots.take(snapshot_engine)
        self.deploy(heat, 'update', 1)
        updated = snapshots.take(snapshot_engine)
        heat.openstack('stack', 'delete', '--yes', *stacks())
        cloud.wait_for(lambda: not heat.query(
            'SELECT id FROM stack WHERE deleted_at IS NULL'), 180,
            what='the stacks\' deletion')
        for table in ('resource', 'heat_convergence_traversal',
                      'heat_convergence_sync_point',
                      'heat_convergence_arrival'):
            self.assertEqual(0, heat.query(
                'SELECT count(*) FROM %s' % table)[0][0], table)
        return created, updated

    def test_same_rows_as_one_server(self):
        started = time.monotonic()
        with cloud.HeatCloud(**CLOUD_KWARGS) as single:
            expected = self.life(single, single.db)
        one_server = time.monotonic() - started
        before = [base.conflicts(self.cluster, n)
                  for n in range(self.cluster.nodes)]
        on_galera = self.useFixture(clouds.EngineOnEachNode(
            self.cluster, **CLOUD_KWARGS))
        engine = db_fixture.make_engine(
            on_galera.db_url, mysql_wsrep_sync_wait=base.SYNC_WAIT)
        self.addCleanup(engine.dispose)
        found = self.life(on_galera, engine)
        for step, want, got in zip(('create', 'update'), expected, found):
            self.assertEqual(want.without_ids(), got.without_ids(), step)
            self.assertEqual(want.events, got.events, step)
        replaced = expected[1].replaced(expected[0])
        self.assertNotEqual([], replaced)
        self.assertEqual(replaced, found[1].replaced(found[0]))
        base.show(self, json.dumps({
            'resources': [len(s.resources) for s in found],
            'events': sum(found[1].events.values()),
            'replaced': len(replaced),
            'seconds': {'one server': round(one_server),
                        'galera': round(time.monotonic() - started -
                                        one_server)},
            'conflicts': base.conflicts_since(self.cluster, before)}))
