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

"""What a Heat database holds of its stacks, comparable across databases.

Two runs of the same templates (one on Galera, one on a single server; or
three Galera nodes' copies) store different ids, uuids and times; a
:class:`Snapshot` keeps what must be the same: each resource row's stack,
name, action, status and physical id, and how many events each resource
has of each action and status. A nested stack is named after its parent
stack and resource, with Heat's random short id removed, so that nested
rows compare too.
"""

import collections
import dataclasses
import re

import sqlalchemy as sa

# The short id Heat puts in a nested stack's name ("-" and 12 base32
# characters, from the parent resource's uuid).
SHORT_ID = re.compile(r'-[a-z2-7]{12}(?=-|$)')


def stable(name):
    """A stack name without its random parts."""
    return SHORT_ID.sub('', name)


@dataclasses.dataclass
class Snapshot:
    """A database's resources and events, as comparable.

    ``resources``: {(stack, name): (action, status, physical id)};
    ``events``: a Counter of (stack, resource name, action, status).
    """

    resources: dict
    events: collections.Counter

    def without_ids(self):
        """``resources`` without the physical ids, which differ per run."""
        return {key: row[:2] for key, row in self.resources.items()}

    def replaced(self, before):
        """The resources whose physical id changed since ``before``."""
        return sorted(key for key, row in self.resources.items()
                      if key in before.resources and
                      before.resources[key][2] != row[2])


def take(engine):
    """The Snapshot of the database ``engine`` connects to."""
    with engine.connect() as conn:
        names = dict(conn.execute(sa.text('SELECT id, name FROM stack')).all())
        resources = {
            (stable(names[stack_id]), name): (action, status, physical)
            for stack_id, name, action, status, physical in conn.execute(
                # Heat's column of the physical id.
                sa.text('SELECT stack_id, name, action, status, '
                        'nova_instance FROM resource'))}
        events = collections.Counter(
            (stable(names[stack_id]), stable(name), action, status)
            for stack_id, name, action, status in conn.execute(sa.text(
                'SELECT stack_id, resource_name, resource_action, '
                'resource_status FROM event')))
    return Snapshot(resources, events)
