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

"""A finished node hands over to its successors through the SyncPoints.

:class:`ForwardingCheckResource` is Heat's ``CheckResource``: Heat's code
runs the resource action; only the hand-over differs. Instead of Heat's
one SyncPoint update per successor (a read-modify-write retried on
conflict), the node delivers to every successor in its plan, in one
transaction, its own data plus what its plan says to forward across the
edges the reduction removed (:mod:`.forwarding`).

A node that makes successors ready keeps one of them for its own thread
(``[heat_convergence] run_successor_locally``) and casts the others: along
a chain no node waits for a broker round trip, and the stack's nodes still
spread over the engines as they fan out. The kept successor is claimed in
the transaction that made it ready (without a limit of running nodes per
stack; with one, like any dispatched node, once the limit allows): along a
chain, a node costs one transaction of the plugin's own less.

A traversal superseded by another of this driver has lost its rows, and a
delivery to it fails: the node re-triggers its resource in the newest
traversal, as Heat's does. One started by a stock heat-engine (or the new
id of a cancel made there) leaves the rows in place until the recovery
collects them: a node that has acted on its resource also checks that its
traversal is still the stack's, since the newest traversal may wait for it
to release that resource. It then re-triggers the resource through Heat's
own SyncPoints, which are that traversal's.
"""

import collections
import time

from heat.engine import check_resource
from heat.engine import stack as parser
from heat.objects import resource as resource_objects
from heat.rpc import worker_client
from oslo_log import log as logging

from heat_convergence.drivers.reduced import cleanup_shortcut
from heat_convergence.drivers.reduced import definitions
from heat_convergence.drivers.reduced import messages
from heat_convergence.drivers.reduced import sync_points
from heat_convergence.drivers.reduced import traversal

LOG = logging.getLogger(__name__)


# A ready successor a node keeps for its own thread, with the arguments of
# its dispatch. ``inputs`` are its NodeInputs if it is claimed already (at
# monotonic time ``claimed_at``), else None. ``resource_id`` is set for a
# replacement, which runs its node (the replaced resource's) on the new
# resource.
FollowOn = collections.namedtuple(
    'FollowOn', ['node', 'adopt_stack_data', 'converge', 'abandon',
                 'inputs', 'claimed_at', 'resource_id'], defaults=(None,))


class ReDispatch(object):
    """The RPC client Heat's CheckResource code re-dispatches through.

    Heat re-casts a node it cannot finish itself: to the replacement
    resource it has just created, or to itself when the resource was locked
    by a dead engine or read stale. The node is released first, so that the
    receiving engine can claim it; a replacement is told which node it runs.
    Where successors run locally, a replacement is kept for this thread
    instead, still claimed (:meth:`ForwardingCheckResource.keep_replacement`).
    """

    def __init__(self, node_check):
        self._check = node_check

    def check_resource(self, cnxt, resource_id, current_traversal, data,
                       is_update, adopt_stack_data, **kwargs):
        if self._check.keep_replacement(resource_id, adopt_stack_data,
                                        **kwargs):
            return
        self._check.release(cnxt)
        recast(self._check.driver, cnxt, current_traversal,
               self._check.node, resource_id, is_update, adopt_stack_data,
               **kwargs)


def recast(driver, cnxt, traversal_id, node, resource_id, is_update,
           adopt_stack_data, **kwargs):
    """Cast a released node to run on ``resource_id``, told its node."""
    driver.rpc_client.check_resource(
        cnxt, resource_id, traversal_id, messages.envelope(node, resource_id),
        is_update, adopt_stack_data, **kwargs)


