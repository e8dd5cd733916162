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

"""Schema migrations of the plugin's tables in Heat's database.

The plugin has its own alembic script directory and its own version table,
so Heat's ``alembic_version`` keeps its single head and ``heat-manage
db_sync`` / ``db_version`` behave exactly as without the plugin. Heat's
schema must exist first: the traversal table references ``stack``.
"""

import os

from alembic import command as alembic_api
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
from heat.db import api as heat_db_api
import sqlalchemy as sa

from heat_convergence.db import models

VERSION_TABLE = 'heat_convergence_alembic_version'


def include_name(name, type_, parent_names):
    """Let alembic compare only the plugin's own tables.

    Without it autogenerate would propose dropping every Heat table.
    """
    if type_ == 'table':
        return name.startswith(models.TABLE_PREFIX) and name != VERSION_TABLE
    return True


def include_object(obj, name, type_, reflected, compare_to):
    """Let alembic skip the foreign key to Heat's stack table.

    It exists only in the migration: the models' metadata has no ``stack``.
    """
    return not (type_ == 'foreign_key_constraint' and
                obj.referred_table.name == 'stack')


class SchemaError(Exception):
    """The database is not in the state the plugin needs."""


def _config(engine=None):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'alembic.ini')
    config = alembic_config.Config(path)
    # The logging section of alembic.ini is for the alembic CLI only.
    config.attributes['configure_logger'] = False
    if engine is not None:
        # ConfigParser interpolates '%', which a quoted password may contain.
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option('sqlalchemy.url', url.replace('%', '%%'))
    return config


def _engine(engine):
    return engine if engine is not None else heat_db_api.get_engine()


def head():
    """Return the newest revision this version of the plugin knows."""
    return alembic_script.ScriptDirectory.from_config(
        _config()).get_current_head()


def db_sync(version=None, engine=None):
    """Upgrade the plugin tables to ``version`` (default: the newest).

    :raises SchemaError: when Heat's own schema has not been created yet.
    """
    engine = _engine(engine)
    if not sa.inspect(engine).has_table('stack'):
        raise SchemaError('Heat\'s tables are missing from %s; run '
                          '"heat-manage db_sync" first.' %
                          engine.url.render_as_string(hide_password=True))
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes['connection'] = connection
        alembic_api.upgrade(config, version or 'head')


def db_version(engine=None):
    """Return the plugin schema revision of the database, or None."""
    with _engine(engine).connect() as connection:
        context = alembic_migration.MigrationContext.configure(
            connection, opts={'version_table': VERSION_TABLE})
        return context.get_current_revision()


def db_drop(engine=None):
    """Drop the plugin's tables and its version table: leaving for good.

    There are no downgrade scripts (OpenStack's rule); the tables are
    dropped as the models describe them, children first.

    :raises SchemaError: while a stack's current traversal has rows in
        them (a traversal of the reduced driver in progress).
    """
    engine = _engine(engine)
    inspector = sa.inspect(engine)
    with engine.begin() as connection:
        if inspector.has_table(models.Traversal.__tablename__):
            live = connection.execute(
                sa.select(sa.func.count()).select_from(
                    models.Traversal.__table__.join(
                        sa.table('stack', sa.column('id'),
                                 sa.column('current_traversal')),
                        sa.text('stack.current_traversal = '
                                '%s.id' % models.Traversal.__tablename__)))
            ).scalar()
            if live:
                raise SchemaError(
                    '%d stacks run a traversal of the reduced driver; hand '
                    'them back to Heat first ("heat-convergence-manage '
                    'traversal handback").' % live)
        models.BASE.metadata.drop_all(connection)
        sa.Table(VERSION_TABLE, sa.MetaData()).drop(connection,
                                                    checkfirst=True)


def check_current(engine=None):
    """Raise SchemaError unless the plugin tables are at the newest revision.

    Engines call this at start-up so that a forgotten db_sync is reported
    once, with the fix, instead of as SQL errors in the middle of a stack
    operation.
    """
    current = db_version(engine)
    expected = head()
    if current != expected:
        raise SchemaError(
            'The heat-convergence tables are at revision %s, this version '
            'needs %s; run "heat-convergence-manage db_sync" (after '
            '"heat-manage db_sync").' % (current or 'none (not created)',
                                         expected))
