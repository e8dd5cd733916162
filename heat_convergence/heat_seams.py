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

"""Every Heat internal heat-convergence binds to, checked by signature.

Heat has no driver interface for convergence, so the plugin binds to Heat
through names Heat does not promise to keep: it subclasses Heat's engine
service, worker service, thread group manager, ``CheckResource`` and graph
types and overrides their methods; it replaces a few Heat methods in node
threads (:class:`heat_convergence.thread_patches.ThreadPatch`); it calls
private Heat functions and methods; and it reads or writes private state of
Heat objects. A Heat release that changes one of them breaks nothing at import:
an override Heat no longer calls, a replacement with the wrong arguments or
a private attribute Heat stopped setting fails in the middle of a stack
operation, or not at all while stacks silently go wrong.

:data:`SEAMS` lists every such name (public ones only where the plugin
depends on their parameters: it overrides or replaces them, or passes them
arguments by position or through a keyword Heat uses internally), and
:func:`check` compares each with the installed Heat before the engine
starts: by signature for callables, by Heat's own source for state, by type
for constants. Every difference is reported at once, in one line.
``heat_convergence/tests/unit/test_heat_seams.py`` fails when the package
uses a private Heat name this list lacks, or when an entry is stale.
"""

import inspect
import re
import typing

from heat.db import api as db_api
from heat.engine import check_resource
from heat.engine import dependencies
from heat.engine.hot import functions
from heat.engine.notification import stack as stack_notification
from heat.engine import resource
from heat.engine import scheduler
from heat.engine import service
from heat.engine import stack
from heat.engine import stk_defn
from heat.engine import template
from heat.engine import worker
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object
from heat.rpc import client as rpc_client
from heat.rpc import worker_client
from heat import version

SUPPORTED_HEAT_MAJOR = 27

# Kinds of seams. PATCHED: replaced at runtime; OVERRIDDEN: a method of a
# plugin subclass; CALLED: called by the plugin (or, for a Heat method that
# calls a replaced one, relied on to call it); STATE: a private attribute
# the plugin reads or writes; CONSTANT: a module constant it reads (or
# sets, where its entry says so).
PATCHED = 'patched'
OVERRIDDEN = 'overridden'
CALLED = 'called'
STATE = 'state'
CONSTANT = 'constant'
KINDS = (PATCHED, OVERRIDDEN, CALLED, STATE, CONSTANT)


class Seam(typing.NamedTuple):
    """One Heat name the plugin binds to.

    ``signature`` is what :func:`check` expects: for a callable,
    ``str(inspect.signature(...))`` in Heat 27.0.1 (with ``self`` or
    ``cls`` for methods); for STATE, the method of ``owner`` whose source
    assigns ``self.<name>``; for a CONSTANT, the name of its type.
    """

    owner: typing.Any
    name: str
    kind: str
    signature: str
    why: str

    @property
    def qualname(self) -> str:
        if inspect.ismodule(self.owner):
            return '%s.%s' % (self.owner.__name__, self.name)
        return '%s.%s.%s' % (self.owner.__module__, self.owner.__qualname__,
                             self.name)


class SeamMismatch(Exception):
    """The installed Heat differs from what the plugin binds to."""


_Stack = stack.Stack
_Engine = service.EngineService
_TGM = service.ThreadGroupManager
_Worker = worker.WorkerService
_Check = check_resource.CheckResource

