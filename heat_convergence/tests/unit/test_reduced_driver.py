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

"""The ``reduced`` driver on Heat's convergence scenarios and ours."""

import collections
import copy
import datetime
import os
from unittest import mock

import fixtures
from heat.db import api as heat_db_api
from heat.engine import check_resource
from heat.engine import stack as parser
from heat.engine import sync_point as heat_sync_point
from oslo_config import cfg
from oslo_db import exception as db_exception
import sqlalchemy as sa
import testscenarios

from heat_convergence.db import api as db_api
from heat_convergence.db import models
from heat_convergence.drivers.reduced import claim
from heat_convergence.drivers.reduced import cleanup_shortcut
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.drivers.reduced import handover
from heat_convergence.drivers.reduced import messages
from heat_convergence.drivers.reduced import node_loop
from heat_convergence.drivers.reduced import running_nodes
from heat_convergence.drivers.reduced import sync_points
from heat_convergence.tests import base
from heat_convergence.tests import scenario_harness
from heat_convergence.tests.unit import test_db_api


class ReducedDriverScenarios(scenario_harness.DriverScenarioTest):

    driver_class = reduced.ReducedDriver
    scenarios = testscenarios.multiply_scenarios(
        scenario_harness.all_scenarios(), scenario_harness.SUCCESSORS)

    def setUp(self):
        super().setUp()
        # Heat's own SyncPoints must never be written.
        self.patchobject(heat_sync_point, 'create',
                         side_effect=AssertionError('Heat sync point'))
        self.traversals = []
        create = sync_points.fill_traversal

        def record(cnxt, stack, deps, plans, *args, **kwargs):
            self.traversals.append((stack.action, deps.edge_count()))
            return create(cnxt, stack, deps, plans, *args, **kwargs)

        self.patchobject(sync_points, 'fill_traversal', side_effect=record)
        # The template rows the nodes share through the engine's cache
        # (templates.py), each with a copy of what the database returned.
        self.template_rows = []
        read = heat_db_api.raw_template_get

        def keep(cnxt, template_id):
            row = read(cnxt, template_id)
            self.template_rows.append((row, copy.deepcopy(row.template)))
            return row

        self.patchobject(heat_db_api, 'raw_template_get',
                         side_effect=keep)

    def test_scenario(self):
        super().test_scenario()
        self.assertIn('CREATE', [action for action, _ in self.traversals])
        if self.name == 'dense_graph':
            # R(i) depends on every R(j < i): only the chain is stored.
            self.assertEqual(('CREATE', 7), self.traversals[0])
        # The nodes read their templates from the cache, and nothing
        # changed a shared template.
        self.assertNotEqual([], self.template_rows)
        for row, as_read in self.template_rows:
            self.assertEqual(as_read, row.template)
        # Every traversal was finished or superseded: no rows are left.
        engine = heat_db_api.get_engine()
        with engine.connect() as conn:
            for table in (db_api.TRAVERSAL, db_api.SYNC_POINT,
                          db_api.ARRIVAL):
                self.assertEqual(0, conn.execute(sa.select(
                    sa.func.count()).select_from(table)).scalar(),
                    table.name)


class RunSuccessorLocally(scenario_harness.DriverFrameworkTest):
    """A node runs the successor it made ready in its own thread.

    The dense_graph scenario reduces to a chain of 8: with the option, its
    create takes one message (the leaf's) instead of one per node, each
    node after the leaf, and the stack's completion point, is claimed in
    the transaction that made it ready,
    and the scenario's checks of every resource's values still pass.
    """

    driver_class = reduced.ReducedDriver

    def create_casts(self, local, limit=0):
        """Run dense_graph; return its create's messages and claims.

        The claims counted are those made in a transaction of their own
        (``db_api.claim``), not in the delivery that made a node ready.
        """
        cfg.CONF.set_override('run_successor_locally', local,
                              group='heat_convergence')
        cfg.CONF.set_override('max_concurrent_resources_per_stack', limit,
                              group='heat_convergence')
        self.framework.casts.reset_mock()
        claims = []
        claim = db_api.claim

        def record(cnxt, traversal_id, *args, **kwargs):
            claims.append(traversal_id)
            return claim(cnxt, traversal_id, *args, **kwargs)

        self.patchobject(db_api, 'claim', side_effect=record)
        self.framework.run_scenario(self, 'dense_graph', os.path.join(
            scenario_harness.SCENARIO_DIR, 'dense_graph.py'))
        traversals = [call.args[2]
                      for call in self.framework.casts.call_args_list]
        return (traversals.count(traversals[0]),
                claims.count(traversals[0]))

    def test_chain_in_one_message(self):
        # One claim for the leaf: every other node, and the stack's
        # completion point, was claimed by the delivery that made it ready.
        self.assertEqual((1, 1), self.create_casts(local=True))

    def test_claims_of_their_own_under_a_limit(self):
        self.assertEqual((1, 9), self.create_casts(local=True, limit=4))

    def test_one_message_per_node_without(self):
        self.assertEqual((8, 9), self.create_casts(local=False))

    def test_one_message_per_node_once_draining(self):
        # A stopping engine sends its successors to the other engines.
        self.driver.drain()
        self.assertEqual((8, 9), self.create_casts(local=True))


