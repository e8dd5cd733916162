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

"""The ``heat`` driver: stock Heat behaviour, for comparison and going back.

Every seam calls straight back into Heat's own implementation, so an engine
running this driver behaves exactly like ``heat-engine``: Heat's graph,
Heat's ``sync_point`` table, its one-second pause between leaves. It exists
to compare against, to prove that the binding itself changes nothing, and
to go back from the ``reduced`` driver engine by engine: once the plugin's
tables exist, it hands the reduced traversals that no engine moves any more
back to Heat's path (:mod:`heat_convergence.drivers.reduced.handback`).
"""

from heat.common import context
from heat.rpc import listener_client
from oslo_log import log as logging

from heat_convergence.db import migration
from heat_convergence.drivers import base
from heat_convergence.drivers.reduced import handback
from heat_convergence import worker as hc_worker

LOG = logging.getLogger(__name__)


def _stock(worker):
    """Heat's own WorkerService implementation, for ``worker``."""
    return super(hc_worker.ConvergenceWorkerService, worker)


class HeatDriver(base.ConvergenceDriver):
    """Run traversals exactly as stock Heat 27 does."""

    def start(self, engine):
        super().start(engine)
        try:
            tables = migration.db_version() is not None
        except Exception:
            LOG.debug('No heat-convergence tables to watch.', exc_info=True)
            tables = False
        if tables:
            opts = self.conf.heat_convergence
            engine.manage_thread_grp.add_timer(
                opts.periodic_interval, self.hand_back_idle,
                initial_delay=opts.periodic_interval)

    def stop(self):
        """Nothing to stop: the engine stops its periodic tasks itself."""

    def hand_back_idle(self):
        """Hand back the reduced traversals no engine has moved for long.

        Twice ``ready_timeout``: by then an engine of the reduced driver
        would have dispatched the traversal's ready nodes again.
        """
        cnxt = context.get_admin_context()
        try:
            handback.idle(
                cnxt, 2 * self.conf.heat_convergence.ready_timeout,
                lambda engine_id: listener_client.EngineListenerClient(
                    engine_id).is_alive(cnxt))
        except Exception:
            LOG.exception('Handing back idle reduced traversals failed; '
                          'retrying in %ss.',
                          self.conf.heat_convergence.periodic_interval)

    def begin_traversal(self, stack, abandon=False):
        """Nothing: Heat keeps no record of a traversal but its id."""

    def cancel_running(self, cnxt, stack):
        """Nothing: Heat lets running resource actions finish."""

    def note_message(self, stack_id, message, resource_name=None):
        """Nothing: Heat's threads read their own queues."""
        return False

    def converge(self, stack, pre_converge=None, abandon=False):
        stack._converge_create_or_update(pre_converge=pre_converge,
                                         abandon=abandon)

    def check_resource(self, worker, cnxt, resource_id, current_traversal,
                       data, is_update, adopt_stack_data, converge=False,
                       skip_propagate=False, accumulated_failures=None,
                       node_type='resource', abandon=False):
        _stock(worker).check_resource(
            cnxt, resource_id, current_traversal, data, is_update,
            adopt_stack_data, converge=converge,
            skip_propagate=skip_propagate,
            accumulated_failures=accumulated_failures, node_type=node_type,
            abandon=abandon)

    def snapshot_node_done(self, worker, cnxt, snapshot_id,
                           current_traversal, stack_id=None, failure=None):
        _stock(worker)._propagate_snapshot_complete(
            cnxt, snapshot_id, current_traversal, stack_id=stack_id,
            failure=failure)

    def stop_traversal(self, worker, stack):
        _stock(worker).stop_traversal(stack)
