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

"""Going back to stock Heat: the plugin engines replaced by stock ones.

An operator who installed heat-convergence must be able to go back to stock
``heat-engine`` without losing a stack: stock Heat has to update and delete
what the reduced driver created or updated (its reduced graph stored in
``stack.current_deps``, its SyncPoints gone), and a reduced traversal still
running when the last heat-convergence-engine leaves has to be finished by
stock engines, which know nothing of the plugin's tables or topic.

* :class:`TestStockPluginStock`: a stack created by stock engines, updated
  by plugin engines (reduced driver), then updated and deleted by stock
  engines again.
* :class:`TestHandBack`: plugin engines replaced by stock ones one at a
  time during a create; the last one hands the reduced traversal back to
  Heat's path as it stops, and stock engines finish it.

Every resource is acted on exactly once per traversal, asserted on Heat's
event table.
"""

import json

from heat_convergence_tests.live import cloud

# Conf of the plugin engines: their recovery and fleet checks come round
# quickly (the defaults are meant for production, not for a test).
FAST_PLUGIN = {'heat_convergence': {'periodic_interval': '2',
                                    'ready_timeout': '15'}}

DENSE = 12


def dense_names():
    return ['r%02d' % i for i in range(DENSE)]


def dense_template(value, replaced=()):
    """Every resource reads the output of every earlier one.

    r00's value is ``value``; each later resource's is the outputs of all
    earlier ones joined by "-", so every value is exactly checkable and a
    stale or missing attribute anywhere shows. Heat's graph has
    n(n - 1)/2 edges between the update nodes; its transitive reduction,
    the chain, n - 1. ``replaced``: the names an update of their value
    replaces; the others are updated in place.
    """
    names = dense_names()
    resources = {}
    for i, name in enumerate(names):
        if i == 0:
            prop = value
        else:
            prop = {'list_join': ['-', [{'get_attr': [earlier, 'output']}
                                        for earlier in names[:i]]]}
        resources[name] = cloud.test_resource(prop,
                                              replace=name in replaced)
    return {'heat_template_version': '2018-08-31',
            'resources': resources,
            'outputs': {
                'last': {'value': {'get_attr': [names[-1], 'output']}},
                'some': {'value': {'list_join': [',', [
                    {'get_attr': [name, 'output']}
                    for name in names[:DENSE:4]]]}}}}


def dense_outputs(value):
    values = [value]
    for _ in range(1, DENSE):
        values.append('-'.join(values))
    return {'last': values[-1], 'some': ','.join(values[:DENSE:4])}


def heat_graph(names, existing):
    """The convergence graph stock Heat stores for the dense stack.

    ``existing``: Heat adds a cleanup node per stored resource (each
    cleaned up after the update of its own name and after the cleanup of
    every resource requiring it), none on a create. Nodes are (name,
    is_update); Heat stores a node with no edge at all as (node, None),
    which the dense stack has not.
    """
    edges = set()
    for i, name in enumerate(names):
        edges |= {((name, True), (earlier, True)) for earlier in names[:i]}
        if existing:
            edges.add(((name, False), (name, True)))
            edges |= {((earlier, False), (name, False))
                      for earlier in names[:i]}
    return edges


def reduced_graph(names):
    """The transitive reduction of :func:`heat_graph` for an update.

    The update nodes make a chain; the cleanups a chain the other way,
    hanging off the last update: the cleanup of r<i> needs the update of
    r<i> only through the cleanup of r<i+1>, except for the last one.
    """
    edges = {((names[-1], False), (names[-1], True))}
    for before, after in zip(names, names[1:]):
        edges.add(((after, True), (before, True)))
        edges.add(((before, False), (after, False)))
    return edges


def updated_or_replaced(replaced):
    """The actions of each resource in an update replacing ``replaced``.

    As in stock Heat, a TestResource replaced because of a changed value
    first goes UPDATE IN_PROGRESS, then UPDATE COMPLETE when the property
    diff asks for the replacement; its replacement is created, and the old
    one deleted by the cleanup.
    """
    return lambda name: (('UPDATE', 'CREATE', 'DELETE') if name in replaced
                         else ('UPDATE',))


def chain_names(chains, length):
    return ['root', 'top'] + ['c%d_%02d' % (c, i) for c in range(chains)
                              for i in range(length)]


def chains_template(value, chains, length, wait=0, replaced_chain=None):
    """A root, ``chains`` chains of ``length`` off it, a fan-in at the end.

    Each resource's create takes ``wait`` seconds. The first resource of
    each chain joins ``value`` and the root's output; the others pass their
    predecessor's on. The resources of chain ``replaced_chain`` are
    replaced by an update changing the value, the others updated in place.
    """
    resources = {'root': cloud.test_resource(value)}
    for c in range(chains):
        previous = 'root'
        for i in range(length):
            name = 'c%d_%02d' % (c, i)
            upstream = {'get_attr': [previous, 'output']}
            if i == 0:
                upstream = {'list_join': ['-', [value, upstream]]}
            res = cloud.test_resource(upstream, replace=(c == replaced_chain))
            res['properties']['action_wait_secs'] = {'create': wait}
            resources[name] = res
            previous = name
    resources['top'] = cloud.test_resource({'list_join': [',', [
        {'get_attr': ['c%d_%02d' % (c, length - 1), 'output']}
        for c in range(chains)]]})
    return {'heat_template_version': '2018-08-31',
            'resources': resources,
            'outputs': {'top': {'value': {'get_attr': ['top', 'output']}}}}