class ReplacementKept(scenario_harness.DriverFrameworkTest):
    """A replacement runs next in the thread of the node that made it.

    Heat's ``update_replace`` scenario replaces C in its first update. With
    ``run_successor_locally``, C's replacement runs on the claim of C's
    node: no cast re-sends it and nothing releases or claims the node
    again. Without, Heat's re-cast is sent, naming the node it runs, and
    claimed where it lands. The scenario's checks of every resource's
    values pass both ways.
    """

    driver_class = reduced.ReducedDriver

    def run_update_replace(self, local):
        """Run update_replace; return its replacement casts and releases."""
        cfg.CONF.set_override('run_successor_locally', local,
                              group='heat_convergence')
        self.framework.casts.reset_mock()
        release = self.patchobject(sync_points, 'release',
                                   wraps=sync_points.release)
        path = dict(scenario_harness.all_scenarios())['update_replace']
        self.framework.run_scenario(self, 'update_replace', path['path'])
        replacements = [call.args[1] for call in
                        self.framework.casts.call_args_list
                        if messages.is_redispatch(call.args[3])]
        return replacements, release.call_count

    def test_kept_for_the_thread(self):
        self.assertEqual(([], 0), self.run_update_replace(local=True))

    def test_cast_without(self):
        replacements, releases = self.run_update_replace(local=False)
        self.assertEqual(1, len(replacements))
        self.assertEqual(1, releases)


class KeepReplacementRules(base.HeatTestCase):
    """Which of Heat's re-casts a node keeps for its thread."""

    def check(self, run_locally=True, limit=0, held=True):
        driver = mock.Mock(run_locally=run_locally, limit=limit)
        check = handover.ForwardingCheckResource(
            driver, 'engine', mock.Mock(), None, 'trvsl',
            parser.ConvergenceNode(5, True),
            mock.Mock(data={}), resource_id=5, claimed_at=12.5)
        check.held = held
        return check

    def test_replacement_kept_on_the_claim(self):
        check = self.check()
        self.assertTrue(check.keep_replacement(9, None, converge=True))
        self.assertFalse(check.held)
        self.assertEqual(
            handover.FollowOn(check.node, None, True, False,
                              inputs=check.inputs, claimed_at=12.5,
                              resource_id=9), check.follow_on)
        check.driver.rpc_client.check_resource.assert_not_called()

    def test_recast_of_its_own_resource_sent(self):
        # Heat's retry of a resource locked by a dead engine, whichever
        # type its id came in.
        self.assertFalse(self.check().keep_replacement(5, None))
        self.assertFalse(self.check().keep_replacement('5', None))

    def test_sent_when_successors_are_sent(self):
        self.assertFalse(self.check(run_locally=False).keep_replacement(
            9, None))
        self.assertFalse(self.check(limit=4).keep_replacement(9, None))
        self.assertFalse(self.check(held=False).keep_replacement(9, None))


class SendKept(base.HeatTestCase):
    """A node that fails sends on what it kept for its thread."""

    NODE = parser.ConvergenceNode(5, True)

    def send(self, **kept):
        driver = mock.Mock()
        check = mock.Mock(engine_id='engine', follow_on=handover.FollowOn(
            self.NODE, None, False, False, inputs=mock.sentinel.inputs,
            claimed_at=1.0, **kept))
        release = self.patchobject(sync_points, 'release')
        node_loop._send_kept(driver, 'ctx', 'trvsl', check)
        self.assertIsNone(check.follow_on)
        release.assert_called_once_with('ctx', 'trvsl', self.NODE, 'engine')
        return driver

    def test_successor_released_and_dispatched(self):
        driver = self.send()
        driver.dispatch.assert_called_once_with('ctx', 'trvsl', self.NODE,
                                                None, False, False)

    def test_replacement_cast_naming_its_node(self):
        driver = self.send(resource_id=9)
        driver.dispatch.assert_not_called()
        (_ctx, resource_id, traversal, data, is_update, _adopt), _kw = (
            driver.rpc_client.check_resource.call_args)
        self.assertEqual((9, 'trvsl', True, [5, True]), (
            resource_id, traversal, is_update, data[messages.ENVELOPE]))


