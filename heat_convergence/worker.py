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

"""The worker side of heat-convergence: one graph node at a time.

:class:`ConvergenceWorkerService` is the ``engine_worker`` RPC endpoint:
Heat's ``WorkerService`` with the same topic, server (the engine id) and API
version, handing each node to the configured driver.

:func:`run_node` is how the reducing driver processes a node. The node is
*claimed* in the database first (a node runs on one engine only, however
often it was dispatched, and a node of a superseded or cancelled traversal
is refused before the stack or resource is loaded); its inputs are read from
the SyncPoint rows; then Heat's own ``CheckResource`` runs the resource
action. Only the hand-over to the successors differs from Heat:
:class:`ForwardingCheckResource` delivers to each successor, in one
transaction, the node's own data plus what its plan says to forward.

A node that makes successors ready keeps one of them for its own thread
(``[heat_convergence] run_successor_locally``) and casts the others: along
a chain no node waits for a broker round trip, and the stack's nodes still
spread over the engines as they fan out. The kept successor is claimed in
the transaction that made it ready (without a limit of running nodes per
stack; with one, like any dispatched node, once the limit allows): along a
chain, a node costs one transaction of the plugin's own less. If the
engine dies holding it, the survivors take it over like any node it held;
if it dies before claiming it, the periodic recovery dispatches it once it
has been ready too long, as it does for a message lost in the broker.
"""

import collections
import contextlib
import datetime
import functools
import time

from heat.common import context
from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import check_resource
from heat.engine import node_data
from heat.engine import stack as parser
from heat.engine import worker as heat_worker
from heat.objects import resource as resource_objects
from oslo_log import log as logging
from oslo_utils import timeutils

from heat_convergence import cancellation
from heat_convergence import definitions
from heat_convergence import stack_cache
from heat_convergence import state_changes
from heat_convergence import sync_points
from heat_convergence import traversal

LOG = logging.getLogger(__name__)

# Key of the dispatch payload naming the graph node a message is for, when
# that is not (resource_id, is_update): a replacement resource runs the node
# of the resource it replaces.
ENVELOPE = 'heat_convergence_node'
LEAF_PLAN = 'heat_convergence_leaf_plan'

# A ready successor a node keeps for its own thread, with the arguments of
# its dispatch. ``inputs`` are its NodeInputs if it is claimed already (at
# monotonic time ``claimed_at``), else None.
FollowOn = collections.namedtuple(
    'FollowOn', ['node', 'adopt_stack_data', 'converge', 'abandon',
                 'inputs', 'claimed_at'])

# What a cleanup node loads instead of its resource when it has nothing to
# clean up (see nothing_to_clean_up()): nothing but its stack's id.
HandOverOnly = collections.namedtuple('HandOverOnly', ['stack_id'])


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


class _HandOver(object):
    """The RPC client Heat's CheckResource code re-dispatches through.

    Heat re-casts a node it cannot finish itself: to the replacement
    resource it has just created, or to itself when the resource was locked
    by a dead engine or read stale. The node is released first, so that the
    receiving engine can claim it; a replacement is told which node it runs.
    """

    def __init__(self, node_check):
        self._check = node_check

    def check_resource(self, cnxt, resource_id, current_traversal, data,
                       is_update, adopt_stack_data, **kwargs):
        node = self._check.node
        self._check.release(cnxt)
        data = traversal_input()
        if str(resource_id) != str(node.rsrc_id):
            data[ENVELOPE] = [node.rsrc_id, node.is_update]
        self._check.driver.rpc_client.check_resource(
            cnxt, resource_id, current_traversal, data, is_update,
            adopt_stack_data, **kwargs)


def traversal_input(leaf_plan=None):
    """The ``data`` of a dispatch: the inputs themselves are in the DB.

    A leaf dispatched as its traversal starts gets its plan in the message:
    a leaf has no arrivals, so it claims itself without reading its row.
    """
    data = {'input_data': {}}
    if leaf_plan is not None:
        data[LEAF_PLAN] = leaf_plan
    return data


