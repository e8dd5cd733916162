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

"""The ``heat`` driver under the binding: Heat's scenarios, stock results."""

import testscenarios

from heat_convergence.drivers import heat as heat_driver
from heat_convergence.tests import scenario_harness


class HeatDriverScenarios(scenario_harness.DriverScenarioTest):

    driver_class = heat_driver.HeatDriver


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
