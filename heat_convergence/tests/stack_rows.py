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

"""Minimal Heat rows for DB-level tests that need a stack to hang on."""

from heat.db import api as heat_db_api
from oslo_utils import uuidutils


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