class ForwardingCheckResource(check_resource.CheckResource):
    """Heat's CheckResource, handing over through the plugin's SyncPoints.

    ``node`` is the graph node being run (for a replacement, the node of the
    resource it replaces, as Heat's impersonation does) and ``inputs`` its
    :class:`heat_convergence.sync_points.NodeInputs`.
    """

    def __init__(self, driver, engine_id, thread_group_mgr, msg_queue,
                 traversal_id, node, inputs):
        super().__init__(engine_id, _HandOver(self), thread_group_mgr,
                         msg_queue, inputs.data if inputs else {})
        self.driver = driver
        self.traversal_id = traversal_id
        self.node = node
        self.inputs = inputs
        # Whether this engine holds the node's claim (see release()).
        self.held = inputs is not None
        # The ready successor this thread runs next (see run_node()).
        self.follow_on = None

    def release(self, cnxt):
        """Give the node back unfinished; True if it must run again."""
        if not self.held:
            return False
        self.held = False
        return sync_points.release(cnxt, self.traversal_id, self.node,
                                   self.engine_id)

    def _initiate_propagate_resource(self, cnxt, resource_id,
                                     current_traversal, is_update, rsrc,
                                     stack, is_skip=False, rsrc_failure=None):
        own = None
        if is_update and any(succ.is_update for succ in
                             sync_points.successors(self.inputs.plan)):
            own = definitions.node_data(rsrc, current_traversal).as_dict()
        deliveries = self._deliveries(
            resource_id, stack.id, own, rsrc.replaced_by,
            nothing_to_clean_up(self.node, rsrc, stack) if is_update
            else None)
        results, claimed_at = self._deliver(cnxt, current_traversal,
                                            deliveries, is_skip, rsrc_failure)
        if is_update:
            if own is None:
                rsrc.clear_stored_attributes()
            else:
                rsrc.store_attributes()
        self._follow_up(cnxt, resource_id, current_traversal, deliveries,
                        results, claimed_at, stack.id, lambda: stack,
                        (stack.adopt_stack_data, stack.converge,
                         rsrc.abandon_in_progress))

    def hand_over_only(self, cnxt, current_traversal, stack_id, args):
        """Finish a cleanup node that has nothing to clean up.

        See :func:`nothing_to_clean_up`: what Heat's ``check`` would do
        for it comes down to handing over, as a cleanup of a resource that
        was not replaced (the needed-by id sent on is its own). The stack
        is loaded only if this node completes the traversal.
        """
        deliveries = self._deliveries(self.node.rsrc_id, stack_id, None,
                                      None, None)
        results, claimed_at = self._deliver(
            cnxt, current_traversal, deliveries, self.inputs.skip,
            self.inputs.failures or None)

        def load_stack():
            stack = parser.Stack.load(cnxt, stack_id=stack_id,
                                      force_reload=True)
            stack.thread_group_mgr = self.thread_group_mgr
            return stack

        self._follow_up(cnxt, self.node.rsrc_id, current_traversal,
                        deliveries, results, claimed_at, stack_id,
                        load_stack, args)

    def _deliveries(self, resource_id, stack_id, own, replaced_by,
                    nothing_to_clean):
        """(target, data) for every successor in the node's plan.

        ``own`` is the node's NodeData dict if it has update successors;
        ``nothing_to_clean`` what an update node tells its own cleanup node
        (:func:`nothing_to_clean_up`).
        """
        node = self.node
        deliveries = []
        for succ in sync_points.successors(self.inputs.plan):
            if succ.is_update:
                data = {item: (own if item == str(node.rsrc_id)
                               else self.inputs.item(item))
                        for item in self.inputs.plan['fwd'].get(
                            str(succ.rsrc_id), ())}
            elif str(succ.rsrc_id) != str(node.rsrc_id):
                # Heat sends a cleanup node the id of the resource that
                # needs the one it cleans up.
                data = (replaced_by if replaced_by is not None
                        else resource_id)
            else:
                data = nothing_to_clean
            deliveries.append((succ, data))
        if self.inputs.plan.get('root'):
            deliveries.append((sync_points.stack_key(stack_id), None))
        return deliveries

    def _deliver(self, cnxt, current_traversal, deliveries, is_skip,
                 failures):
        """Mark the node done and deliver; return the results and when."""
        keep = self.driver.run_locally and not self.driver.limit
        claimed_at = time.monotonic()
        results = sync_points.deliver(
            cnxt, current_traversal, self.node, deliveries,
            failures=failures, skip=is_skip,
            claim_for=self.engine_id if keep else None)
        self.held = False
        return results, claimed_at

    def _follow_up(self, cnxt, resource_id, current_traversal, deliveries,
                   results, claimed_at, stack_id, load_stack, args):
        """Run, send or finish what the deliveries made ready.

        ``claimed_at`` is when a successor claimed in the delivery was
        claimed; ``args`` are the flags Heat passes on with every node.
        """
        if sync_points.GONE in results:
            self._superseded(cnxt, resource_id, current_traversal, stack_id)
            return
        for (target, _data), ready in zip(deliveries, results):
            if isinstance(ready, sync_points.NodeInputs):
                self.follow_on = FollowOn(parser.ConvergenceNode(
                    target.rsrc_id, target.is_update), *args,
                    inputs=ready, claimed_at=claimed_at)
        for (target, _data), ready in zip(deliveries, results):
            if not ready or isinstance(ready, sync_points.NodeInputs):
                continue
            if isinstance(target, sync_points.Successor):
                if (self.follow_on is None and self.driver.run_locally and
                        target.node_type == parser.NODE_TYPE_RESOURCE):
                    self.follow_on = FollowOn(parser.ConvergenceNode(
                        target.rsrc_id, target.is_update), *args,
                        inputs=None, claimed_at=None)
                else:
                    self.driver.dispatch(cnxt, current_traversal, target,
                                         *args)
            else:
                traversal.finish(cnxt, load_stack(), current_traversal,
                                 self.engine_id)

    def _superseded(self, cnxt, resource_id, current_traversal, stack_id):
        # Heat's EntityNotFound('Sync Point') branch: a newer traversal may
        # be waiting for this resource.
        stack = parser.Stack.load(cnxt, stack_id=stack_id,
                                  force_reload=True)
        if current_traversal == stack.current_traversal:
            LOG.debug('[%s] Traversal sync point missing.', current_traversal)
            return
        self.retrigger_check_resource(cnxt, resource_id, stack)

    def retrigger_check_resource(self, cnxt, resource_id, stack):
        """Re-trigger a resource's node in the stack's newest traversal.

        As Heat: the update node if the newest traversal has one, else the
        cleanup node. It runs if all its predecessors have reported.
        """
        for is_update in (True, False):
            node = parser.ConvergenceNode(resource_id, is_update)
            must_run = sync_points.poke(cnxt, stack.current_traversal, node)
            if must_run is None:
                continue
            LOG.info('Re-trigger resource: %s', node)
            if must_run:
                self.driver.dispatch(cnxt, stack.current_traversal, node,
                                     None, stack.converge, False)
            return


