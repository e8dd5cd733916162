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

"""The plugin's migrations only expand, so old engines run beside new ones.

Engines are upgraded one host at a time: ``db_sync`` runs while engines of
the previous release are still up, reading and writing the same tables.
Every migration after the first may therefore only add (tables, indexes,
columns that an old engine's INSERT can leave out), never drop, rename or
change what exists. Checked on the SQL alembic writes for MySQL and
PostgreSQL (offline mode: no database needed).
"""

import io
import re

from alembic import command as alembic_api
from alembic import script as alembic_script
import testscenarios
import testtools

from heat_convergence.db import migration

load_tests = testscenarios.load_tests_apply_scenarios

ALLOWED = (
    re.compile(r'^CREATE TABLE '),
    re.compile(r'^CREATE (UNIQUE )?INDEX '),
    re.compile(r'^ALTER TABLE \S+ ADD (COLUMN )?\S+ .*'),
    # Alembic's own bookkeeping.
    re.compile(r'^UPDATE %s SET ' % migration.VERSION_TABLE),
    re.compile(r'^(BEGIN|COMMIT)$'),
)


def _statements(sql):
    for statement in sql.split(';'):
        lines = [line for line in statement.strip().splitlines()
                 if not line.startswith('--')]
        text = ' '.join(' '.join(lines).split())
        if text:
            yield text


def _revisions():
    scripts = alembic_script.ScriptDirectory.from_config(migration._config())
    return [(rev.revision, {'revision': rev.revision,
                            'down': rev.down_revision})
            for rev in scripts.walk_revisions() if rev.down_revision]


class TestExpandOnly(testtools.TestCase):

    scenarios = testscenarios.multiply_scenarios(
        [('mysql', {'url': 'mysql+pymysql://u@h/heat'}),
         ('postgresql', {'url': 'postgresql+psycopg2://u@h/heat'})],
        _revisions())

    def sql(self):
        config = migration._config()
        config.set_main_option('sqlalchemy.url', self.url)
        config.output_buffer = io.StringIO()
        alembic_api.upgrade(config, '%s:%s' % (self.down, self.revision),
                            sql=True)
        return config.output_buffer.getvalue()

    def test_only_adds(self):
        statements = list(_statements(self.sql()))
        self.assertTrue(statements)
        for statement in statements:
            self.assertTrue(any(p.match(statement) for p in ALLOWED),
                            'not an expansion: %s' % statement)
            if ' ADD ' in statement and 'NOT NULL' in statement:
                # An old engine's INSERT leaves the column out.
                self.assertIn('DEFAULT', statement)
