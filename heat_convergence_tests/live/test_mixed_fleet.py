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

"""Adopting a running deployment: stock engines replaced one at a time.

Two stock heat-engines start creating a stack of 98 resources (a root, four
chains of 24 whose resources each take two seconds, a fan-in reading every
chain's end; three engines and 298 resources with HC_TEST_MIXED_FLEET=full).
During the create each stock engine is stopped, as an operator upgrading one
host at a time would, and a heat-convergence-engine (reduced driver) started in
its place: the stock traversal, in Heat's ``sync_point`` table and on the
``engine_worker`` topic, is finished by the plugin engines on Heat's path,
their recovery sending again the nodes whose casts the stopping engines
dropped. The stack is then updated (in place and with replacements), an update
is cancelled (rolled back), and the stack is deleted under the plugin alone.
Every resource is acted on exactly once per traversal, asserted on Heat's
events.
"""

import collections
import os

from heat_convergence_tests.live import cloud

# HC_TEST_MIXED_FLEET=full: three stock engines and 298 resources (chains
# of 74), the size an operator's adoption is rehearsed at; by default the
# suite's size.
FULL = os.environ.get('HC_TEST_MIXED_FLEET') == 'full'
ENGINES = 3 if FULL else 2
CHAINS = 4
LENGTH = 74 if FULL else 24
# Seconds to wait for a traversal of the whole stack.
TIMEOUT = 120 + 5 * LENGTH


def template(value, replaced_chain=None, wait=0, update_wait=0):
    """The root, the chains and the fan-in, with ``value`` everywhere.

    The resources of chain ``replaced_chain`` are replaced by an update
    that changes their value; the others are updated in place. Each chain
    resource's create takes ``wait`` seconds, its update ``update_wait``.
    """
    resources = {'root': cloud.test_resource(value)}
    for c in range(CHAINS):
        previous = 'root'
        for i in range(LENGTH):
            name = 'c%d_%02d' % (c, i)
            upstream = {'get_attr': [previous, 'output']}
            if i == 0:
                upstream = {'list_join': ['-', [value, upstream]]}
            res = cloud.test_resource(upstream,
                                      replace=(c == replaced_chain))
            res['properties']['action_wait_secs'] = {
                'create': wait, 'update': update_wait}
            resources[name] = res
            previous = name
    resources['top'] = cloud.test_resource({'list_join': [',', [
        {'get_attr': ['c%d_%02d' % (c, LENGTH - 1), 'output']}
        for c in range(CHAINS)]]})
    return {'heat_template_version': '2018-08-31',
            'resources': resources,
            'outputs': {'top': {'value': {'get_attr': ['top', 'output']}}}}


