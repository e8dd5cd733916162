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

"""What a traversal is doing, for operators.

Neither Heat nor its CLI shows where a convergence traversal is: which
resources are done, which run and on which engine, which wait for what.
With the reduced driver all of that is in the plugin's tables; this module
reads it (``heat-convergence-manage traversal list|show|graph``) without
touching anything. Only the reduced driver's traversals are visible: the
``heat`` driver keeps Heat's own bookkeeping.
"""

import collections
import datetime

from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.objects import resource as resource_objects
from heat.objects import service as service_objects
from oslo_utils import timeutils
from oslo_utils import uuidutils

from heat_convergence.db import api as db_api
from heat_convergence.db import models
from heat_convergence.db import views as db_views
from heat_convergence import graph

# How a node's state reads to an operator.
LABELS = {models.WAITING: 'waiting', models.READY: 'ready',
          models.QUEUED: 'queued', models.THROTTLED: 'throttled',
          models.RUNNING: 'running', models.RERUN: 'running',
          models.DONE: 'done'}

# The labels in the order a traversal's nodes go through them, most
# pressing first.
ORDER = ('running', 'throttled', 'ready', 'queued', 'waiting', 'done')

Node = collections.namedtuple(
    'Node', ['name', 'is_update', 'node_type', 'state', 'pending',
             'predecessors', 'engine_id', 'host', 'since', 'failed'])

Traversal = collections.namedtuple(
    'Traversal', ['id', 'stack_id', 'stack_name', 'action', 'started',
                  'deadline', 'node_count', 'counts', 'nodes'])


def find_stack(cnxt, name_or_id):
    """Return the stack row with this id or name (any project)."""
    if uuidutils.is_uuid_like(name_or_id):
        try:
            return heat_db_api.stack_get(cnxt, name_or_id,
                                         show_deleted=False)
        except exception.NotFound:
            pass
    # An admin context sees every project's stacks.
    matches = heat_db_api.stack_get_all(cnxt, filters={'name': name_or_id},
                                        show_nested=True, show_hidden=True)
    if not matches:
        raise exception.EntityNotFound(entity='Stack', name=name_or_id)
    if len(matches) > 1:
        raise exception.Error('Several stacks are named %s; use the id '
                              '(one of %s).' % (name_or_id, ', '.join(
                                  s.id for s in matches)))
    return matches[0]


def _hosts(cnxt):
    return {s.engine_id: s.hostname
            for s in service_objects.Service.get_all(cnxt)}


def show(cnxt, stack_row):
    """Return the :class:`Traversal` of a stack's current traversal.

    :returns: None if the stack has no live reduced traversal.
    """
    row = db_api.traversal_get(cnxt, stack_row.current_traversal)
    if row is None:
        return None
    resources = {str(r.id): r for r in
                 resource_objects.Resource.get_all_by_stack(
                     cnxt, stack_row.id).values()}
    hosts = _hosts(cnxt)
    nodes = []
    for sp in db_views.traversal_nodes(cnxt, row.id):
        rsrc = resources.get(sp.entity_id)
        failed = rsrc is not None and rsrc.status == 'FAILED'
        if sp.node_type == models.NODE_STACK:
            name = '(stack %s)' % stack_row.name
        elif rsrc is not None:
            name = rsrc.name
        else:
            name = '%s %s' % (sp.node_type, sp.entity_id)
        nodes.append(Node(name, sp.is_update, sp.node_type,
                          LABELS[sp.state], sp.pending, sp.predecessors,
                          sp.engine_id, hosts.get(sp.engine_id),
                          sp.updated_at, failed))
    counts = collections.Counter(n.state for n in nodes)
    counts['failed'] = sum(1 for n in nodes if n.failed)
    return Traversal(row.id, stack_row.id, stack_row.name, row.action,
                     row.created_at, row.deadline, row.node_count, counts,
                     sorted(nodes, key=lambda n: (n.state, n.name)))


