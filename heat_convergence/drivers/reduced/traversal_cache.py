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

"""What the nodes of one traversal share on an engine, computed once.

Every node of a traversal loads the same templates and asks the same
questions of them. Heat recomputes the answers in each node, which makes a
node's cost grow with the stack. An engine keeps them per (traversal,
key) instead: what a traversal runs never changes under it (an update or a
cancel starts a new traversal, with new keys), so nothing needs
invalidating, and the entries of traversals no longer running simply age
out of the least recently used ones kept.
"""

import collections
import concurrent.futures
import threading

# The entries an engine's caches keep: enough for the traversals that run
# on an engine at once, a group's members' included (each runs one), and
# for few of them to be big (a stack of 10,000 resources holds a few MB
# per entry; a group member's, a few kB).
ENTRIES = 512


class TraversalCache(object):
    """Values per (traversal id, key), built once, the latest ``size`` kept.

    When the threads of an engine all start nodes of a new traversal at
    once, one of them builds a value and the others wait for it. If the
    build fails, each waiting thread builds for itself, so an error is
    raised where it happens and never cached.
    """

    def __init__(self, size):
        self._size = size
        self._lock = threading.Lock()
        self._entries = collections.OrderedDict()

    def get(self, traversal_id, key, build):
        """Return the value for ``key`` in the traversal; build it if new."""
        k = (traversal_id, key)
        with self._lock:
            entry = self._entries.get(k)
            building = entry is None
            if building:
                entry = self._entries[k] = concurrent.futures.Future()
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(k)
        if not building:
            try:
                return entry.result()
            except BaseException:
                return build()
        try:
            value = build()
        except BaseException as exc:
            with self._lock:
                if self._entries.get(k) is entry:
                    del self._entries[k]
            entry.set_exception(exc)
            raise
        entry.set_result(value)
        return value
