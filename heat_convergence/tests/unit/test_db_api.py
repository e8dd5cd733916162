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

"""SyncPoint store semantics, asserted on the database rows.

These run on sqlite; the functional tests run the same module on MariaDB and
PostgreSQL (see heat_convergence.tests.functional.test_db_api).
"""

import datetime

import fixtures
from heat.common import context
from oslo_utils import timeutils
import sqlalchemy as sa
import testtools

from heat_convergence.db import api
from heat_convergence.db import models
from heat_convergence.db import recovery as db_recovery
from heat_convergence.tests import db_fixture
from heat_convergence.tests import stack_rows

N = api.Node
D = api.Delivery


class DBAPITestCase(testtools.TestCase):

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(db_fixture.Database(self.backend))
        self.ctx = context.get_admin_context()
        self.stack = stack_rows.create_stack(self.ctx)
        self.count_statements()

    def count_statements(self):
        self.statements = []
        sa.event.listen(self.db.engine, 'before_cursor_execute',
                        self._statement)
        self.addCleanup(sa.event.remove, self.db.engine,
                        'before_cursor_execute', self._statement)

    def _statement(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def create(self, traversal_id, nodes):
        stack_rows.create_traversal(
            self.ctx, {'id': traversal_id, 'stack_id': self.stack.id,
                       'action': 'UPDATE'}, nodes)

    def node_row(self, traversal_id, node):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(api.SYNC_POINT).where(
                api.node_clause(traversal_id, node))).first()

    def count(self, table, traversal_id):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(
                table).where(table.c.traversal_id == traversal_id)).scalar()


def node(entity_id, predecessors, is_update=True, plan=None):
    return {'entity_id': entity_id, 'is_update': is_update,
            'node_type': 'resource',
            'predecessors': predecessors, 'plan': plan}