SEAMS = (
    # The binding: the engine service, its thread group manager and its
    # worker service.
    Seam(_Stack, '_converge_create_or_update', PATCHED,
         '(self, pre_converge=None, abandon=False)',
         "the binding: replaced per traversal by the driver's converge; "
         'the heat driver and the hand-back to Heat\'s path call it'),
    Seam(_Stack, 'converge_stack', PATCHED,
         "(self, template, action='UPDATE', new_stack=None, "
         "pre_converge=None, new_traversal_id=None, abandon=False)",
         'the binding: it starts _converge_create_or_update through the '
         'thread group manager, which the binding intercepts; the reduced '
         "driver's late purge: its first store may expect '' after a "
         'failed traversal'),
    Seam(_TGM, '__init__', OVERRIDDEN, '(self)',
         "the binding's thread group manager: Heat's, with the driver bound "
         'in'),
    Seam(_TGM, 'start', OVERRIDDEN, '(self, stack_id, func, *args, **kwargs)',
         "the binding: runs the driver's converge for a traversal; drops "
         'finished threads'),
    Seam(_TGM, 'send', OVERRIDDEN, '(self, stack_id, message)',
         'the binding: tells the driver of a cancel message as it arrives'),
    Seam(_TGM, 'groups', STATE, '__init__',
         "the binding: a finished thread is dropped from its stack's group"),
    Seam(_TGM, 'add_msg_queue', CALLED, '(self, stack_id, msg_queue)',
         "the reduced driver's worker: registers a node's message queue"),
    Seam(_TGM, 'remove_msg_queue', CALLED, '(self, gt, stack_id, msg_queue)',
         "the reduced driver's worker: unregisters a node's message queue"),
    Seam(service, 'ThreadGroup', CALLED, '(max_threads=1000)',
         "the engine service: its copy of Heat's start builds the manage "
         "thread group (oslo.service's threading backend)"),
    Seam(service, 'EngineListener', CALLED,
         '(host, engine_id, thread_group_mgr)',
         "the engine service: its copy of Heat's start builds the listener"),
    Seam(_Engine, '__init__', OVERRIDDEN, '(self, host, topic)',
         "the engine service: Heat's, with the driver bound in"),
    Seam(_Engine, 'start', OVERRIDDEN, '(self)',
         "the engine service: a copy of Heat's start with the plugin's "
         'thread group manager and worker service'),
    Seam(_Engine, 'stop', OVERRIDDEN, '(self)',
         "the engine service: Heat's stop, its listener answering until "
         'the threads end, then the driver'),
    Seam(_Engine, '_rpc_server', STATE, 'start',
         "the engine service: set by its copy of start; Heat's stop stops it"),
    Seam(_Engine, '_client', STATE, 'start',
         "the engine service: set by its copy of start; Heat's RPC methods "
         'use it'),
    Seam(_Engine, '_configure_db_conn_pool_size', CALLED, '(self)',
         "the engine service: its copy of Heat's start sizes the DB pool"),
    Seam(_Engine, 'service_manage_cleanup', CALLED, '(self)',
         "the engine service: its copy of Heat's start cleans service rows"),
    Seam(_Engine, 'service_manage_report', OVERRIDDEN, '(self)',
         'the engine service: reports as Heat does, and warns of stock '
         'engines on the bus'),
    Seam(_Engine, 'reset_stack_status', CALLED, '(self)',
         "the engine service: its copy of Heat's start resets legacy "
         'stacks'),
    Seam(_Worker, '__init__', OVERRIDDEN,
         '(self, host, topic, engine_id, thread_group_mgr)',
         "the binding's worker service: Heat's, with the driver bound in"),
    Seam(_Worker, 'check_resource', OVERRIDDEN,
         "(self, cnxt, resource_id, current_traversal, data, is_update, "
         "adopt_stack_data, converge=False, skip_propagate=False, "
         "accumulated_failures=None, node_type='resource', abandon=False)",
         "the binding's worker service: hands a node to the driver; the heat "
         "driver calls Heat's"),
    Seam(_Worker, 'stop_traversal', OVERRIDDEN, '(self, stack)',
         "the binding's worker service: hands a cancel to the driver, which "
         "calls Heat's"),
    Seam(_Worker, '_propagate_snapshot_complete', OVERRIDDEN,
         '(self, cnxt, snapshot_id, current_traversal, stack_id=None, '
         'failure=None)',
         "the binding's worker service: hands a snapshot node's end to the "
         "driver; the heat driver calls Heat's"),
    Seam(worker, 'log_exceptions', CALLED, '(func)',
         "the binding's worker service: wraps check_resource as Heat does"),
    Seam(stack, 'reset_state_on_error', CALLED, '(func)',
         'the reduced driver: wraps its converge as Heat wraps '
         '_converge_create_or_update'),

    # The reduced driver: starting a traversal.
    Seam(_Stack, '_update_or_store_resources', CALLED, '(self)',
         "the reduced driver's traversal start: stores the resources as "
         'Heat does'),
    Seam(_Stack, '_db_resources_get', CALLED, '(self)',
         "the reduced driver's traversal start: reads the resource rows once"),
    Seam(_Stack, '_db_resources', STATE, '_db_resources_get',
         "the reduced driver's traversal start: keeps an empty answer of "
         '_db_resources_get'),
    Seam(_Stack, 'ext_rsrcs_db', STATE, '_update_or_store_resources',
         "the reduced driver's traversal start and the operator view: the "
         'stored resources for the graph'),
    Seam(_Stack, '_compute_convg_dependencies', CALLED,
         '(self, existing_resources, current_template_deps, '
         'current_resources)',
         "the reduced driver's traversal start and the operator view: "
         "Heat's convergence graph"),
    Seam(_Stack, '_convg_deps', STATE, '_compute_convg_dependencies',
         "the reduced driver's traversal start: reads Heat's graph, stores "
         'the reduced one'),
    Seam(stack, 'ConvergenceNode', CALLED,
         "(rsrc_id, is_update, node_type='resource')",
         'the reduced driver: graph node keys built by position'),
    Seam(dependencies.Graph, 'copy', OVERRIDDEN, '(self)',
         "the reduced driver's graph types: copies keep their type"),
    Seam(dependencies.Graph, 'reverse_copy', OVERRIDDEN, '(self)',
         "the reduced driver's graph types: copies keep their type"),
    Seam(dependencies.Dependencies, '__init__', OVERRIDDEN,
         '(self, edges=None)',
         "the reduced driver's graph types: built on the plugin's Graph"),
    Seam(dependencies.Dependencies, 'roots', OVERRIDDEN, '(self)',
         "the reduced driver's graph types: roots without a sort"),
    Seam(dependencies.Dependencies, '_graph', STATE, '__init__',
         "the reduced driver's graph types: set to the plugin's Graph, read "
         "by Heat's methods"),

    # The reduced driver: running a node.
    Seam(_Check, '__init__', OVERRIDDEN,
         '(self, engine_id, rpc_client, thread_group_mgr, msg_queue, '
         'input_data)',
         "the reduced driver's worker: Heat's CheckResource, with the "
         "plugin's hand-over client"),
    Seam(_Check, 'check', CALLED,
         '(self, cnxt, resource_id, current_traversal, resource_data, '
         'is_update, adopt_stack_data, rsrc, stack, skip_propagate=False, '
         'accumulated_failures=None)',
         "the reduced driver's worker: runs Heat's resource action"),
    Seam(_Check, '_initiate_propagate_resource', OVERRIDDEN,
         '(self, cnxt, resource_id, current_traversal, is_update, rsrc, '
         'stack, is_skip=False, rsrc_failure=None)',
         "the reduced driver's worker: hands over through the plugin's "
         'SyncPoints'),
    Seam(_Check, '_stale_resource_needs_retry', OVERRIDDEN,
         '(self, cnxt, rsrc, prev_template_id)',
         "the reduced driver's worker: also steals a lock its own engine "
         'left behind when a thread died holding it'),
    Seam(_Check, 'retrigger_check_resource', OVERRIDDEN,
         '(self, cnxt, resource_id, stack)',
         "the reduced driver's worker: re-triggers a node in the plugin's "
         'newest traversal'),
    Seam(check_resource, 'load_resource', CALLED,
         '(cnxt, resource_id, resource_data, current_traversal, is_update)',
         "the reduced driver's worker: loads a node's resource as Heat's "
         'worker does'),
    Seam(worker_client.WorkerClient, 'check_resource', CALLED,
         "(self, ctxt, resource_id, current_traversal, data, is_update, "
         "adopt_stack_data, converge=False, skip_propagate=False, "
         "accumulated_failures=None, node_type='resource', abandon=False)",
         'the reduced driver: dispatches nodes; its hand-over client takes '
         "Heat's re-casts"),
    Seam(worker_client.WorkerClient, '__init__', OVERRIDDEN, '(self)',
         "the reduced driver's client: Heat's, on the driver's own topic"),
    Seam(worker_client.WorkerClient, '_client', STATE, '__init__',
         "the reduced driver's client: the RPC client Heat's casts go "
         'through, set to its own topic'),
    Seam(_Worker, '_handle_snapshot_node', CALLED,
         '(self, cnxt, snapshot_id, current_traversal, data, is_update)',
         "the reduced driver's worker: runs a snapshot-deletion node"),
    Seam(db_api, 'resource_update_and_save', PATCHED,
         '(context, resource_id, values)',
         "the reduced driver's state changes: an update without read-back, "
         'retried; also marks a stale replacement'),
    Seam(db_api, 'resource_data_set', PATCHED,
         '(context, resource_id, key, value, redact=False)',
         "the reduced driver's state changes: a resource's data stored "
         'from prebuilt statements, retried'),
    Seam(db_api, 'resource_update', PATCHED,
         '(context, resource_id, values, atomic_key, expected_engine_id=None)',
         "the reduced driver's state changes: the resource row's "
         'compare-and-swap, from a prebuilt statement, without the retry '
         'within a state change'),
    Seam(db_api, '_add_atomic_key_to_values', CALLED, '(values, atomic_key)',
         "the reduced driver's state changes: the atomic key a "
         'compare-and-swap stores, as Heat bumps it'),

    # The reduced driver: definitions parsed on demand, node data.
    Seam(stk_defn.StackDefinition, '_load_rsrc_defns', PATCHED, '(self)',
         "the reduced driver's definitions: parsed on demand in node "
         'threads'),
    Seam(stk_defn.StackDefinition, '_resource_defns', STATE,
         '_load_rsrc_defns',
         "the reduced driver's definitions: set to the on-demand mapping"),
    Seam(_Stack, '_update_all_resource_data', PATCHED,
         '(self, for_resources, for_outputs)',
         "the reduced driver's validation: attribute users read in O(N) "
         'definitions'),
    Seam(_Stack, '_explicit_dependencies', CALLED, '(self)',
         "the reduced driver's validation: the resources, as Heat's loop "
         'visits them'),
    Seam(stk_defn, 'update_resource_data', CALLED,
         '(stack_definition, resource_name, resource_data)',
         "the reduced driver's validation: stores each resource's data as "
         'Heat does'),
    Seam(resource.Resource, 'node_data', CALLED,
         '(self, stk_defn=None, for_resources=True, for_outputs=False)',
         "the reduced driver's node data: given a view of the referencing "
         'definitions'),
    Seam(resource.Resource, 'referenced_attrs', PATCHED,
         '(self, stk_defn=None, in_resources=True, in_outputs=True, '
         'load_all=False)',
         "the reduced driver's references: a group's own question answered "
         'from the index in a node'),

    # The reduced driver: the stack cache.
    Seam(stack_object.Stack, 'get_by_id', PATCHED,
         '(cls, context, stack_id, **kwargs)',
         "the reduced driver's stack cache: template and graph from the "
         "traversal's cache"),
    Seam(stack_object.Stack, 'select_and_update', PATCHED,
         '(cls, context, stack_id, values, exp_trvsl=None)',
         "the reduced driver's late purge: converge_stack's compare-and-swap "
         'of the traversal id'),
    Seam(stack_notification, 'send', PATCHED, '(stack)',
         "the reduced driver's notifications: skipped where the notifier "
         'sends nowhere'),
    Seam(stack_object.Stack, '_from_db_object', CALLED,
         '(context, stack, db_stack)',
         "the reduced driver's stack cache: builds the stack object from its "
         'row'),
    Seam(stack_object.Stack, '_raw_template', STATE, 'raw_template',
         "the reduced driver's stack cache: the cached template, returned by "
         'raw_template'),
    Seam(raw_template_object.RawTemplate, 'get_by_id', PATCHED,
         '(cls, context, template_id)',
         "the reduced driver's stack cache: template rows from the "
         "traversal's cache"),
    Seam(raw_template_object.RawTemplate, 'from_db_object', CALLED,
         '(context, tpl, db_tpl)',
         "the reduced driver's stack cache: a template object per load"),
    Seam(db_api, 'raw_template_get', CALLED, '(context, template_id)',
         "the reduced driver's stack cache: reads a template row once"),
    Seam(db_api, '_stack_get', CALLED,
         '(context, stack_id, show_deleted=False, eager_load=True)',
         "the reduced driver's stack cache: Heat's rules for deleted and "
         'foreign stacks'),

    # The reduced driver: state changes in a node.
    Seam(resource.Resource, 'state_set', PATCHED,
         "(self, action, status, reason='state changed', lock=None)",
         "the reduced driver's state changes: one transaction per state "
         'change'),
    Seam(resource.Resource, '_atomic_key', STATE, '_incr_atomic_key',
         "the reduced driver's state changes: whether a state change whose "
         'commit lost its connection is stored'),
    Seam(db_api, 'event_create', PATCHED, '(context, values)',
         "the reduced driver's state changes: an event inserted without "
         'read-back'),
    Seam(db_api, '_event_count_all_by_stack', CALLED, '(context, stack_id)',
         "the reduced driver's state changes: Heat's event purge rule"),
    Seam(db_api, '_delete_event_rows', CALLED, '(context, stack_id, limit)',
         "the reduced driver's state changes: Heat's event purge"),
    Seam(db_api, '_truncate_status_reason', CALLED, '(values)',
         "the reduced driver's state changes: a resource update as Heat "
         'stores it'),
    Seam(_Stack, 'dispatch_event', PATCHED, '(self, ev)',
         "the reduced driver's state changes: no thread for a stack without "
         'event sinks'),

    # The reduced driver: the purge at the end of a traversal.
    Seam(db_api, 'raw_template_delete', PATCHED, '(context, template_id)',
         "the reduced driver's purge: the previous template's delete "
         'retried, without reading the templates sharing its files'),
    Seam(db_api, 'sync_point_delete_all_by_stack_and_traversal', PATCHED,
         '(context, stack_id, traversal_id)',
         "the reduced driver's purge: the delete of Heat's sync points "
         'retried'),
    Seam(db_api, 'stack_delete', PATCHED, '(context, stack_id)',
         "the reduced driver's purge: the delete of a deleted stack's row "
         'retried'),

    # Cancellation of work in flight.
    Seam(_Engine, 'stack_cancel_update', OVERRIDDEN,
         '(self, cnxt, stack_identity, cancel_with_rollback=True)',
         'cancellation: stops the work in flight once Heat accepted the '
         'cancel'),
    Seam(_Engine, '_get_stack', CALLED,
         '(self, cnxt, stack_identity, show_deleted=False)',
         'cancellation: the stack being cancelled, as Heat looked it up'),
    Seam(worker, '_stop_traversal', CALLED, '(stack)',
         "cancellation: stops the nested stacks' traversals as Heat's "
         'cancel does'),
    Seam(service.EngineListener, 'send', OVERRIDDEN,
         '(self, ctxt, stack_identity, message)',
         'cancellation: the listener RPC call queueing the cancel on every '
         "engine; the engine service's listener: passes on the resource a "
         'parent wake-up names'),
    Seam(scheduler.TaskRunner, '_sleep', PATCHED, '(self, wait_time)',
         "cancellation: a cancel message wakes a resource action's step "
         'sleep'),
    Seam(rpc_client.EngineClient, '_create_stack', PATCHED,
         '(self, ctxt, stack_name, template, params, files, args, '
         'environment_files=None, files_container=None, owner_id=None, '
         'nested_depth=0, user_creds_id=None, stack_user_project_id=None, '
         'parent_resource_name=None, template_id=None)',
         "nested calls: a parent's create call whose engine died adopts the "
         'nested stack it stored'),
    Seam(rpc_client.EngineClient, '_update_stack', PATCHED,
         '(self, ctxt, stack_identity, template, params, files, args, '
         'environment_files=None, files_container=None, template_id=None)',
         "nested calls: a parent's update call whose engine died waits for "
         'the update it started'),
    Seam(rpc_client.EngineClient, 'delete_stack', PATCHED,
         '(self, ctxt, stack_identity, cast=False)',
         "nested calls: a parent's delete call whose engine died waits for "
         'the delete it started'),
    Seam(rpc_client.EngineClient, 'show_stack', PATCHED,
         '(self, ctxt, stack_identity, resolve_outputs=True)',
         "nested calls: a parent's read of its nested stack, served in the "
         "node's engine, or made once more when the engine taking it died"),
    Seam(rpc_client.EngineClient, 'list_stack_resources', PATCHED,
         '(self, ctxt, stack_identity, nested_depth=0, with_detail=False, '
         'filters=None)',
         "nested calls: a parent's read of its nested stack's resources, "
         'made once more when its engine died'),
    Seam(rpc_client.EngineClient, 'get_template', PATCHED,
         '(self, ctxt, stack_identity)',
         "nested calls: a parent's read of its nested stack's template, made "
         'once more when its engine died'),
    Seam(rpc_client.EngineClient, 'show_output', PATCHED,
         '(self, cntx, stack_identity, output_key)',
         "nested calls: a parent's read of its nested stack's output, made "
         'once more when its engine died'),
    Seam(_Engine, 'show_stack', CALLED,
         '(self, cnxt, stack_identity, resolve_outputs=True)',
         "nested calls: a node's read of its nested stack, served in its "
         'engine with the arguments of the RPC call'),
    Seam(_Engine, 'list_stack_resources', CALLED,
         '(self, cnxt, stack_identity, nested_depth=0, with_detail=False, '
         'filters=None)',
         "nested calls: a node's read of its nested stack's resources, "
         'served in its engine'),
    Seam(_Engine, 'get_template', CALLED, '(self, cnxt, stack_identity)',
         "nested calls: a node's read of its nested stack's template, "
         'served in its engine'),
    Seam(_Engine, 'show_output', CALLED,
         '(self, cntx, stack_identity, output_key)',
         "nested calls: a node's read of its nested stack's output, served "
         'in its engine'),
    Seam(functions.Yaql, '_parse', PATCHED, '(self, expression)',
         "yaql parsing: Heat's one parser per process, used by one engine "
         'thread at a time'),
    Seam(scheduler, 'ENABLE_SLEEP', CONSTANT, 'bool',
         "cancellation: its step sleep keeps Heat's switch for tests; the "
         'hand-back to Heat\'s path sets it off in a stopping engine'),

    # The operator view and the commands.
    Seam(_Stack, '_get_best_existing_rsrc_db', CALLED, '(self, rsrc_name)',
         'the operator view: the resource rows of the full graph'),
    Seam(db_api, 'stack_get', CALLED,
         '(context, stack_id, show_deleted=False, eager_load=True)',
         'the operator view: stack names of traversals'),
    Seam(template, '_get_template_extension_manager', CALLED, '()',
         'the engine commands: refuse to start without template plugins, as '
         'heat-engine'),
)


