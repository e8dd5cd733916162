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

"""Loading the configured convergence driver."""

from importlib import metadata

from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception

NAMESPACE = 'heat_convergence.drivers'


class DriverNotFound(Exception):
    """The configured driver name is not installed."""


def available():
    """Return the sorted names of the installed drivers."""
    return sorted({ep.name for ep in
                   metadata.entry_points(group=NAMESPACE)})


def load(conf):
    """Instantiate the driver named by ``[heat_convergence] driver``.

    :raises DriverNotFound: with the installed names, when it is unknown.
    """
    name = conf.heat_convergence.driver
    try:
        manager = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=True, invoke_args=(conf,))
    except stevedore_exception.NoMatches:
        raise DriverNotFound(
            'Unknown convergence driver %r in [heat_convergence] driver; '
            'installed drivers: %s.' %
            (name, ', '.join(available()) or 'none'))
    return manager.driver
