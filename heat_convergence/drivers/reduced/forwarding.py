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

"""What each kept edge of a reduced graph must carry.

In Heat every update edge ``r -> q`` delivers q's NodeData (its id,
reference id and attributes) to r. Once the reduction has removed ``C -> A``
because ``C -> B -> A`` exists, C still needs A's data of *this* traversal,
so B has to forward it. Looking A up by name in the database instead would
race with a newer traversal, which may already have replaced A.

:func:`plan` decides, for a reduced graph and the set of nodes whose data
each node consumes, which items every kept edge forwards:

* every node receives the data of everything it consumes, each item from
  exactly one of its requirements (no duplicates on the wire);
* a node only forwards what it has itself received, plus its own data;
* an item travels only towards nodes that consume it or forward it on.

These are pure functions over keys; they know nothing of Heat or the DB.
"""


class RoutingError(ValueError):
    """The consumption map cannot be satisfied by the graph."""


class Routes(object):
    """The result of :func:`plan`.

    ``routes.sends(u)`` maps each requirer ``v`` of ``u`` to the frozenset of
    item keys ``u`` sends it (``u`` itself may be one of them). A node that
    forwards nothing maps to an empty dict.
    """

    def __init__(self, sends):
        self._sends = sends

    def sends(self, node):
        """Return {requirer: frozenset(items)} that ``node`` forwards."""
        return self._sends.get(node, {})


def plan(graph, consumes):
    """Plan data forwarding over a (reduced) dependency graph.

    :param graph: a :class:`heat_convergence.graph.Graph` (edges point from
        requirer to required; data flows the other way).
    :param consumes: mapping of node -> iterable of the nodes whose data it
        needs. Each consumed node must be a (transitive) requirement of the
        consumer, otherwise no path can deliver it.
    :returns: a :class:`Routes`.
    :raises RoutingError: when a node consumes something it does not depend
        on.
    """
    consumed = sorted({item for items in consumes.values() for item in items},
                      key=repr)
    if not consumed:
        return Routes({})
    bit = {item: 1 << i for i, item in enumerate(consumed)}
    order = graph.topological_order()
    position = {key: i for i, key in enumerate(order)}

    # Forward pass: the consumed items each node can possibly have, i.e. the
    # ones among its transitive requirements.
    upstream = {}
    for key in order:
        mask = 0
        for required in graph[key].require:
            mask |= upstream[required] | bit.get(required, 0)
        upstream[key] = mask

    # Backward pass: what each node must receive is what it consumes plus
    # what it promised to forward; split that among its requirements,
    # preferring to take an item straight from its producer.
    sends = {}
    for key in reversed(order):
        need = 0
        for item in consumes.get(key, ()):
            need |= bit[item]
        for items in sends.get(key, {}).values():
            need |= items
        need &= ~bit.get(key, 0)
        if need & ~upstream[key]:
            missing = list(_members(need & ~upstream[key], consumed))
            raise RoutingError('%s consumes %s but does not depend on it' %
                               (key, missing))
        requirements = sorted(graph[key].require, key=position.__getitem__,
                              reverse=True)
        for required in requirements:
            own = need & bit.get(required, 0)
            if own:
                sends.setdefault(required, {})[key] = own
                need &= ~own
        for required in requirements:
            if not need:
                break
            take = need & upstream[required]
            if take:
                targets = sends.setdefault(required, {})
                targets[key] = targets.get(key, 0) | take
                need &= ~take

    return Routes({
        sender: {target: frozenset(_members(mask, consumed))
                 for target, mask in targets.items()}
        for sender, targets in sends.items()})


def _members(mask, items):
    while mask:
        i = mask.bit_length() - 1
        yield items[i]
        mask ^= 1 << i
