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

"""Heat's own traversals in a mixed fleet: resuming lost graph nodes.

A traversal started by a stock heat-engine runs on Heat's path, with its
SyncPoints in Heat's ``sync_point`` table and its nodes cast to
``engine_worker``. Heat never casts a node again: a cast lost on the way
(an engine stopped, even gracefully, drops the messages the broker hands
it while it stops) leaves its stack IN_PROGRESS for good. Stock engines
stopped one at a time are how a deployment is adopted, so the recovery
resumes such traversals.

A traversal is looked at once it has been idle for ``ready_timeout``:
no SyncPoint of it written, no event of its stack, no resource of its
stack locked by an engine. A node is then resumed if all its predecessors
have reported in its SyncPoint and it has reported to none of its
successors (nor, for a root, to the stack): its message was lost. It is
cast again, on ``engine_worker``, with what Heat would have sent. The
engine that resumes it first bumps the SyncPoint's ``atomic_key``, as
Heat's own writes do, so that engines making the same pass resume it once.
"""

from heat.engine import stack as parser
from heat.engine import sync_point as heat_sync_point
from heat.rpc import worker_client
from oslo_log import log as logging

from heat_convergence.db import recovery as db_recovery

LOG = logging.getLogger(__name__)


def _lost_nodes(stack, rows):
    """The resource nodes ready in Heat's SyncPoints but never run.

    ``rows``: {(entity id, is_update): row} of the traversal.
    """
    def arrived(entity_id, is_update):
        row = rows.get((str(entity_id), is_update))
        return (None if row is None else
                heat_sync_point.deserialize_input_data(row.input_data))

    graph = stack.convergence_dependencies.graph()
    for node in graph:
        if node.node_type != parser.NODE_TYPE_RESOURCE:
            continue
        inputs = arrived(node.rsrc_id, node.is_update)
        if inputs is None or not set(graph[node]) <= set(inputs):
            continue
        successors = list(graph[node].required_by())
        receivers = ([arrived(s.rsrc_id, s.is_update) for s in successors]
                     if successors else [arrived(stack.id, True)])
        if not any(node in (got or {}) for got in receivers):
            yield node, rows[(str(node.rsrc_id), node.is_update)]


def resume(cnxt, stack_id, traversal_id, before):
    """Cast again the lost nodes of a Heat traversal idle since ``before``.

    :returns: the number of nodes cast.
    """
    if not db_recovery.heat_traversal_idle(cnxt, stack_id, traversal_id,
                                           before):
        return 0
    stack = parser.Stack.load(cnxt, stack_id=stack_id, force_reload=True)
    if stack.current_traversal != traversal_id:
        return 0
    rows = {(row.entity_id, row.is_update): row for row in
            db_recovery.heat_sync_points(cnxt, traversal_id)}
    client = worker_client.WorkerClient()
    cast = 0
    for node, row in list(_lost_nodes(stack, rows)):
        if not heat_sync_point.update_input_data(
                cnxt, row.entity_id, traversal_id, row.is_update,
                row.atomic_key, row.input_data):
            continue
        LOG.warning('[%(name)s(%(id)s)] Node %(node)s of traversal '
                    '%(trvsl)s (Heat\'s path) was ready but never ran: its '
                    'message was lost; sending it again.',
                    {'name': stack.name, 'id': stack.id, 'node': node,
                     'trvsl': traversal_id})
        client.check_resource(cnxt, node.rsrc_id, traversal_id,
                              row.input_data or
                              heat_sync_point.serialize_input_data({}),
                              node.is_update, stack.adopt_stack_data,
                              converge=stack.converge)
        cast += 1
    return cast
