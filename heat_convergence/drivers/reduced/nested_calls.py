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

"""A parent's calls to its nested stack outlive the engine taking them.

A parent resource creates, updates and deletes its nested stack with an
RPC *call* (Heat's ``EngineClient._create_stack``, ``_update_stack`` and
``delete_stack``) that any engine may take. When that engine dies during
the call, the parent waits ``rpc_response_timeout`` and Heat fails it with
``MessagingTimeout``, and the stack with it, although the nested stack's
traversal may well have started: the recovery then resumes a traversal
nobody waits for. In a node of the reduced driver, a timed-out call reads
what the call left instead:

* create: the nested stack is found by its owner (the parent stack) and
  its name (the parent resource's physical name, unique to the resource's
  row, so never another traversal's stack). Found with a traversal, it is
  adopted as the call's answer and waited for as usual; not found, the
  call is made once more.
* update: the nested stack stores the call's pre-stored template
  (``template_id``) when its update starts. Stored, the update has started
  and is waited for; not, the call is made once more.
* delete: a nested stack gone, or whose delete has begun (and not
  failed), is waited for; otherwise the call is made once more.

Anything else (a stack stored but never started, a second timeout) fails
as Heat fails it.

The parent's calls that only read its nested stack (``show_stack``,
``list_stack_resources``, ``get_template`` and ``show_output``) are served
by the engine running the node, in the node's thread, as the engine taking
the RPC call would serve them (any engine may, this one as well): no
broker round trip, no thread of another engine, and no timeout for a read
that is slow. Heat's ``show_stack`` of a ResourceGroup's nested stack
resolves every output through every member, each member's with a read of
its own: made by RPC, one after the other, the group's read took 45 to
67 s for a group of 1,100 template resources on a loaded machine, against
the default ``rpc_response_timeout`` of 60 s. The answer is the call's:
Heat's error as the RPC server sends it, the result through the same JSON
serializer. Where no engine service runs in the process, a read is an RPC
call, and one that times out is made once more (a dead engine's call is
taken by a live one at once; the second call waits
:data:`READ_AGAIN_TIMEOUT_FACTOR` times ``rpc_response_timeout``, so that
a slow read is not failed twice), and a second timeout fails as in Heat.

The engine running the parent may die too. The recovery runs the parent's
node again, Heat marks the resource "Worker went down" and redoes its
action: an update would send the nested stack the same update again, and
every resource in it (every member of a ResourceGroup, and their nested
stacks in turn) would be walked a second time in the traversal. An update
call whose nested stack already runs or ran, since the parent's traversal
began, an update with the same template, environment, files and timeout
(and without ``converge``) is not sent: the parent waits for that update.
Outside such a repeat, no traversal sends a nested stack the same update
twice, so the nested stacks are walked as in Heat.
"""

import contextlib

from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object
from heat.rpc import api as rpc_api
from heat.rpc import client as rpc_client
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from heat_convergence.db import api as db_api
from heat_convergence import thread_patches

LOG = logging.getLogger(__name__)


# A read made once more waits this many times rpc_response_timeout.
READ_AGAIN_TIMEOUT_FACTOR = 5

# What an RPC server does to an answer before it is sent (Heat's serializer
# adds the context to it).
_SERIALIZER = oslo_messaging.JsonPayloadSerializer()

# What a timed-out call left, as :func:`_call` reads it.
CALL_AGAIN = object()
FAIL = object()


def _call(call, left, what, stack):
    """Make ``call()``; after a MessagingTimeout, act on what it left.

    ``left()`` returns the answer to give for a call whose work began (the
    parent then waits for it), :data:`CALL_AGAIN` for one that left
    nothing, or :data:`FAIL` to fail as Heat does.
    """
    try:
        return call()
    except oslo_messaging.MessagingTimeout:
        answer = left()
        if answer is FAIL:
            raise
    if answer is CALL_AGAIN:
        LOG.warning('The call %s nested stack %s timed out before it began '
                    '(its engine died?); calling again.', what, stack)
        return call()
    LOG.warning('The call %s nested stack %s timed out after it began (its '
                'engine died?); waiting for it.', what, stack)
    return answer


def _create_stack(heat_create, _value, client, ctxt, stack_name, *args,
                  **kwargs):
    """``EngineClient._create_stack``, adopting what a lost call created."""
    owner_id = kwargs.get('owner_id')

    def left():
        if owner_id is None:
            return FAIL
        nested = stack_object.Stack.get_by_name_and_owner_id(
            ctxt, stack_name, owner_id)
        if nested is None:
            return CALL_AGAIN
        if not nested.current_traversal:
            return FAIL
        return dict(nested.identifier())

    return _call(lambda: heat_create(client, ctxt, stack_name, *args,
                                     **kwargs), left, 'creating', stack_name)


def _update_stack(heat_update, _value, client, ctxt, stack_identity, *args,
                  **kwargs):
    """``EngineClient._update_stack``, waiting for what a lost call began."""
    stack_id = stack_identity['stack_id']
    template_id = kwargs.get('template_id')
    if template_id is not None and _update_sent(
            ctxt, stack_id, template_id, kwargs.get('args') or {}):
        LOG.info('Nested stack %s already has this update since its parent '
                 "traversal began (its parent's action was run again); "
                 'waiting for it rather than sending it again.', stack_id)
        raw_template_object.RawTemplate.delete(ctxt, template_id)
        return dict(stack_identity)

    def left():
        if template_id is None:
            return FAIL
        nested = stack_object.Stack.get_by_id(ctxt, stack_id)
        if nested is not None and nested.raw_template_id == template_id:
            return dict(stack_identity)
        return CALL_AGAIN

    return _call(lambda: heat_update(client, ctxt, stack_identity, *args,
                                     **kwargs), left, 'updating', stack_id)


