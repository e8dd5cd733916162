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

"""The Galera start-up check on database servers that are not Galera."""

import fixtures
from oslo_config import cfg
from oslo_db import options as db_options
import testscenarios
import testtools

from heat_convergence import startup
from heat_convergence.tests import db_fixture


class TestNotGalera(testtools.TestCase):

    scenarios = [(name, {'backend': name})
                 for name in ('sqlite', 'mysql', 'postgresql')]

    def test_no_warning(self):
        db = self.useFixture(db_fixture.Database(self.backend))
        conf = cfg.ConfigOpts()
        db_options.set_defaults(conf)
        log = self.useFixture(fixtures.FakeLogger())
        self.assertFalse(startup.check_galera_settings(conf, db.engine))
        self.assertEqual('', log.output)


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
