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

"""Stack reads once per traversal, and the cache that keeps them."""

import threading
from unittest import mock

from heat.db import api as heat_db_api
from heat.engine import environment
from heat.engine import stack as parser
from heat.engine import template
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object
from heat.tests import utils
from oslo_utils import uuidutils

from heat_convergence.db import heat_rows
from heat_convergence.drivers.reduced import stack_cache
from heat_convergence.drivers.reduced import traversal_cache
from heat_convergence.tests import base

GRAPH = {'edges': [[[1, True], [2, True]], [[2, True], None]]}
OTHER_GRAPH = {'edges': [[[3, True], None]]}

HOT = {
    'heat_template_version': '2015-04-30',
    'parameters': {'p': {'type': 'string'}},
    'resources': {
        'a': {'type': 'OS::Heat::None'},
        'b': {'type': 'OS::Heat::None', 'depends_on': ['a']},
    },
}


class TestTraversalCache(base.HeatTestCase):

    def test_built_once_per_traversal_and_key(self):
        cache = traversal_cache.TraversalCache(4)
        builds = []

        def build(value):
            return lambda: builds.append(value) or value

        self.assertEqual('x', cache.get('t1', 1, build('x')))
        self.assertEqual('x', cache.get('t1', 1, build('y')))
        self.assertEqual('z', cache.get('t2', 1, build('z')))
        self.assertEqual(['x', 'z'], builds)

    def test_room_for_a_group_of_members_at_once(self):
        # Each member of a ResourceGroup runs a traversal of its own, and
        # a node loads the graph and two templates of its traversal: a
        # group's members starting together must not evict each other's.
        builds = []
        members = ['member-%d' % i for i in range(100)]
        for _round in range(2):
            for member in members:
                for key in (('graph', member), ('template', 1),
                            ('template', 2)):
                    stack_cache.ROWS.get(member, key,
                                         lambda: builds.append(1))
        # Built once each: the second round found them all.
        self.assertEqual(300, len(builds))

    def test_least_recently_used_evicted(self):
        cache = traversal_cache.TraversalCache(2)
        cache.get('t1', 1, lambda: 'one')
        cache.get('t2', 1, lambda: 'two')
        cache.get('t1', 1, lambda: 'not built')
        cache.get('t3', 1, lambda: 'three')
        # t2 was the least recently used.
        self.assertEqual('one', cache.get('t1', 1, lambda: 'rebuilt'))
        self.assertEqual('rebuilt', cache.get('t2', 1, lambda: 'rebuilt'))

    def test_concurrent_callers_share_one_build(self):
        cache = traversal_cache.TraversalCache(4)
        started, release = threading.Event(), threading.Event()
        builds = []

        def build():
            builds.append(1)
            started.set()
            release.wait(10)
            return 'value'

        results = []
        threads = [threading.Thread(
            target=lambda: results.append(cache.get('t', 1, build)))
            for _ in range(8)]
        threads[0].start()
        self.assertTrue(started.wait(10))
        for thread in threads[1:]:
            thread.start()
        release.set()
        for thread in threads:
            thread.join(10)
        self.assertEqual(['value'] * 8, results)
        self.assertEqual([1], builds)

    def test_failed_build_is_not_cached(self):
        cache = traversal_cache.TraversalCache(4)

        def fail():
            raise ValueError('no database')

        self.assertRaises(ValueError, cache.get, 't', 1, fail)
        self.assertEqual('value', cache.get('t', 1, lambda: 'value'))


