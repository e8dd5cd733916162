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

"""Claiming a node in the database, and loading what it runs on.

A node runs on one engine only, however often it was dispatched: it is
*claimed* first, by an atomic update of its SyncPoint row, and a node of a
superseded or cancelled traversal is refused there, before its stack or
resource is loaded. Its inputs are read from the SyncPoint rows in the
same transaction.
"""

import functools

from heat.db import api as heat_db_api
from heat.engine import check_resource
from heat.engine import node_data
from oslo_db import exception as db_exception
import sqlalchemy as sa

from heat_convergence.db import api as db_api
from heat_convergence.drivers.reduced import cleanup_shortcut
from heat_convergence.drivers.reduced import sync_points


def claim_and_load(driver, engine_id, cnxt, traversal_id, node,
                   resource_id, is_update, claimed=None, leaf_plan=None):
    """Claim a node, unless ``claimed`` already, and load its resource.

    :returns: the node's inputs, the requirements' data built from them and
        Heat's ``load_resource`` result, or a
        :class:`.cleanup_shortcut.HandOverOnly` for a cleanup node with
        nothing to clean up, which is not loaded; (None, None, None) if the
        node could not be claimed.

    A node that claims itself is loaded in the claim's transaction: a
    read-only transaction of its own would cost every such node a pooled
    connection and a ROLLBACK. The claim's row lock is held through the
    load; all that waits for it is another claim of the same node (a
    duplicate message) or a cancel deleting the traversal's rows. A load
    that fails rolls the claim back with it, leaving the node READY for
    the periodic recovery to dispatch again. A conflict (on Galera, the
    claim's transaction aborted by another node's write) rolled the claim
    back too, and the claim and load run again at once, as the plugin's
    other writes do (:func:`heat_convergence.db.api.retried`), rather than
    leaving the node to the recovery's ``ready_timeout``; so do they after
    a lost connection (a database node gone), after Heat's pause, whether
    the loss surfaced as such or, where a statement's own retry ran it
    again in the invalidated transaction, as ``PendingRollbackError``. A
    connection lost at COMMIT leaves unknown whether the claim committed:
    if it did, the claim run again finds the node taken and the node is
    left to the recovery, as before. A claim under a
    limit of running nodes locks its traversal's row, which every claim of
    the traversal waits for: it commits before the load.
    """
    manager = heat_db_api.context_manager
    claim = functools.partial(sync_points.claim, cnxt, traversal_id, node,
                              engine_id, driver.limit, leaf_plan)
    claim_inside = claimed is None and not driver.limit
    if claimed is not None:
        inputs = claimed.inputs
    elif not claim_inside:
        inputs = claim()

    def load_in_transaction(inputs):
        if claim_inside:
            inputs = claim()
        if inputs is None:
            return None, None, None
        stack_id = cleanup_shortcut.stack_to_hand_over(node, inputs)
        if stack_id is not None:
            return inputs, {}, cleanup_shortcut.HandOverOnly(stack_id)
        resource_data = node_data.load_resources_data(
            inputs.consumed()) if is_update else {}
        return inputs, resource_data, check_resource.load_resource(
            cnxt, resource_id, resource_data, traversal_id, is_update)

    @db_api.retried
    def load(cnxt, inputs):
        with (manager.writer if claim_inside else manager.reader).using(
                cnxt):
            try:
                return load_in_transaction(inputs)
            except sa.exc.PendingRollbackError as exc:
                # A retry of one of its statements (the claim's own, or
                # Heat's) ran it again in the transaction a lost
                # connection invalidated: nothing was committed.
                raise db_exception.DBConnectionError(exc)

    return load(cnxt, None if claim_inside else inputs)
