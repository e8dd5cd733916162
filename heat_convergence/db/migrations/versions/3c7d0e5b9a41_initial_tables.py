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

"""Traversal, sync point and arrival tables.

The foreign key from a traversal to Heat's ``stack`` table cascades, so that
``heat-manage purge_deleted`` (which deletes stack rows directly) keeps
working on MariaDB and PostgreSQL while plugin rows still exist; the plugin
rows below a traversal cascade from it. No character set is given: the
tables take the database default, as Heat's own do, which keeps the string
columns of the foreign key compatible on MySQL.

Revision ID: 3c7d0e5b9a41
Revises:
Create Date: 2026-11-24 18:40:00
"""

from alembic import op
from heat.db import types
import sqlalchemy as sa

revision = '3c7d0e5b9a41'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'heat_convergence_traversal',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('stack_id', sa.String(36), nullable=False),
        sa.Column('action', sa.String(255), nullable=False),
        sa.Column('engine_id', sa.String(36)),
        sa.Column('node_count', sa.Integer, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('deadline', sa.DateTime),
        sa.ForeignKeyConstraint(['stack_id'], ['stack.id'],
                                name='fk_heat_convergence_traversal_stack',
                                ondelete='CASCADE'),
        mysql_engine='InnoDB',
    )
    op.create_index('ix_heat_convergence_traversal_stack',
                    'heat_convergence_traversal', ['stack_id'])
    op.create_index('ix_heat_convergence_traversal_deadline',
                    'heat_convergence_traversal', ['deadline'])

    op.create_table(
        'heat_convergence_sync_point',
        sa.Column('traversal_id', sa.String(36), primary_key=True),
        sa.Column('entity_id', sa.String(36), primary_key=True),
        sa.Column('is_update', sa.Boolean, primary_key=True),
        sa.Column('node_type', sa.String(16), nullable=False),
        sa.Column('predecessors', sa.Integer, nullable=False),
        sa.Column('pending', sa.Integer, nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('engine_id', sa.String(36)),
        sa.Column('updated_at', sa.DateTime, nullable=False),
        sa.Column('plan', types.Json),
        sa.ForeignKeyConstraint(
            ['traversal_id'], ['heat_convergence_traversal.id'],
            name='fk_heat_convergence_sync_point_traversal',
            ondelete='CASCADE'),
        mysql_engine='InnoDB',
    )
    op.create_index('ix_heat_convergence_sync_point_state',
                    'heat_convergence_sync_point', ['state', 'updated_at'])
    op.create_index('ix_heat_convergence_sync_point_engine',
                    'heat_convergence_sync_point', ['engine_id', 'state'])

    op.create_table(
        'heat_convergence_arrival',
        sa.Column('traversal_id', sa.String(36), primary_key=True),
        sa.Column('entity_id', sa.String(36), primary_key=True),
        sa.Column('is_update', sa.Boolean, primary_key=True),
        sa.Column('sender_id', sa.String(36), primary_key=True),
        sa.Column('sender_update', sa.Boolean, primary_key=True),
        sa.Column('data', types.Json),
        sa.Column('failures', types.Json),
        sa.Column('skip', sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ['traversal_id', 'entity_id', 'is_update'],
            ['heat_convergence_sync_point.traversal_id',
             'heat_convergence_sync_point.entity_id',
             'heat_convergence_sync_point.is_update'],
            name='fk_heat_convergence_arrival_sync_point',
            ondelete='CASCADE'),
        mysql_engine='InnoDB',
    )
