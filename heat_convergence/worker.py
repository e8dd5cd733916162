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

"""The worker RPC endpoints of heat-convergence-engine.

:class:`ConvergenceWorkerService` is Heat's ``WorkerService`` with the same
server (the engine id) and API version, on the driver's worker topic, or on
Heat's ``engine_worker`` for a driver without one (the ``heat`` driver). It
hands each graph node, each snapshot-node completion and each cancel of a
traversal to the configured driver; everything else
(``cancel_check_resource``, ``stop_all_workers``, snapshot deletion) is
Heat's.

:class:`StockWorkerService` serves ``engine_worker`` beside a driver's own
topic: in a mixed fleet, traversals started by stock heat-engines (and
those they left in flight) run there on Heat's own path, on any engine;
the messages the driver owns go to it.
"""

import contextlib

from heat.common import context
from heat.engine import worker as heat_worker


class ConvergenceWorkerService(heat_worker.WorkerService):
    """Heat's worker service, delegating graph nodes to a driver.

    Heat serves every public method of the endpoint over RPC, so the methods
    added here are private.
    """

    def __init__(self, host, topic, engine_id, thread_group_mgr, driver):
        super().__init__(host, topic, engine_id, thread_group_mgr)
        self.driver = driver

    @context.request_context
    @heat_worker.log_exceptions
    def check_resource(self, cnxt, resource_id, current_traversal, data,
                       is_update, adopt_stack_data, converge=False,
                       skip_propagate=False, accumulated_failures=None,
                       node_type='resource', abandon=False):
        """Process a node in the dependency graph (RPC 1.9)."""
        self.driver.check_resource(
            self, cnxt, resource_id, current_traversal, data, is_update,
            adopt_stack_data, converge=converge,
            skip_propagate=skip_propagate,
            accumulated_failures=accumulated_failures, node_type=node_type,
            abandon=abandon)

    def stop_traversal(self, stack):
        """Cancel a stack's traversal (called engine-side)."""
        self.driver.stop_traversal(self, stack)

    def _propagate_snapshot_complete(self, cnxt, snapshot_id,
                                     current_traversal, stack_id=None,
                                     failure=None):
        self.driver.snapshot_node_done(self, cnxt, snapshot_id,
                                       current_traversal, stack_id=stack_id,
                                       failure=failure)


class StockWorkerService(heat_worker.WorkerService):
    """Heat's worker service on ``engine_worker``, beside the driver's.

    Heat's own ``check_resource`` runs every message but those the driver
    owns (:meth:`~heat_convergence.drivers.base.ConvergenceDriver
    .owns_message`), which run on ``driver_worker``, the
    :class:`ConvergenceWorkerService` of the driver's topic.
    """

    def __init__(self, host, topic, engine_id, thread_group_mgr,
                 driver_worker):
        super().__init__(host, topic, engine_id, thread_group_mgr)
        self._driver_worker = driver_worker

    def check_resource(self, cnxt, resource_id, current_traversal, data,
                       is_update, adopt_stack_data, converge=False,
                       skip_propagate=False, accumulated_failures=None,
                       node_type='resource', abandon=False):
        """Process a node in the dependency graph (RPC 1.9).

        Both endpoints it hands over to are Heat's, with their request
        context and exception logging; the driver knows of the resources
        Heat's runs act on (:meth:`~heat_convergence.drivers.base
        .ConvergenceDriver.on_heat_path`).
        """
        driver = self._driver_worker.driver
        if driver.owns_message(cnxt, resource_id, current_traversal, data,
                               node_type):
            endpoint = self._driver_worker.check_resource
            scope = contextlib.nullcontext()
        else:
            endpoint = super().check_resource
            scope = driver.on_heat_path(resource_id)
        with scope:
            endpoint(cnxt, resource_id, current_traversal, data, is_update,
                     adopt_stack_data, converge=converge,
                     skip_propagate=skip_propagate,
                     accumulated_failures=accumulated_failures,
                     node_type=node_type, abandon=abandon)