def nothing_to_clean_up(node, rsrc, stack):
    """What an update node tells its own cleanup node; None for nothing.

    The cleanup of a resource whose row belongs to the traversal's
    template (updated in place, or unchanged) does nothing in Heat:
    ``delete_convergence`` deletes only a row of another template, and a
    CHECK, RESUME or SNAPSHOT cleans up nothing at all. Such a cleanup node
    needs neither its resource nor its stack loaded: it only hands over
    (:meth:`ForwardingCheckResource.hand_over_only`). The update node knows
    that much as it finishes, and says so with the stack's id and deadline.
    A SUSPEND's cleanup suspends the resource, and a replaced resource's
    row (or a replacement running the node of the one it replaces) is not
    the node's own current row: those cleanup nodes run Heat's code.
    """
    if (str(rsrc.id) != str(node.rsrc_id) or
            stack.action == stack.SUSPEND or
            rsrc.current_template_id != stack.t.id or
            rsrc.replaced_by is not None):
        return None
    deadline = traversal.deadline(stack)
    return {'stack_id': stack.id,
            'deadline': deadline.isoformat() if deadline else None}


def _cleanup_shortcut(node, inputs):
    """The stack id if the cleanup ``node`` has nothing to clean up.

    Past the stack's deadline the node runs Heat's code, which fails the
    stack for its timeout as Heat would.
    """
    if node.is_update:
        return None
    told = inputs.data.get(parser.ConvergenceNode(node.rsrc_id, True))
    if not isinstance(told, dict) or 'stack_id' not in told:
        return None
    if told['deadline'] is not None and timeutils.utcnow() >= (
            datetime.datetime.fromisoformat(told['deadline'])):
        return None
    return told['stack_id']


