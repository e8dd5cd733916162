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

"""Test bases for tests that run on Heat's own test machinery."""

import os

import fixtures
from heat.tests import common

from heat_convergence import conf


def none_template(names):
    """A HOT template of an OS::Heat::None for each of ``names``."""
    return {'heat_template_version': '2015-04-30',
            'resources': {name: {'type': 'OS::Heat::None'}
                          for name in names}}


class HeatEtcFixture(fixtures.Fixture):
    """Make HeatTestCase find the wheel's etc/heat.

    HeatTestCase.setUp looks for ``etc/heat/{environment.d,templates}`` two
    directories above ``heat/tests/common.py``, which only exists in a source
    checkout of Heat. It derives that directory from the module's
    ``__file__``, so pointing ``__file__`` two levels below the install
    prefix makes it resolve the installed copy, and its template-path rewrite
    for AWS::RDS::DBInstance then leaves the (correct) paths alone.
    """

    def _setUp(self):
        prefix = os.path.dirname(os.path.dirname(conf.heat_etc_dir()))
        fake_file = os.path.join(prefix, 'heat', 'tests', 'common.py')
        self.useFixture(fixtures.MonkeyPatch(
            'heat.tests.common.__file__', fake_file))


class HeatTestCase(common.HeatTestCase):
    """Heat's HeatTestCase, runnable against an installed openstack-heat."""

    def setUp(self, *args, **kwargs):
        self.useFixture(HeatEtcFixture())
        super().setUp(*args, **kwargs)
