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

"""The SyncPoint store semantics tests, on MariaDB and PostgreSQL.

With the queries that route a message on Heat's ``engine_worker`` topic,
those that report and resume traversals of Heat's own, and the purge of a
stack's oldest events, and a node's compare-and-swap of a resource row and
insert of an event.
"""

from heat_convergence.tests.unit import test_db_api
from heat_convergence.tests.unit import test_dispatch_window
from heat_convergence.tests.unit import test_progress
from heat_convergence.tests.unit import test_routing
from heat_convergence.tests.unit import test_state_changes


for _backend in ('mysql', 'postgresql'):
    for _case in (test_db_api.TestTraversalCreate, test_db_api.TestDeliver,
                  test_db_api.TestDeliverAndClaim,
                  test_db_api.TestClaims, test_db_api.TestStaleReady,
                  test_db_api.TestLimit,
                  test_db_api.TestDelete, test_routing.TestOwnsMessage,
                  test_progress.TestTraversalPaths,
                  test_progress.TestHeatTraversalIdle,
                  test_state_changes.EventPurge,
                  test_state_changes.PrebuiltStatements,
                  test_dispatch_window.Dequeue):
        _name = '%s_%s' % (_case.__name__, _backend)
        globals()[_name] = type(_name, (_case,), {'backend': _backend})
