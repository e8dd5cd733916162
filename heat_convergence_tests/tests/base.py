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

"""Base class and template helpers of the heat-convergence API tests.

heat-tempest-plugin's functional base class gives the clients (the
``[heat_plugin]`` credentials), the stack helpers and the skip list, so
these tests run wherever heat-tempest-plugin's do.
"""

from heat_tempest_plugin.common import test
from heat_tempest_plugin.tests.functional import functional_base
from tempest import config

CONF = config.CONF

# For the tests: heat-tempest-plugin's polling helper.
call_until_true = test.call_until_true


def test_resource(value, depends_on=None, **props):
    """An OS::Heat::TestResource definition."""
    res = {'type': 'OS::Heat::TestResource',
           'properties': dict(props, value=value)}
    if depends_on:
        res['depends_on'] = list(depends_on)
    return res


def template(resources, outputs=None):
    tmpl = {'heat_template_version': '2018-08-31', 'resources': resources}
    if outputs:
        tmpl['outputs'] = {k: {'value': v} for k, v in outputs.items()}
    return tmpl


class ConvergenceTestBase(functional_base.FunctionalTestsBase):
    """Skips unless Heat runs the convergence engine."""

    def setUp(self):
        super().setUp()
        if not self.conf.convergence_engine_enabled:
            self.skipTest('[heat_plugin] convergence_engine_enabled is '
                          'false: these tests exercise convergence.')
        self.hc_conf = CONF.heat_convergence

    def outputs(self, stack_identifier):
        """{output_key: value} of the stack, resolved by the API."""
        stack = self.client.stacks.get(stack_identifier)
        return {o['output_key']: o['output_value'] for o in stack.outputs}

    def output_attr(self, stack_identifier, name):
        """The ``output`` attribute of a TestResource, from the API."""
        res = self.client.resources.get(stack_identifier, name,
                                        with_attr=['output'])
        return res.attributes['output']

    def resource_events(self, stack_identifier, name, action=None):
        """The resource's events, oldest first, optionally for one action."""
        events = self.client.events.list(
            stack_identifier, resource_name=name, sort_dir='asc')
        return [e for e in events
                if action is None or e.resource_status.startswith(action)]