class TestAdoptRunningDeployment(cloud.LiveTestCase):

    # A stock engine stopping drops the casts the broker hands it
    # meanwhile; the plugin engines' recovery sends them again once the
    # traversal has been idle ready_timeout seconds.
    cloud_kwargs = {'engines': ENGINES, 'engine_binary': cloud.STOCK_ENGINE,
                    'driver': 'reduced', 'database': 'mysql',
                    'conf': {'heat_convergence': {'periodic_interval': '2',
                                                  'ready_timeout': '15'},
                             # Every event kept: the assertions count them
                             # all (Heat purges beyond 1,000 per stack).
                             'DEFAULT': {'max_events_per_stack': '0'}}}

    def deploy(self, action, tmpl):
        path = self.cloud.write_template('t.yaml', tmpl)
        self.cloud.openstack('stack', action, '-t', path, 'mixed')

    def output(self):
        return self.cloud.openstack_json('stack', 'output', 'show', 'mixed',
                                         'top')['output_value']

    def test_adopt_during_create(self):
        names = ['root', 'top'] + ['c%d_%02d' % (c, i) for c in range(CHAINS)
                                   for i in range(LENGTH)]
        self.cloud.manage('heat-convergence-manage', 'db_sync')

        # The create starts on the stock engines: Heat's SyncPoints.
        self.deploy('create', template('one', wait=2))
        stock_traversal = self.current_traversal('mixed')
        cloud.wait_for(lambda: self.cloud.query(
            "SELECT count(*) FROM resource WHERE action = 'CREATE' AND "
            "status = 'COMPLETE'"
        )[0][0] >= 8, 120, what='the stock engines to make progress')
        self.assertGreater(self.cloud.query(
            'SELECT count(*) FROM sync_point WHERE traversal_id = :t',
            t=stock_traversal)[0][0], 0)

        # One host at a time: stop its stock engine, start a plugin one.
        for stock in range(ENGINES):
            plugin = ENGINES + stock
            self.cloud.stop_engine(stock)
            self.cloud.start_engine(plugin, cloud.PLUGIN_ENGINE)
            self.cloud.wait_for_engines(stock + 1,
                                        binary=cloud.PLUGIN_ENGINE)
        self.assertEqual('CREATE_IN_PROGRESS',
                         self.cloud.api_stack('mixed')['stack_status'],
                         'the create ended before the last stock engine '
                         'left: it proves nothing')
        with open('%s/engine-%d.log' % (self.cloud.log_dir, ENGINES)) as f:
            self.assertIn('Mixed fleet: stock heat-engine processes are up',
                          f.read())

        # The plugin engines finish the stock traversal, on Heat's path.
        self.cloud.wait_stack('mixed', 'CREATE_COMPLETE', timeout=TIMEOUT)
        self.assertEqual(stock_traversal, self.current_traversal('mixed'))
        self.assertEqual(0, self.cloud.query(
            'SELECT count(*) FROM heat_convergence_traversal')[0][0])
        created = self.assert_once_each('mixed', collections.Counter(), names,
                                        lambda name: ('CREATE',))
        self.assertEqual(','.join(['one-one'] * CHAINS), self.output())

        # Update under the plugin alone: chain 1 replaced, the rest in
        # place; a reduced traversal takes over from Heat's.
        before = self.events('mixed')
        self.deploy('update', template('two', replaced_chain=1))
        self.cloud.wait_stack('mixed', 'UPDATE_COMPLETE', timeout=TIMEOUT)
        chain1 = {'c1_%02d' % i for i in range(LENGTH)}
        self.assert_once_each('mixed', before, names, lambda name: (
            ('CREATE', 'DELETE') if name in chain1 else ('UPDATE',)))
        self.assertEqual(','.join(['two-two'] * CHAINS), self.output())
        self.assertEqual(0, self.cloud.query(
            'SELECT count(*) FROM sync_point')[0][0])
        live = self.cloud.query('SELECT name, action, status FROM resource')
        self.assertEqual(len(names), len(live))
        self.assertEqual(set(names), {name for name, _, _ in live})

        # Cancel an update under the plugin alone: it rolls back.
        before = self.events('mixed')
        self.deploy('update', template('three', update_wait=2))
        cloud.wait_for(lambda: (self.events('mixed') - before)[
            ('c0_00', 'UPDATE', 'COMPLETE')], 120,
            what='the update to make progress')
        self.cloud.openstack('stack', 'cancel', 'mixed')
        self.cloud.wait_stack('mixed', 'ROLLBACK_COMPLETE', timeout=TIMEOUT)
        self.assertEqual(','.join(['two-two'] * CHAINS), self.output())
        # Two traversals: the update and its rollback. A resource whose
        # update the cancel interrupted is FAILED, and the rollback replaces
        # it (Heat's rule for a failed resource): CREATE and DELETE events.
        rolled = self.events('mixed') - before
        self.assertEqual({}, {k: n for k, n in rolled.items() if n > 2},
                         'a resource acted more than once per traversal')
        self.assertEqual({('COMPLETE',)}, set(self.cloud.query(
            "SELECT DISTINCT status FROM resource WHERE action != 'INIT'")))

        # Delete under the plugin alone.
        before = self.events('mixed')
        self.cloud.openstack('stack', 'delete', '--yes', 'mixed')
        cloud.wait_for(lambda: not self.cloud.query(
            "SELECT id FROM stack WHERE name = 'mixed' AND "
            "deleted_at IS NULL"), TIMEOUT, what='stack deletion')
        self.assert_once_each('mixed', before, names, lambda name: ('DELETE',))
        self.assertEqual([], self.cloud.query('SELECT id FROM resource'))
        for table in ('heat_convergence_traversal', 'sync_point'):
            self.assertEqual(0, self.cloud.query(
                'SELECT count(*) FROM %s' % table)[0][0], table)
        self.assertEqual(len(names), len(created) // 2)
