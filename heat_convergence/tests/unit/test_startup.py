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

"""Start-up refuses a Heat it does not support, in one line."""

from unittest import mock

import fixtures
from oslo_config import cfg
from oslo_db import options as db_options
import testtools

from heat_convergence import heat_seams
from heat_convergence import startup


class Changed(object):
    """A stand-in for a Heat class whose method changed."""

    def method(self, context):
        return context


CHANGED = heat_seams.Seam(Changed, 'method', heat_seams.CALLED,
                          '(self, context, name)', 'a test')


class TestHeatVersion(testtools.TestCase):

    def test_installed(self):
        startup.check_heat_version()
        startup.check_heat_version('27.0.1')

    def test_other_series(self):
        exc = self.assertRaises(startup.StartupError,
                                startup.check_heat_version, '28.0.0')
        self.assertEqual(
            'openstack-heat 28.0.0 is installed; this heat-convergence '
            'supports openstack-heat 27.x only. Install a matching pair, '
            'e.g. "pip install \'openstack-heat>=27.0.1,<28\'".', str(exc))

    def test_not_a_release(self):
        self.assertRaises(startup.StartupError, startup.check_heat_version,
                          'master')


class TestStartup(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.driver = mock.Mock(uses_plugin_tables=False, worker_topic=None)

    def test_installed_heat(self):
        startup.startup(self.driver)

    def test_changed_seam(self):
        check = heat_seams.check
        self.useFixture(fixtures.MockPatchObject(
            heat_seams, 'check', side_effect=lambda: check([CHANGED])))
        exc = self.assertRaises(startup.StartupError, startup.startup,
                                self.driver)
        message = str(exc)
        self.assertNotIn('\n', message)
        self.assertIn(__name__ + '.Changed.method (called): expected (self, '
                      'context, name), found (self, context)', message)
        self.assertIn('this heat-convergence supports openstack-heat 27.x',
                      message)


class TestGaleraSettings(testtools.TestCase):
    """A Galera node without causality checks is worth a warning."""

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        db_options.set_defaults(self.conf)
        self.log = self.useFixture(fixtures.FakeLogger())

    def engine(self, dialect='mysql', wsrep_on='ON'):
        engine = mock.MagicMock()
        engine.dialect.name = dialect
        conn = engine.connect.return_value.__enter__.return_value
        conn.execute.return_value.first.return_value = (
            None if wsrep_on is None else ('wsrep_on', wsrep_on))
        return engine

    def test_galera_without_sync_wait(self):
        self.assertTrue(startup.check_galera_settings(self.conf,
                                                      self.engine()))
        self.assertIn('[database] mysql_wsrep_sync_wait is not set',
                      self.log.output)
        self.assertIn('mysql_wsrep_sync_wait = 3', self.log.output)

    def test_galera_with_sync_wait(self):
        self.conf.set_override('mysql_wsrep_sync_wait', 3, 'database')
        self.assertTrue(startup.check_galera_settings(self.conf,
                                                      self.engine()))
        self.assertEqual('', self.log.output)

    def test_not_galera(self):
        for engine in (self.engine(wsrep_on='OFF'),
                       self.engine(wsrep_on=None)):
            self.assertFalse(startup.check_galera_settings(self.conf,
                                                           engine))
        postgresql = self.engine('postgresql')
        self.assertFalse(startup.check_galera_settings(self.conf,
                                                       postgresql))
        postgresql.connect.assert_not_called()
        self.assertEqual('', self.log.output)
