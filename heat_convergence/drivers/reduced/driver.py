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

"""The ``reduced`` driver class: what the engine calls, and nothing more.

It holds the state of one engine process (the RPC client, the nodes running
here, the cancels seen, the periodic recovery) and routes each of the
engine's calls to the module of its concern (see the package docstring).
The members below the contract's are what those modules call back.
"""

import typing

from heat.common import context
from heat.engine import stack as parser
from heat.rpc import api as rpc_api

from heat_convergence.db import connections
from heat_convergence.drivers import base
from heat_convergence.drivers.reduced import cancellation
from heat_convergence.drivers.reduced import definitions
from heat_convergence.drivers.reduced import dispatch_window
from heat_convergence.drivers.reduced import handback
from heat_convergence.drivers.reduced import late_purge
from heat_convergence.drivers.reduced import messages
from heat_convergence.drivers.reduced import node_loop
from heat_convergence.drivers.reduced import notifications
from heat_convergence.drivers.reduced import parent_wake
from heat_convergence.drivers.reduced import recovery
from heat_convergence.drivers.reduced import running_nodes
from heat_convergence.drivers.reduced import snapshots
from heat_convergence.drivers.reduced import sync_points
from heat_convergence.drivers.reduced import traversal
from heat_convergence import worker


class ReducedDriver(base.ConvergenceDriver):
    """Walk the reduced graph with the plugin's SyncPoints."""

    uses_plugin_tables = True
    worker_topic = messages.TOPIC

    def __init__(self, conf):
        super().__init__(conf)
        self._rpc_client = None
        self._running = running_nodes.RunningNodes()
        self._cancels = cancellation.CancelMemory()
        self._draining = False
        self.recovery = None
        self.window = dispatch_window.DispatchWindow(conf)

    # The contract (see base.ConvergenceDriver) ----------------------------

    def prepare_database(self, db_engine):
        connections.skip_redundant_rollbacks(db_engine)
        connections.ping_idle_connections_only(db_engine)

    def start(self, engine):
        super().start(engine)
        definitions.VALIDATION.activate_everywhere()
        late_purge.CONVERGE.activate_everywhere()
        notifications.start()
        self.recovery = recovery.Recovery(self)
        self.recovery.start()

    def drain(self):
        self._draining = True

    def stop(self):
        definitions.VALIDATION.activate_everywhere(None)
        late_purge.CONVERGE.activate_everywhere(None)
        notifications.stop()
        if self.recovery is not None:
            self.recovery.stop()
        if self.engine is not None:
            handback.on_stop(context.get_admin_context(), self.engine_id)

    def begin_traversal(self, stack, abandon=False):
        # From now on the older traversals' pending nodes cannot be claimed
        # and deliveries to them are refused, without loading anything.
        sync_points.begin_traversal(stack.context, stack, self.engine_id,
                                    traversal.deadline(stack), abandon)

    def converge(self, stack, pre_converge=None, abandon=False):
        _converge(stack, self, pre_converge=pre_converge, abandon=abandon)

    def cancel_running(self, cnxt, stack):
        cancellation.cancel(cnxt, stack, self.conf)

    def note_message(self, stack_id, message, resource_name=None):
        if message == parent_wake.WAKE:
            parent_wake.wake_here(self.engine.thread_group_mgr, stack_id,
                                  resource_name)
            return True
        if message == rpc_api.THREAD_CANCEL:
            self._cancels.note(stack_id)
        return False

    def check_resource(self, worker_service, cnxt, resource_id,
                       current_traversal, data, is_update, adopt_stack_data,
                       converge=False, skip_propagate=False,
                       accumulated_failures=None, node_type='resource',
                       abandon=False):
        # skip_propagate and accumulated_failures travel in the SyncPoint
        # arrivals, not in the message.
        if node_type == parser.NODE_TYPE_SNAPSHOT:
            node = parser.ConvergenceNode(resource_id, is_update, node_type)
            with self.tracking(current_traversal, node):
                snapshots.run_snapshot_node(self, worker_service, cnxt,
                                            resource_id, current_traversal,
                                            data, is_update)
        else:
            node_loop.run_node(self, worker_service, cnxt, resource_id,
                               current_traversal, data, is_update,
                               adopt_stack_data, converge=converge,
                               abandon=abandon)

    def owns_message(self, cnxt, resource_id, current_traversal, data,
                     node_type):
        # An earlier plugin version's dispatch (its keys, or a traversal of
        # ours), or a stale message whose stack now runs a traversal of
        # ours: only this driver can hand that one over (Heat's worker
        # would look for Heat's SyncPoints, which such a traversal lacks).
        if messages.is_ours(data):
            return True
        return sync_points.db_api.is_ours(
            cnxt, current_traversal,
            resource_id if node_type == parser.NODE_TYPE_RESOURCE else None)

    def on_heat_path(self, resource_id):
        return self._running.acting(resource_id)

    def snapshot_node_done(self, worker_service, cnxt, snapshot_id,
                           current_traversal, stack_id=None, failure=None):
        snapshots.snapshot_done(self, worker_service, cnxt, snapshot_id,
                                current_traversal, stack_id=stack_id,
                                failure=failure)

    def stop_traversal(self, worker_service, stack):
        old = stack.current_traversal
        super(worker.ConvergenceWorkerService,
              worker_service).stop_traversal(stack)
        sync_points.delete_traversal(stack.context, old)

    # What the driver's own modules call back ------------------------------

    @property
    def engine_id(self) -> str | None:
        """This engine's id (Heat's ``engine_id``), once started."""
        return self.engine.engine_id if self.engine is not None else None

    @property
    def limit(self) -> int:
        """Running resource actions allowed per stack (0: no limit)."""
        return self.conf.heat_convergence.max_concurrent_resources_per_stack

    @property
    def run_locally(self) -> bool:
        """Whether a node runs a successor it made ready itself.

        Not once the engine is stopping: along a chain, the stop would
        last as long as the rest of the chain.
        """
        return (self.conf.heat_convergence.run_successor_locally and
                not self._draining)

    @property
    def parse_on_demand(self) -> bool:
        """Whether nodes parse only the resource definitions they use."""
        return self.conf.heat_convergence.parse_definitions_on_demand

    @property
    def cache_stack_reads(self) -> bool:
        """Whether nodes decode each template once per traversal."""
        return self.conf.heat_convergence.cache_stack_reads

    @property
    def rpc_client(self) -> messages.WorkerClient:
        """The RPC client of the driver's topic (created after the fork)."""
        if self._rpc_client is None:
            self._rpc_client = messages.WorkerClient()
        return self._rpc_client

    def tracking(self, traversal_id, node,
                 resource_id=None) -> typing.ContextManager[None]:
        """Within, this process is known to run the node (:meth:`running`).

        ``resource_id``: the resource it acts on, if not the node's own.
        """
        return self._running.tracking(traversal_id, node, resource_id)

    def acting_on(self, resource_id) -> int:
        """How many nodes running in this process act on the resource."""
        return self._running.acting_on(resource_id)

    def running(self, key) -> bool:
        """Whether this process runs the (traversal, entity, is_update)."""
        return key in self._running

    def cancelled_since(self, stack_id, since) -> bool:
        """Whether a cancel for the stack arrived here after ``since``."""
        return self._cancels.since(stack_id, since)

    def dispatch(self, cnxt, traversal_id, node, adopt_stack_data, converge,
                 abandon, leaf_plan=None) -> None:
        """Send a ready node to whichever engine takes it first.

        ``leaf_plan`` is the plan of a leaf, sent along as the traversal
        starts (see :mod:`.messages`).
        """
        self.rpc_client.check_resource(
            cnxt, node.rsrc_id, traversal_id,
            messages.traversal_input(leaf_plan),
            node.is_update, adopt_stack_data, converge=converge,
            node_type=node.node_type, abandon=abandon)

    def resume(self, cnxt, traversal_id, node) -> None:
        """Dispatch a node again from the database alone.

        The flags Heat passes with every node come from the traversal row;
        the stack's own completion point is finished here rather than sent,
        both in the stack owner's context (:func:`.recovery.stack_context`).
        An update node that had moved on to its resource's replacement runs
        on the replacement again (:func:`.recovery.replacement_of`).
        """
        row = sync_points.db_api.traversal_get(cnxt, traversal_id)
        if row is None:
            return
        cnxt = recovery.stack_context(cnxt, row.stack_id)
        replacement = recovery.replacement_of(cnxt, row.stack_id, node)
        if replacement is None:
            self._resume_all(cnxt, traversal_id, [node], row)
            return
        self.rpc_client.check_resource(
            cnxt, replacement, traversal_id,
            messages.envelope(node, replacement), node.is_update, None,
            converge=row.converge, node_type=node.node_type,
            abandon=row.abandon)

    def _resume_all(self, cnxt, traversal_id, nodes, row=None):
        """:meth:`resume` each node, reading the traversal row once."""
        row = row or sync_points.db_api.traversal_get(cnxt, traversal_id)
        if row is None:
            return
        for node in nodes:
            if node.node_type == sync_points.STACK_NODE_TYPE:
                stack = parser.Stack.load(cnxt, stack_id=row.stack_id,
                                          force_reload=True)
                if stack.current_traversal == traversal_id:
                    traversal.finish(self, cnxt, stack, traversal_id)
            else:
                self.dispatch(cnxt, traversal_id, node, None, row.converge,
                              row.abandon)

    def slot_freed(self, cnxt, traversal_id) -> None:
        """A node of the traversal ended: wake throttled, send queued ones."""
        ready = (sync_points.wake(cnxt, traversal_id, self.limit)
                 if self.limit else [])
        ready += self.window.node_ended(cnxt, traversal_id)
        if ready:
            self._resume_all(cnxt, traversal_id, ready)


@parser.reset_state_on_error
def _converge(stack, driver, pre_converge=None, abandon=False):
    traversal.start(stack, driver, pre_converge=pre_converge,
                    abandon=abandon)
