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

"""The start of a traversal: what it reads from the database."""

from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.engine import template
from heat.objects import resource as resource_objects
from heat.tests import utils
import sqlalchemy as sa

from heat_convergence.drivers.reduced import traversal
from heat_convergence import graph
from heat_convergence.tests import base

N = 20
ONE_TRANSACTION = traversal.one_transaction


class TestResourceRows(base.HeatTestCase):
    """Heat's storing of a traversal's resources, with one read of rows."""

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.names = ['r%d' % i for i in range(N)]
        # As on MariaDB and PostgreSQL (see test_sqlite_commits_per_row).
        self.one_transaction = self.patchobject(
            traversal, 'one_transaction', return_value=True)
        self.reads = []
        read = resource_objects.Resource.get_all_by_stack

        def count(cnxt, stack_id, *args, **kwargs):
            self.reads.append(stack_id)
            return read(cnxt, stack_id, *args, **kwargs)

        self.patchobject(resource_objects.Resource, 'get_all_by_stack',
                         side_effect=count)

    def new_stack(self, names, stack_id=None):
        stack = parser.Stack(self.ctx, 'rows',
                             template.Template(base.none_template(names)),
                             stack_id=stack_id)
        stack.store()
        return stack

    def store_resources(self, stack, ours=True):
        """Store the stack's resources; count reads and commits."""
        del self.reads[:]
        commits = []
        engine = heat_db_api.get_engine()

        def commit(conn):
            commits.append(conn)

        sa.event.listen(engine, 'commit', commit)
        try:
            if ours:
                return traversal.store_resources(stack)
            return stack._update_or_store_resources()
        finally:
            sa.event.remove(engine, 'commit', commit)
            self.commits = len(commits)

    def test_create_reads_rows_once_and_commits_once(self):
        stack = self.new_stack(self.names)
        stored = self.store_resources(stack)
        self.assertEqual([stack.id], self.reads)
        self.assertEqual(1, self.commits)
        self.assertEqual(sorted(self.names), sorted(stored))
        rows = resource_objects.Resource.get_all_by_stack(self.ctx, stack.id)
        self.assertEqual(sorted(self.names), sorted(rows))
        self.assertEqual({name: stored[name].id for name in self.names},
                         {name: rows[name].id for name in self.names})

    def test_heat_reads_and_commits_once_per_resource(self):
        # What the function is for: Heat alone asks and commits N times.
        stack = self.new_stack(self.names)
        self.store_resources(stack, ours=False)
        self.assertEqual(N, len(self.reads))
        self.assertEqual(N, self.commits)

    def test_sqlite_commits_per_row(self):
        self.one_transaction.side_effect = ONE_TRANSACTION
        stack = self.new_stack(self.names)
        self.store_resources(stack)
        self.assertEqual('sqlite', heat_db_api.get_engine().dialect.name)
        self.assertEqual([stack.id], self.reads)
        self.assertEqual(N, self.commits)

    def test_all_or_nothing(self):
        stack = self.new_stack(self.names)
        create = resource_objects.Resource.create
        calls = []

        def fail_late(cnxt, values):
            calls.append(values['name'])
            if len(calls) == N // 2:
                raise RuntimeError('database gone')
            return create(cnxt, values)

        self.patchobject(resource_objects.Resource, 'create',
                         side_effect=fail_late)
        self.assertRaises(RuntimeError, self.store_resources, stack)
        self.assertEqual({}, resource_objects.Resource.get_all_by_stack(
            self.ctx, stack.id))

    def test_stack_loaded_by_a_node(self):
        # A rollback starts from a node's stack, built from the node's data:
        # Heat forbids it to read resource rows, and it needs none.
        first = self.new_stack(self.names)
        created = self.store_resources(first)
        stack = parser.Stack.load(self.ctx, stack_id=first.id, cache_data={})
        self.assertTrue(stack.in_convergence_check)
        stored = self.store_resources(stack)
        self.assertEqual([], self.reads)
        self.assertEqual({name: created[name].id for name in self.names},
                         {name: stored[name].id for name in self.names})

    def test_update_finds_the_stored_rows(self):
        stack = self.new_stack(self.names)
        created = self.store_resources(stack)
        # The next traversal of the same stack, with one more resource.
        again = self.new_stack(self.names + ['extra'], stack_id=stack.id)
        stored = self.store_resources(again)
        self.assertEqual([stack.id], self.reads)
        self.assertEqual({name: created[name].id for name in self.names},
                         {name: stored[name].id for name in self.names})
        self.assertIsNotNone(stored['extra'].id)


def dense(names):
    """r(i) depends on every r(j < i)."""
    return {'heat_template_version': '2015-04-30',
            'resources': {name: {'type': 'OS::Heat::None',
                                 'depends_on': names[:i]}
                          for i, name in enumerate(names)}}


class TestReducedGraph(base.HeatTestCase):
    """The reduced graph is the reduction of Heat's full graph."""

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()

    def load(self, tmpl, stack_id=None):
        stack = parser.Stack(self.ctx, 'dense', template.Template(tmpl),
                             stack_id=stack_id)
        stack.store()
        current = traversal.store_resources(stack)
        return stack, current

    def heats(self, stack, current):
        """Heat's full graph, reduced afterwards, and what nodes consume."""
        deps = graph.Dependencies(stack.dependencies.graph().edges())
        stack._compute_convg_dependencies(stack.ext_rsrcs_db, deps, current)
        full = stack._convg_deps
        consumes = {node: sorted(r for r in full.requires(node)
                                 if r.is_update)
                    for node in full._graph if node.is_update}
        return sorted(full.reduced().edges()), consumes, full.edge_count()

    def ours(self, stack, current):
        reduced, consumes, edges = traversal.reduced_graph(stack, current)
        return (sorted(reduced.edges()),
                {k: sorted(v) for k, v in consumes.items()}, edges)

    def test_create(self):
        names = ['r%02d' % i for i in range(12)]
        stack, current = self.load(dense(names))
        expected = self.heats(stack, current)
        self.assertEqual(66, expected[2])
        self.assertEqual(11, len([e for e in expected[0]
                                  if e[1] is not None]))
        self.assertEqual(expected, self.ours(stack, current))

    def test_update_with_stored_resources(self):
        names = ['r%02d' % i for i in range(8)]
        stack, current = self.load(dense(names))
        ids = {name: current[name].id for name in names}
        # What earlier traversals stored: each row's requirements, and one
        # resource that replaced another.
        for i, name in enumerate(names):
            resource_objects.Resource.update_by_id(
                self.ctx, ids[name],
                {'requires': [ids[n] for n in names[:i]]})
        resource_objects.Resource.update_by_id(
            self.ctx, ids['r07'], {'replaces': ids['r03']})
        # The update drops r05 and adds x, which depends on r06 and r01.
        tmpl = dense([n for n in names if n != 'r05'])
        tmpl['resources']['x'] = {'type': 'OS::Heat::None',
                                  'depends_on': ['r06', 'r01']}
        again, current = self.load(tmpl, stack_id=stack.id)
        self.assertNotEqual({}, again.ext_rsrcs_db)
        self.assertEqual(self.heats(again, current),
                         self.ours(again, current))
