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

"""Tempest's entry point for the heat-convergence tests.

Registered in setup.cfg under ``tempest.test_plugins`` so that ``tempest
run`` (devstack's tempest job) finds the tests and registers the
``[heat_convergence]`` options.
"""

import os

from tempest.test_discover import plugins

from heat_convergence_tests import config as hc_config


class HeatConvergenceTempestPlugin(plugins.TempestPlugin):

    def load_tests(self):
        # Only the API tests in tests/: live/ holds tests that start a Heat
        # of their own and are run by the project's tox environments.
        package_dir = os.path.dirname(os.path.abspath(__file__))
        return (os.path.join(package_dir, 'tests'),
                os.path.dirname(package_dir))

    def register_opts(self, conf):
        conf.register_group(hc_config.group)
        conf.register_opts(hc_config.opts, group=hc_config.group)

    def get_opt_lists(self):
        return [(hc_config.group.name, hc_config.opts)]
