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

"""SyncPoints of a traversal, in terms of Heat's graph nodes.

:mod:`heat_convergence.db.api` stores nodes as (entity string, is_update)
rows. This module translates between those rows and Heat's
``ConvergenceNode`` keys, and decides what a traversal stores per node:

* one row per graph node, plus one for the stack itself, whose predecessors
  are the graph's roots;
* per node, its *plan*: the successors to deliver to once it is done, for an
  update node the items of data it forwards to each update successor (see
  :mod:`.forwarding`) and the requirements whose data the resource itself
  consumes, and whether it is a root.

A node therefore needs neither the graph nor the stack's ``current_deps``
to finish: everything it must do next is in its own row.
"""

import collections

from heat.engine import stack as parser
from heat.engine import sync_point as heat_sync_point

from heat_convergence.db import api as db_api
from heat_convergence.db import models

GONE = db_api.GONE

STACK_NODE_TYPE = models.NODE_STACK

# A successor in a plan: Heat's node key parts.
Successor = collections.namedtuple('Successor',
                                   ['rsrc_id', 'is_update', 'node_type'])


def key(node):
    """Return the DB key of a ConvergenceNode (or of any such tuple)."""
    return db_api.Node(str(node[0]), bool(node[1]))


def stack_key(stack_id):
    """Return the DB key of the stack's own completion point."""
    return db_api.Node(str(stack_id), True)


def _entity(node):
    return str(node.rsrc_id)


def build_plans(deps, consumes, routes, heights):
    """Return {node: plan} for every node of a (reduced) graph.

    :param deps: the traversal's reduced ``Dependencies`` of
        ConvergenceNodes.
    :param consumes: {update node: update nodes whose data it consumes}.
    :param routes: the :class:`heat_convergence.forwarding.Routes` of ``deps``.
    :param heights: ``deps.heights()``, which also orders the leaves.
    """
    roots = set(deps.roots())
    plans = {}
    for node in deps:
        # The successor with the longest way to go first: a node keeps the
        # first one it makes ready for its own thread (see deliver).
        nexts = sorted(deps.required_by(node),
                       key=lambda s: (-heights[s], _entity(s), s.is_update))
        plan = {'next': [[_entity(s), s.is_update, s.node_type]
                         for s in nexts],
                'root': node in roots}
        bare = sorted(_entity(s) for s in nexts if _reads_nothing(node, s,
                                                                  deps))
        if bare:
            plan['bare'] = bare
        if node.is_update:
            plan['refs'] = sorted(_entity(r) for r in consumes.get(node, ()))
            plan['fwd'] = {_entity(target): sorted(_entity(i) for i in items)
                           for target, items in routes.sends(node).items()
                           if target.is_update}
        plans[node] = plan
    return plans


def _reads_nothing(node, succ, deps):
    """Whether ``succ`` needs no arrival row from ``node`` (see deliver).

    A cleanup node reads nothing of what its predecessors send it (Heat's
    needed-by ids), except its own update node's word that it has nothing
    to clean up (:mod:`.cleanup_shortcut`); with a single predecessor, its
    counter alone counts the arrival once.
    """
    return (not succ.is_update and
            succ.node_type == parser.NODE_TYPE_RESOURCE and
            not (node.is_update and succ.rsrc_id == node.rsrc_id) and
            len(list(deps.requires(succ))) == 1)


def begin_traversal(cnxt, stack, engine_id, deadline=None, abandon=False):
    """Record the stack's new traversal; drop the older ones' rows."""
    return db_api.traversal_begin(cnxt, {
        'id': stack.current_traversal, 'stack_id': stack.id,
        'action': stack.action, 'engine_id': engine_id,
        'deadline': deadline, 'converge': bool(stack.converge),
        'abandon': bool(abandon)})


def fill_traversal(cnxt, stack, deps, plans, engine_id, queued=()):
    """Store every SyncPoint of the stack's current traversal in bulk.

    ``queued``: leaves stored QUEUED rather than READY (see
    :mod:`.dispatch_window`).

    :returns: False if the traversal was superseded while starting.
    """
    queued = set(queued)
    rows = [{'entity_id': _entity(node),
             'is_update': node.is_update,
             'node_type': node.node_type,
             'predecessors': len(list(deps.requires(node))),
             'queued': node in queued,
             'plan': plans[node]} for node in deps]
    rows.append({'entity_id': str(stack.id), 'is_update': True,
                 'node_type': STACK_NODE_TYPE,
                 'predecessors': sum(1 for p in plans.values()
                                     if p['root'])})
    return db_api.traversal_fill(cnxt, stack.current_traversal, rows,
                                 engine_id)


def successors(plan):
    """Return the plan's successors as :class:`Successor` tuples."""
    return [Successor(int(e) if t == parser.NODE_TYPE_RESOURCE else e, u, t)
            for e, u, t in plan['next']]


