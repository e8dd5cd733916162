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

"""Which engines serve the cloud under test.

Without this check a job meant to test heat-convergence-engine could pass
on stock heat-engine processes (a deployment that did not swap them), and
prove nothing.
"""

from heat_convergence_tests.tests import base


class EngineServiceTest(base.ConvergenceTestBase):

    def test_engines_are_expected_binary(self):
        expected = self.hc_conf.expected_engine_binary
        if not expected:
            self.skipTest('[heat_convergence] expected_engine_binary is '
                          'not set')
        self.setup_clients_for_admin()
        engines = [s for s in self.client.services.list()
                   if s.status == 'up']
        self.assertTrue(engines, 'no orchestration engine is up')
        self.assertEqual({expected},
                         {s.binary for s in engines},
                         'engines up: %s' % ', '.join(
                             '%s on %s' % (s.binary, s.hostname)
                             for s in engines))
