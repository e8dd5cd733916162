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

"""Starting and finishing a reduced traversal.

:func:`start` is what ``Stack._converge_create_or_update`` does in Heat,
over the reduced graph: Heat's own code stores the resources and computes
the convergence graph, then the redundant edges are removed, the reduced
edges stored in ``stack.current_deps``, every SyncPoint of the traversal
created in one bulk insert, and the leaves dispatched at once (Heat pauses
a second between leaves), as many as the dispatch window holds
(:mod:`.dispatch_window`).

:func:`finish` is what Heat's ``check_stack_complete`` does once the last
root has reported.
"""

import contextlib
import datetime

from heat.db import api as heat_db_api
from heat.engine import stack as parser
from oslo_log import log as logging

from heat_convergence.drivers.reduced import forwarding
from heat_convergence.drivers.reduced import parent_wake
from heat_convergence.drivers.reduced import stack_purge
from heat_convergence.drivers.reduced import sync_points
from heat_convergence import graph

LOG = logging.getLogger(__name__)


def reduced_graph(stack, current_resources):
    """Compute the stack's convergence graph and reduce it.

    Heat's ``_compute_convg_dependencies`` builds the graph from the
    template's dependencies, adding the cleanup nodes and edges of the
    resources already stored. It is given the template's dependencies
    already reduced, as our ``Dependencies`` type (whose O(1) membership
    test turns Heat's per-resource ``node in graph`` from a full sort into a
    lookup), and the result is reduced again: adding edges to a reduced
    graph does not change what reaches what, and a graph without cycles has
    exactly one transitive reduction, so this is the reduction of Heat's
    full graph, without Heat translating every template edge (O(N^2) of
    them in a dense stack) into it first.

    :returns: (reduced Dependencies, {update node: the update nodes whose
        data it consumes}, number of edges of Heat's full graph). The
        consumed nodes are the node's direct requirements in the full
        graph, i.e. exactly what Heat would have sent it: its template
        requirements (Heat adds no edge between two update nodes).
    """
    template_deps = graph.Dependencies(stack.dependencies.graph().edges())
    reduced_template = template_deps.reduced()
    stack._compute_convg_dependencies(stack.ext_rsrcs_db, reduced_template,
                                      current_resources)

    def update_node(rsrc):
        return parser.ConvergenceNode(current_resources[rsrc.name].id, True)

    consumes = {update_node(rsrc): [update_node(r)
                                    for r in template_deps.requires(rsrc)]
                for rsrc in template_deps}
    convg = stack._convg_deps
    full_edges = (convg.edge_count() - reduced_template.edge_count() +
                  template_deps.edge_count())
    return convg.reduced(), consumes, full_edges


def one_transaction():
    """Whether a traversal's new resource rows are stored together."""
    return heat_db_api.get_engine().dialect.name != 'sqlite'


def store_resources(stack):
    """Heat's ``_update_or_store_resources``, in one transaction.

    Heat stores each new resource's row in a transaction of its own (a
    create of N resources committed N times) and, before that, builds
    every resource of the template, each looking its row up by name through
    ``Stack._db_resources_get``, which keeps the rows it reads but not an
    empty answer: a create asked the database N times for rows that do not
    exist yet. Here the rows are read once, the empty answer kept (no row
    is stored between those lookups), and Heat's stores join one
    transaction: all of the traversal's new rows are stored, or none.

    A stack loaded by a node (a rollback started by a failed resource) is
    in Heat's convergence check: its resources are built from the node's
    data and never look up their rows, and Heat forbids reading them.

    On sqlite (the all-in-one's default) the stores keep their own
    transactions: sqlite has one writer at a time, and a transaction held
    over all the stores made the nodes of a running traversal fail with
    "database is locked" when a rollback started.

    :returns: what Heat's method returns, {name: resource or row}.
    """
    scope = contextlib.nullcontext()
    if one_transaction():
        scope = heat_db_api.context_manager.writer.using(stack.context)
    with scope:
        if (not stack.in_convergence_check and
                not stack._db_resources_get()):
            stack._db_resources = {}
        return stack._update_or_store_resources()