def heat_version() -> str:
    """Return the installed openstack-heat version."""
    return version.version_info.version_string()


def series() -> str:
    """Say which Heat series this plugin supports."""
    return ('this heat-convergence supports openstack-heat %d.x only' %
            SUPPORTED_HEAT_MAJOR)


def install_hint() -> str:
    """Say how to install a Heat this plugin supports."""
    return ('Install a matching pair, e.g. "pip install '
            "'openstack-heat>=%d.0.1,<%d'\"." %
            (SUPPORTED_HEAT_MAJOR, SUPPORTED_HEAT_MAJOR + 1))


def _unwrapped(attr: typing.Any) -> typing.Any:
    if isinstance(attr, (classmethod, staticmethod)):
        return attr.__func__
    return attr


def _signature(owner: typing.Any, name: str) -> str:
    """The signature of Heat's ``owner.name`` (Heat's own, if replaced)."""
    try:
        attr = _unwrapped(inspect.getattr_static(owner, name))
    except AttributeError:
        return 'nothing'
    try:
        return str(inspect.signature(attr))
    except (TypeError, ValueError):
        return 'no callable'


def _source(owner: typing.Any, name: str) -> str:
    """Heat's source of ``owner.name``; the accessors of a property."""
    attr = _unwrapped(inspect.getattr_static(owner, name))
    if isinstance(attr, property):
        return ''.join(inspect.getsource(f)
                       for f in (attr.fget, attr.fset) if f is not None)
    return inspect.getsource(attr)


