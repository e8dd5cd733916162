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

"""The operator's view of a traversal, in every node state."""

import io

import fixtures
from heat.engine import stack as parser

from heat_convergence.cmd import manage
from heat_convergence.db import api
from heat_convergence.db import models
from heat_convergence.drivers.reduced import progress
from heat_convergence import graph
from heat_convergence.tests.unit import test_db_api

N = api.Node


class TestThrottledNodes(test_db_api.DBAPITestCase):
    """Nodes over a stack's limit of running nodes are shown as such."""

    def setUp(self):
        super().setUp()
        traversal_id = self.stack.current_traversal
        self.create(traversal_id, [test_db_api.node(i, 0)
                                   for i in range(1, 4)] +
                    [test_db_api.node(4, 3)])
        # A limit of one running node: the first claim runs, the next two
        # are throttled.
        for i in range(1, 4):
            api.claim(self.ctx, traversal_id, N(str(i), True), 'e1',
                      limit=1)

    def test_states(self):
        view = progress.show(self.ctx, self.stack)
        self.assertEqual(
            {'running': 1, 'throttled': 2, 'waiting': 1},
            {k: v for k, v in view.counts.items() if v})
        self.assertEqual(['running', 'throttled', 'throttled', 'waiting'],
                         sorted((n.state for n in view.nodes),
                                key=progress.ORDER.index))
        self.assertEqual(set(progress.LABELS), {
            models.WAITING, models.READY, models.THROTTLED, models.RUNNING,
            models.RERUN, models.DONE})
        self.assertEqual(set(progress.LABELS.values()), set(progress.ORDER))

    def test_summary(self):
        (row, name), = progress.in_progress(self.ctx)
        self.assertEqual((1, 2, 0, 1, 0, 'test-stack'),
                         (row.running, row.throttled, row.ready,
                          row.waiting, row.done, name))

    def test_traversal_show(self):
        self.useFixture(fixtures.MockPatchObject(
            manage, '_stack', return_value=self.stack))
        out = self.useFixture(fixtures.MockPatch('sys.stdout',
                                                 io.StringIO())).mock
        manage.do_traversal_show()
        text = out.getvalue()
        self.assertIn('0 done, 1 running, 2 throttled, 0 ready, 1 waiting, '
                      '0 failed (of 4)', text)
        self.assertIn('\nThrottled:\n  resource 2 until the stack runs '
                      'fewer than max_concurrent_resources_per_stack nodes',
                      text)

    def test_traversal_list(self):
        out = self.useFixture(fixtures.MockPatch('sys.stdout',
                                                 io.StringIO())).mock
        manage.do_traversal_list()
        header, line = out.getvalue().splitlines()
        self.assertEqual(['Running', 'Throttled', 'Ready', 'Waiting'],
                         header.split()[5:9])
        self.assertEqual(['1', '2', '0', '1'], line.split()[5:9])

    def test_graph_colours(self):
        view = progress.show(self.ctx, self.stack)
        states = {n.name: n.state for n in view.nodes}
        deps = graph.Dependencies([(parser.ConvergenceNode(4, True),
                                    parser.ConvergenceNode(i, True))
                                   for i in range(1, 4)])
        names = {i: 'resource %d' % i for i in range(1, 5)}
        dot = progress.to_dot(deps, names, 'test', states)
        self.assertEqual(2, dot.count('fillcolor=orange'))
        self.assertEqual(1, dot.count('fillcolor=gold'))
