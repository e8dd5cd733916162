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

"""Which topic a cast goes to, and which path a received message takes."""

from unittest import mock

from heat.common import messaging as rpc_messaging
from heat.db import api as heat_db_api
from heat.engine import check_resource
from heat.engine.hot import functions as hot_functions
from heat.engine import service
from heat.engine import stack as parser
from heat.engine import worker as heat_worker
from heat.rpc import worker_api
from heat.rpc import worker_client
from oslo_config import cfg
from oslo_utils import uuidutils

from heat_convergence.db import api as db_api
from heat_convergence.drivers import heat as heat_driver
from heat_convergence.drivers.reduced import driver as reduced
from heat_convergence.drivers.reduced import handover
from heat_convergence.drivers.reduced import messages
from heat_convergence.drivers.reduced import running_nodes
from heat_convergence import engine
from heat_convergence.tests import base
from heat_convergence.tests.unit import test_db_api
from heat_convergence import worker

STOCK_DATA = {'input_data': {}}


class RoutingTestCase(base.HeatTestCase):

    def setUp(self):
        super().setUp()
        self.ctx = mock.sentinel.context


class TestCastTopics(RoutingTestCase):
    """The reduced driver's casts go to its own topic, Heat's to Heat's."""

    def setUp(self):
        super().setUp()
        self.get_client = self.patchobject(rpc_messaging, 'get_rpc_client')
        self.driver = reduced.ReducedDriver(cfg.CONF)

    def cast(self):
        """The (method, kwargs) of the one cast made, and its topic."""
        kwargs = self.get_client.call_args.kwargs
        client = self.get_client.return_value.prepare.return_value
        (_ctx, method), args = client.cast.call_args
        return kwargs['topic'], method, args

    def test_topics(self):
        self.assertEqual('heat_convergence_worker_1',
                         self.driver.worker_topic)
        self.assertNotEqual(worker_api.TOPIC, self.driver.worker_topic)
        self.assertIsNone(heat_driver.HeatDriver(cfg.CONF).worker_topic)

    def test_dispatch(self):
        node = parser.ConvergenceNode(7, True)
        self.driver.dispatch(self.ctx, 'trvsl', node, None, False, False,
                             leaf_plan={'next': []})
        topic, method, args = self.cast()
        self.assertEqual((messages.TOPIC, 'check_resource'), (topic, method))
        self.assertEqual((7, 'trvsl', True), (args['resource_id'],
                         args['current_traversal'], args['is_update']))
        self.assertTrue(messages.is_ours(args['data']))

    def test_heat_recast_of_a_replacement(self):
        # Heat's CheckResource re-casts through the client it was given.
        # A replacement not kept for the node's thread (see
        # test_reduced_driver.ReplacementKept) is cast.
        node_check = mock.Mock(driver=self.driver,
                               node=parser.ConvergenceNode(7, True))
        node_check.keep_replacement.return_value = False
        handover.ReDispatch(node_check).check_resource(
            self.ctx, 9, 'trvsl', {}, True, None)
        topic, method, args = self.cast()
        self.assertEqual(messages.TOPIC, topic)
        self.assertEqual(9, args['resource_id'])
        self.assertEqual([7, True], args['data'][messages.ENVELOPE])
        node_check.release.assert_called_once_with(self.ctx)

    def test_heat_client_stays_on_engine_worker(self):
        worker_client.WorkerClient().check_resource(
            self.ctx, 7, 'trvsl', STOCK_DATA, True, None)
        self.assertEqual(worker_api.TOPIC, self.cast()[0])


class TestRetriggerTarget(RoutingTestCase):
    """A node re-triggers its resource where the newest traversal runs."""

    def setUp(self):
        super().setUp()
        self.driver = mock.Mock()
        self.check = handover.ForwardingCheckResource(
            self.driver, 'engine', mock.Mock(), None, 'old',
            parser.ConvergenceNode(7, True), None)
        self.stack = mock.Mock(current_traversal='newest')
        self.heat_retrigger = self.patchobject(
            check_resource.CheckResource, 'retrigger_check_resource',
            autospec=True)

    def test_newest_is_heat_s(self):
        self.patchobject(db_api, 'is_ours', return_value=False)
        poke = self.patchobject(db_api, 'poke')
        self.check.retrigger_check_resource(self.ctx, 7, self.stack)
        (heat_check, cnxt, rsrc_id, stack), _ = (
            self.heat_retrigger.call_args)
        self.assertEqual((7, self.stack), (rsrc_id, stack))
        # Heat's re-trigger casts on Heat's topic, with Heat's client.
        self.assertIs(worker_client.WorkerClient,
                      type(heat_check._rpc_client))
        poke.assert_not_called()
        self.driver.dispatch.assert_not_called()

    def test_newest_is_ours(self):
        self.patchobject(db_api, 'is_ours', return_value=True)
        self.patchobject(db_api, 'poke', return_value=True)
        self.check.retrigger_check_resource(self.ctx, 7, self.stack)
        self.heat_retrigger.assert_not_called()
        self.driver.dispatch.assert_called_once_with(
            self.ctx, 'newest', parser.ConvergenceNode(7, True), None,
            self.stack.converge, False)


