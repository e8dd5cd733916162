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

from hypothesis import given
from hypothesis import settings
import testtools

from heat_convergence.drivers.reduced import forwarding
from heat_convergence import graph
from heat_convergence.tests.unit import strategies


def simulate(reduced, routes):
    """Fire every node in order; return what each node ends up holding.

    A node may only send what it holds (its own data plus what it has
    received), and each item must reach it at most once.
    """
    held = {}
    for key in reduced:
        received = {}
        for required in reduced.requires(key):
            for item in routes.sends(required).get(key, ()):
                if item in received:
                    raise AssertionError('%s received %s twice' % (key, item))
                if item != required and item not in held[required]:
                    raise AssertionError('%s forwarded %s it never had' %
                                         (required, item))
                received[item] = required
        held[key] = set(received)
    return held


class TestPlan(testtools.TestCase):

    @settings(max_examples=300, deadline=None)
    @given(strategies.dags_with_consumers())
    def test_every_consumer_gets_its_data(self, case):
        edges, consumes = case
        reduced = graph.Dependencies(edges).reduced()
        routes = forwarding.plan(reduced.graph(), consumes)
        held = simulate(reduced, routes)
        for key, items in consumes.items():
            self.assertTrue(set(items) <= held[key],
                            '%s consumes %s, got %s' % (key, items, held[key]))

    @settings(max_examples=200, deadline=None)
    @given(strategies.dags_with_consumers())
    def test_nothing_travels_without_a_consumer(self, case):
        edges, consumes = case
        reduced = graph.Dependencies(edges).reduced()
        routes = forwarding.plan(reduced.graph(), consumes)
        consumed = {item for items in consumes.values() for item in items}
        g = reduced.graph()
        for key in reduced:
            for target, items in routes.sends(key).items():
                self.assertIn(key, g[target].require)
                self.assertTrue(items)
                self.assertLessEqual(items, consumed)

    @settings(max_examples=200, deadline=None)
    @given(strategies.dags_with_consumers())
    def test_only_what_is_needed_downstream(self, case):
        # An item reaches a node only if that node or something that
        # requires it (transitively) consumes it.
        edges, consumes = case
        reduced = graph.Dependencies(edges).reduced()
        routes = forwarding.plan(reduced.graph(), consumes)
        held = simulate(reduced, routes)
        for key in reduced:
            below = {key} | {k for k, _ in reduced[key].edges()}
            wanted = set()
            for k in below:
                wanted.update(consumes.get(k, ()))
            self.assertLessEqual(held[key], wanted)

    def test_removed_data_edge_is_forwarded(self):
        # C references A and depends on B, which references A: the
        # reduction drops C -> A and B must forward A's data.
        deps = graph.Dependencies([('C', 'A'), ('C', 'B'), ('B', 'A')])
        reduced = deps.reduced()
        self.assertNotIn('A', set(reduced.requires('C')))
        routes = forwarding.plan(reduced.graph(), {'C': {'A', 'B'},
                                                   'B': {'A'}})
        self.assertEqual({'B': frozenset({'A'})}, routes.sends('A'))
        self.assertEqual({'C': frozenset({'A', 'B'})}, routes.sends('B'))

    def test_dense(self):
        n = 50
        deps = graph.Dependencies((i, j) for i in range(n) for j in range(i))
        consumes = {i: set(range(i)) for i in range(n)}
        reduced = deps.reduced()
        routes = forwarding.plan(reduced.graph(), consumes)
        self.assertEqual(n - 1, reduced.edge_count())
        # Node i forwards everything below it and itself to i + 1.
        for i in range(n - 1):
            self.assertEqual({i + 1: frozenset(range(i + 1))},
                             routes.sends(i))

    def test_prefers_the_producer(self):
        # D consumes A and B; both are direct requirements of D and B also
        # holds A: A must come straight from A.
        deps = graph.Dependencies([('D', 'A'), ('D', 'B'), ('B', 'A'),
                                   ('D', 'C'), ('C', 'A')])
        g = deps.graph()
        routes = forwarding.plan(g, {'D': {'A', 'B'}, 'B': {'A'}})
        self.assertEqual(frozenset({'A'}), routes.sends('A')['D'])
        self.assertEqual(frozenset({'B'}), routes.sends('B')['D'])

    def test_consuming_a_non_dependency_fails(self):
        deps = graph.Dependencies([('B', 'A'), ('C', None)])
        self.assertRaises(forwarding.RoutingError, forwarding.plan,
                          deps.graph(), {'C': {'A'}})

    def test_nothing_consumed(self):
        deps = graph.Dependencies([('B', 'A')])
        routes = forwarding.plan(deps.graph(), {})
        self.assertEqual({}, routes.sends('A'))
        self.assertEqual({}, routes.sends('B'))