class TestCachedStackReads(base.HeatTestCase):

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        # The cache is the engine's: new traversal ids for each test.
        self.t1 = uuidutils.generate_uuid()
        self.t2 = uuidutils.generate_uuid()
        tmpl = template.Template(HOT, env=environment.Environment(
            {'parameters': {'p': 'v'}}))
        self.stack = parser.Stack(self.ctx, 'cached', tmpl,
                                  current_traversal=self.t1)
        self.stack.current_deps = GRAPH
        self.stack.store()
        self.template_id = self.stack.t.id
        self.reads = self.patchobject(heat_db_api, 'raw_template_get',
                                      wraps=heat_db_api.raw_template_get)
        self.graphs = self.patchobject(heat_rows, 'stack_graph',
                                       wraps=heat_rows.stack_graph)
        self.warnings = self.patchobject(stack_object.LOG, 'warning')

    def load(self):
        return parser.Stack.load(self.ctx, stack_id=self.stack.id)

    def new_traversal(self, traversal_id, graph):
        self.stack.current_traversal = traversal_id
        self.stack.current_deps = graph
        self.stack.store()

    def test_read_once_per_traversal(self):
        with stack_cache.cached(self.t1):
            first, second = self.load(), self.load()
            raw = raw_template_object.RawTemplate.get_by_id(
                self.ctx, self.template_id)
        self.assertEqual((1, 1), (self.reads.call_count,
                                  self.graphs.call_count))
        for stack in (first, second):
            self.assertEqual(HOT['resources'], stack.t.t['resources'])
            self.assertEqual('v', stack.t.env.params['p'])
            self.assertEqual(GRAPH, stack.current_deps)
            self.assertEqual(self.t1, stack.current_traversal)
        self.assertEqual(HOT, raw.template)
        # Each load has its own environment: Heat may change it in place.
        self.assertIsNot(first.t.env.params, second.t.env.params)
        self.new_traversal(self.t2, OTHER_GRAPH)
        with stack_cache.cached(self.t2):
            self.assertEqual(OTHER_GRAPH, self.load().current_deps)
        self.assertEqual((2, 2), (self.reads.call_count,
                                  self.graphs.call_count))
        self.warnings.assert_not_called()

    def test_node_of_an_older_traversal_gets_heats_load(self):
        with stack_cache.cached(self.t1):
            self.load()
        self.new_traversal(self.t2, OTHER_GRAPH)
        with stack_cache.cached(self.t1):
            stack = self.load()
        self.assertEqual((self.t2, OTHER_GRAPH),
                         (stack.current_traversal, stack.current_deps))

    def test_update_between_the_reads_gets_heats_load(self):
        read_row = heat_rows.stack_get_without_graph

        def row_then_update(*args, **kwargs):
            row = read_row(*args, **kwargs)
            self.new_traversal(self.t2, OTHER_GRAPH)
            return row

        with mock.patch.object(heat_rows, 'stack_get_without_graph',
                               side_effect=row_then_update):
            with stack_cache.cached(self.t1):
                stack = self.load()
        self.assertEqual((self.t2, OTHER_GRAPH),
                         (stack.current_traversal, stack.current_deps))
        # Nothing was cached for t1.
        self.new_traversal(self.t1, GRAPH)
        with stack_cache.cached(self.t1):
            self.assertEqual(GRAPH, self.load().current_deps)

    def test_heat_unchanged_outside_nodes(self):
        self.load()
        with stack_cache.cached(self.t1, enabled=False):
            self.load()
        # Heat joins the template into the stack's query.
        self.reads.assert_not_called()
        self.graphs.assert_not_called()
        with stack_cache.cached(self.t1):
            self.load()
        self.assertEqual(1, self.reads.call_count)
        self.load()
        self.assertEqual(1, self.reads.call_count)

    def test_row_alone_when_asked(self):
        with stack_cache.cached(self.t1):
            stack = stack_object.Stack.get_by_id(self.ctx, self.stack.id,
                                                 eager_load=False)
        self.assertEqual(self.template_id, stack.raw_template_id)
        self.reads.assert_not_called()

    def test_template_asked_for_explicitly(self):
        with stack_cache.cached(self.t1):
            stack = stack_object.Stack.get_by_id(self.ctx, self.stack.id,
                                                 eager_load=True)
        self.assertEqual(HOT, stack.raw_template.template)
        self.assertEqual(1, self.reads.call_count)

    def test_missing_stack(self):
        with stack_cache.cached(self.t1):
            self.assertIsNone(stack_object.Stack.get_by_id(
                self.ctx, 'f2b9a7d2-0000-4000-8000-000000000000'))
