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

"""Messages for replacement resources from traversals that are gone.

Heat's worker loads the resource of every message of a superseded
traversal, to catch one case: a replacement resource that the newest
traversal does not need any more, whose replaced resource must be
re-triggered there. Here a message of a dead traversal is refused by its
claim without loading anything, and only a refused message that may be
that case is looked at further.
"""

from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import check_resource
from heat.engine import stack as parser
from heat.objects import resource as resource_objects

from heat_convergence.drivers.reduced import handover
from heat_convergence.drivers.reduced import sync_points


def superseded_replacement(cnxt, traversal_id, resource_id):
    """Whether a refused message may need Heat's stale-message handling.

    Heat loads the resource of every message of a superseded traversal and
    acts on replacements only (see :func:`retrigger_replaced`). A refused
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


def stale_replacement(driver, worker, cnxt, resource_id, current_traversal,
                      node, is_update):
    """A message for a replacement, from a traversal that is gone now.

    Either the dispatch of a new replacement (the message names the node
    it runs) or an ordinary node of a replacement resource. Heat's
    stale-message path: see :func:`retrigger_replaced`.
    """
    rsrc, _, stack = check_resource.load_resource(
        cnxt, resource_id, {}, current_traversal, is_update)
    if rsrc is None or current_traversal == stack.current_traversal:
        return
    check = handover.ForwardingCheckResource(
        driver, worker.engine_id, worker.thread_group_mgr, None,
        current_traversal, node, None)
    retrigger_replaced(is_update, rsrc, stack, check)


def retrigger_replaced(is_update, rsrc, stack, check):
    """Heat's ``WorkerService._retrigger_replaced``, without its leak.

    A replacement for which the stack's newest traversal has no such node
    is not needed any more: Heat marks it DELETE, so that the row is purged
    and later traversals leave it out, and re-triggers the resource it
    replaces. Heat marks a replacement it has already created just the same
    (when an update that took it over is superseded in turn): its status
    then reads DELETE COMPLETE, the newest traversal's cleanup skips it,
    and the physical resource is never deleted. Here a created replacement
    is left to that cleanup node, which every traversal has for it.

    Heat reads the newest traversal's graph first, and fails on a stack
    whose newest traversal has not stored one yet; a node that a thread
    kept and runs a little later meets such stacks.
    """
    if rsrc.replaces is None or stack.current_deps is None:
        # Not a replacement; or the newest traversal is still starting, has
        # no graph yet and waits for nothing: it reads the rows as it does.
        return
    node = parser.ConvergenceNode(rsrc.id, is_update)
    if node in stack.convergence_dependencies.graph():
        return
    if rsrc.action == rsrc.INIT:
        heat_db_api.resource_update_and_save(stack.context, rsrc.id,
                                             {'action': rsrc.DELETE})
    check.retrigger_check_resource(stack.context, rsrc.replaces, stack)
