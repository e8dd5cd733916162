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

"""Running the nodes of a reduced traversal, one after the other.

An engine's ``check_resource`` message starts a node: :func:`run_node`
claims and loads it (:mod:`.claim`), runs Heat's own ``CheckResource`` on
it, with the hand-over of :mod:`.handover`, then runs the successor it made
ready and kept for its thread, if any, and so on. Whatever happens, a node
left unfinished is given back and dispatched again, and so is a successor
it kept: if the engine dies holding one, the survivors take it over like
any node it held (:mod:`.recovery`); if it dies before claiming it, the
periodic recovery dispatches it once it has been ready too long, as it
does for a message lost in the broker. A resource whose action waits for a
nested stack acts in a thread of its own (:mod:`.nested_actions`), and
runs its successors there.
"""

import contextlib
import functools
import time

from oslo_log import log as logging

from heat_convergence.drivers.reduced import cancellation
from heat_convergence.drivers.reduced import claim
from heat_convergence.drivers.reduced import cleanup_shortcut
from heat_convergence.drivers.reduced import definitions
from heat_convergence.drivers.reduced import handover
from heat_convergence.drivers.reduced import messages
from heat_convergence.drivers.reduced import nested_actions
from heat_convergence.drivers.reduced import nested_calls
from heat_convergence.drivers.reduced import parent_wake
from heat_convergence.drivers.reduced import stack_cache
from heat_convergence.drivers.reduced import stale_replacements
from heat_convergence.drivers.reduced import state_changes
from heat_convergence.drivers.reduced import sync_points

LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def _node_scope(driver, traversal_id, node, resource_id=None):
    """Where a node runs: tracked, with Heat's per-node loads made cheap."""
    with driver.tracking(traversal_id, node, resource_id), \
            definitions.on_demand(driver.parse_on_demand), \
            definitions.indexed_references(traversal_id), \
            stack_cache.cached(traversal_id, driver.cache_stack_reads), \
            state_changes.in_node():
        yield


def run_node(driver, worker, cnxt, resource_id, current_traversal, data,
             is_update, adopt_stack_data, converge=False, abandon=False):
    """Process one resource node of a reduced traversal.

    Then the successor it made ready and kept for this thread, if any, and
    so on.
    """
    node = messages.node_of(data, resource_id, is_update)
    with _node_scope(driver, current_traversal, node, resource_id):
        follow_on = _run_node(driver, worker, cnxt, resource_id,
                              current_traversal, messages.is_redispatch(data),
                              node, is_update, adopt_stack_data, converge,
                              abandon, None, messages.leaf_plan(data))
    _run_follow_ons(driver, worker, cnxt, current_traversal, follow_on)


def _run_follow_ons(driver, worker, cnxt, current_traversal, follow_on):
    """Run the successor a node kept, the one that one kept, and so on."""
    while follow_on is not None:
        follow_on = run_follow_on(driver, worker, cnxt, current_traversal,
                                  follow_on)


def run_follow_on(driver, worker, cnxt, current_traversal, follow_on):
    """Run the successor a node kept; return the one it keeps, or None.

    ``follow_on`` is a :class:`.handover.FollowOn`: claimed already if its
    ``inputs`` are set, else dispatched to this thread to claim.
    """
    node, adopt_stack_data, converge, abandon = follow_on[:4]
    claimed = follow_on if follow_on.inputs is not None else None
    resource_id = (node.rsrc_id if follow_on.resource_id is None
                   else follow_on.resource_id)
    with _node_scope(driver, current_traversal, node, resource_id):
        return _run_node(driver, worker, cnxt, resource_id,
                         current_traversal, False, node, node.is_update,
                         adopt_stack_data, converge, abandon, claimed)


