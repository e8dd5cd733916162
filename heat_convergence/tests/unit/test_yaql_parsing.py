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

import threading
from unittest import mock

from heat.engine.hot import functions
from oslo_config import cfg
import testtools

from heat_convergence import yaql_parsing

EXPRESSION = "$.data.heads.orderBy($).join('+')"
HEADS = ['c', 'a', 'b']
THREADS = 8
ROUNDS = 200


def evaluate_at_once():
    """Evaluate a yaql function in THREADS threads at once: the failures."""
    function = functions.Yaql(None, 'yaql', {
        'expression': EXPRESSION, 'data': {'heads': HEADS}})
    failures = []
    start = threading.Barrier(THREADS)

    def run():
        start.wait()
        for _ in range(ROUNDS):
            try:
                result = function.result()
            except ValueError as exc:
                failures.append(str(exc))
            else:
                if result != 'a+b+c':
                    failures.append(result)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


class ParseOneAtATime(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # Heat's parser reads its limits from the yaql options.
        cfg.CONF([], project='heat')
        self.addCleanup(cfg.CONF.reset)
        # An engine started by another test of this process activated it.
        patch = mock.patch.object(yaql_parsing.PARSE, '_everywhere', None)
        patch.start()
        self.addCleanup(patch.stop)

    def test_heat_parser_fails_valid_expressions_in_threads(self):
        # What the patch is for: Heat's own parse, shared by the threads,
        # fails a valid expression ("Bad expression"), or parses another
        # thread's text and gives a wrong value (seen: the data itself).
        for _ in range(5):
            if evaluate_at_once():
                return
        self.skipTest('no two parses overlapped in five tries')

    def test_every_evaluation_right_with_the_patch(self):
        yaql_parsing.PARSE.activate_everywhere()
        self.assertEqual([], evaluate_at_once())