class NodeLoad(scenario_harness.DriverFrameworkTest):
    """A node reads its resource's row and its stack's in one transaction.

    Heat's ``Resource.load`` reads them in a transaction each; every
    transaction costs a pooled connection's checkout and a ROLLBACK, on
    every node. A node that claims itself reads them in the claim's
    transaction, unless the claim locked its traversal's row.
    """

    driver_class = reduced.ReducedDriver

    CLAIM = 'UPDATE HEAT_CONVERGENCE_SYNC_POINT SET STATE=?, ENGINE_ID=?'
    INPUTS = 'SELECT HEAT_CONVERGENCE_SYNC_POINT."PLAN"'
    LOAD = 'SELECT ANON_1.RESOURCE_ID'
    TRAVERSAL_LOCK = 'UPDATE HEAT_CONVERGENCE_TRAVERSAL SET NODE_COUNT='

    def transactions_of_loads(self, limit=0):
        """Run dense_graph, each node claiming itself; see transactions().

        Returns the transactions that load a resource, as their SQL.
        """
        cfg.CONF.set_override('run_successor_locally', False,
                              group='heat_convergence')
        cfg.CONF.set_override('max_concurrent_resources_per_stack', limit,
                              group='heat_convergence')
        return [[sql for sql, _ in statements]
                for statements in self.transactions()
                if any(sql.startswith(self.LOAD) for sql, _ in statements)]

    def test_claim_and_load_in_one_transaction(self):
        loads = self.transactions_of_loads()
        # 8 resources created, then deleted.
        self.assertGreaterEqual(len(loads), 16)
        for statements in loads:
            self.assertEqual(1, sum(sql.startswith(self.LOAD)
                                    for sql in statements))
            self.assertTrue(statements[0].startswith(self.CLAIM) or
                            statements[1].startswith(self.CLAIM),
                            statements[:2])

    def test_leaves_claimed_with_the_plan_they_were_sent(self):
        loads = self.transactions_of_loads()
        leaves = [call for call in self.framework.casts.call_args_list
                  if messages.LEAF_PLAN in call.args[3]]
        # The create's leaf and the delete's, at least.
        self.assertGreaterEqual(len(leaves), 2)
        self.assertEqual(len(leaves), sum(
            not any(sql.startswith(self.INPUTS) for sql in statements)
            for statements in loads))

    def test_load_after_a_claim_under_a_limit(self):
        loads = self.transactions_of_loads(limit=4)
        self.assertGreaterEqual(len(loads), 16)
        for statements in loads:
            self.assertFalse([sql for sql in statements
                              if sql.startswith((self.CLAIM,
                                                 self.TRAVERSAL_LOCK))])


class NothingToCleanUp(scenario_harness.DriverFrameworkTest):
    """A cleanup node whose resource is current loads nothing.

    Heat's ``update_replace`` scenario updates A, D and E in place, leaves B
    unchanged and replaces C (which requires A and B; D and E require C),
    then updates again adding F (requiring D and E), and deletes the
    stack; its checks of every resource's values run as in the other
    tests. A cleanup node hears from its own update node only if nothing
    else leads from one to the other: the reduction removes the edge of A,
    B and C, whose cleanups wait for their dependents' cleanups, which wait
    for those dependents' updates, which wait for theirs.
    """

    driver_class = reduced.ReducedDriver

    def test_update_replace(self):
        traversals = {}
        fill = sync_points.fill_traversal

        def record_traversal(cnxt, stack, *args, **kwargs):
            traversals[stack.current_traversal] = (
                stack.action, collections.Counter(), [])
            return fill(cnxt, stack, *args, **kwargs)

        load = check_resource.load_resource

        def record_load(cnxt, resource_id, data, traversal_id, is_update):
            if not is_update:
                traversals[traversal_id][1]['loaded'] += 1
            return load(cnxt, resource_id, data, traversal_id, is_update)

        hand_over = node_loop._hand_over_only

        def record_hand_over(driver, worker_, cnxt, traversal_id, node,
                             *args):
            traversals[traversal_id][2].append(
                heat_db_api.resource_get(cnxt, node.rsrc_id).name)
            return hand_over(driver, worker_, cnxt, traversal_id, node,
                             *args)

        self.patchobject(sync_points, 'fill_traversal',
                         side_effect=record_traversal)
        self.patchobject(check_resource, 'load_resource',
                         side_effect=record_load)
        self.patchobject(node_loop, '_hand_over_only',
                         side_effect=record_hand_over)
        path = dict(scenario_harness.all_scenarios())['update_replace']
        self.framework.run_scenario(self, 'update_replace', path['path'])
        self.assertEqual([
            # A, B and C's replaced row loaded; C's deleted.
            ('UPDATE', 3, ['D', 'E']),
            # A, B and C's replacement loaded.
            ('UPDATE', 3, ['D', 'E']),
            # No update nodes to tell the cleanup nodes anything.
            ('DELETE', 6, []),
        ], [(action, counts['loaded'], sorted(names))
            for action, counts, names in traversals.values()
            if action != 'CREATE'])