def _assignment(seam: Seam) -> str:
    """Whether the setter of a STATE seam still assigns the attribute."""
    try:
        source = _source(seam.owner, seam.signature)
    except AttributeError:
        return 'no %s' % seam.signature
    except (OSError, TypeError):
        return 'no source of %s' % seam.signature
    if re.search(r'\bself\.%s\s*=[^=]' % re.escape(seam.name), source):
        return _expected(seam)
    return 'no self.%s set in %s' % (seam.name, seam.signature)


def _constant_type(seam: Seam) -> str:
    try:
        value = inspect.getattr_static(seam.owner, seam.name)
    except AttributeError:
        return 'nothing'
    return 'a %s' % type(value).__name__


def _expected(seam: Seam) -> str:
    if seam.kind == STATE:
        return 'self.%s set in %s' % (seam.name, seam.signature)
    if seam.kind == CONSTANT:
        return 'a %s' % seam.signature
    return seam.signature


def _found(seam: Seam) -> str:
    """What the installed Heat has, in the terms of :func:`_expected`."""
    if seam.kind == STATE:
        return _assignment(seam)
    if seam.kind == CONSTANT:
        return _constant_type(seam)
    return _signature(seam.owner, seam.name)


def mismatches(seams: typing.Iterable[Seam] = SEAMS) -> list[str]:
    """Describe, in a phrase each, the seams the installed Heat differs in."""
    found = [(seam, _found(seam)) for seam in seams]
    return ['%s (%s): expected %s, found %s' %
            (seam.qualname, seam.kind, _expected(seam), heat)
            for seam, heat in found if heat != _expected(seam)]


def check(seams: typing.Iterable[Seam] = SEAMS) -> None:
    """Raise :class:`SeamMismatch`, in one line, unless every seam matches."""
    problems = mismatches(seams)
    if problems:
        raise SeamMismatch(
            'openstack-heat %s differs from the Heat internals '
            'heat-convergence binds to (%s): %s. %s' %
            (heat_version(), series(), '; '.join(problems), install_hint()))
