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

"""Alembic environment of the heat-convergence tables.

The plugin shares Heat's database, so it keeps its own version table (Heat's
``alembic_version`` must keep a single head for ``heat-manage db_sync``) and
compares only its own tables during autogenerate: without the filter,
autogenerate would propose dropping every Heat table.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config
from sqlalchemy import pool

from heat_convergence.db import migration
from heat_convergence.db import models

config = context.config
if config.attributes.get('configure_logger', True):
    fileConfig(config.config_file_name)


def _configure(**kwargs):
    context.configure(target_metadata=models.BASE.metadata,
                      version_table=migration.VERSION_TABLE,
                      include_name=migration.include_name,
                      include_object=migration.include_object,
                      **kwargs)


def run_migrations_offline():
    _configure(url=config.get_main_option('sqlalchemy.url'),
               literal_binds=True,
               dialect_opts={'paramstyle': 'named'})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get('connection')
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section),
                                prefix='sqlalchemy.', poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