def _run_node(driver, worker, cnxt, resource_id, current_traversal,
              redispatch, node, is_update, adopt_stack_data, converge,
              abandon, claimed=None, leaf_plan=None):
    """Run one node; return the :class:`.handover.FollowOn` it kept, or None.

    ``claimed`` is the node's own FollowOn if its predecessor claimed it
    for this thread already; ``leaf_plan`` the plan its message carried.
    """
    claimed_at = (claimed.claimed_at if claimed is not None
                  else time.monotonic())
    inputs, resource_data, loaded = claim.claim_and_load(
        driver, worker.engine_id, cnxt, current_traversal, node,
        resource_id, is_update, claimed, leaf_plan)
    if inputs is None:
        if redispatch or stale_replacements.superseded_replacement(
                cnxt, current_traversal, resource_id):
            stale_replacements.stale_replacement(
                driver, worker, cnxt, resource_id, current_traversal, node,
                is_update)
        else:
            LOG.debug('[%s] Node %s is not ready here (done, held by '
                      'another engine, throttled, or its traversal is '
                      'gone); ignored.', current_traversal, node)
        return
    args = (adopt_stack_data, converge, abandon)
    if isinstance(loaded, cleanup_shortcut.HandOverOnly):
        return _hand_over_only(driver, worker, cnxt, current_traversal, node,
                               inputs, loaded.stack_id, args)

    rsrc, _, stack = loaded
    msg_queue = cancellation.WakingQueue(getattr(rsrc, 'name', None))
    check = handover.ForwardingCheckResource(
        driver, worker.engine_id, worker.thread_group_mgr, msg_queue,
        current_traversal, node, inputs, resource_id, claimed_at)
    if rsrc is None:
        check.release(cnxt)
        driver.slot_freed(cnxt, current_traversal)
        return
    rsrc.converge = converge
    if abandon:
        rsrc.abandon_in_progress = True
    act = functools.partial(
        _act, driver, worker, cnxt, resource_id, current_traversal,
        resource_data, is_update, args, claimed_at, rsrc, stack, check,
        msg_queue)
    if nested_actions.waits_for_nested(rsrc) and nested_actions.run_detached(
            worker.thread_group_mgr, stack.id,
            functools.partial(_node_scope, driver, current_traversal, node,
                              resource_id),
            act, functools.partial(_run_follow_ons, driver, worker, cnxt,
                                   current_traversal)):
        return None
    return act()


def _act(driver, worker, cnxt, resource_id, current_traversal, resource_data,
         is_update, args, claimed_at, rsrc, stack, check, msg_queue):
    """Run Heat's check of a loaded node; return the FollowOn it kept."""
    adopt_stack_data = args[0]
    node = check.node
    was_current = current_traversal == stack.current_traversal
    try:
        worker.thread_group_mgr.add_msg_queue(stack.id, msg_queue)
        if current_traversal != stack.current_traversal:
            LOG.debug('[%s] Traversal cancelled; re-triggering.',
                      current_traversal)
            stale_replacements.retrigger_replaced(is_update, rsrc, stack,
                                                  check)
        elif driver.cancelled_since(stack.id, claimed_at):
            # Cancelled while the resource was loading: the cancel queued
            # its message for the threads registered at that moment, and
            # this one registered just after, so it would never see it. It
            # must not start the action.
            LOG.info('[%s] Node %s cancelled before its action started.',
                     current_traversal, node)
            check.held = False
        else:
            with (cancellation.waking(msg_queue),
                  nested_calls.surviving(driver.engine)):
                check.check(cnxt, resource_id, current_traversal,
                            resource_data, is_update, adopt_stack_data,
                            rsrc, stack, skip_propagate=check.inputs.skip,
                            accumulated_failures=check.inputs.failures or
                            None)
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
            if was_current:
                parent_wake.wake_parent(driver, cnxt, stack)
    return check.follow_on


def _hand_over_only(driver, worker, cnxt, current_traversal, node, inputs,
                    stack_id, args):
    """Run a cleanup node that has nothing to clean up (no load, no action).

    Returns the :class:`.handover.FollowOn` it kept, or None.
    """
    check = handover.ForwardingCheckResource(
        driver, worker.engine_id, worker.thread_group_mgr, None,
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
    """Send the successor (or replacement) a failed node kept for its thread.

    It is ready, and nothing else would run it before ready_timeout.
    """
    follow_on = check.follow_on
    if follow_on is None:
        return
    succ, adopt_stack_data, converge, abandon = follow_on[:4]
    if follow_on.inputs is not None:
        sync_points.release(cnxt, current_traversal, succ, check.engine_id)
    check.follow_on = None
    if follow_on.resource_id is not None:
        handover.recast(driver, cnxt, current_traversal, succ,
                        follow_on.resource_id, succ.is_update,
                        adopt_stack_data, converge=converge, abandon=abandon)
        return
    driver.dispatch(cnxt, current_traversal, succ, adopt_stack_data,
                    converge, abandon)


def _node_ended(driver, cnxt, current_traversal, check, args):
    """Give back a node left unfinished, and its slot under a limit."""
    if check.release(cnxt):
        driver.dispatch(cnxt, current_traversal, check.node, *args)
    driver.slot_freed(cnxt, current_traversal)
