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

# A replacement that is never created, because the updates that wanted it
# are superseded before it runs.
#
# The first update replaces R: its replacement is stored (INIT) and its
# create queued. The second update comes in before that create runs and
# takes the replacement over as R's resource (its template is the previous
# one); the delete comes in before the second update's node for it runs.
# That node's message, of a superseded traversal, is for a replacement the
# delete does not update: as in Heat, it must be marked DELETE (so that it
# is purged, and left out of any later traversal), not ignored.


def check_replacement_marked():
    # (Scenario files run with their names in locals: import here.)
    from heat.db import api as db_api

    replacement, = [r for r in db_api.resource_get_all(reality.cntxt)
                    if r.replaces is not None]
    test.assertEqual(('DELETE', 'COMPLETE'),
                     (replacement.action, replacement.status))


engine.create_stack('foo', Template({'R': RsrcDef({'!a': 'one'}, [])}))
engine.noop(2)
engine.call(verify, Template({'R': RsrcDef({'!a': 'one'}, [])}))

# One iteration each: R's update (which stores the replacement), the stale
# create of the replacement, the second update's stale node for it.
engine.update_stack('foo', Template({'R': RsrcDef({'!a': 'two'}, [])}))
engine.update_stack('foo', Template({'R': RsrcDef({'!a': 'two',
                                                   'a': 'three'}, [])}))
engine.delete_stack('foo')
engine.call(check_replacement_marked)
engine.noop(4)
engine.call(verify, Template({}))