class ForwardingCheckResource(check_resource.CheckResource):
    """Heat's CheckResource, handing over through the plugin's SyncPoints.

    ``node`` is the graph node being run (for a replacement, the node of the
    resource it replaces, as Heat's impersonation does), ``inputs`` its
    :class:`heat_convergence.drivers.reduced.sync_points.NodeInputs`,
    ``resource_id`` the resource it runs on and ``claimed_at`` when it was
    claimed (monotonic time).
    """

    def __init__(self, driver, engine_id, thread_group_mgr, msg_queue,
                 traversal_id, node, inputs, resource_id=None,
                 claimed_at=None):
        super().__init__(engine_id, ReDispatch(self), thread_group_mgr,
                         msg_queue, inputs.data if inputs else {})
        self.driver = driver
        self.traversal_id = traversal_id
        self.node = node
        self.inputs = inputs
        self.resource_id = resource_id
        self.claimed_at = claimed_at
        # Whether this engine holds the node's claim (see release()).
        self.held = inputs is not None
        # The ready successor this thread runs next (see :mod:`.node_loop`).
        self.follow_on = None

    def release(self, cnxt):
        """Give the node back unfinished; True if it must run again."""
        if not self.held:
            return False
        self.held = False
        return sync_points.release(cnxt, self.traversal_id, self.node,
                                   self.engine_id)

    def keep_replacement(self, resource_id, adopt_stack_data,
                         converge=False, abandon=False, **_kwargs):
        """Keep Heat's re-cast of the node for this thread; True if kept.

        Only a replacement is kept (the re-cast names another resource than
        the one the node ran on), where successors run locally and no limit
        counts running nodes: it runs next, on the claim this node holds.
        Released and claimed again wherever the cast went, it would cost a
        broker round trip and four statements more per replaced resource.
        """
        if (not self.held or self.resource_id is None or
                str(resource_id) == str(self.resource_id) or
                not self.driver.run_locally or self.driver.limit):
            return False
        self.held = False
        self.follow_on = FollowOn(self.node, adopt_stack_data, converge,
                                  abandon, inputs=self.inputs,
                                  claimed_at=self.claimed_at,
                                  resource_id=resource_id)
        return True

    def _stale_resource_needs_retry(self, cnxt, rsrc, prev_template_id):
        """Heat's answer to a locked resource, and a lock left behind here.

        Heat steals the lock of a resource whose engine is dead, and leaves
        one its own engine holds to the thread holding it. A thread that
        died holding it (the release failed too, as in a database outage)
        leaves it held for good: no thread here will release it and no
        other engine will steal it from a live one, so the stack would wait
        for its timeout and keep the resource locked after. When no other
        node running here acts on the resource, its lock is such a
        leftover, and it is stolen as Heat steals a dead engine's: the
        resource is marked FAILED "Worker went down" and checked again.
        """
        if self._steal_own_lock(cnxt, rsrc):
            return True
        return super()._stale_resource_needs_retry(cnxt, rsrc,
                                                   prev_template_id)

    def _steal_own_lock(self, cnxt, rsrc):
        row = resource_objects.Resource.get_obj(cnxt, rsrc.id, refresh=True)
        # This node itself counts as one acting on the resource.
        if (row.engine_id != self.engine_id or
                self.driver.acting_on(rsrc.id) > 1):
            return False
        # A compare-and-swap on the atomic key, which a thread releasing
        # the lock meanwhile changes.
        if not row.select_and_update({'engine_id': None},
                                     expected_engine_id=self.engine_id,
                                     atomic_key=row.atomic_key):
            return False
        LOG.warning('%s was locked by this engine, but no thread here acts '
                    'on it (one died holding the lock); the lock is '
                    'stolen and the resource checked again.', rsrc)
        rsrc.state_set(rsrc.action, rsrc.FAILED,
                       'Worker went down during resource %s' % rsrc.action)
        return True

    def _initiate_propagate_resource(self, cnxt, resource_id,
                                     current_traversal, is_update, rsrc,
                                     stack, is_skip=False, rsrc_failure=None):
        own = None
        if is_update and any(succ.is_update for succ in
                             sync_points.successors(self.inputs.plan)):
            own = definitions.node_data(rsrc, current_traversal).as_dict()
        deliveries = self._deliveries(
            resource_id, stack.id, own, rsrc.replaced_by,
            cleanup_shortcut.nothing_to_clean_up(self.node, rsrc, stack)
            if is_update else None)
        results, claimed_at = self._deliver(cnxt, current_traversal,
                                            stack.id, deliveries, is_skip,
                                            rsrc_failure)
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

        See :func:`.cleanup_shortcut.nothing_to_clean_up`: what Heat's
        ``check`` would do for it comes down to handing over, as a cleanup
        of a resource that was not replaced (the needed-by id sent on is its
        own). The stack is loaded only if this node completes the
        traversal.
        """
        deliveries = self._deliveries(self.node.rsrc_id, stack_id, None,
                                      None, None)
        results, claimed_at = self._deliver(
            cnxt, current_traversal, stack_id, deliveries, self.inputs.skip,
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
        (:func:`.cleanup_shortcut.nothing_to_clean_up`).
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

    def _deliver(self, cnxt, current_traversal, stack_id, deliveries,
                 is_skip, failures):
        """Mark the node done and deliver; return the results and when.

        Every result is GONE if the stack has moved on to another
        traversal, as Heat's ``is_current`` check after a node would tell:
        :meth:`_follow_up` then re-triggers the resource in the newer one.
        """
        keep = self.driver.run_locally and not self.driver.limit
        claimed_at = time.monotonic()
        results = sync_points.deliver(
            cnxt, current_traversal, self.node, deliveries,
            failures=failures, skip=is_skip,
            claim_for=self.engine_id if keep else None, stack_id=stack_id,
            bare=self.inputs.plan.get('bare', ()))
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
            if (isinstance(ready, sync_points.NodeInputs) and
                    isinstance(target, sync_points.Successor)):
                self.follow_on = FollowOn(parser.ConvergenceNode(
                    target.rsrc_id, target.is_update), *args,
                    inputs=ready, claimed_at=claimed_at)
        for (target, _data), ready in zip(deliveries, results):
            if not ready:
                continue
            claimed = isinstance(ready, sync_points.NodeInputs)
            if not isinstance(target, sync_points.Successor):
                # The stack's completion point, claimed already if ours.
                traversal.finish(self.driver, cnxt, load_stack(),
                                 current_traversal,
                                 inputs=ready if claimed else None)
            elif claimed:
                continue
            elif (self.follow_on is None and self.driver.run_locally and
                    target.node_type == parser.NODE_TYPE_RESOURCE):
                self.follow_on = FollowOn(parser.ConvergenceNode(
                    target.rsrc_id, target.is_update), *args,
                    inputs=None, claimed_at=None)
            else:
                self.driver.dispatch(cnxt, current_traversal, target, *args)

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
        cleanup node. It runs if all its predecessors have reported. A
        traversal that is not this driver's is Heat's: Heat re-triggers
        there, through Heat's SyncPoints and ``engine_worker``.
        """
        if not sync_points.db_api.is_ours(cnxt, stack.current_traversal):
            check_resource.CheckResource(
                self.engine_id, worker_client.WorkerClient(),
                self.thread_group_mgr, None, {}).retrigger_check_resource(
                    cnxt, resource_id, stack)
            return
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
