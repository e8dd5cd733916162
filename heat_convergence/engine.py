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

"""The engine service of heat-convergence-engine.

It is Heat's ``EngineService`` (same RPC topic, server and version, so a
stock heat-api and the ``openstack stack`` CLI talk to it unchanged) with
two parts injected through the seams Heat has, rather than by patching
Heat:

* its thread group manager, which ``Stack.converge_stack`` uses to start
  ``Stack._converge_create_or_update`` for every convergence action: ours
  runs the configured driver's ``converge`` instead;
* its worker service, which hands each graph node to the driver: on the
  driver's own worker topic, with Heat's ``engine_worker`` served beside it
  by Heat's own worker (:mod:`heat_convergence.worker`), or on
  ``engine_worker`` for a driver without a topic of its own.

Every stack operation (validation, policy, templates, events, nested
stacks) stays Heat's.
"""

import contextlib
import functools
import threading

from heat.common import context
from heat.common import messaging as rpc_messaging
from heat.common import service_utils
from heat.db import api as heat_db_api
from heat.engine import service
from heat.engine import stack as parser
from heat.rpc import worker_api as rpc_worker_api
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging

from heat_convergence import fleet
from heat_convergence import worker
from heat_convergence import yaql_parsing

LOG = logging.getLogger(__name__)

_CONVERGE = parser.Stack._converge_create_or_update


class ThreadGroupManager(service.ThreadGroupManager):
    """Heat's thread group manager, routing traversals to the driver.

    Also drops finished threads from their group: Heat's ThreadGroup keeps
    every thread it ever started (one per stack event), and refuses new ones
    with "Maximum number of threads reached" once a stack has had a thousand
    within one engine's lifetime.
    """

    def __init__(self, driver):
        super().__init__()
        self.driver = driver
        self._captured = threading.local()

    def bind(self, func, kwargs):
        """Return what to run for ``func``: the driver's, for a traversal.

        ``Stack.converge_stack`` has just stored the new traversal id: the
        driver learns of it now, synchronously, and converges in the thread.
        """
        if getattr(func, '__func__', None) is not _CONVERGE:
            return func
        stack = func.__self__
        self.driver.begin_traversal(stack, abandon=kwargs.get('abandon',
                                                              False))
        return functools.partial(self.driver.converge, stack)

    def start(self, stack_id, func, *args, **kwargs):
        func = self.bind(func, kwargs)
        captured = getattr(self._captured, 'calls', None)
        if captured is not None:
            captured.append(functools.partial(func, *args, **kwargs))
            return None
        thread = super().start(stack_id, func, *args, **kwargs)
        thread.link(self._thread_done, self.groups[stack_id])
        return thread

    @contextlib.contextmanager
    def capture(self):
        """Collect what this thread starts instead of starting it.

        Yields the list of callables that ``start`` was asked to run, so
        that the caller runs them itself, when it chooses, in its own
        thread.
        """
        self._captured.calls = []
        try:
            yield self._captured.calls
        finally:
            self._captured.calls = None

    @staticmethod
    def _thread_done(thread, group):
        group.thread_done(thread)

    def send(self, stack_id, message, resource_name=None):
        """Queue a message for the stack's worker threads; tell the driver.

        The driver learns of cancels as they arrive, so that a thread that
        registers its queue just too late to receive one still knows; a
        message of the driver's own goes no further. ``resource_name``: the
        resource of the stack the sender named (see :class:`EngineListener`).
        """
        if not self.driver.note_message(stack_id, message, resource_name):
            super().send(stack_id, message)


# The key of a stack identity sent to EngineListener.send naming a resource.
RESOURCE_NAME = 'heat_convergence_resource_name'


class EngineListener(service.EngineListener):
    """Heat's engine listener; a ``send`` may name the resource it is for.

    The reduced driver's wake-up of a parent resource names it (as
    :data:`RESOURCE_NAME` in the stack identity), so that only the threads
    acting on that resource wake, not every thread of the parent stack: a
    group's members would all read their nested stacks' status each time
    one of them ended. Heat's listener, on an engine of an earlier version,
    ignores the name and wakes them all, as before.
    """

    def send(self, ctxt, stack_identity, message):
        self.thread_group_mgr.send(stack_identity['stack_id'], message,
                                   stack_identity.get(RESOURCE_NAME))


