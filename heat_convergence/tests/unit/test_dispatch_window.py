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

"""A starting traversal sends a window of its leaves; the rest follow."""

import fixtures
from heat.common import context
from heat.tests.convergence.framework import reality
from heat.tests.convergence.framework import scenario_template as st
from heat.tests.convergence.framework import testutils
from oslo_config import cfg
import sqlalchemy as sa
import testtools

from heat_convergence import conf
from heat_convergence.db import api as db_api
from heat_convergence.db import models
from heat_convergence.drivers.reduced import dispatch_window
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.drivers.reduced import messages
from heat_convergence.drivers.reduced import recovery
from heat_convergence import fleet
from heat_convergence.tests import scenario_harness
from heat_convergence.tests.unit import test_db_api

# Six leaves, and G, which needs two of them.
TEMPLATE = st.Template(dict(
    {name: st.RsrcDef({'a': name}, []) for name in 'ABCDEF'},
    G=st.RsrcDef({'a': st.GetRes('A'), 'b': st.GetRes('B')}, [])))


class Window(scenario_harness.DriverFrameworkTest):

    driver_class = reduced.ReducedDriver

    def setUp(self):
        super().setUp()
        cfg.CONF.set_override('dispatch_window', 2, group='heat_convergence')
        self.procs = self.framework.procs
        self.cnxt = context.get_admin_context()

    def states(self):
        with self.framework.db_engine.connect() as conn:
            return sorted(conn.execute(sa.select(
                db_api.SYNC_POINT.c.state).where(
                    db_api.SYNC_POINT.c.node_type == 'resource')).scalars())

    def casts(self):
        """(leaves sent as the traversal started, every node sent)."""
        calls = self.framework.casts.call_args_list
        return (sum(messages.LEAF_PLAN in call.args[3] for call in calls),
                len(calls))

    def assert_created_once(self):
        testutils.verify(self, reality.reality, TEMPLATE)
        self.assertEqual(7, len(reality.reality.all_resources()))

    def test_leaves_sent_as_nodes_end(self):
        self.procs.engine.create_stack('foo', TEMPLATE)
        self.procs.event_loop()
        self.assert_created_once()
        # Two leaves sent as it started, the others as nodes ended; one
        # message per node: none was sent twice.
        self.assertEqual((2, 7), self.casts())

    def test_recovery_sends_a_stalled_queue(self):
        # The engine running the sent leaves dies before sending more.
        self.patchobject(self.driver.window, 'node_ended', return_value=[])
        self.procs.engine.create_stack('foo', TEMPLATE)
        self.procs.event_loop()
        # A and B, which G needs, went first (the longest way to go), and
        # G with them.
        self.assertEqual(['DONE'] * 3 + ['QUEUED'] * 4, self.states())
        # Each pass sends a window; the nodes ending still send nothing.
        passes = 0
        while 'QUEUED' in self.states():
            recovery.Recovery(self.driver).send_stalled_queues(self.cnxt)
            self.procs.event_loop()
            passes += 1
        self.assertEqual(2, passes)
        self.assert_created_once()

    def test_no_window(self):
        cfg.CONF.set_override('dispatch_window', 0, group='heat_convergence')
        self.procs.engine.create_stack('foo', TEMPLATE)
        self.procs.event_loop()
        self.assert_created_once()
        self.assertEqual((6, 7), self.casts())


class AutomaticSize(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        self.conf.register_opts(conf.OPTS, group='heat_convergence')
        self.conf.register_opt(cfg.IntOpt('executor_thread_pool_size',
                                          default=16))
        self.engines = self.useFixture(fixtures.MockPatchObject(
            fleet, 'engine_ids', return_value={'e1', 'e2', 'e3'})).mock
        self.window = dispatch_window.DispatchWindow(self.conf)

    def test_four_times_the_threads_of_the_engines_up(self):
        self.assertEqual(192, self.window.size(None))
        self.engines.assert_called_once_with(None, fleet.PLUGIN_BINARY)
        # Counted again only once AUTO_KEPT has passed.
        self.engines.return_value = {'e1'}
        self.assertEqual(192, self.window.size(None))
        self.assertEqual(1, self.engines.call_count)

    def test_configured(self):
        self.conf.set_override('dispatch_window', 5, 'heat_convergence')
        self.assertEqual(5, self.window.size(None))
        self.assertEqual(([1, 2, 3, 4, 5], [6]),
                         self.window.split(None, [1, 2, 3, 4, 5, 6]))
        self.engines.assert_not_called()


class Dequeue(test_db_api.DBAPITestCase):

    def setUp(self):
        super().setUp()
        self.create('t1', [dict(test_db_api.node(i, 0), queued=i > 1)
                           for i in range(1, 5)])

    def test_each_queued_leaf_once(self):
        first = db_api.dequeue(self.ctx, 't1', 2)
        second = db_api.dequeue(self.ctx, 't1', 2)
        self.assertEqual(['2', '3', '4'], sorted(
            row.entity_id for row in first + second))
        self.assertEqual(3, len(first) + len(second))
        self.assertEqual([], db_api.dequeue(self.ctx, 't1', 2))
        self.assertFalse(db_api.has_queued(self.ctx, 't1'))
        self.assertEqual(models.READY,
                         self.node_row('t1', test_db_api.N('4', True)).state)

    def test_stalled_only_with_nothing_sent(self):
        # Node 1 is READY: on its way to an engine.
        self.assertEqual([], db_api.stalled_queues(self.ctx))
        db_api.claim(self.ctx, 't1', test_db_api.N('1', True), 'e')
        self.assertEqual([], db_api.stalled_queues(self.ctx))
        db_api.deliver(self.ctx, 't1', [], done=test_db_api.N('1', True))
        self.assertEqual(['t1'], db_api.stalled_queues(self.ctx))