class NodeInputs(object):
    """What the predecessors of a node delivered to it.

    ``data`` maps Heat node keys to what arrived for them: NodeData dicts for
    an update node (its requirements' and the items forwarded through
    them), needed-by ids for a cleanup node. ``failures`` and ``skip`` are
    the CHECK action's accumulated failures and skip flag.
    """

    def __init__(self, node, inputs):
        self.plan = inputs.plan or {}
        self.data = {}
        self.failures = {}
        self.skip = False
        for sender, (stored, failures, skip) in inputs.arrivals.items():
            data = _decode(stored)
            if node.is_update:
                for item, node_data in (data or {}).items():
                    self.data[parser.ConvergenceNode(int(item), True)] = (
                        node_data)
            else:
                self.data[parser.ConvergenceNode(int(sender.entity_id),
                                                 sender.is_update)] = data
            self.failures.update(failures or {})
            self.skip = self.skip or skip

    def consumed(self):
        """Return the data of the node's own requirements only.

        What the resource is built from, and what Heat persists as its
        ``requires``: exactly its direct template dependencies, however much
        more the node forwards.
        """
        refs = {int(e) for e in self.plan.get('refs', ())}
        return {k: v for k, v in self.data.items() if k.rsrc_id in refs}

    def item(self, entity_id):
        """Return a received item by its entity id (a plan string)."""
        return self.data[parser.ConvergenceNode(int(entity_id), True)]


def node_of(row):
    """Return the Heat node key of a sync point row."""
    if row.node_type == parser.NODE_TYPE_RESOURCE:
        return parser.ConvergenceNode(int(row.entity_id), row.is_update)
    return parser.ConvergenceNode(row.entity_id, row.is_update,
                                  row.node_type)


def claim(cnxt, traversal_id, node, engine_id, limit=0, leaf_plan=None):
    """Take a READY node; return its :class:`NodeInputs`, or None.

    With a ``limit`` of running nodes per traversal, a node over it is left
    THROTTLED instead (see :func:`wake`). ``leaf_plan`` is the plan of a
    node without predecessors, when its message carried it: nothing ever
    arrives at such a node, so its inputs are known without reading them.
    """
    inputs = db_api.claim(cnxt, traversal_id, key(node), engine_id, limit,
                          read_inputs=leaf_plan is None)
    if inputs is None:
        return None
    if leaf_plan is not None:
        inputs = db_api.Inputs(leaf_plan, {})
    return NodeInputs(node, inputs)


def wake(cnxt, traversal_id, limit):
    """Return the THROTTLED nodes now READY again, for the caller to send."""
    return [node_of(row) for row in db_api.wake(cnxt, traversal_id, limit)]


def dequeue(cnxt, traversal_id, count):
    """Return up to ``count`` QUEUED leaves now READY, for sending."""
    return [node_of(row) for row in db_api.dequeue(cnxt, traversal_id,
                                                   count)]


def release(cnxt, traversal_id, node, engine_id):
    """Give a node back; True if it must be dispatched again."""
    return db_api.release(cnxt, traversal_id, key(node), engine_id)


def poke(cnxt, traversal_id, node):
    """Re-trigger a node; True if the caller must dispatch it."""
    return db_api.poke(cnxt, traversal_id, key(node))


def deliver(cnxt, traversal_id, sender, deliveries, failures=None,
            skip=False, claim_for=None, stack_id=None, bare=()):
    """Mark ``sender`` done and deliver to its successors atomically.

    :param deliveries: (target key, data) pairs; a target is a
        ConvergenceNode-like tuple or the result of :func:`stack_key`.
    :param bare: the entity ids of the cleanup targets that read nothing of
        the delivery (the sender's plan's ``bare``): without failures or
        skip to carry, no arrival row is stored for them.
    :param claim_for: optionally, the sender's engine id: the first
        resource node, or the stack's completion point, made ready is
        claimed for it in the same transaction (see
        :func:`heat_convergence.db.api.deliver`).
    :param stack_id: optionally, the traversal's stack: nothing is
        delivered if it runs another traversal now.
    :returns: one result per delivery: True (the target became ready), its
        :class:`NodeInputs` (it became ready and was claimed), False, or
        GONE (the traversal no longer exists, or is no longer the
        stack's).
    """
    sender_key = key(sender)
    bare = set(bare) if not (failures or skip) else ()
    results = db_api.deliver(cnxt, traversal_id, [
        db_api.Delivery(target if isinstance(target, db_api.Node)
                        else key(target), sender_key, _encode(data),
                        failures, skip, _keepable(target),
                        _recorded(target, bare))
        for target, data in deliveries], done=sender_key,
        claim_for=claim_for, stack_id=stack_id)
    return [NodeInputs(target, result)
            if isinstance(result, db_api.Inputs) else result
            for (target, _data), result in zip(deliveries, results)]


def _keepable(target):
    """Whether the sender's engine may claim ``target`` as it delivers.

    A resource node, to run it in the sender's thread; the stack's
    completion point (a :func:`stack_key`), to finish the traversal there.
    Not a snapshot node, which its own engine completes.
    """
    return (isinstance(target, db_api.Node) or
            getattr(target, 'node_type', None) == parser.NODE_TYPE_RESOURCE)


def _recorded(target, bare):
    """Whether a delivery to ``target`` stores its arrival row."""
    return (isinstance(target, db_api.Node) or target.is_update or
            _entity(target) not in bare)


def _encode(data):
    """Make arrival data JSON-safe the way Heat stores SyncPoint inputs.

    NodeData attributes are keyed by attribute paths, which are tuples for
    nested attributes (``get_attr: [r, value, key]``); Heat's encoding
    turns tuple keys into strings and back.
    """
    return heat_sync_point.serialize_input_data({'v': data})


def _decode(stored):
    return heat_sync_point.deserialize_input_data(stored or {}).get('v')


def delete_traversal(cnxt, traversal_id):
    db_api.traversal_delete(cnxt, traversal_id)
