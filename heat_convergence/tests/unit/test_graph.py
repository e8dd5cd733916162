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

import itertools

from heat.common import exception
from heat.engine import dependencies as heat_dependencies
from heat.engine import stack as heat_stack
from hypothesis import given
from hypothesis import settings
import networkx
import testtools

from heat_convergence import graph
from heat_convergence.tests.unit import strategies


def to_networkx(deps):
    """Return a DiGraph with edges pointing from required to requirer."""
    nxg = networkx.DiGraph()
    for rqr, rqd in deps.edges():
        nxg.add_node(rqr)
        if rqd is not None:
            nxg.add_edge(rqd, rqr)
    for key in deps._graph:
        nxg.add_node(key)
    return nxg


def edge_set(deps):
    return {(rqr, rqd) for rqr, rqd in deps.edges() if rqd is not None}


def reachability(deps):
    return {key: networkx.descendants(to_networkx(deps), key)
            for key in deps._graph}


class TestReduction(testtools.TestCase):

    @settings(max_examples=200, deadline=None)
    @given(strategies.dags())
    def test_matches_networkx(self, edges):
        deps = graph.Dependencies(edges)
        expected = networkx.transitive_reduction(to_networkx(deps))
        self.assertEqual({(b, a) for a, b in expected.edges()},
                         edge_set(deps.reduced()))

    @settings(max_examples=200, deadline=None)
    @given(strategies.dags())
    def test_same_nodes_and_reachability(self, edges):
        deps = graph.Dependencies(edges)
        reduced = deps.reduced()
        self.assertEqual(set(deps._graph), set(reduced._graph))
        self.assertEqual(reachability(deps), reachability(reduced))

    @settings(max_examples=200, deadline=None)
    @given(strategies.dags())
    def test_no_edge_implied_by_another_path(self, edges):
        reduced = graph.Dependencies(edges).reduced()
        nxg = to_networkx(reduced)
        for rqr, rqd in edge_set(reduced):
            nxg.remove_edge(rqd, rqr)
            self.assertFalse(networkx.has_path(nxg, rqd, rqr))
            nxg.add_edge(rqd, rqr)

    @settings(max_examples=100, deadline=None)
    @given(strategies.dags())
    def test_idempotent(self, edges):
        once = graph.Dependencies(edges).reduced()
        self.assertEqual(edge_set(once), edge_set(once.reduced()))

    @settings(max_examples=100, deadline=None)
    @given(strategies.dags())
    def test_edges_round_trip(self, edges):
        reduced = graph.Dependencies(edges).reduced()
        again = graph.Dependencies(reduced.edges())
        self.assertEqual(sorted(map(repr, reduced.edges())),
                         sorted(map(repr, again.edges())))
        self.assertEqual(set(reduced._graph), set(again._graph))

    def test_dense(self):
        n = 60
        deps = graph.Dependencies((i, j) for i in range(n) for j in range(i))
        reduced = deps.reduced()
        self.assertEqual(n * (n - 1) // 2, deps.edge_count())
        self.assertEqual({(i, i - 1) for i in range(1, n)},
                         edge_set(reduced))

    def test_disjoint_nodes_kept(self):
        deps = graph.Dependencies([('a', None), ('b', 'c'), ('d', None)])
        reduced = deps.reduced()
        self.assertEqual({'a', 'b', 'c', 'd'}, set(reduced._graph))
        self.assertIn(('a', None), set(reduced.edges()))
        self.assertIn(('d', None), set(reduced.edges()))

    def test_cycle_raises(self):
        deps = graph.Dependencies([('a', 'b'), ('b', 'c'), ('c', 'a'),
                                   ('d', 'a')])
        ex = self.assertRaises(exception.CircularDependencyException,
                               deps.reduced)
        self.assertIn('a: {b}', str(ex))

    def test_convergence_nodes(self):
        # Heat's own node type, as stored in stack.current_deps.
        u = [heat_stack.ConvergenceNode(i, True) for i in range(3)]
        c = [heat_stack.ConvergenceNode(i, False) for i in range(3)]
        deps = graph.Dependencies([(u[2], u[1]), (u[1], u[0]), (u[2], u[0]),
                                   (c[0], c[1]), (c[1], c[2]), (c[0], c[2]),
                                   (c[2], u[2]), (c[1], u[1]),
                                   (c[0], u[0])])
        self.assertEqual({(u[2], u[1]), (u[1], u[0]), (c[0], c[1]),
                          (c[1], c[2]), (c[2], u[2])},
                         edge_set(deps.reduced()))


class TestTypePreserved(testtools.TestCase):
    """Heat's versions of these return plain Graph/Dependencies objects."""

    def setUp(self):
        super().setUp()
        self.deps = graph.Dependencies([('a', 'b'), ('b', 'c'), ('a', 'c'),
                                        ('d', None)])

    def test_graph(self):
        self.assertIsInstance(self.deps.graph(), graph.Graph)
        self.assertIsInstance(self.deps.graph(reverse=True), graph.Graph)

    def test_copy(self):
        g = self.deps.graph()
        self.assertIsInstance(g.copy(), graph.Graph)
        self.assertIsInstance(g.reverse_copy(), graph.Graph)

    def test_translate(self):
        translated = self.deps.translate(str.upper)
        self.assertIsInstance(translated, graph.Dependencies)
        self.assertEqual({('A', 'B'), ('B', 'C'), ('A', 'C')},
                         edge_set(translated))

    def test_getitem(self):
        sub = self.deps['c']
        self.assertIsInstance(sub, graph.Dependencies)
        self.assertEqual({('a', 'b'), ('b', 'c'), ('a', 'c')}, edge_set(sub))
        self.assertIsInstance(sub.reduced(), graph.Dependencies)

    def test_getitem_matches_heat(self):
        edges = [(i, j) for i in range(7) for j in range(i) if (i + j) % 3]
        ours = graph.Dependencies(edges)
        heats = heat_dependencies.Dependencies(edges)
        for key in range(7):
            self.assertEqual(sorted(map(repr, heats[key]._graph.edges())),
                             sorted(map(repr, ours[key]._graph.edges())))

    def test_getitem_deep_chain(self):
        # Heat's recursive version overflows the stack here.
        n = 5000
        deps = graph.Dependencies((i + 1, i) for i in range(n))
        self.assertEqual(n, deps[0].edge_count())

    def test_getitem_missing(self):
        self.assertRaises(KeyError, self.deps.__getitem__, 'x')

    def test_reduced_type(self):
        self.assertIsInstance(self.deps.reduced(), graph.Dependencies)
        self.assertIsInstance(self.deps.reduced().graph(), graph.Graph)


class TestMembershipAndOrder(testtools.TestCase):

    def test_contains(self):
        deps = graph.Dependencies([('a', 'b'), ('c', None)])
        for key in 'abc':
            self.assertIn(key, deps)
        self.assertNotIn('x', deps)
        self.assertNotIn(None, deps)

    def test_contains_does_not_sort(self):
        deps = graph.Dependencies([('a', 'b')])
        self.patch(graph.Graph, 'topological_order', None)
        self.assertIn('a', deps)

    @settings(max_examples=100, deadline=None)
    @given(strategies.dags())
    def test_iteration_is_topological(self, edges):
        deps = graph.Dependencies(edges)
        order = list(deps)
        self.assertEqual(set(deps._graph), set(order))
        position = {key: i for i, key in enumerate(order)}
        for rqr, rqd in edge_set(deps):
            self.assertLess(position[rqd], position[rqr])
        self.assertEqual(list(reversed(order)), list(reversed(deps)))

    def test_roots_and_leaves(self):
        deps = graph.Dependencies([('a', 'b'), ('b', 'c'), ('d', None)])
        self.assertEqual({'a', 'd'}, set(deps.roots()))
        self.assertEqual({'c', 'd'}, set(deps.leaves()))

    def test_iteration_cycle_raises(self):
        deps = graph.Dependencies([('a', 'b'), ('b', 'a')])
        self.assertRaises(exception.CircularDependencyException, list, deps)

    def test_reduction_keeps_roots_and_leaves(self):
        edges = list(itertools.combinations(range(10), 2))
        deps = graph.Dependencies((b, a) for a, b in edges)
        reduced = deps.reduced()
        self.assertEqual(set(deps.roots()), set(reduced.roots()))
        self.assertEqual(set(deps.leaves()), set(reduced.leaves()))

    def test_heights(self):
        # c requires b requires a; d requires a; e alone.
        deps = graph.Dependencies([('c', 'b'), ('b', 'a'), ('d', 'a'),
                                   ('e', None)])
        self.assertEqual({'a': 3, 'b': 2, 'c': 1, 'd': 1, 'e': 1},
                         deps.heights())

    @settings(max_examples=100, deadline=None)
    @given(strategies.dags())
    def test_heights_are_longest_paths_and_kept_by_reduction(self, edges):
        deps = graph.Dependencies(edges)
        heights = deps.heights()
        for key in deps._graph:
            above = [heights[r] for r in deps._graph[key].required_by()]
            self.assertEqual(1 + max(above, default=0), heights[key])
        self.assertEqual(heights, deps.reduced().heights())