def start(stack, driver, pre_converge=None, abandon=False):
    """Run the traversal ``stack.current_traversal`` over the reduced graph.

    Wrapped in Heat's ``reset_state_on_error`` by the caller, as Heat wraps
    ``_converge_create_or_update``.
    """
    current_resources = store_resources(stack)
    deps, consumes, full_edges = reduced_graph(stack, current_resources)
    routes = forwarding.plan(deps.graph(), consumes)
    stack._convg_deps = deps
    stack.current_deps = {
        'edges': [[rqr.to_tuple(), rqd.to_tuple() if rqd else None]
                  for rqr, rqd in deps.edges()]}
    if stack.store() is None:
        LOG.warning("Failed to store stack %(name)s with traversal ID "
                    "%(trvsl_id)s, aborting stack %(action)s",
                    {'name': stack.name, 'trvsl_id': stack.current_traversal,
                     'action': stack.action})
        return

    if callable(pre_converge):
        pre_converge()

    cnxt = stack.context
    heights = deps.heights()
    plans = sync_points.build_plans(deps, consumes, routes, heights)
    # Cleanups first; then the leaves with the longest way to go, which the
    # traversal's end waits for.
    leaves = sorted(deps.leaves(),
                    key=lambda n: (n.is_update, -heights[n]))
    sent, queued = driver.window.split(cnxt, leaves)
    if not sync_points.fill_traversal(cnxt, stack, deps, plans,
                                      driver.engine_id, queued):
        LOG.info('[%(name)s(%(id)s)] traversal %(trvsl)s was superseded '
                 'while it started', {'name': stack.name, 'id': stack.id,
                                      'trvsl': stack.current_traversal})
        return
    LOG.info('[%(name)s(%(id)s)] traversal %(trvsl)s %(action)s: %(nodes)d '
             'nodes, %(edges)d edges (%(removed)d redundant edges removed)',
             {'name': stack.name, 'id': stack.id,
              'trvsl': stack.current_traversal, 'action': stack.action,
              'nodes': len(plans), 'edges': deps.edge_count(),
              'removed': full_edges - deps.edge_count()})

    if not leaves:
        finish(driver, cnxt, stack, stack.current_traversal)
        return
    for node in sent:
        driver.dispatch(cnxt, stack.current_traversal, node,
                        stack.adopt_stack_data, stack.converge, abandon,
                        leaf_plan=plans[node])


def deadline(stack):
    """Return when the stack's current operation times out (UTC)."""
    started = stack.updated_time or stack.created_time
    if started is None:
        return None
    return started + datetime.timedelta(seconds=stack.timeout_secs())


def finish(driver, cnxt, stack, traversal_id, inputs=None):
    """Mark the stack complete, or failed for a CHECK with failures.

    Called by whoever delivered the last root, or by an engine resuming
    that one's work: the stack's own completion point is claimed first, so
    only one of them marks the stack. ``inputs``: those of the completion
    point if the delivery that made it ready claimed it already. Heat's
    purge that follows retries its deletes (:mod:`.stack_purge`). The
    traversal's rows are deleted whatever the outcome: it has nothing left
    to coordinate. A nested stack's parent resource is woken
    (:mod:`.parent_wake`).
    """
    if inputs is None:
        inputs = sync_points.claim(cnxt, traversal_id,
                                   sync_points.stack_key(stack.id),
                                   driver.engine_id)
    if inputs is None:
        return
    try:
        with stack_purge.deletes_retried():
            if stack.action == stack.CHECK and inputs.failures:
                stack.mark_failed('Resource CHECK failed: ' + '; '.join(
                    '{}: {}'.format(name, reason)
                    for name, reason in inputs.failures.items()))
            else:
                stack.mark_complete()
    finally:
        sync_points.delete_traversal(cnxt, traversal_id)
    parent_wake.wake_parent(driver, cnxt, stack)