class TestStockWorkerRouting(RoutingTestCase):
    """On engine_worker: the driver's messages to it, Heat's to Heat."""

    def setUp(self):
        super().setUp()
        self.driver_worker = mock.Mock()
        self.running = running_nodes.RunningNodes()
        self.driver_worker.driver.on_heat_path.side_effect = (
            self.running.acting)
        self.stock = worker.StockWorkerService(
            'host', worker_api.TOPIC, 'engine', mock.Mock(),
            self.driver_worker)
        self.acting = []
        self.heat_path = self.patchobject(
            heat_worker.WorkerService, 'check_resource',
            side_effect=lambda *a, **k: self.acting.append(
                self.running.acting_on(7)))

    def receive(self, owned):
        self.driver_worker.driver.owns_message.return_value = owned
        self.stock.check_resource(self.ctx, 7, 'trvsl', STOCK_DATA, True,
                                  None, converge=True, node_type='resource')
        self.driver_worker.driver.owns_message.assert_called_once_with(
            self.ctx, 7, 'trvsl', STOCK_DATA, 'resource')

    def test_stock_message(self):
        self.receive(False)
        self.heat_path.assert_called_once_with(
            self.ctx, 7, 'trvsl', STOCK_DATA, True, None, converge=True,
            skip_propagate=False, accumulated_failures=None,
            node_type='resource', abandon=False)
        self.driver_worker.check_resource.assert_not_called()
        # The driver knew Heat's worker acted on the resource, while it did.
        self.assertEqual([1], self.acting)
        self.assertEqual(0, self.running.acting_on(7))

    def test_driver_message(self):
        self.receive(True)
        self.driver_worker.check_resource.assert_called_once_with(
            self.ctx, 7, 'trvsl', STOCK_DATA, True, None, converge=True,
            skip_propagate=False, accumulated_failures=None,
            node_type='resource', abandon=False)
        self.heat_path.assert_not_called()


class TestOwnsMessage(test_db_api.DBAPITestCase):
    """Which messages on engine_worker the reduced driver takes."""

    def setUp(self):
        super().setUp()
        self.driver = reduced.ReducedDriver(cfg.CONF)
        self.rsrc = heat_db_api.resource_create(self.ctx, {
            'name': 'R', 'stack_id': self.stack.id})

    def owns(self, traversal_id, data=None, resource_id=None,
             node_type=parser.NODE_TYPE_RESOURCE):
        return self.driver.owns_message(
            self.ctx, resource_id or self.rsrc.id, traversal_id,
            data or STOCK_DATA, node_type)

    def test_stock_traversal(self):
        self.assertFalse(self.owns(self.stack.current_traversal))
        self.assertFalse(self.owns(uuidutils.generate_uuid()))

    def test_earlier_plugin_dispatch_with_its_keys(self):
        for key in (messages.ENVELOPE, messages.LEAF_PLAN):
            self.assertTrue(self.owns(self.stack.current_traversal,
                                      dict(STOCK_DATA, **{key: [1, True]})))

    def test_traversal_of_ours(self):
        self.create('ours', [])
        self.assertTrue(self.owns('ours'))
        # A snapshot node's id is not a resource's: only its traversal
        # counts.
        self.assertTrue(self.owns('ours', resource_id=uuidutils
                                  .generate_uuid(), node_type='snapshot'))

    def test_stale_message_of_a_stack_now_ours(self):
        # The stack's newest traversal is the driver's: it hands over a
        # stale message's resource, which Heat's worker could only
        # re-trigger through Heat's SyncPoints.
        self.create(self.stack.current_traversal, [])
        self.assertTrue(self.owns(uuidutils.generate_uuid()))
        self.assertFalse(self.owns(
            uuidutils.generate_uuid(), resource_id=uuidutils.generate_uuid(),
            node_type='snapshot'))


