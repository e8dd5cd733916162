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

"""Start-up checks of heat-convergence-engine.

The plugin binds to Heat internals (:mod:`heat_convergence.heat_seams`
lists them) and, for drivers with their own tables, needs its schema. Each
failure is reported once, with the fix, before the engine forks its workers
rather than as a traceback in the middle of a stack operation.
"""

from heat.common import context

from heat_convergence.db import migration
from heat_convergence import heat_seams
from heat_convergence import stock_engines


class StartupError(Exception):
    """heat-convergence-engine cannot run in this environment."""


def check_heat_version(found=None):
    found = found or heat_seams.heat_version()
    try:
        major = int(found.split('.')[0])
    except ValueError:
        major = None
    if major != heat_seams.SUPPORTED_HEAT_MAJOR:
        raise StartupError('openstack-heat %s is installed; %s. %s' %
                           (found, heat_seams.series(),
                            heat_seams.install_hint()))


def check_heat_seams():
    """Refuse, in one line, a Heat differing in a seam of the plugin."""
    try:
        heat_seams.check()
    except heat_seams.SeamMismatch as exc:
        raise StartupError(str(exc))


def startup(driver):
    """Run every check for ``driver``; raise StartupError on the first."""
    check_heat_version()
    check_heat_seams()
    if driver.uses_plugin_tables:
        try:
            migration.check_current()
        except migration.SchemaError as exc:
            raise StartupError(str(exc))
        try:
            stock_engines.check_no_stock_engines(context.get_admin_context())
        except stock_engines.MixedFleet as exc:
            raise StartupError(str(exc))