@contextlib.contextmanager
def _node_scope(driver, traversal_id, node):
    """Where a node runs: tracked, with Heat's per-node loads made cheap."""
    with driver.tracking(traversal_id, node), \
            definitions.on_demand(driver.parse_on_demand), \
            stack_cache.cached(traversal_id, driver.cache_stack_reads), \
            state_changes.in_node():
        yield


def run_node(driver, worker, cnxt, resource_id, current_traversal, data,
             is_update, adopt_stack_data, converge=False, abandon=False):
    """Process one resource node of a reduced traversal.

    Then the successor it made ready and kept for this thread, if any, and
    so on.
    """
    envelope = (data or {}).get(ENVELOPE)
    leaf_plan = (data or {}).get(LEAF_PLAN)
    node = parser.ConvergenceNode(*(envelope or (resource_id, is_update)))
    claimed = None
    while node is not None:
        with _node_scope(driver, current_traversal, node):
            follow_on = _run_node(driver, worker, cnxt, resource_id,
                                  current_traversal, envelope, node,
                                  is_update, adopt_stack_data, converge,
                                  abandon, claimed, leaf_plan)
        node = claimed = leaf_plan = None
        if follow_on is not None:
            node, adopt_stack_data, converge, abandon = follow_on[:4]
            resource_id, is_update, envelope = (node.rsrc_id,
                                                node.is_update, None)
            if follow_on.inputs is not None:
                claimed = follow_on


def _run_node(driver, worker, cnxt, resource_id, current_traversal,
              envelope, node, is_update, adopt_stack_data, converge,
              abandon, claimed=None, leaf_plan=None):
    """Run one node; return the :class:`FollowOn` it kept, or None.

    ``claimed`` is the node's own FollowOn if its predecessor claimed it
    for this thread already; ``leaf_plan`` the plan its message carried.
    """
    claimed_at = (claimed.claimed_at if claimed is not None
                  else time.monotonic())
    inputs, resource_data, loaded = _claim_and_load(
        driver, worker.engine_id, cnxt, current_traversal, node,
        resource_id, is_update, claimed, leaf_plan)
    if inputs is None:
        if envelope is not None or _superseded_replacement(
                cnxt, current_traversal, resource_id):
            _stale_replacement(driver, worker, cnxt, resource_id,
                               current_traversal, node, is_update)
        else:
            LOG.debug('[%s] Node %s is not ready here (done, held by '
                      'another engine, throttled, or its traversal is '
                      'gone); ignored.', current_traversal, node)
        return
    args = (adopt_stack_data, converge, abandon)
    if isinstance(loaded, HandOverOnly):
        return _hand_over_only(driver, worker, cnxt, current_traversal, node,
                               inputs, loaded.stack_id, args)

    rsrc, stk_defn, stack = loaded
    msg_queue = cancellation.WakingQueue()
    check = ForwardingCheckResource(driver, worker.engine_id,
                                    worker.thread_group_mgr, msg_queue,
                                    current_traversal, node, inputs)
    if rsrc is None:
        check.release(cnxt)
        driver.slot_freed(cnxt, current_traversal)
        return
    rsrc.converge = converge
    if abandon:
        rsrc.abandon_in_progress = True
    try:
        worker.thread_group_mgr.add_msg_queue(stack.id, msg_queue)
        if current_traversal != stack.current_traversal:
            LOG.debug('[%s] Traversal cancelled; re-triggering.',
                      current_traversal)
            _retrigger_replaced(is_update, rsrc, stack, check)
        elif driver.cancelled_since(stack.id, claimed_at):
            # Cancelled while the resource was loading: the cancel queued
            # its message for the threads registered at that moment, and
            # this one registered just after, so it would never see it. It
            # must not start the action.
            LOG.info('[%s] Node %s cancelled before its action started.',
                     current_traversal, node)
            check.held = False
        else:
            with cancellation.waking(msg_queue):
                check.check(cnxt, resource_id, current_traversal,
                            resource_data, is_update, adopt_stack_data,
                            rsrc, stack, skip_propagate=inputs.skip,
                            accumulated_failures=inputs.failures or None)
    except BaseException:
        _send_kept(driver, cnxt, current_traversal, check)
        raise
    finally:
        worker.thread_group_mgr.remove_msg_queue(None, stack.id, msg_queue)
        _node_ended(driver, cnxt, current_traversal, check, args)
        if stack.current_traversal != current_traversal:
            # This node failed the stack (mark_failed cleared or replaced
            # the traversal id): its rows have nothing left to coordinate.
            sync_points.delete_traversal(cnxt, current_traversal)
    return check.follow_on


