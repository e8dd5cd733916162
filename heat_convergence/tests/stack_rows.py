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

"""Minimal rows for DB-level tests: a Heat stack, and plugin traversals."""

from heat.db import api as heat_db_api
from oslo_utils import timeutils
from oslo_utils import uuidutils

from heat_convergence.db import api


def create_stack(context, traversal_id=None, name='test-stack'):
    """Insert a raw template and a convergence stack; return the stack row."""
    template = heat_db_api.raw_template_create(
        context, {'template': {'heat_template_version': '2015-04-30'},
                  'files': {}, 'environment': {}})
    return heat_db_api.stack_create(context, {
        'id': uuidutils.generate_uuid(),
        'name': name,
        'raw_template_id': template.id,
        'username': 'tester',
        'tenant': 'test_tenant',
        'action': 'CREATE',
        'status': 'IN_PROGRESS',
        'disable_rollback': True,
        'convergence': True,
        'current_traversal': traversal_id or uuidutils.generate_uuid(),
    })


@heat_db_api.context_manager.writer.connection
def create_traversal(context, values, nodes):
    """Insert a traversal and its sync points, as a started traversal has.

    Unlike ``traversal_begin``, the stack's other traversals are left in
    place: tests run many traversals of one stack side by side.

    :param values: the traversal row (``id``, ``stack_id``, ``action``, ...).
    :param nodes: one dict per sync point: ``entity_id``, ``is_update``,
        ``node_type``, ``predecessors`` and optionally ``plan``. Nodes
        without predecessors start READY.
    """
    now = timeutils.utcnow()
    api._insert_traversal(context.connection,
                          dict(values, node_count=len(nodes)), now)
    api._insert_nodes(context.connection, values['id'], nodes, now)


@heat_db_api.context_manager.reader.connection
def node_inputs(context, traversal_id, node):
    """Return the Inputs of a node without claiming it, or None."""
    return api._inputs(context.connection, traversal_id, node)
