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

"""SyncPoints in Heat's terms: plans and what a node receives."""

from heat.engine import stack as parser

from heat_convergence.db import api
from heat_convergence.drivers.reduced import forwarding
from heat_convergence.drivers.reduced import sync_points
from heat_convergence import graph
from heat_convergence.tests.unit import test_db_api

U = lambda i: parser.ConvergenceNode(i, True)  # noqa: E731
C = lambda i: parser.ConvergenceNode(i, False)  # noqa: E731


class TestPlans(test_db_api.DBAPITestCase):

    def test_plans_of_a_reduced_graph(self):
        # 3 uses 1 directly and through 2; 2 uses 1; 1 has a cleanup node.
        full = graph.Dependencies([(U(3), U(1)), (U(3), U(2)), (U(2), U(1)),
                                   (C(1), U(1))])
        consumes = {U(3): [U(1), U(2)], U(2): [U(1)], U(1): []}
        reduced = full.reduced()
        plans = sync_points.build_plans(
            reduced, consumes, forwarding.plan(reduced.graph(), consumes),
            reduced.heights())
        self.assertEqual({'next': [['2', True, 'resource'],
                                   ['1', False, 'resource']],
                          'root': False, 'refs': [],
                          'fwd': {'2': ['1']}}, _sorted(plans[U(1)]))
        self.assertEqual({'next': [['3', True, 'resource']], 'root': False,
                          'refs': ['1'], 'fwd': {'3': ['1', '2']}},
                         plans[U(2)])
        self.assertEqual({'next': [], 'root': True, 'refs': ['1', '2'],
                          'fwd': {}}, plans[U(3)])
        self.assertEqual({'next': [], 'root': True}, plans[C(1)])

    def test_cleanup_targets_that_read_nothing(self):
        # A delete's graph: 1's cleanup waits for 2's and 3's, 2's for 4's.
        # 2 hears from 4 alone; 1 from two, whose rows tell them apart.
        deps = graph.Dependencies([(C(1), C(2)), (C(1), C(3)),
                                   (C(2), C(4))])
        plans = sync_points.build_plans(deps, {}, forwarding.plan(
            deps.graph(), {}), deps.heights())
        self.assertEqual(['2'], plans[C(4)]['bare'])
        self.assertNotIn('bare', plans[C(2)])
        self.assertNotIn('bare', plans[C(3)])

    def test_bare_arrival_stores_no_row_unless_it_carries_failures(self):
        self.create('t1', [test_db_api.node(4, 0, is_update=False),
                           test_db_api.node(2, 1, is_update=False),
                           test_db_api.node(5, 1, is_update=False)])
        self.assertEqual([True], sync_points.deliver(
            self.ctx, 't1', C(4), [(C(2), 4)], bare=['2']))
        self.assertEqual([True], sync_points.deliver(
            self.ctx, 't1', C(4), [(C(5), 4)], failures={'r4': 'boom'},
            bare=['5']))
        self.assertEqual(1, self.count(api.ARRIVAL, 't1'))
        self.assertEqual({'r4': 'boom'}, sync_points.claim(
            self.ctx, 't1', C(5), 'e').failures)
        self.assertEqual({}, sync_points.claim(self.ctx, 't1', C(2),
                                               'e').data)

    def test_successors_longest_way_first(self):
        # 1 is required by 2 and 4; 3 requires 2: 2 has further to go.
        deps = graph.Dependencies([(U(4), U(1)), (U(2), U(1)),
                                   (U(3), U(2))])
        consumes = {U(4): [U(1)], U(3): [U(2)], U(2): [U(1)], U(1): []}
        plans = sync_points.build_plans(
            deps, consumes, forwarding.plan(deps.graph(), consumes),
            deps.heights())
        self.assertEqual([['2', True, 'resource'], ['4', True, 'resource']],
                         plans[U(1)]['next'])


def _sorted(plan):
    return dict(plan, next=sorted(plan['next'], key=lambda n: not n[1]))


class TestInputs(test_db_api.DBAPITestCase):

    def test_nested_attribute_paths_survive_the_database(self):
        # NodeData attributes referenced by path have tuple keys; JSON has
        # none, so they are encoded as Heat encodes SyncPoint inputs.
        self.create('t1', [test_db_api.node(1, 0),
                           test_db_api.node(2, 1, plan={'refs': ['1']})])
        node_data = {'id': 1, 'name': 'a', 'attrs': {
            ('value', 'key'): 'nested', 'value': {'key': 'nested'}}}
        sync_points.claim(self.ctx, 't1', U(1), 'e')
        self.assertEqual([True], sync_points.deliver(
            self.ctx, 't1', U(1), [(U(2), {'1': node_data})]))
        inputs = sync_points.claim(self.ctx, 't1', U(2), 'e')
        self.assertEqual({U(1): node_data}, inputs.consumed())

    def test_leaf_with_its_plan_claimed_without_a_read(self):
        plan = {'next': [['2', True, 'resource']], 'root': False,
                'refs': [], 'fwd': {'2': ['1']}}
        self.create('t1', [test_db_api.node(1, 0, plan=plan),
                           test_db_api.node(2, 1)])
        del self.statements[:]
        inputs = sync_points.claim(self.ctx, 't1', U(1), 'e', leaf_plan=plan)
        self.assertEqual((plan, {}), (inputs.plan, inputs.data))
        self.assertEqual(['UPDATE'], [s.split()[0].upper()
                                      for s in self.statements
                                      if s.split()[0].upper() != 'BEGIN'])
        self.assertEqual('RUNNING',
                         self.node_row('t1', sync_points.key(U(1))).state)
        # Taken already: refused, with or without the plan.
        self.assertIsNone(sync_points.claim(self.ctx, 't1', U(1), 'f',
                                            leaf_plan=plan))
        self.assertIsNone(sync_points.claim(self.ctx, 't1', U(1), 'f'))

    def test_cleanup_inputs_are_keyed_by_sender(self):
        self.create('t1', [test_db_api.node(1, 0, is_update=False),
                           test_db_api.node(2, 1, is_update=False)])
        sync_points.deliver(self.ctx, 't1', C(1), [(C(2), 7)])
        inputs = sync_points.claim(self.ctx, 't1', C(2), 'e')
        self.assertEqual({C(1): 7}, inputs.data)
