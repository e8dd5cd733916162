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

"""The ``reduced`` driver: reduced graphs, database SyncPoints, forwarding.

Every traversal runs over the transitive reduction of Heat's convergence
graph, with its SyncPoints in the plugin's own tables; each node forwards
the data its successors need across the removed edges. Resource actions
are Heat's. One module per concern:

* :mod:`.driver`: the driver class, the engine's one entry point;
* :mod:`.traversal`: starting (graph, rows, leaves) and finishing;
* :mod:`.late_purge`: a new operation not lost to a failed traversal's
  late purge;
* :mod:`.notifications`: no stack notification built where none is sent;
* :mod:`.forwarding`: what each kept edge carries;
* :mod:`.sync_points`: the rows of a traversal, in terms of Heat's nodes;
* :mod:`.messages`: what a dispatch carries;
* :mod:`.node_loop`, :mod:`.claim`, :mod:`.handover`: running a node;
* :mod:`.cleanup_shortcut`, :mod:`.stale_replacements`,
  :mod:`.snapshots`: the node kinds with paths of their own;
* :mod:`.running_nodes`: which nodes this process runs now;
* :mod:`.cancellation`: stopping work in flight on every engine;
* :mod:`.parent_wake`: a nested stack's end waking its parent resource;
* :mod:`.nested_actions`: a parent resource waiting for its nested stack
  off the RPC worker threads;
* :mod:`.recovery`: the periodic work that leaves no stack behind;
  :mod:`.heat_traversals`, its part for traversals of stock Heat's in a
  mixed fleet;
* :mod:`.handback`: going back, reduced traversals in flight restarted on
  Heat's own path;
* :mod:`.definitions`, :mod:`.stack_cache`, :mod:`.traversal_cache`,
  :mod:`.state_changes`: Heat's per-node work made cheap;
* :mod:`.progress`: the operator's view of a traversal.
"""
