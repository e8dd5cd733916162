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

"""Heat's ``yaql`` function, safe in an engine's threads.

Heat's ``yaql`` function shares one parser and one context per process,
made for eventlet, where no other green thread ran in between. Under
oslo.service's threading backend two things go wrong:

* ``Yaql.get_yaql_parser`` creates the parser, then the context, on first
  use: a thread evaluating yaql in between finds no context
  (``AttributeError: '_context'``). Both are made before any thread runs.
* The parser's lexer keeps the text being parsed as its own state: two
  threads parsing at once read each other's text, and a valid expression
  fails with "Bad expression Parse error: unexpected end of statement" (or
  an unexpected token at some position), failing its resource's action.
  Stock Heat 27's engine threads can meet it; the reduced driver's node
  threads met it in a random stack of 1,000 resources. The parse, well
  under a millisecond, runs under a lock; the evaluation of the parsed
  expression, which holds no shared state, does not.
"""

import threading

from heat.engine.hot import functions

from heat_convergence import thread_patches

_LOCK = threading.Lock()


def _parse(heat_method, _active, function, expression):
    with _LOCK:
        return heat_method(function, expression)


PARSE = thread_patches.ThreadPatch(functions.Yaql, '_parse', _parse)


def prepare():
    """Make the shared parser and context; parse one text at a time."""
    functions.Yaql.get_yaql_parser()
    PARSE.activate_everywhere()