class ConvergenceEngineService(service.EngineService):
    """Heat's engine service with the plugin's driver bound in."""

    def __init__(self, host, topic, driver):
        super().__init__(host, topic)
        self.binary = fleet.PLUGIN_BINARY
        self.driver = driver
        self.stock_worker_service = None
        self._stock_engines = None

    def start(self):
        # Heat's EngineService.start (heat/engine/service.py, 27.0.1) with
        # our thread group manager and worker service: the worker must be
        # ours before its RPC server starts consuming casts, so it cannot be
        # swapped in after super().start().
        self.engine_id = service_utils.generate_engine_id()
        yaql_parsing.prepare()
        if self.thread_group_mgr is None:
            self.thread_group_mgr = ThreadGroupManager(self.driver)
        self.listener = EngineListener(self.host, self.engine_id,
                                       self.thread_group_mgr)
        LOG.debug("Starting listener for engine %s", self.engine_id)
        self.listener.start()

        self.worker_service = worker.ConvergenceWorkerService(
            host=self.host,
            topic=self.driver.worker_topic or rpc_worker_api.TOPIC,
            engine_id=self.engine_id,
            thread_group_mgr=self.thread_group_mgr,
            driver=self.driver)
        self.worker_service.start()
        if self.driver.worker_topic:
            self.stock_worker_service = worker.StockWorkerService(
                host=self.host,
                topic=rpc_worker_api.TOPIC,
                engine_id=self.engine_id,
                thread_group_mgr=self.thread_group_mgr,
                driver_worker=self.worker_service)
            self.stock_worker_service.start()

        self.target = messaging.Target(version=self.RPC_API_VERSION,
                                       server=self.host, topic=self.topic)
        self._rpc_server = rpc_messaging.get_rpc_server(self.target, self)
        self._rpc_server.start()
        self._client = rpc_messaging.get_rpc_client(
            version=self.RPC_API_VERSION)

        # The pool's size (from the executor's, an option the RPC servers
        # register) is set before the pool exists; the driver tunes the pool
        # before the periodic tasks start using it from their threads.
        self._configure_db_conn_pool_size()
        self.driver.prepare_database(heat_db_api.get_engine())
        self.service_manage_cleanup()
        if self.manage_thread_grp is None:
            self.manage_thread_grp = service.ThreadGroup()
        self.manage_thread_grp.add_timer(cfg.CONF.periodic_interval,
                                         self.service_manage_report)
        self.manage_thread_grp.add_thread(self.reset_stack_status)
        self.driver.start(self)
        LOG.info('Engine %(engine)s started with convergence driver '
                 '%(driver)s', {'engine': self.engine_id,
                                'driver': cfg.CONF.heat_convergence.driver})

    def stop(self):
        """Heat's graceful stop, answering "alive" until the threads end.

        Heat stops the engine listener first, then waits for the stack
        threads: while a long resource action finishes, the other engines
        would find this one dead, take over its nodes and steal the locks
        of resources it still acts on (one action run twice). Here the
        listener stops once the threads have. The driver is told first, so
        that its threads take no more work than they hold, and stops last,
        to hand over what they left.
        """
        self.driver.drain()
        listener, self.listener = self.listener, None
        if self.stock_worker_service is not None:
            self.stock_worker_service.stop()
        super().stop()
        if listener is not None:
            listener.stop()
        self.driver.stop()

    def stack_cancel_update(self, cnxt, stack_identity,
                            cancel_with_rollback=True):
        """Cancel a stack operation, work in flight included.

        Heat's own method validates the request and starts its cancel (a
        new traversal id, or the rollback) in a thread. Here that start is
        captured: once Heat has accepted the request, the driver stops the
        traversal's work in flight, then the cancel runs before this call
        returns, so that nothing of the cancelled traversal starts after it.
        """
        with self.thread_group_mgr.capture() as started:
            super().stack_cancel_update(cnxt, stack_identity,
                                        cancel_with_rollback)
        if started:
            stack = parser.Stack.load(cnxt, stack=self._get_stack(
                cnxt, stack_identity), load_template=False)
            self.driver.cancel_running(cnxt, stack)
        for call in started:
            call()

    def service_manage_report(self):
        super().service_manage_report()
        if self.driver.worker_topic:
            # The first pass only learns the fleet: start-up logged it.
            cnxt = context.get_admin_context()
            if self._stock_engines is None:
                self._stock_engines = fleet.engine_ids(
                    cnxt, fleet.STOCK_BINARY)
            else:
                self._stock_engines = fleet.report(
                    cnxt, cfg.CONF.heat_convergence.driver,
                    self._stock_engines)
