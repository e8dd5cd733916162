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

"""The plugin's tables, kept in Heat's database beside Heat's own.

They have their own metadata (and alembic history, see ``migration.py``) so
that nothing here ever shows up in, or depends on, Heat's schema. The one
link to Heat, ``traversal.stack_id -> stack.id ON DELETE CASCADE``, exists
only in the migration: a foreign key in these models would make SQLAlchemy
look for a ``stack`` table this metadata does not have.

A traversal owns one sync point per graph node (plus one for the stack
itself), and a sync point owns one arrival per predecessor that reported.
Readiness is a counter, ``pending``, decremented by an atomic
``UPDATE ... WHERE pending > 0`` in the same transaction as the arrival's
insert; see :mod:`heat_convergence.db.api`.
"""

from heat.db import types
import sqlalchemy as sa
from sqlalchemy import orm

TABLE_PREFIX = 'heat_convergence_'

BASE = orm.declarative_base(metadata=sa.MetaData())

# Node states. A node is WAITING for predecessors, READY once the last one
# arrived (dispatched, or parked until re-triggered), QUEUED when it is a
# leaf kept back as its traversal starts, beyond the dispatch window, until
# nodes of the traversal end, THROTTLED when it was ready but its stack
# already ran as many nodes as allowed, RUNNING while an engine holds it,
# RERUN when it was re-triggered while held (the holder dispatches it again
# when it lets go), DONE once it has propagated.
WAITING = 'WAITING'
READY = 'READY'
QUEUED = 'QUEUED'
THROTTLED = 'THROTTLED'
RUNNING = 'RUNNING'
RERUN = 'RERUN'
DONE = 'DONE'

# Node types: Heat's (``heat.engine.stack.NODE_TYPE_*``), plus the stack's
# own completion point.
NODE_STACK = 'stack'


class Traversal(BASE):
    """One convergence traversal of one stack, while it is live."""

    __tablename__ = TABLE_PREFIX + 'traversal'
    __table_args__ = (
        sa.Index('ix_heat_convergence_traversal_stack', 'stack_id'),
        sa.Index('ix_heat_convergence_traversal_deadline', 'deadline'),
        {'mysql_engine': 'InnoDB'},
    )

    id = sa.Column(sa.String(36), primary_key=True)
    stack_id = sa.Column(sa.String(36), nullable=False)
    action = sa.Column(sa.String(255), nullable=False)
    engine_id = sa.Column(sa.String(36))
    # 0 until the graph is stored: the traversal is still starting.
    node_count = sa.Column(sa.Integer, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False)
    deadline = sa.Column(sa.DateTime)
    # Passed on with every node, so that a resumed node gets them too.
    converge = sa.Column(sa.Boolean, nullable=False,
                         server_default=sa.false())
    abandon = sa.Column(sa.Boolean, nullable=False,
                        server_default=sa.false())


class SyncPoint(BASE):
    """A graph node of a traversal: its readiness counter and its state."""

    __tablename__ = TABLE_PREFIX + 'sync_point'
    __table_args__ = (
        sa.ForeignKeyConstraint(['traversal_id'], [Traversal.id],
                                ondelete='CASCADE'),
        sa.Index('ix_heat_convergence_sync_point_state', 'state',
                 'updated_at'),
        sa.Index('ix_heat_convergence_sync_point_engine', 'engine_id',
                 'state'),
        sa.Index('ix_heat_convergence_sync_point_traversal_state',
                 'traversal_id', 'state'),
        {'mysql_engine': 'InnoDB'},
    )

    traversal_id = sa.Column(sa.String(36), primary_key=True)
    entity_id = sa.Column(sa.String(36), primary_key=True)
    is_update = sa.Column(sa.Boolean, primary_key=True)
    node_type = sa.Column(sa.String(16), nullable=False)
    predecessors = sa.Column(sa.Integer, nullable=False)
    pending = sa.Column(sa.Integer, nullable=False)
    state = sa.Column(sa.String(16), nullable=False)
    engine_id = sa.Column(sa.String(36))
    updated_at = sa.Column(sa.DateTime, nullable=False)
    plan = sa.Column(types.Json)


class Arrival(BASE):
    """What one predecessor delivered to a node: unique per sender."""

    __tablename__ = TABLE_PREFIX + 'arrival'
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ['traversal_id', 'entity_id', 'is_update'],
            [SyncPoint.traversal_id, SyncPoint.entity_id,
             SyncPoint.is_update],
            ondelete='CASCADE'),
        {'mysql_engine': 'InnoDB'},
    )

    traversal_id = sa.Column(sa.String(36), primary_key=True)
    entity_id = sa.Column(sa.String(36), primary_key=True)
    is_update = sa.Column(sa.Boolean, primary_key=True)
    sender_id = sa.Column(sa.String(36), primary_key=True)
    sender_update = sa.Column(sa.Boolean, primary_key=True)
    data = sa.Column(types.Json)
    failures = sa.Column(types.Json)
    skip = sa.Column(sa.Boolean, nullable=False, default=False)
