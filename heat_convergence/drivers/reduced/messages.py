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

"""What a dispatch of the ``reduced`` driver carries, and where it goes.

Dispatches go to :data:`TOPIC`, a worker topic of the driver's own, never
to Heat's ``engine_worker``: a stock heat-engine on the same bus would take
its share of them and drop them (it looks for Heat's SyncPoints, and a
reduced traversal has none), so a mixed fleet would stall. Only
heat-convergence engines running this driver serve the topic.

A node's inputs are in the database (its SyncPoint row and arrivals), so
the ``data`` of a ``check_resource`` cast carries none of them, only two
optional keys:

* :data:`ENVELOPE`: the graph node the message is for, when that is not
  (resource_id, is_update): a replacement resource runs the node of the
  resource it replaces;
* :data:`LEAF_PLAN`: the plan of a leaf dispatched as its traversal
  starts. A leaf has no arrivals, so it claims itself without reading its
  row.
"""

from heat.common import messaging as rpc_messaging
from heat.engine import stack as parser
from heat.rpc import worker_client

# The message format is in the topic's name, not only in the RPC version: a
# cast is anycast and nobody answers it, so an engine that does not know a
# newer format would take its share of the messages and drop them
# (oslo.messaging logs UnsupportedVersion and moves on). A new format gets a
# new topic; during a rolling upgrade the engines of the new version serve
# the old topic as well, and the old engines never see the new messages.
# The methods and arguments are those of Heat's engine_worker API 1.9.
TOPIC = 'heat_convergence_worker_1'

ENVELOPE = 'heat_convergence_node'
LEAF_PLAN = 'heat_convergence_leaf_plan'


class WorkerClient(worker_client.WorkerClient):
    """Heat's worker RPC client, casting to :data:`TOPIC`."""

    def __init__(self):
        self._client = rpc_messaging.get_rpc_client(
            topic=TOPIC, version=self.BASE_RPC_API_VERSION)


def is_ours(data):
    """Whether ``data`` has a key only this driver's dispatches carry.

    Engines of earlier versions of the plugin sent their dispatches to
    Heat's ``engine_worker`` topic; a redispatch or a leaf's carried one of
    these keys, the others look like Heat's own.
    """
    return bool(data) and (ENVELOPE in data or LEAF_PLAN in data)


def traversal_input(leaf_plan=None):
    """The ``data`` of a dispatch, with a leaf's plan if given."""
    data = {'input_data': {}}
    if leaf_plan is not None:
        data[LEAF_PLAN] = leaf_plan
    return data


def envelope(node, resource_id):
    """The ``data`` of a re-dispatch to ``resource_id`` of ``node``."""
    data = traversal_input()
    if str(resource_id) != str(node.rsrc_id):
        data[ENVELOPE] = [node.rsrc_id, node.is_update]
    return data


def node_of(data, resource_id, is_update):
    """The graph node a message is for."""
    named = (data or {}).get(ENVELOPE)
    return parser.ConvergenceNode(*(named or (resource_id, is_update)))


def is_redispatch(data):
    """Whether a message names the node it is for (a replacement's)."""
    return (data or {}).get(ENVELOPE) is not None


def leaf_plan(data):
    """The plan a leaf's message carried, or None."""
    return (data or {}).get(LEAF_PLAN)
