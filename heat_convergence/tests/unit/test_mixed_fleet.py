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

"""A mixed fleet, in Heat's scenarios: stock and reduced traversals in turn.

Every scenario (Heat's and ours) runs twice:

* ``stock_first``: its first traversal, the create, is started by a stock
  engine (Heat's graph, Heat's SyncPoints) and every later one (update,
  rollback, delete) by a heat-convergence engine: the stack's API calls
  reach a stock engine first, then only plugin engines;
* ``plugin_first``: the other way round, as when a stock engine takes API
  calls again: a stock traversal supersedes a reduced one in flight, whose
  nodes must re-trigger their resources through Heat's SyncPoints.

Messages arrive as on Heat's ``engine_worker`` topic of a plugin engine,
through :class:`heat_convergence.worker.StockWorkerService`, which must run
the stock traversals' nodes on Heat's path and hand the others to the
driver, including those of a traversal superseded mid-way.
"""

import datetime
import types

import fixtures
from heat.common import context
from heat.db import models as heat_models
from heat.engine import check_resource
from heat.engine import stack as parser
from heat.tests.convergence.framework import engine_wrapper
from heat.tests.convergence.framework import reality
from heat.tests.convergence.framework import scenario_template as st
from heat.tests.convergence.framework import testutils
from heat.tests.convergence.framework import worker_wrapper
from oslo_config import cfg
import sqlalchemy as sa
import testscenarios

from heat_convergence.db import api as db_api
from heat_convergence.drivers import heat as heat_driver
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.drivers.reduced import heat_traversals
from heat_convergence.drivers.reduced import sync_points
from heat_convergence.tests import scenario_harness
from heat_convergence import worker

HEAT_SYNC_POINT = heat_models.SyncPoint.__table__


class MixedFleetBinding(fixtures.Fixture):
    """The create on one kind of engine; all else on the other kind.

    The framework builds a thread group manager per engine operation: the
    first one converges with the ``first`` driver (``heat``: a stock
    engine; ``reduced``: a plugin engine), the later ones with the other,
    or with ``then``.
    """

    def __init__(self, driver, first, then=None):
        super().__init__()
        self.drivers = {'heat': heat_driver.HeatDriver(cfg.CONF),
                        'reduced': driver}
        self.driver = driver
        self.order = (first, then or ({'heat', 'reduced'} - {first}).pop())
        self.converged_by = []

    def _thread_group_mgr(self):
        name = self.order[bool(self.converged_by)]
        self.converged_by.append(name)
        return scenario_harness.SynchronousThreadGroupManager(
            self.drivers[name])

    def _worker(self, host, topic, engine_id, thread_group_mgr):
        driver_worker = worker.ConvergenceWorkerService(
            host, topic, engine_id, thread_group_mgr, driver=self.driver)
        return worker.StockWorkerService(host, topic, engine_id,
                                         thread_group_mgr, driver_worker)

    def _setUp(self):
        self.useFixture(fixtures.MockPatchObject(
            engine_wrapper, 'SynchronousThreadGroupManager',
            new=self._thread_group_mgr))
        self.useFixture(fixtures.MockPatchObject(
            worker_wrapper, 'worker',
            new=types.SimpleNamespace(WorkerService=self._worker)))


class MixedFleetScenarios(scenario_harness.DriverFrameworkTest):

    # Each path that converges a traversal must have been routed its
    # messages: a scenario of traversals without nodes sends none.
    scenarios = testscenarios.multiply_scenarios(
        [('stock_first', {'first': 'heat'}),
         ('plugin_first', {'first': 'reduced'})],
        [s for s in scenario_harness.all_scenarios()
         if s[0] != 'empty_stack'])
    driver_class = reduced.ReducedDriver

    def setUp(self):
        super().setUp()
        self.binding = self.useFixture(MixedFleetBinding(self.driver,
                                                         self.first))
        self.routed = {'heat': 0, 'driver': 0}
        owns = self.driver.owns_message

        def counting(*args):
            mine = owns(*args)
            self.routed['driver' if mine else 'heat'] += 1
            return mine
        self.patchobject(self.driver, 'owns_message', side_effect=counting)

    def rows(self, table):
        with self.framework.db_engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(
                table)).scalar()

    def test_scenario(self):
        self.framework.run_scenario(self, self.name, self.path)
        converged_by = self.binding.converged_by
        self.assertEqual(self.first, converged_by[0])
        # Heat's path ran the stock traversals' nodes, the driver's the
        # others.
        self.assertEqual('heat' in converged_by, self.routed['heat'] > 0)
        self.assertEqual('reduced' in converged_by,
                         self.routed['driver'] > 0)
        # Once the stack is gone, no SyncPoint is left in Heat's table
        # (Heat keeps a finished traversal's until the next one), nor, if
        # a plugin engine deleted it, in the plugin's (those of a reduced
        # traversal superseded by a stock one wait for the recovery).
        stacks = heat_models.Stack.__table__
        if not self.rows(stacks.select().where(
                stacks.c.deleted_at.is_(None)).subquery()):
            self.assertEqual(0, self.rows(HEAT_SYNC_POINT))
            if converged_by[-1] == 'reduced':
                self.assertEqual(0, self.rows(db_api.SYNC_POINT))