def _delete_stack(heat_delete, _value, client, ctxt, stack_identity,
                  cast=False):
    """``EngineClient.delete_stack``, waiting for what a lost call began."""
    stack_id = stack_identity['stack_id']

    def left():
        try:
            action, status = stack_object.Stack.get_status(ctxt,
                                                           stack_id)[:2]
        except exception.NotFound:
            return None
        if action == parser.Stack.DELETE and status != parser.Stack.FAILED:
            return None
        return CALL_AGAIN

    return _call(lambda: heat_delete(client, ctxt, stack_identity,
                                     cast=cast), left, 'deleting', stack_id)


class _Patient(object):
    """An EngineClient whose calls wait ``timeout`` seconds for a reply."""

    def __init__(self, client, timeout):
        self._client = client
        self._timeout = timeout

    def __getattr__(self, name):
        return getattr(self._client, name)

    def call(self, ctxt, msg, version=None, timeout=None):
        return self._client.call(ctxt, msg, version=version,
                                 timeout=timeout or self._timeout)


def _read(heat_read, engine, client, *args, **kwargs):
    """A parent's read of its nested stack: served here, or by RPC.

    ``engine`` is this process's Heat engine service, or False.
    """
    if engine:
        return _served_here(engine, heat_read.__name__, *args, **kwargs)
    return _read_again(heat_read, client, *args, **kwargs)


def _served_here(engine, name, *args, **kwargs):
    """Serve the read ``name`` as the engine taking the call would."""
    try:
        result = getattr(engine, name)(*args, **kwargs)
    except oslo_messaging.ExpectedException as expected:
        # Heat's request_context wraps its errors for the RPC server,
        # which sends the caller the error itself.
        error, trace = expected.exc_info[1:]
        raise error.with_traceback(trace) from None
    return jsonutils.loads(jsonutils.dumps(
        _SERIALIZER.serialize_entity(args[0], result)))


def _read_again(heat_read, client, *args, **kwargs):
    """A read of a nested stack, made once more after a MessagingTimeout.

    The second call waits longer than the first: an engine that died leaves
    the call to a live one, which answers at once, so a second timeout at
    ``rpc_response_timeout`` would mostly fail a read that was only slow.
    """
    try:
        return heat_read(client, *args, **kwargs)
    except oslo_messaging.MessagingTimeout:
        # Each read takes the stack's identity after the context.
        stack = kwargs.get('stack_identity', args[1] if args[1:] else None)
        timeout = cfg.CONF.rpc_response_timeout * READ_AGAIN_TIMEOUT_FACTOR
        LOG.warning('The call %s of nested stack %s timed out (its engine '
                    'died, or was slow); calling again, waiting up to %s s.',
                    heat_read.__name__, stack, timeout)
    return heat_read(_Patient(client, timeout), *args, **kwargs)


def _update_sent(ctxt, stack_id, template_id, args):
    """Whether the parent's traversal already sent the nested stack this."""
    if args.get(rpc_api.PARAM_CONVERGE):
        return False
    # The rows alone: the templates are compared only once all else says
    # the update was sent (a group's member updates would each read the
    # group's template otherwise).
    nested = heat_db_api.stack_get(ctxt, stack_id, eager_load=False)
    if (nested is None or nested.action != parser.Stack.UPDATE or
            nested.status == parser.Stack.FAILED or
            nested.timeout != args.get(rpc_api.PARAM_TIMEOUT) or
            nested.updated_at is None):
        return False
    parent = heat_db_api.stack_get(ctxt, nested.owner_id, eager_load=False)
    began = parent and db_api.traversal_get(ctxt, parent.current_traversal)
    if (not began or
            timeutils.normalize_time(nested.updated_at) < began.created_at):
        return False
    return (_contents(ctxt, nested.raw_template_id) ==
            _contents(ctxt, template_id))


def _contents(ctxt, template_id):
    """What a stored template holds: template, environment and files."""
    tmpl = raw_template_object.RawTemplate.get_by_id(ctxt, template_id)
    files = tmpl.files
    if tmpl.files_id is not None:
        files = heat_db_api.raw_template_files_get(ctxt, tmpl.files_id).files
    return tmpl.template, tmpl.environment, files or {}


CREATE = thread_patches.ThreadPatch(rpc_client.EngineClient, '_create_stack',
                                    _create_stack)
UPDATE = thread_patches.ThreadPatch(rpc_client.EngineClient, '_update_stack',
                                    _update_stack)
DELETE = thread_patches.ThreadPatch(rpc_client.EngineClient, 'delete_stack',
                                    _delete_stack)
READS = tuple(
    thread_patches.ThreadPatch(rpc_client.EngineClient, name, _read)
    for name in ('show_stack', 'list_stack_resources', 'get_template',
                 'show_output'))


@contextlib.contextmanager
def surviving(engine=None):
    """Within, nested stack calls outlive the engine taking them.

    ``engine``: this process's Heat engine service, which serves the
    reads.
    """
    with contextlib.ExitStack() as patches:
        for patch in (CREATE, UPDATE, DELETE):
            patches.enter_context(patch.active())
        for patch in READS:
            patches.enter_context(patch.active(engine or False))
        yield