class TestEngineEndpoints(base.HeatTestCase):
    """What topics an engine serves, and with which worker."""

    def start(self, driver):
        for cls in (worker.ConvergenceWorkerService,
                    worker.StockWorkerService):
            self.patchobject(cls, 'start')
        self.patchobject(engine, 'EngineListener')
        self.patchobject(rpc_messaging, 'get_rpc_server')
        self.patchobject(rpc_messaging, 'get_rpc_client')
        for name in ('_configure_db_conn_pool_size',
                     'service_manage_cleanup'):
            self.patchobject(engine.ConvergenceEngineService, name)
        self.patchobject(driver, 'start')
        self.patchobject(driver, 'prepare_database')
        eng = engine.ConvergenceEngineService('host', 'engine', driver)
        eng.manage_thread_grp = mock.Mock()
        eng.start()
        return eng

    def test_database_prepared_before_any_use(self):
        """The driver tunes the pool before the periodic tasks use it.

        Listeners added to the pool while a thread checked a connection in
        failed that check-in: the engine's first service report, and its
        stop then (no service row to delete).
        """
        calls = []

        def record(name):
            return lambda *args, **kwargs: calls.append(name)
        driver = reduced.ReducedDriver(cfg.CONF)
        self.patchobject(engine, 'EngineListener').return_value.start = (
            record('listener'))
        server = self.patchobject(rpc_messaging, 'get_rpc_server')
        server.return_value.start = record('rpc server')
        self.patchobject(rpc_messaging, 'get_rpc_client')
        for cls in (worker.ConvergenceWorkerService,
                    worker.StockWorkerService):
            self.patchobject(cls, 'start', side_effect=record('worker'))
        self.patchobject(engine.ConvergenceEngineService,
                         '_configure_db_conn_pool_size',
                         side_effect=record('pool size'))
        self.patchobject(engine.ConvergenceEngineService,
                         'service_manage_cleanup', side_effect=record('db'))
        self.patchobject(driver, 'prepare_database',
                         side_effect=record('prepare'))
        self.patchobject(driver, 'start')
        eng = engine.ConvergenceEngineService('host', 'engine', driver)
        eng.manage_thread_grp = mock.Mock()
        eng.manage_thread_grp.add_timer.side_effect = record('timer')
        eng.manage_thread_grp.add_thread.side_effect = record('thread')
        eng.start()
        self.assertEqual(['pool size', 'prepare', 'db', 'timer', 'thread'],
                         calls[-5:])

    def test_driver_with_a_topic(self):
        eng = self.start(reduced.ReducedDriver(cfg.CONF))
        self.assertEqual(messages.TOPIC, eng.worker_service.topic)
        self.assertIsInstance(eng.stock_worker_service,
                              worker.StockWorkerService)
        self.assertEqual(worker_api.TOPIC, eng.stock_worker_service.topic)
        self.assertIs(eng.worker_service,
                      eng.stock_worker_service._driver_worker)
        for endpoint in (eng.worker_service, eng.stock_worker_service):
            self.assertEqual(eng.engine_id, endpoint.engine_id)
            self.assertIs(eng.thread_group_mgr, endpoint.thread_group_mgr)
            endpoint.start.assert_called_once_with()

    def test_alive_until_threads_end(self):
        driver = reduced.ReducedDriver(cfg.CONF)
        eng = self.start(driver)
        calls = []
        listener = eng.listener
        listener.stop.side_effect = lambda: calls.append('listener')
        self.patchobject(eng.thread_group_mgr, 'stop',
                         side_effect=lambda *a: calls.append('threads'))
        self.patchobject(driver, 'drain',
                         side_effect=lambda: calls.append('drain'))
        self.patchobject(driver, 'stop',
                         side_effect=lambda: calls.append('driver'))
        self.patchobject(service.service_objects.Service, 'delete')
        eng.thread_group_mgr.groups['stack-1'] = mock.Mock()
        eng.stop()
        # Other engines find this one alive while its threads still act.
        self.assertEqual(['drain', 'threads', 'listener', 'driver'], calls)

    def test_yaql_ready_before_threads(self):
        # As on a fresh engine: no yaql evaluated yet.
        yaql = hot_functions.Yaql
        saved = (yaql._parser, getattr(yaql, '_context', None))

        def restore():
            yaql._parser, yaql._context = saved
        self.addCleanup(restore)
        yaql._parser = None
        if hasattr(yaql, '_context'):
            del yaql._context
        self.start(reduced.ReducedDriver(cfg.CONF))
        self.assertIsNotNone(hot_functions.Yaql._parser)
        self.assertIsNotNone(hot_functions.Yaql._context)

    def test_heat_driver(self):
        eng = self.start(heat_driver.HeatDriver(cfg.CONF))
        self.assertEqual(worker_api.TOPIC, eng.worker_service.topic)
        self.assertIsNone(eng.stock_worker_service)
