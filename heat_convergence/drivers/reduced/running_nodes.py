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
it back. The database alone cannot tell the two apart.
"""

import contextlib
import threading


class RunningNodes(object):
    """The (traversal, entity, is_update) keys of the nodes running here."""

    def __init__(self):
        self._keys = set()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def tracking(self, traversal_id, node):
        """Record, within, that this process runs ``node``."""
        key = (traversal_id, str(node.rsrc_id), bool(node.is_update))
        with self._lock:
            self._keys.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._keys.discard(key)

    def __contains__(self, key):
        with self._lock:
            return key in self._keys
