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

"""Which graph nodes this engine process is running right now.

A node held in the database by this engine but not running here was lost
(its thread died, e.g. on a database outage): the periodic recovery gives
it back. Likewise a resource whose lock this engine holds while no node
running here acts on it: the thread that took the lock died before it could
release it. The database alone cannot tell either apart from live work.
"""

import collections
import contextlib
import threading


class RunningNodes(object):
    """The nodes running here, and the resources they act on."""

    def __init__(self):
        # Counted: a node handed to another thread of this process is
        # tracked there before the first thread lets go of it.
        self._keys = collections.Counter()
        self._resources = collections.Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def tracking(self, traversal_id, node, resource_id=None):
        """Record, within, that this process runs ``node``.

        ``resource_id`` is the resource the node acts on when that is not
        its own: a replacement runs the node of the resource it replaces.
        """
        key = (traversal_id, str(node.rsrc_id), bool(node.is_update))
        with self._lock:
            self._keys[key] += 1
        try:
            with self.acting(node.rsrc_id, resource_id):
                yield
        finally:
            with self._lock:
                self._keys -= collections.Counter([key])

    @contextlib.contextmanager
    def acting(self, *resource_ids):
        """Record, within, that a thread here acts on the resources.

        Heat's own worker, serving stock traversals beside the driver,
        records its threads here too. None stands for no resource.
        """
        resources = {str(r) for r in resource_ids if r is not None}
        with self._lock:
            self._resources.update(resources)
        try:
            yield
        finally:
            with self._lock:
                # Counter.subtract keeps keys at zero: a long-lived engine
                # would keep every resource it ever acted on.
                self._resources -= collections.Counter(resources)

    def acting_on(self, resource_id):
        """How many nodes running here act on the resource."""
        with self._lock:
            return self._resources[str(resource_id)]

    def __contains__(self, key):
        with self._lock:
            return key in self._keys