class TestTraversalCreate(DBAPITestCase):

    def test_bulk_insert(self):
        nodes = [node(i, i % 3) for i in range(500)]
        del self.statements[:]
        self.create('t1', nodes)
        inserts = [s for s in self.statements
                   if s.lstrip().upper().startswith('INSERT')]
        # One statement for the traversal, and the sync points in bulk
        # (sqlite takes them 999 parameters at a time at most).
        self.assertLessEqual(len(inserts), 1 + 500 * 10 // 999 + 1)
        self.assertEqual(500, self.count(api.SYNC_POINT, 't1'))
        self.assertEqual(500, api.traversal_get(self.ctx, 't1').node_count)

    def test_initial_states(self):
        self.create('t1', [node(1, 0), node(2, 2, plan={'refs': ['1']})])
        leaf = self.node_row('t1', N('1', True))
        waiting = self.node_row('t1', N('2', True))
        self.assertEqual((models.READY, 0, 0),
                         (leaf.state, leaf.pending, leaf.predecessors))
        self.assertEqual((models.WAITING, 2, 2, {'refs': ['1']}),
                         (waiting.state, waiting.pending,
                          waiting.predecessors, waiting.plan))


class TestDeliver(DBAPITestCase):

    def setUp(self):
        super().setUp()
        self.create('t1', [node(1, 0), node(2, 0), node(3, 2),
                           node(3, 1, is_update=False)])

    def test_ready_after_last_predecessor(self):
        first = api.deliver(self.ctx, 't1',
                            [D(N('3', True), N('1', True), {'a': 1}, None,
                               False)])
        self.assertEqual([False], first)
        self.assertEqual(models.WAITING,
                         self.node_row('t1', N('3', True)).state)
        second = api.deliver(self.ctx, 't1',
                             [D(N('3', True), N('2', True), {'b': 2},
                                {'r2': 'broken'}, True)])
        self.assertEqual([True], second)
        row = self.node_row('t1', N('3', True))
        self.assertEqual((models.READY, 0), (row.state, row.pending))
        inputs = stack_rows.node_inputs(self.ctx, 't1', N('3', True))
        self.assertEqual({N('1', True): ({'a': 1}, None, False),
                          N('2', True): ({'b': 2}, {'r2': 'broken'}, True)},
                         inputs.arrivals)

    def test_statements_built_once(self):
        # Two deliveries, the second making its target ready, build each
        # of their statements once.
        builds = []
        prebuilt = api.prebuilt

        def counting(name, build, *variant):
            def counted(*args):
                builds.append((name,) + variant)
                return build(*args)
            return prebuilt(name, counted, *variant)

        self.useFixture(fixtures.MockPatchObject(api, '_PREBUILT', {}))
        self.useFixture(fixtures.MockPatchObject(api, 'prebuilt',
                                                 counting))
        for sender in ('1', '2'):
            api.deliver(self.ctx, 't1', [D(N('3', True), N(sender, True),
                                           None, None, False)],
                        done=N(sender, True))
        self.assertEqual(sorted(set(builds)), sorted(builds))
        self.assertEqual(3, len(builds))  # done, decrement, arrival

    def test_duplicate_counts_once(self):
        delivery = D(N('3', True), N('1', True), {'a': 1}, None, False)
        self.assertEqual([False], api.deliver(self.ctx, 't1', [delivery]))
        self.assertEqual([False], api.deliver(self.ctx, 't1', [delivery]))
        self.assertEqual(1, self.node_row('t1', N('3', True)).pending)
        self.assertEqual(1, self.count(api.ARRIVAL, 't1'))

    def test_extra_arrival_after_ready_is_ignored(self):
        for sender in ('1', '2'):
            api.deliver(self.ctx, 't1',
                        [D(N('3', True), N(sender, True), None, None, False)])
        self.assertEqual([False], api.deliver(
            self.ctx, 't1', [D(N('3', True), N('9', True), None, None,
                               False)]))
        self.assertEqual(2, self.count(api.ARRIVAL, 't1'))

    def test_batch_marks_sender_done(self):
        api.claim(self.ctx, 't1', N('1', True), 'engine-a')
        results = api.deliver(
            self.ctx, 't1',
            [D(N('3', True), N('1', True), None, None, False),
             D(N('3', False), N('1', True), None, None, False)],
            done=N('1', True))
        self.assertEqual([False, True], results)
        self.assertEqual(models.DONE, self.node_row('t1', N('1', True)).state)

    def test_batch_with_duplicate_replays_the_rest(self):
        dup = D(N('3', True), N('1', True), None, None, False)
        api.deliver(self.ctx, 't1', [dup])
        results = api.deliver(
            self.ctx, 't1',
            [D(N('3', False), N('1', True), None, None, False), dup],
            done=N('1', True))
        self.assertEqual([True, False], results)
        self.assertEqual(1, self.node_row('t1', N('3', True)).pending)
        self.assertEqual(models.DONE, self.node_row('t1', N('1', True)).state)

    def test_replay_marks_sender_done_after_a_first_duplicate(self):
        # The duplicate comes first in the lock order: its replay rolls
        # back, and the sender must still end DONE.
        self.create('t2', [node(1, 0), node(3, 2), node(4, 1)])
        api.claim(self.ctx, 't2', N('1', True), 'engine-a')
        dup = D(N('3', True), N('1', True), None, None, False)
        api.deliver(self.ctx, 't2', [dup])
        results = api.deliver(
            self.ctx, 't2',
            [D(N('4', True), N('1', True), None, None, False), dup],
            done=N('1', True))
        self.assertEqual([True, False], results)
        self.assertEqual(models.DONE, self.node_row('t2', N('1', True)).state)

    def test_gone(self):
        api.traversal_delete(self.ctx, 't1')
        self.assertEqual([api.GONE], api.deliver(
            self.ctx, 't1', [D(N('3', True), N('1', True), None, None,
                               False)]))
        self.assertEqual(0, self.count(api.ARRIVAL, 't1'))

    def own_statements(self):
        return [s for s in self.statements
                if not s.startswith(('BEGIN', 'COMMIT', 'SELECT 1'))]

    def test_statement_count(self):
        del self.statements[:]
        api.deliver(self.ctx, 't1',
                    [D(N('3', True), N('1', True), {'a': 1}, None, False)])
        # An UPDATE that returns the new counter, and an INSERT.
        self.assertEqual(2, len(self.own_statements()))

    def test_unrecorded_arrival_counts_once(self):
        # A target with one predecessor: its counter alone refuses the
        # arrival a second time; no row is stored for it.
        self.create('t3', [node(1, 0), node(5, 1)])
        bare = D(N('5', True), N('1', True), None, None, False, False,
                 False)
        del self.statements[:]
        self.assertEqual([True], api.deliver(self.ctx, 't3', [bare],
                                             done=N('1', True)))
        # The sender's done and the counter's UPDATE: no INSERT.
        self.assertEqual(2, len(self.own_statements()))
        self.assertEqual([False], api.deliver(self.ctx, 't3', [bare],
                                              done=N('1', True)))
        row = self.node_row('t3', N('5', True))
        self.assertEqual((0, models.READY), (row.pending, row.state))
        self.assertEqual(0, self.count(api.ARRIVAL, 't3'))

    def test_arrivals_of_a_sender_inserted_together(self):
        # Two successors: a counter UPDATE each, their arrival rows in one
        # INSERT, and the sender's done.
        del self.statements[:]
        self.assertEqual([False, True], api.deliver(
            self.ctx, 't1',
            [D(N('3', True), N('1', True), {'a': 1}, None, False),
             D(N('3', False), N('1', True), {'b': 2}, None, False)],
            done=N('1', True)))
        own = self.own_statements()
        self.assertEqual(4, len(own))
        self.assertEqual(1, sum(1 for s in own if s.lstrip().upper()
                                .startswith('INSERT')))
        inputs = stack_rows.node_inputs(self.ctx, 't1', N('3', False))
        self.assertEqual({N('1', True): ({'b': 2}, None, False)},
                         inputs.arrivals)
        self.assertEqual(2, self.count(api.ARRIVAL, 't1'))

    def test_current_traversal_checked_by_the_done_statement(self):
        # The stack's current traversal is t1: the check that it is costs
        # no statement besides the sender's done and the arrival's two.
        self.create(self.stack.current_traversal, [node(1, 0), node(3, 2)])
        del self.statements[:]
        self.assertEqual([False], api.deliver(
            self.ctx, self.stack.current_traversal,
            [D(N('3', True), N('1', True), {'a': 1}, None, False)],
            done=N('1', True), stack_id=self.stack.id))
        self.assertEqual(3, len(self.own_statements()))
        row = self.node_row(self.stack.current_traversal, N('3', True))
        self.assertEqual(1, row.pending)
        self.assertEqual(models.DONE, self.node_row(
            self.stack.current_traversal, N('1', True)).state)

    def test_superseded_traversal_delivers_nothing(self):
        # t1 is not the stack's current traversal (as after a stock
        # traversal superseded it): its sender is done, its successor
        # counts no arrival and is claimed by no one.
        api.claim(self.ctx, 't1', N('2', True), 'engine-a')
        api.deliver(self.ctx, 't1',
                    [D(N('3', True), N('1', True), None, None, False)])
        self.assertEqual([api.GONE], api.deliver(
            self.ctx, 't1',
            [D(N('3', True), N('2', True), None, None, False, True)],
            done=N('2', True), claim_for='engine-a',
            stack_id=self.stack.id))
        row = self.node_row('t1', N('3', True))
        self.assertEqual((models.WAITING, 1, None),
                         (row.state, row.pending, row.engine_id))
        self.assertEqual(1, self.count(api.ARRIVAL, 't1'))
        self.assertEqual(models.DONE,
                         self.node_row('t1', N('2', True)).state)


class TestDeliverAndClaim(DBAPITestCase):
    """A sender's engine claims a successor it made ready, in one go."""

    def setUp(self):
        super().setUp()
        self.create('t1', [node(1, 0), node(2, 0), node(3, 2), node(4, 1),
                           node(5, 1)])
        api.claim(self.ctx, 't1', N('1', True), 'engine-a')

    def deliver(self, sender, targets, keep=True):
        return api.deliver(
            self.ctx, 't1',
            [D(N(t, True), N(sender, True), {'from': sender}, None, False,
               keep) for t in targets],
            done=N(sender, True), claim_for='engine-a')

    def test_claims_the_first_kept_ready_target(self):
        results = self.deliver('1', ['5', '3', '4'])
        # 3 still waits for 2; 4 is claimed (first in the lock order), 5 is
        # only made ready, for the caller to dispatch.
        self.assertEqual(False, results[1])
        self.assertIs(True, results[0])
        self.assertEqual({N('1', True): ({'from': '1'}, None, False)},
                         results[2].arrivals)
        row = self.node_row('t1', N('4', True))
        self.assertEqual((models.RUNNING, 'engine-a'),
                         (row.state, row.engine_id))
        self.assertEqual(models.READY, self.node_row('t1', N('5', True)).state)
        self.assertIsNone(api.claim(self.ctx, 't1', N('4', True), 'engine-b'))

    def test_not_kept_is_not_claimed(self):
        self.assertEqual([True], self.deliver('1', ['4'], keep=False))
        self.assertEqual(models.READY, self.node_row('t1', N('4', True)).state)

    def test_waiting_target_is_not_claimed(self):
        self.assertEqual([False], self.deliver('1', ['3']))
        self.assertEqual(models.WAITING,
                         self.node_row('t1', N('3', True)).state)

    def test_last_arrival_claims(self):
        self.deliver('1', ['3'])
        api.claim(self.ctx, 't1', N('2', True), 'engine-b')
        inputs, = self.deliver('2', ['3'])
        self.assertEqual({N('1', True), N('2', True)}, set(inputs.arrivals))
        self.assertEqual(models.RUNNING,
                         self.node_row('t1', N('3', True)).state)

    def test_duplicate_replay_claims_nothing(self):
        # 3 has counted 1 already: the batch is replayed one by one.
        api.deliver(self.ctx, 't1', [D(N('3', True), N('1', True), None,
                                       None, False)])
        results = self.deliver('1', ['4', '3'])
        self.assertEqual([True, False], results)
        self.assertEqual(models.READY, self.node_row('t1', N('4', True)).state)
        self.assertEqual(1, self.node_row('t1', N('3', True)).pending)
        self.assertEqual(models.DONE, self.node_row('t1', N('1', True)).state)


class TestClaims(DBAPITestCase):

    def setUp(self):
        super().setUp()
        self.create('t1', [node(1, 0, plan={'refs': []}), node(2, 1)])
        self.leaf = N('1', True)

    def test_one_claim_wins(self):
        inputs = api.claim(self.ctx, 't1', self.leaf, 'engine-a')
        self.assertEqual(({'refs': []}, {}), inputs)
        self.assertIsNone(api.claim(self.ctx, 't1', self.leaf, 'engine-b'))
        row = self.node_row('t1', self.leaf)
        self.assertEqual((models.RUNNING, 'engine-a'),
                         (row.state, row.engine_id))

    def test_waiting_node_cannot_be_claimed(self):
        self.assertIsNone(api.claim(self.ctx, 't1', N('2', True), 'e'))

    def test_release_parks(self):
        api.claim(self.ctx, 't1', self.leaf, 'engine-a')
        self.assertFalse(api.release(self.ctx, 't1', self.leaf, 'engine-a'))
        row = self.node_row('t1', self.leaf)
        self.assertEqual((models.READY, None), (row.state, row.engine_id))

    def test_release_by_other_engine_is_ignored(self):
        api.claim(self.ctx, 't1', self.leaf, 'engine-a')
        self.assertFalse(api.release(self.ctx, 't1', self.leaf, 'engine-b'))
        self.assertEqual(models.RUNNING,
                         self.node_row('t1', self.leaf).state)

    def test_poke_ready_node_dispatches(self):
        self.assertTrue(api.poke(self.ctx, 't1', self.leaf))

    def test_poke_waiting_or_done_node_does_nothing(self):
        self.assertFalse(api.poke(self.ctx, 't1', N('2', True)))
        api.claim(self.ctx, 't1', self.leaf, 'engine-a')
        api.deliver(self.ctx, 't1', [], done=self.leaf)
        self.assertFalse(api.poke(self.ctx, 't1', self.leaf))
        self.assertEqual(models.DONE, self.node_row('t1', self.leaf).state)

    def test_poke_running_node_reruns_on_release(self):
        api.claim(self.ctx, 't1', self.leaf, 'engine-a')
        self.assertFalse(api.poke(self.ctx, 't1', self.leaf))
        self.assertEqual(models.RERUN, self.node_row('t1', self.leaf).state)
        self.assertTrue(api.release(self.ctx, 't1', self.leaf, 'engine-a'))
        self.assertEqual(models.READY, self.node_row('t1', self.leaf).state)

    def test_poke_missing_node(self):
        self.assertIsNone(api.poke(self.ctx, 't1', N('7', True)))


class TestLimit(DBAPITestCase):

    def setUp(self):
        super().setUp()
        self.create('t1', [node(i, 0) for i in range(4)])

    def test_claims_beyond_the_limit_are_throttled(self):
        for i in range(2):
            self.assertIsNotNone(api.claim(self.ctx, 't1', N(str(i), True),
                                           'e', limit=2))
        self.assertIsNone(api.claim(self.ctx, 't1', N('2', True), 'e',
                                    limit=2))
        self.assertEqual(models.THROTTLED,
                         self.node_row('t1', N('2', True)).state)
        # Nothing to wake while both slots are taken.
        self.assertEqual([], api.wake(self.ctx, 't1', 2))

    def test_wake_fills_free_slots(self):
        api.claim(self.ctx, 't1', N('0', True), 'e', limit=1)
        for i in (3, 1, 2):
            api.claim(self.ctx, 't1', N(str(i), True), 'e', limit=1)
        api.deliver(self.ctx, 't1', [], done=N('0', True))
        woken = api.wake(self.ctx, 't1', 1)
        self.assertEqual(1, len(woken))
        first = N(woken[0].entity_id, woken[0].is_update)
        self.assertIn(first.entity_id, ('1', '2', '3'))
        self.assertEqual(models.READY, self.node_row('t1', first).state)
        self.assertIsNotNone(api.claim(self.ctx, 't1', first, 'e', limit=1))
        self.assertEqual(['t1'], api.throttled(self.ctx))

    def test_no_limit(self):
        for i in range(4):
            self.assertIsNotNone(api.claim(self.ctx, 't1', N(str(i), True),
                                           'e'))


class TestStaleReady(DBAPITestCase):
    """A READY node is sent again only when its traversal has stalled."""

    def setUp(self):
        super().setUp()
        self.create('t1', [node(1, 0), node(2, 0), node(3, 0)])
        self.create('t2', [node(1, 0)])
        self.backdate(datetime.timedelta(hours=1))
        self.before = timeutils.utcnow() - datetime.timedelta(minutes=10)

    def backdate(self, age):
        with self.db.engine.begin() as conn:
            conn.execute(api.SYNC_POINT.update().values(
                updated_at=timeutils.utcnow() - age))

    def stale(self):
        return sorted((row.traversal_id, row.entity_id)
                      for row in db_recovery.ready_since(self.ctx,
                                                         self.before, 50))

    def test_stalled_traversals_nodes_are_stale(self):
        self.assertEqual([('t1', '1'), ('t1', '2'), ('t1', '3'),
                          ('t2', '1')], self.stale())

    def test_queued_behind_a_moving_traversal_is_not_stale(self):
        # Node 1 claimed just now: t1's other READY nodes are in a queue.
        api.claim(self.ctx, 't1', N('1', True), 'engine-a')
        self.assertEqual([('t2', '1')], self.stale())
        api.deliver(self.ctx, 't1', [], done=N('1', True))
        self.assertEqual([('t2', '1')], self.stale())

    def test_stale_again_once_the_traversal_stalls(self):
        api.claim(self.ctx, 't1', N('1', True), 'engine-a')
        api.deliver(self.ctx, 't1', [], done=N('1', True))
        self.backdate(datetime.timedelta(minutes=11))
        self.assertEqual([('t1', '2'), ('t1', '3'), ('t2', '1')],
                         self.stale())

    def test_every_traversal_after_a_death(self):
        api.claim(self.ctx, 't1', N('1', True), 'engine-a')
        self.assertEqual([('t1', '2'), ('t1', '3'), ('t2', '1')], sorted(
            (row.traversal_id, row.entity_id)
            for row in db_recovery.ready_since(
                self.ctx, self.before, 50, stalled_only=False)))

    def test_sending_again_is_not_progress(self):
        self.assertTrue(db_recovery.touch_ready(
            self.ctx, 't1', N('1', True),
            self.before + datetime.timedelta(minutes=20)))
        self.assertEqual([('t1', '2'), ('t1', '3'), ('t2', '1')],
                         self.stale())


class TestDelete(DBAPITestCase):

    def test_delete(self):
        self.create('t1', [node(1, 0)])
        api.traversal_delete(self.ctx, 't1')
        self.assertIsNone(api.traversal_get(self.ctx, 't1'))
        self.assertEqual(0, self.count(api.SYNC_POINT, 't1'))