class NothingToCleanUpRules(base.HeatTestCase):
    """When an update node tells its cleanup node to hand over only."""

    def told(self, **changes):
        stack = mock.Mock(id='s1', action='UPDATE', SUSPEND='SUSPEND',
                          t=mock.Mock(id=7), updated_time=None,
                          created_time=datetime.datetime(2026, 12, 3),
                          timeout_secs=mock.Mock(return_value=3600))
        rsrc = mock.Mock(id=5, current_template_id=7, replaced_by=None)
        for name, value in changes.items():
            owner, attr = name.split('_', 1)
            setattr(stack if owner == 'stack' else rsrc, attr, value)
        return cleanup_shortcut.nothing_to_clean_up(
            parser.ConvergenceNode(5, True), rsrc, stack)

    def test_current_row(self):
        self.assertEqual({'stack_id': 's1',
                          'deadline': '2026-12-03T01:00:00'}, self.told())

    def test_not_when_the_cleanup_does_something(self):
        for changes in ({'rsrc_current_template_id': 6},
                        {'rsrc_replaced_by': 9},
                        {'rsrc_id': 9},
                        {'stack_action': 'SUSPEND'}):
            self.assertIsNone(self.told(**changes), changes)

    def shortcut(self, told):
        inputs = mock.Mock(data={parser.ConvergenceNode(5, True): told})
        return cleanup_shortcut.stack_to_hand_over(
            parser.ConvergenceNode(5, False), inputs)

    def test_cleanup_node_hands_over_before_the_deadline(self):
        self.assertEqual('s1', self.shortcut(
            {'stack_id': 's1', 'deadline': '2999-01-01T00:00:00'}))
        self.assertEqual('s1', self.shortcut(
            {'stack_id': 's1', 'deadline': None}))

    def test_cleanup_node_runs_heat_code_otherwise(self):
        # Past the deadline (Heat fails the stack), or told nothing (an
        # older engine, a replacement, another cleanup node's needed-by id).
        for told in ({'stack_id': 's1', 'deadline': '2020-01-01T00:00:00'},
                     None, 12):
            self.assertIsNone(self.shortcut(told), told)


