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

"""What a surviving engine needs to resume a traversal.

A node taken over from a dead engine is dispatched again from the database
alone: the traversal row now keeps the ``converge`` and ``abandon`` flags
that Heat passes with every node, and the start of a traversal is recorded
before its graph is stored (``node_count`` stays 0 until then), so that a
traversal whose engine died while building it can be started again.

Revision ID: 8f2b6c1d4e07
Revises: 3c7d0e5b9a41
Create Date: 2026-11-24 19:30:00
"""

from alembic import op
import sqlalchemy as sa

revision = '8f2b6c1d4e07'
down_revision = '3c7d0e5b9a41'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('heat_convergence_traversal',
                  sa.Column('converge', sa.Boolean, nullable=False,
                            server_default=sa.false()))
    op.add_column('heat_convergence_traversal',
                  sa.Column('abandon', sa.Boolean, nullable=False,
                            server_default=sa.false()))
