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

"""heat-convergence-manage traversal list|show|graph on a live traversal."""

from heat_convergence_tests.live import cloud

TEMPLATE = {
    'heat_template_version': '2018-08-31',
    'resources': {
        'a': {'type': 'OS::Heat::TestResource',
              # Running through the four commands below, each a process
              # importing Heat: 20 s ran out under the suite's load.
              'properties': {'action_wait_secs': {'create': 60}}},
        'b': {'type': 'OS::Heat::TestResource',
              'properties': {'value': {'get_attr': ['a', 'output']}}},
        'c': {'type': 'OS::Heat::TestResource', 'depends_on': ['a', 'b'],
              'properties': {'value': {'get_resource': 'a'}}},
    },
}


class TestOperatorView(cloud.LiveTestCase):

    def manage(self, *args):
        return self.cloud.manage('heat-convergence-manage', *args)

    def test_views(self):
        path = self.cloud.write_template('slow.yaml', TEMPLATE)
        self.cloud.openstack('stack', 'create', '-t', path, 'slow')
        cloud.wait_for(lambda: self.cloud.query(
            "SELECT id FROM resource WHERE name = 'a' AND "
            "status = 'IN_PROGRESS'"), 60, what='a to start')

        listing = self.manage('traversal', 'list')
        self.assertIn('slow', listing)
        self.assertIn('CREATE', listing)
        self.assertIn('0/4', listing)

        shown = self.manage('traversal', 'show', 'slow')
        engine_id = self.cloud.query(
            "SELECT engine_id FROM resource WHERE name = 'a'")[0][0]
        self.assertIn('Action:     CREATE', shown)
        self.assertIn('0 done, 1 running, 0 throttled, 0 ready, 0 queued, '
                      '3 waiting, 0 failed (of 4)', shown)
        self.assertIn('(engine %s)' % engine_id, shown)
        self.assertIn('b for 1 of 1 predecessors', shown)

        # c -> a is implied by c -> b -> a: stored graph 2 edges, full 3.
        reduced = self.manage('traversal', 'graph', 'slow')
        full = self.manage('traversal', 'graph', 'slow', '--full')
        self.assertEqual(2, reduced.count(' -> '))
        self.assertEqual(3, full.count(' -> '))
        self.assertIn('fillcolor=gold', reduced)

        self.cloud.wait_stack('slow', 'CREATE_COMPLETE', timeout=150)
        self.assertIn('no traversal in progress',
                      self.manage('traversal', 'show', 'slow'))
        self.assertIn('No traversal in progress',
                      self.manage('traversal', 'list'))
        error = self.assertRaises(cloud.CommandFailed, self.manage,
                                  'traversal', 'show', 'nonesuch')
        self.assertIn('ERROR: The Stack (nonesuch) could not be found',
                      error.stderr)
        self.assertNotIn('Traceback', error.stderr)
