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

"""Index of a traversal's nodes by state.

``[heat_convergence] max_concurrent_resources_per_stack`` counts the
running nodes of a traversal at every claim; this index keeps that count
proportional to the nodes running rather than to the stack's size.

Revision ID: c4e9a7f2b813
Revises: 8f2b6c1d4e07
Create Date: 2026-11-24 19:50:00
"""

from alembic import op

revision = 'c4e9a7f2b813'
down_revision = '8f2b6c1d4e07'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_heat_convergence_sync_point_traversal_state',
                    'heat_convergence_sync_point', ['traversal_id', 'state'])