class LostHeatNodes(scenario_harness.DriverFrameworkTest):
    """A stock traversal whose cast was lost is resumed by the recovery."""

    driver_class = reduced.ReducedDriver

    def setUp(self):
        super().setUp()
        self.useFixture(MixedFleetBinding(self.driver, 'heat'))
        self.procs = self.framework.procs
        self.tmpl = st.Template({
            'A': st.RsrcDef({'a': 'one'}, []),
            'B': st.RsrcDef({'a': 'two', 'c': st.GetRes('A')}, ['A']),
            'C': st.RsrcDef({'ca': st.GetAtt('B', 'a')}, ['B']),
            'D': st.RsrcDef({'a': 'three'}, ['A'])})
        self.cnxt = context.get_admin_context()

    def stack(self):
        stacks = heat_models.Stack.__table__
        with self.framework.db_engine.connect() as conn:
            stack_id = conn.execute(sa.select(stacks.c.id).where(
                stacks.c.name == 'foo')).scalar()
        return parser.Stack.load(self.cnxt, stack_id=stack_id)

    def resume(self):
        stack = self.stack()
        later = datetime.datetime.utcnow() + datetime.timedelta(hours=1)
        cast = heat_traversals.resume(self.cnxt, stack.id,
                                      stack.current_traversal, later)
        self.procs.event_loop()
        return cast

    def test_lost_cast_sent_again(self):
        casts = []

        def lose_second(*args, **kwargs):
            casts.append(args[1])
            if len(casts) != 2:
                self.procs.worker.check_resource(*args, **kwargs)
        self.framework.casts.side_effect = lose_second
        self.procs.engine.create_stack('foo', self.tmpl)
        self.procs.event_loop()
        self.assertEqual('IN_PROGRESS', self.stack().status)

        # Only the lost node runs again, once: resuming again finds
        # nothing.
        sent = len(casts)
        self.assertEqual(1, self.resume())
        self.assertEqual(casts[1], casts[sent])
        self.assertEqual(('CREATE', 'COMPLETE'), self.stack().state)
        testutils.verify(self, reality.reality, self.tmpl)

    def test_nothing_lost(self):
        self.procs.engine.create_stack('foo', self.tmpl)
        self.procs.engine.noop(3)
        self.procs.event_loop()
        self.assertEqual(('CREATE', 'COMPLETE'), self.stack().state)
        self.assertEqual(0, self.resume())


class SupersededByStock(scenario_harness.DriverFrameworkTest):
    """A reduced node ending after a stock traversal superseded its own."""

    driver_class = reduced.ReducedDriver

    def test_node_hands_its_resource_to_the_stock_traversal(self):
        tmpl = st.Template({'A': st.RsrcDef({'a': 'one'}, []),
                            'B': st.RsrcDef({'c': st.GetRes('A')}, ['A'])})
        deliver = sync_points.deliver
        stocks = heat_models.Stack.__table__
        newer = 'stock-traversal'

        def stock_update_began(cnxt, traversal_id, sender, *args, **kw):
            # As a stock engine starting an update commits it, while A's
            # node ran: the plugin's rows stay, only the stack row moves.
            with self.framework.db_engine.begin() as conn:
                conn.execute(stocks.update().values(
                    current_traversal=newer))
            return deliver(cnxt, traversal_id, sender, *args, **kw)

        retriggered = []
        self.patchobject(sync_points, 'deliver',
                         side_effect=stock_update_began)
        self.patchobject(
            check_resource.CheckResource, 'retrigger_check_resource',
            side_effect=lambda cnxt, rsrc_id, stack: retriggered.append(
                (rsrc_id, stack.current_traversal)))
        self.framework.procs.engine.create_stack('foo', tmpl)
        self.framework.procs.event_loop()

        # Heat's worker re-triggers A in the newer traversal; B was not
        # made ready in the superseded one, nor created.
        done = {r.name: r.id for r in reality.reality.all_resources()}
        self.assertEqual([(done['A'], newer)], retriggered)
        self.assertEqual(['A'], sorted(done))
        with self.framework.db_engine.connect() as conn:
            self.assertEqual(0, conn.execute(
                sa.select(sa.func.count()).select_from(
                    db_api.ARRIVAL)).scalar())
