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

"""Chaos: an engine killed every 10 to 15 s through a stack's whole life.

Three engines (see test_recovery for the recovery settings); a stack of
layers of TestResources that wait in each action, so that kills land
mid-work, goes through a create, an update that changes every resource
(one in each layer replaced, the others updated in place) and a delete,
while a random engine is killed with SIGKILL and restarted every 10 to 15
seconds (seeded). Each phase must complete with no user action; then no
resource may have been acted on twice in the traversal (see chaos), the
rows must be those of the template, and nothing may be left IN_PROGRESS.
The kills that landed in each phase are counted: a phase with none would
prove nothing, and fails the test.
"""

import random

from heat_convergence_tests.live import chaos
from heat_convergence_tests.live import cloud
from heat_convergence_tests.live import test_recovery

LAYERS = 10
WIDTH = 10
WAIT = {'create': 2, 'update': 2, 'delete': 2}
SEED = 23
KILL_INTERVAL = (10, 15)


def name(layer, index):
    return 'r%d_%d' % (layer, index)


def chaos_template(value, seed=SEED):
    """LAYERS layers of WIDTH resources, each on two of the layer before.

    The first resource of each layer replaces itself when its value
    changes; every resource's value is ``value``.
    """
    rnd = random.Random(seed)
    resources = {}
    for layer in range(LAYERS):
        for index in range(WIDTH):
            res = cloud.test_resource('%s.%s' % (name(layer, index), value),
                                      replace=index == 0,
                                      action_wait_secs=WAIT)
            if layer:
                res['depends_on'] = sorted({
                    name(layer - 1, rnd.randrange(WIDTH)) for _ in range(2)})
            resources[name(layer, index)] = res
    return {'heat_template_version': '2018-08-31', 'resources': resources}


class TestChaos(test_recovery.RecoveryTestCase):

    def run_phase(self, killer, action, value=None, timeout=240):
        """Run one phase through the CLI; return its Phase and its kills."""
        stack_id = getattr(self, 'stack_id', None)
        phase = chaos.Phase(self.cloud, stack_id)
        with killer.calm():
            if action == 'DELETE':
                self.cloud.openstack('stack', 'delete', '--yes', 'chaos')
            else:
                path = self.cloud.write_template(
                    'chaos.yaml', chaos_template(value))
                self.cloud.openstack('stack', action.lower(), '-t', path,
                                     'chaos')
        if stack_id is None:
            self.stack_id = phase.stack_id = self.cloud.query(
                "SELECT id FROM stack WHERE name = 'chaos'")[0][0]
        settled = chaos.wait_settled(self.cloud, self.stack_id, action,
                                     timeout)
        kills = chaos.kills_during(killer, phase, chaos.utcnow())
        self.addDetail('%s_kills' % action.lower(), cloud.content.text_content(
            '%d kills: %s' % (len(kills), ', '.join(
                'engine %d at %s' % (engine, at) for at, engine in kills))))
        self.assertEqual((action, 'COMPLETE'), settled[:2], settled[2])
        self.assertNotEqual([], kills, 'no engine killed during the %s' %
                            action)
        self.assertEqual([], phase.acted_twice(killer.kills))
        self.assertEqual([], chaos.unsettled(self.cloud))
        return phase

    def test_create_update_delete_under_kills(self):
        names = [name(layer, index) for layer in range(LAYERS)
                 for index in range(WIDTH)]
        replaced = [name for name in names if name.endswith('_0')]
        killer = chaos.Killer(self.cloud, SEED, KILL_INTERVAL)
        killer.start()
        self.addCleanup(killer.stop)

        phase = self.run_phase(killer, 'CREATE', 'one')
        self.assertEqual([], phase.row_problems(names))
        phase = self.run_phase(killer, 'UPDATE', 'two')
        self.assertEqual([], phase.row_problems(
            names, replaced=replaced,
            in_place=set(names) - set(replaced)))
        phase = self.run_phase(killer, 'DELETE')
        self.assertEqual([], phase.row_problems(None))
        killer.stop()
        self.assertEqual([], killer.errors)
        cloud.wait_for(lambda: not self.cloud.query(
            'SELECT id FROM heat_convergence_traversal'), 30,
            what='no traversal left')
