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

"""The start of a traversal: what it reads from the database."""

from heat.engine import stack as parser
from heat.engine import template
from heat.objects import resource as resource_objects
from heat.tests import utils

from heat_convergence.tests import base
from heat_convergence import traversal

N = 20


def hot(names):
    return {'heat_template_version': '2015-04-30',
            'resources': {name: {'type': 'OS::Heat::None'}
                          for name in names}}


class TestResourceRows(base.HeatTestCase):
    """Heat's storing of a traversal's resources, with one read of rows."""

    def setUp(self):
        super().setUp()
        self.ctx = utils.dummy_context()
        self.names = ['r%d' % i for i in range(N)]
        self.reads = []
        read = resource_objects.Resource.get_all_by_stack

        def count(cnxt, stack_id, *args, **kwargs):
            self.reads.append(stack_id)
            return read(cnxt, stack_id, *args, **kwargs)

        self.patchobject(resource_objects.Resource, 'get_all_by_stack',
                         side_effect=count)

    def new_stack(self, names, stack_id=None):
        stack = parser.Stack(self.ctx, 'rows',
                             template.Template(hot(names)),
                             stack_id=stack_id)
        stack.store()
        return stack

    def store_resources(self, stack, read_once):
        del self.reads[:]
        if read_once:
            traversal._read_resource_rows_once(stack)
        return stack._update_or_store_resources()

    def test_create_reads_rows_once(self):
        stack = self.new_stack(self.names)
        stored = self.store_resources(stack, read_once=True)
        self.assertEqual([stack.id], self.reads)
        self.assertEqual(sorted(self.names), sorted(stored))
        self.assertEqual(sorted(self.names), sorted(
            resource_objects.Resource.get_all_by_stack(self.ctx, stack.id)))

    def test_heat_reads_once_per_resource(self):
        # What the function is for: Heat alone asks N times.
        stack = self.new_stack(self.names)
        self.store_resources(stack, read_once=False)
        self.assertEqual(N, len(self.reads))

    def test_update_finds_the_stored_rows(self):
        stack = self.new_stack(self.names)
        created = self.store_resources(stack, read_once=True)
        # The next traversal of the same stack, with one more resource.
        again = self.new_stack(self.names + ['extra'], stack_id=stack.id)
        stored = self.store_resources(again, read_once=True)
        self.assertEqual([stack.id], self.reads)
        self.assertEqual({name: created[name].id for name in self.names},
                         {name: stored[name].id for name in self.names})
        self.assertIsNotNone(stored['extra'].id)