def _hand_over_only(driver, worker, cnxt, current_traversal, node, inputs,
                    stack_id, args):
    """Run a cleanup node that has nothing to clean up (no load, no action).

    Returns the :class:`FollowOn` it kept, or None.
    """
    check = ForwardingCheckResource(driver, worker.engine_id,
                                    worker.thread_group_mgr, None,
                                    current_traversal, node, inputs)
    try:
        check.hand_over_only(cnxt, current_traversal, stack_id, args)
    except BaseException:
        _send_kept(driver, cnxt, current_traversal, check)
        raise
    finally:
        _node_ended(driver, cnxt, current_traversal, check, args)
    return check.follow_on


def _send_kept(driver, cnxt, current_traversal, check):
    """Send the successor a failed node kept for its thread.

    It is ready, and nothing else would run it before ready_timeout.
    """
    if check.follow_on is None:
        return
    succ, adopt_stack_data, converge, abandon = check.follow_on[:4]
    if check.follow_on.inputs is not None:
        sync_points.release(cnxt, current_traversal, succ, check.engine_id)
    check.follow_on = None
    driver.dispatch(cnxt, current_traversal, succ, adopt_stack_data,
                    converge, abandon)


def _node_ended(driver, cnxt, current_traversal, check, args):
    """Give back a node left unfinished, and its slot under a limit."""
    if check.release(cnxt):
        driver.dispatch(cnxt, current_traversal, check.node, *args)
    driver.slot_freed(cnxt, current_traversal)


def _claim_and_load(driver, engine_id, cnxt, traversal_id, node,
                    resource_id, is_update, claimed=None, leaf_plan=None):
    """Claim a node, unless ``claimed`` already, and load its resource.

    :returns: the node's inputs, the requirements' data built from them and
        Heat's ``load_resource`` result, or :class:`HandOverOnly` for a
        cleanup node with nothing to clean up (see
        :func:`nothing_to_clean_up`), which is not loaded; (None, None,
        None) if the node could not be claimed.

    A node that claims itself is loaded in the claim's transaction: a
    read-only transaction of its own would cost every such node a pooled
    connection and a ROLLBACK. The claim's row lock is held through the
    load; all that waits for it is another claim of the same node (a
    duplicate message) or a cancel deleting the traversal's rows. A load
    that fails rolls the claim back with it, leaving the node READY for
    the periodic recovery to dispatch again. A claim under a limit of
    running nodes locks its traversal's row, which every claim of the
    traversal waits for: it commits before the load.
    """
    manager = heat_db_api.context_manager
    claim = functools.partial(sync_points.claim, cnxt, traversal_id, node,
                              engine_id, driver.limit, leaf_plan)
    claim_inside = claimed is None and not driver.limit
    if claimed is not None:
        inputs = claimed.inputs
    elif not claim_inside:
        inputs = claim()
    with (manager.writer if claim_inside else manager.reader).using(cnxt):
        if claim_inside:
            inputs = claim()
        if inputs is None:
            return None, None, None
        stack_id = _cleanup_shortcut(node, inputs)
        if stack_id is not None:
            return inputs, {}, HandOverOnly(stack_id)
        resource_data = node_data.load_resources_data(
            inputs.consumed()) if is_update else {}
        return inputs, resource_data, check_resource.load_resource(
            cnxt, resource_id, resource_data, traversal_id, is_update)


