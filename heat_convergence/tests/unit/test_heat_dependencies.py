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

"""Heat's own Dependencies test cases, run against our subclass."""

import types

from heat.tests.engine import test_dependencies as heat_cases

from heat_convergence import graph
from heat_convergence.tests import base


class HeatDependenciesCases(heat_cases.dependenciesTest):

    def setUp(self):
        self.useFixture(base.HeatEtcFixture())
        super().setUp()
        self.patch('heat.tests.engine.test_dependencies.dependencies',
                   new=types.SimpleNamespace(
                       Dependencies=graph.Dependencies))

    def test_uses_subclass(self):
        self.assertIsInstance(heat_cases.dependencies.Dependencies([]),
                              graph.Dependencies)