class ClaimAndLoad(test_db_api.DBAPITestCase):
    """A load that fails gives the node back, as if it were never claimed."""

    def claim_and_load(self):
        return claim.claim_and_load(
            mock.Mock(limit=0), 'e1', self.ctx, 't1',
            parser.ConvergenceNode(1, True), 1, True)

    def test_failed_load_leaves_the_node_ready(self):
        self.create('t1', [test_db_api.node(1, 0)])
        load = self.useFixture(fixtures.MockPatchObject(
            check_resource, 'load_resource',
            side_effect=[RuntimeError('database gone'), ('r', 'd', 's')]))
        self.assertRaises(RuntimeError, self.claim_and_load)
        row = self.node_row('t1', db_api.Node('1', True))
        self.assertEqual((models.READY, None), (row.state, row.engine_id))
        inputs, resource_data, loaded = self.claim_and_load()
        self.assertEqual(({}, ('r', 'd', 's')), (resource_data, loaded))
        self.assertEqual(2, load.mock.call_count)
        row = self.node_row('t1', db_api.Node('1', True))
        self.assertEqual((models.RUNNING, 'e1'), (row.state, row.engine_id))
        # Claimed once only.
        self.assertEqual((None, None, None), self.claim_and_load())

    def test_conflict_claims_and_loads_again(self):
        # The conflict (a Galera write set aborting the transaction) rolled
        # the claim back: claimed and loaded again at once.
        self.useFixture(fixtures.MockPatch('oslo_db.api.time.sleep'))
        self.create('t1', [test_db_api.node(1, 0)])
        load = self.useFixture(fixtures.MockPatchObject(
            check_resource, 'load_resource',
            side_effect=[db_exception.DBDeadlock(), ('r', 'd', 's')]))
        inputs, resource_data, loaded = self.claim_and_load()
        self.assertEqual(({}, ('r', 'd', 's')), (resource_data, loaded))
        self.assertEqual(2, load.mock.call_count)
        row = self.node_row('t1', db_api.Node('1', True))
        self.assertEqual((models.RUNNING, 'e1'), (row.state, row.engine_id))

    def lose_connection_once(self, error):
        self.useFixture(fixtures.MockPatch('oslo_db.api.time.sleep'))
        self.create('t1', [test_db_api.node(1, 0)])
        load = self.useFixture(fixtures.MockPatchObject(
            check_resource, 'load_resource',
            side_effect=[error, ('r', 'd', 's')]))
        inputs, resource_data, loaded = self.claim_and_load()
        self.assertEqual(({}, ('r', 'd', 's')), (resource_data, loaded))
        self.assertEqual(2, load.mock.call_count)
        row = self.node_row('t1', db_api.Node('1', True))
        self.assertEqual((models.RUNNING, 'e1'), (row.state, row.engine_id))

    def test_lost_connection_claims_and_loads_again(self):
        # A database node gone mid-transaction: nothing committed.
        self.lose_connection_once(db_exception.DBConnectionError())

    def test_statement_retried_in_the_lost_transaction(self):
        # A statement's own retry ran it again in the transaction the lost
        # connection invalidated.
        self.lose_connection_once(
            sa.exc.PendingRollbackError('lost', None, None))


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)


class LockLeftBehind(scenario_harness.DriverFrameworkTest):
    """A resource locked by this engine, with no thread here acting on it.

    A thread that dies mid-action in a database outage cannot release the
    resource's lock either: the row stays CREATE IN_PROGRESS, locked by an
    engine that is alive. When the recovery dispatches the node again,
    Heat's code would leave it waiting for a release that never comes; the
    reduced driver steals the lock as Heat steals a dead engine's, and the
    resource is replaced. dense_graph's checks of every resource's values
    then pass, as without the outage.
    """

    driver_class = reduced.ReducedDriver
    VICTIM = 'R5'

    def test_lock_stolen_and_resource_replaced(self):
        run_node = node_loop._run_node
        seen = []

        def leave_lock(driver, worker_, cnxt, resource_id, traversal_id,
                       redispatch, node, is_update, *args, **kwargs):
            row = heat_db_api.resource_get(cnxt, resource_id, refresh=True)
            if row.name == self.VICTIM and is_update:
                seen.append((row.id, row.action, row.status,
                             row.status_reason, row.engine_id))
                if len(seen) == 1:
                    heat_db_api.resource_update_and_save(cnxt, row.id, {
                        'engine_id': worker_.engine_id, 'action': 'CREATE',
                        'status': 'IN_PROGRESS'})
            return run_node(driver, worker_, cnxt, resource_id,
                            traversal_id, redispatch, node, is_update,
                            *args, **kwargs)

        self.patchobject(node_loop, '_run_node', side_effect=leave_lock)
        self.framework.run_scenario(self, 'dense_graph', os.path.join(
            scenario_harness.SCENARIO_DIR, 'dense_graph.py'))
        victim = seen[0][0]
        # Dispatched again with the lock stolen; then its replacement runs.
        self.assertEqual(
            (victim, 'CREATE', 'FAILED',
             'Worker went down during resource CREATE', None), seen[1])
        self.assertNotEqual(victim, seen[2][0])


class ActingOn(base.HeatTestCase):
    """Which resources the nodes running in this process act on."""

    def test_counts_each_node_once_for_each_resource(self):
        running = running_nodes.RunningNodes()
        node = parser.ConvergenceNode(5, True)
        with running.tracking('t1', node):
            self.assertEqual(1, running.acting_on(5))
            # A replacement (id 9) runs the node of the resource it
            # replaces: both are acted on.
            with running.tracking('t2', node, resource_id=9):
                self.assertEqual((2, 1), (running.acting_on('5'),
                                          running.acting_on(9)))
            self.assertEqual((1, 0), (running.acting_on(5),
                                      running.acting_on(9)))
        self.assertEqual(0, running.acting_on(5))
        # Nothing kept of resources no longer acted on.
        self.assertEqual({}, dict(running._resources))