def in_progress(cnxt):
    """Return (traversal row, stack name, state counts), oldest first."""
    summaries = db_views.traversal_summaries(cnxt)
    names = {}
    for summary in summaries:
        try:
            names[summary.id] = heat_db_api.stack_get(
                cnxt, summary.stack_id, show_deleted=True).name
        except exception.NotFound:
            names[summary.id] = '?'
    return [(s, names[s.id]) for s in summaries]


def age(since, now=None):
    """Return a short human duration, e.g. '3m12s'."""
    if since is None:
        return '-'
    seconds = int(((now or timeutils.utcnow()) - since).total_seconds())
    return str(datetime.timedelta(seconds=max(seconds, 0)))


def graphs(cnxt, stack_row):
    """Return the stack's (reduced, full) convergence graphs.

    The reduced graph is what the traversal stored (``current_deps``); the
    full one is what Heat would have stored, computed read-only by Heat's
    own code from the template and the resources now in the database, over
    the nodes of the stored graph (a create has no cleanup nodes, though its
    resources have rows by now).
    """
    stack = parser.Stack.load(cnxt, stack_id=stack_row.id)
    reduced = graph.Dependencies(
        (parser.ConvergenceNode.from_tuple(i),
         parser.ConvergenceNode.from_tuple(j) if j is not None else None)
        for i, j in (stack.current_deps or {}).get('edges', []))
    stack.ext_rsrcs_db = stack.db_active_resources_get()
    current = {}
    for name in stack.t.resource_definitions(stack):
        best = stack._get_best_existing_rsrc_db(name)
        if best is not None:
            current[name] = best
    template_deps = graph.Dependencies(
        (r, q) for r, q in stack.dependencies.graph().edges()
        if r.name in current and (q is None or q.name in current))
    stack._compute_convg_dependencies(stack.ext_rsrcs_db, template_deps,
                                      current)
    nodes = reduced._graph
    full = graph.Dependencies(
        (rqr, rqd) for rqr, rqd in stack._convg_deps.edges()
        if rqr in nodes and (rqd is None or rqd in nodes))
    for node in nodes:
        full += (node, None)
    names = {r.id: r.name for r in (stack.ext_rsrcs_db or {}).values()}
    return reduced, full, names


def to_dot(deps, names, title, states=None):
    """Render a convergence graph as Graphviz DOT text.

    Edges point from a node to what it requires, as in Heat; update nodes
    are boxes, cleanup nodes ellipses; with ``states`` (node label -> state)
    nodes are coloured by progress.
    """
    colours = {'done': 'palegreen', 'running': 'gold', 'throttled': 'orange',
               'ready': 'lightblue', 'queued': 'lightcyan', 'waiting': 'white'}

    def label(node):
        name = names.get(node.rsrc_id, str(node.rsrc_id))
        if node.node_type != parser.NODE_TYPE_RESOURCE:
            return '%s %s' % (node.node_type, name)
        return name if node.is_update else '%s (cleanup)' % name

    lines = ['digraph "%s" {' % title.replace('"', "'"),
             '  rankdir=BT;',
             '  node [fontname="sans-serif", fontsize=10];']
    for node in sorted(deps._graph, key=repr):
        attrs = ['label="%s"' % label(node).replace('"', "'"),
                 'shape=%s' % ('box' if node.is_update else 'ellipse')]
        state = (states or {}).get(label(node))
        if state in colours:
            attrs += ['style=filled', 'fillcolor=%s' % colours[state]]
        attrs = ', '.join(attrs)
        lines.append('  "%s" [%s];' % (repr(node.to_tuple()), attrs))
    for rqr, rqd in sorted(deps.edges(), key=repr):
        if rqd is not None:
            lines.append('  "%s" -> "%s";' % (repr(rqr.to_tuple()),
                                              repr(rqd.to_tuple())))
    lines.append('}')
    return '\n'.join(lines) + '\n'