def _superseded_replacement(cnxt, traversal_id, resource_id):
    """Whether a refused message may need Heat's stale-message handling.

    Heat loads the resource of every message of a superseded traversal and
    acts on replacements only (see :func:`_retrigger_replaced`). A refused
    claim is looked at further only if its traversal is gone, so refusals
    within a live traversal (duplicates, throttling) stay cheap.
    """
    if sync_points.db_api.traversal_get(cnxt, traversal_id) is not None:
        return False
    try:
        rsrc = resource_objects.Resource.get_obj(cnxt, resource_id,
                                                 fields={'replaces'})
    except exception.NotFound:
        return False
    return rsrc.replaces is not None


def _stale_replacement(driver, worker, cnxt, resource_id, current_traversal,
                       node, is_update):
    """A message for a replacement, from a traversal that is gone now.

    Either the dispatch of a new replacement (the message names the node
    it runs) or an ordinary node of a replacement resource. Heat's
    stale-message path: see :func:`_retrigger_replaced`.
    """
    rsrc, stk_defn, stack = check_resource.load_resource(
        cnxt, resource_id, {}, current_traversal, is_update)
    if rsrc is None or current_traversal == stack.current_traversal:
        return
    check = ForwardingCheckResource(driver, worker.engine_id,
                                    worker.thread_group_mgr, None,
                                    current_traversal, node, None)
    _retrigger_replaced(is_update, rsrc, stack, check)


def _retrigger_replaced(is_update, rsrc, stack, check):
    """Heat's ``WorkerService._retrigger_replaced``, without its leak.

    A replacement for which the stack's newest traversal has no such node
    is not needed any more: Heat marks it DELETE, so that the row is purged
    and later traversals leave it out, and re-triggers the resource it
    replaces. Heat marks a replacement it has already created just the same
    (when an update that took it over is superseded in turn): its status
    then reads DELETE COMPLETE, the newest traversal's cleanup skips it,
    and the physical resource is never deleted. Here a created replacement
    is left to that cleanup node, which every traversal has for it.
    """
    node = parser.ConvergenceNode(rsrc.id, is_update)
    if (node in stack.convergence_dependencies.graph() or
            rsrc.replaces is None):
        return
    if rsrc.action == rsrc.INIT:
        heat_db_api.resource_update_and_save(stack.context, rsrc.id,
                                             {'action': rsrc.DELETE})
    check.retrigger_check_resource(stack.context, rsrc.replaces, stack)


def run_snapshot_node(driver, worker, cnxt, snapshot_id, current_traversal,
                      data, is_update):
    """Process a snapshot-deletion node of a DELETE traversal."""
    node = parser.ConvergenceNode(snapshot_id, is_update,
                                  parser.NODE_TYPE_SNAPSHOT)
    if sync_points.claim(cnxt, current_traversal, node,
                         worker.engine_id) is None:
        return
    heat_worker.WorkerService._handle_snapshot_node(
        worker, cnxt, snapshot_id, current_traversal, data, is_update)


def snapshot_done(driver, worker, cnxt, snapshot_id, current_traversal,
                  stack_id=None, failure=None):
    """A snapshot node finished: deliver it to the stack's completion."""
    if stack_id is None:
        # The snapshot was already gone; Heat gives up here and the
        # traversal never completes. The traversal row knows the stack.
        row = sync_points.db_api.traversal_get(cnxt, current_traversal)
        if row is None:
            return
        stack_id = row.stack_id
    stack = parser.Stack.load(cnxt, stack_id=stack_id, force_reload=True)
    if current_traversal != stack.current_traversal:
        return
    if failure:
        stack.mark_failed('Snapshot deletion failed: %s' % failure)
        return
    node = parser.ConvergenceNode(snapshot_id, False,
                                  parser.NODE_TYPE_SNAPSHOT)
    ready, = sync_points.deliver(cnxt, current_traversal, node,
                                 [(sync_points.stack_key(stack.id), None)])
    if ready:
        traversal.finish(cnxt, stack, current_traversal, worker.engine_id)
    elif ready is sync_points.GONE:
        raise exception.EntityNotFound(entity='Sync Point',
                                       name=current_traversal)
