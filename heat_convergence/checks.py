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

The plugin binds to Heat through a few private names (the seams listed
below) and, for drivers with their own tables, needs its schema. Each
failure is reported once, with the fix, before the engine forks its workers
rather than as a traceback in the middle of a stack operation.
"""

from heat.common import context
from heat.db import api as db_api
from heat.engine import check_resource
from heat.engine import resource
from heat.engine import scheduler
from heat.engine import service
from heat.engine import stack
from heat.engine import stk_defn
from heat.engine import worker
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object
from heat import version

from heat_convergence.db import migration
from heat_convergence import stock_engines

SUPPORTED_HEAT_MAJOR = 27

# (owner, attribute) pairs of Heat internals the binding and the drivers
# rely on. A Heat release that renames one must not start half-working.
HEAT_NAMES = (
    (stack.Stack, '_converge_create_or_update'),
    (stack.Stack, '_update_or_store_resources'),
    (stack.Stack, '_db_resources_get'),
    (stack.Stack, '_compute_convg_dependencies'),
    (stack.Stack, 'converge_stack'),
    (stack.Stack, '_update_all_resource_data'),
    (stack.Stack, '_explicit_dependencies'),
    (stack.Stack, 'dispatch_event'),
    (stack, 'reset_state_on_error'),
    (stack, 'ConvergenceNode'),
    (service.EngineService, '_configure_db_conn_pool_size'),
    (service.EngineService, 'service_manage_cleanup'),
    (service.EngineService, 'service_manage_report'),
    (service.EngineService, 'reset_stack_status'),
    (service, 'EngineListener'),
    (service, 'ThreadGroup'),
    (service.ThreadGroupManager, 'add_msg_queue'),
    (service.ThreadGroupManager, 'remove_msg_queue'),
    (worker.WorkerService, '_handle_snapshot_node'),
    (worker.WorkerService, '_propagate_snapshot_complete'),
    (worker, '_stop_traversal'),
    (worker, 'log_exceptions'),
    (check_resource.CheckResource, '_initiate_propagate_resource'),
    (check_resource.CheckResource, 'retrigger_check_resource'),
    (check_resource.CheckResource, '_do_check_resource'),
    (check_resource, 'load_resource'),
    (resource.Resource, 'state_set'),
    (stk_defn.StackDefinition, '_load_rsrc_defns'),
    (stk_defn, 'update_resource_data'),
    (scheduler.TaskRunner, '_sleep'),
    (stack_object.Stack, 'get_by_id'),
    (stack_object.Stack, '_from_db_object'),
    (raw_template_object.RawTemplate, 'get_by_id'),
    (raw_template_object.RawTemplate, 'from_db_object'),
    (db_api, 'raw_template_get'),
    (db_api, 'stack_get'),
    (db_api, 'event_create'),
    (db_api, '_event_count_all_by_stack'),
    (db_api, '_delete_event_rows'),
    (db_api, 'resource_update_and_save'),
    (db_api, '_truncate_status_reason'),
)


class StartupError(Exception):
    """heat-convergence-engine cannot run in this environment."""


def heat_version():
    return version.version_info.version_string()


def check_heat_version(found=None):
    found = found or heat_version()
    try:
        major = int(found.split('.')[0])
    except ValueError:
        major = None
    if major != SUPPORTED_HEAT_MAJOR:
        raise StartupError(
            'openstack-heat %s is installed; this heat-convergence supports '
            'openstack-heat %d.x only. Install a matching pair, e.g. '
            '"pip install \'openstack-heat>=%d.0.1,<%d\'".' %
            (found, SUPPORTED_HEAT_MAJOR, SUPPORTED_HEAT_MAJOR,
             SUPPORTED_HEAT_MAJOR + 1))


def check_heat_names(names=HEAT_NAMES):
    missing = ['%s.%s' % (getattr(owner, '__name__', owner), attr)
               for owner, attr in names if not hasattr(owner, attr)]
    if missing:
        raise StartupError(
            'The installed openstack-heat (%s) lacks internals that '
            'heat-convergence binds to: %s. Install the openstack-heat '
            'release this heat-convergence supports (%d.x).' %
            (heat_version(), ', '.join(missing), SUPPORTED_HEAT_MAJOR))


def startup(driver):
    """Run every check for ``driver``; raise StartupError on the first."""
    check_heat_version()
    check_heat_names()
    if driver.uses_plugin_tables:
        try:
            migration.check_current()
        except migration.SchemaError as exc:
            raise StartupError(str(exc))
        try:
            stock_engines.check_no_stock_engines(context.get_admin_context())
        except stock_engines.MixedFleet as exc:
            raise StartupError(str(exc))
