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

"""Snapshot-deletion nodes of a DELETE traversal.

Heat deletes a stack's snapshots in nodes of their own, with Heat's own
code; here such a node is claimed like any other first, and its
completion is delivered to the stack's completion point.
"""

from heat.common import exception
from heat.engine import stack as parser
from heat.engine import worker as heat_worker

from heat_convergence.drivers.reduced import sync_points
from heat_convergence.drivers.reduced import traversal


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
        traversal.finish(driver, cnxt, stack, current_traversal)
    elif ready is sync_points.GONE:
        raise exception.EntityNotFound(entity='Sync Point',
                                       name=current_traversal)