class GoingBackMixin(object):

    def deploy(self, action, tmpl):
        path = self.cloud.write_template('%s.yaml' % self.stack_name, tmpl)
        self.cloud.openstack('stack', action, '-t', path, self.stack_name)

    def resource_names(self):
        """{resource id: name} of the stack's resource rows now."""
        return {rid: name for rid, name in self.cloud.query(
            'SELECT resource.id, resource.name FROM resource JOIN stack ON '
            'stack.id = resource.stack_id WHERE stack.name = :name',
            name=self.stack_name)}

    def stored_graph(self, names):
        """The stack's ``current_deps`` with resource ids turned to names.

        ``names``: {resource id: name}, read before the traversal started
        (the cleanup nodes name rows the traversal removed since).
        """
        deps = json.loads(self.cloud.query(
            'SELECT current_deps FROM stack WHERE name = :name AND '
            'deleted_at IS NULL', name=self.stack_name)[0][0])

        def node(value):
            return None if value is None else (names[value[0]],
                                               bool(value[1]))
        edges = [(node(rqr), node(rqd)) for rqr, rqd in deps['edges']]
        self.assertEqual(len(edges), len(set(edges)), 'duplicate edges')
        return set(edges)

    def wait_deleted(self, timeout=180):
        cloud.wait_for(lambda: not self.cloud.query(
            'SELECT id FROM stack WHERE name = :name AND deleted_at IS NULL',
            name=self.stack_name), timeout, what='stack deletion')

    def assert_no_sync_points(self):
        for table in ('sync_point', 'heat_convergence_traversal',
                      'heat_convergence_sync_point',
                      'heat_convergence_arrival'):
            self.assertEqual(0, self.cloud.query(
                'SELECT count(*) FROM %s' % table)[0][0], table)

    def log(self, index):
        with open('%s/engine-%d.log' % (self.cloud.log_dir, index)) as f:
            return f.read()


class TestStockPluginStock(GoingBackMixin, cloud.LiveTestCase):
    """Stock Heat, then heat-convergence, then stock Heat again.

    One engine at a time (the point is who stores what, not how engines
    share a traversal, which test_mixed_fleet covers): the dense stack is
    created by a stock heat-engine, updated by a heat-convergence-engine
    (reduced driver), updated and deleted by a stock heat-engine again.
    """

    cloud_kwargs = {'engines': 1, 'engine_binary': cloud.STOCK_ENGINE,
                    'driver': 'reduced', 'database': 'mysql',
                    'conf': FAST_PLUGIN}
    stack_name = 'back'

    def test_stock_plugin_stock(self):
        names = dense_names()
        self.cloud.manage('heat-convergence-manage', 'db_sync')

        # Created by stock Heat: Heat's dense graph.
        self.deploy('create', dense_template('one'))
        self.cloud.wait_stack('back', 'CREATE_COMPLETE', timeout=120)
        self.assertEqual(dense_outputs('one'), self.outputs('back'))
        self.assertEqual(heat_graph(names, existing=False),
                         self.stored_graph(self.resource_names()))
        self.assert_once_each('back', {}, names, lambda name: ('CREATE',),
                              exact=True)
        self.assert_no_sync_points()

        # The stock engine replaced by a heat-convergence-engine, which
        # updates the stack with the reduced driver: the reduction of the
        # graph Heat would store is stored instead (2n - 1 edges for
        # Heat's n(n - 1) + n).
        self.cloud.stop_engine(0)
        self.cloud.start_engine(1, cloud.PLUGIN_ENGINE)
        self.cloud.wait_for_engines(1, binary=cloud.PLUGIN_ENGINE)
        replaced = {'r03', 'r08'}
        before, ids = self.events('back'), self.resource_names()
        self.deploy('update', dense_template('two', replaced=replaced))
        self.cloud.wait_stack('back', 'UPDATE_COMPLETE', timeout=120)
        self.assertEqual(dense_outputs('two'), self.outputs('back'))
        stored = self.stored_graph(ids)
        self.assertEqual(reduced_graph(names), stored)
        self.assertEqual(2 * DENSE - 1, len(stored))
        self.assert_once_each('back', before, names,
                              updated_or_replaced(replaced), exact=True)
        self.assertEqual(sorted(names),
                         sorted(self.resource_names().values()))
        self.assert_no_sync_points()

        # Back to stock Heat: it updates the stack the reduced driver left,
        # with its own graph again, then deletes it.
        self.cloud.stop_engine(1)
        self.cloud.start_engine(2, cloud.STOCK_ENGINE)
        self.cloud.wait_for_engines(1, binary=cloud.STOCK_ENGINE)
        replaced = {'r03', 'r05', 'r10'}
        before, ids = self.events('back'), self.resource_names()
        self.deploy('update', dense_template('three', replaced=replaced))
        self.cloud.wait_stack('back', 'UPDATE_COMPLETE', timeout=120)
        self.assertEqual(dense_outputs('three'), self.outputs('back'))
        self.assertEqual(heat_graph(names, existing=True),
                         self.stored_graph(ids))
        self.assert_once_each('back', before, names,
                              updated_or_replaced(replaced), exact=True)
        self.assertEqual(sorted(names),
                         sorted(self.resource_names().values()))

        before = self.events('back')
        self.cloud.openstack('stack', 'delete', '--yes', 'back')
        self.wait_deleted()
        self.assert_once_each('back', before, names,
                              lambda name: ('DELETE',), exact=True)
        self.assertEqual([], self.cloud.query('SELECT id FROM resource'))
        self.assert_no_sync_points()
