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
        self.driver = mock.Mock(uses_plugin_tables=False)

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
