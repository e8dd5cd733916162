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

"""The convergence driver contract.

A driver decides how a convergence traversal is walked: how the graph is
built and stored, how a node learns that it may run, what it forwards when
it is done, and how a traversal is stopped. Heat's resource actions (create,
update, replace, delete of each resource) are not the driver's business:
every driver runs them through Heat's own ``heat.engine.check_resource``.

:class:`ConvergenceDriver` declares every member that code outside a driver
(the engine service and its thread group manager, the worker endpoint, the
start-up checks, the commands) uses; a unit test fails when such code uses
any other. The engine calls a driver:

* when an engine process starts, begins to stop and has stopped:
  :meth:`~ConvergenceDriver.start`, :meth:`~ConvergenceDriver.drain`,
  :meth:`~ConvergenceDriver.stop`; at start-up it reads
  :attr:`~ConvergenceDriver.uses_plugin_tables`;
* when ``Stack.converge_stack`` has stored a new traversal id, for every
  convergence action (create, update, delete, rollback, check, suspend,
  resume, snapshot, restore, adopt, abandon):
  :meth:`~ConvergenceDriver.begin_traversal` at once, then
  :meth:`~ConvergenceDriver.converge` in a thread, instead of Heat's
  ``Stack._converge_create_or_update``;
* for each cast of the worker RPC API on the driver's topic
  (:attr:`~ConvergenceDriver.worker_topic`, or Heat's ``engine_worker``
  for a driver without one), and for each cast on ``engine_worker`` that
  :meth:`~ConvergenceDriver.owns_message`:
  :meth:`~ConvergenceDriver.check_resource` (one graph node), and
  :meth:`~ConvergenceDriver.snapshot_node_done` when a snapshot node of a
  DELETE traversal finished; around each other cast on ``engine_worker``,
  which Heat's worker runs: :meth:`~ConvergenceDriver.on_heat_path`;
* for a cancel: :meth:`~ConvergenceDriver.cancel_running` once Heat has
  accepted ``openstack stack cancel``, :meth:`~ConvergenceDriver.note_message`
  for each message Heat queues for a stack's worker threads, and
  :meth:`~ConvergenceDriver.stop_traversal` for ``--no-rollback`` and the
  delete of an IN_PROGRESS stack.

Drivers are loaded by name from the ``heat_convergence.drivers`` entry-point
namespace (``[heat_convergence] driver`` in heat.conf), one instance per
engine worker process, and read their options from the ``conf`` they are
given.
"""

import abc
import contextlib
import typing

from oslo_config import cfg

if typing.TYPE_CHECKING:  # pragma: no cover
    from heat.common import context as heat_context
    from heat.engine import stack as heat_stack
    import sqlalchemy

    from heat_convergence import engine as hc_engine
    from heat_convergence import worker as hc_worker


class ConvergenceDriver(metaclass=abc.ABCMeta):
    """Base class of convergence drivers: the whole contract."""

    #: Whether the driver keeps state in the plugin's own tables, so that
    #: the engine refuses to start before ``heat-convergence-manage
    #: db_sync`` has created them.
    uses_plugin_tables: bool = False

    #: The worker RPC topic the driver casts its traversals' nodes to, when
    #: they are not Heat's: the engine then serves it with the driver, and
    #: serves Heat's ``engine_worker`` with Heat's own worker, so that
    #: traversals started by stock heat-engines progress on any engine.
    #: None: the driver's traversals are Heat's, on ``engine_worker``.
    worker_topic: str | None = None

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        #: The engine's configuration, with the ``[heat_convergence]``
        #: options registered.
        self.conf = conf
        #: The engine service the driver runs in, once started.
        self.engine: 'hc_engine.ConvergenceEngineService | None' = None

    def prepare_database(self, db_engine: 'sqlalchemy.engine.Engine'
                         ) -> None:
        """Tune Heat's database engine, before the engine's threads use it.

        Called in every engine worker process after the fork, once Heat has
        sized the pool and before the engine's periodic tasks start: event
        listeners added to a pool while another thread checks a connection
        in make that check-in fail ("deque mutated during iteration"). The
        default changes nothing.
        """

    def start(self, engine: 'hc_engine.ConvergenceEngineService') -> None:
        """Bind to an engine process once its RPC servers are running.

        Called in every engine worker process after the fork, when
        ``engine.engine_id`` and ``engine.worker_service`` exist. Periodic
        work starts here. Overrides call this first.
        """
        self.engine = engine

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the driver's own threads: the engine is stopping.

        Called once the engine's RPC servers have stopped and its threads
        have finished (Heat's graceful stop), so that a driver can hand
        over what this engine leaves unfinished.
        """

    def drain(self) -> None:
        """The engine has begun to stop: start no work of the driver's own.

        Called before Heat's stop waits for the engine's threads: a driver
        whose threads go on with more than the message they received (a
        successor a node made ready) sends that work to the other engines
        from now on, so that the stop ends soon.
        """

    @abc.abstractmethod
    def begin_traversal(self, stack: 'heat_stack.Stack',
                        abandon: bool = False) -> None:
        """React to a new traversal id, before :meth:`converge` runs.

        Called synchronously, as soon as ``Stack.converge_stack`` has stored
        the new ``stack.current_traversal`` and before the converge thread
        starts: the previous traversal is superseded from this moment.
        """

    @abc.abstractmethod
    def converge(self, stack: 'heat_stack.Stack',
                 pre_converge: typing.Callable[[], None] | None = None,
                 abandon: bool = False) -> None:
        """Run the traversal ``stack.current_traversal`` of ``stack``.

        Runs in a thread of the engine's thread group manager, after
        ``Stack.converge_stack`` has switched the stack to the new template
        and stored the new traversal id. It must build and store the graph
        (``stack.current_deps``), call ``pre_converge`` once the graph is
        stored (delete uses it to stop the workers of the previous
        traversal), and start the leaves, or mark the stack complete if
        there are none. ``abandon`` is passed on to every node.
        """

    @abc.abstractmethod
    def cancel_running(self, cnxt: 'heat_context.RequestContext',
                       stack: 'heat_stack.Stack') -> None:
        """Stop the work in flight of the stack's current traversal.

        Called when Heat has accepted an ``openstack stack cancel`` (with or
        without rollback), before it changes the traversal.
        """

    @abc.abstractmethod
    def note_message(self, stack_id: str, message: str,
                     resource_name: str | None = None) -> bool:
        """See a message queued for a stack's worker threads on this engine.

        Heat's cancel (``THREAD_CANCEL``) reaches the threads that have a
        queue registered at that moment. Return True if the message is the
        driver's own and was handled here: it is not queued.
        ``resource_name`` is the stack's resource the sender named, if any
        (Heat's messages name none).
        """

    @abc.abstractmethod
    def check_resource(self, worker: 'hc_worker.ConvergenceWorkerService',
                       cnxt: 'heat_context.RequestContext',
                       resource_id: int | str, current_traversal: str,
                       data: dict, is_update: bool,
                       adopt_stack_data: dict | None,
                       converge: bool = False, skip_propagate: bool = False,
                       accumulated_failures: dict | None = None,
                       node_type: str = 'resource',
                       abandon: bool = False) -> None:
        """Process one node of a traversal.

        The arguments are those of ``WorkerService.check_resource`` in the
        ``engine_worker`` RPC API 1.9. The driver loads the resource, runs
        Heat's check (create/update/replace or cleanup), and on success
        makes the node's successors, or the stack, aware that it is done.
        """

    def owns_message(self, cnxt: 'heat_context.RequestContext',
                     resource_id: int | str, current_traversal: str,
                     data: dict, node_type: str) -> bool:
        """Whether a cast on Heat's ``engine_worker`` is the driver's.

        Asked only of a driver with a :attr:`worker_topic`, for each
        ``check_resource`` arriving on ``engine_worker``: the driver takes
        the messages that engines of an earlier plugin version sent there,
        and those of traversals it must handle itself; Heat's worker runs
        the others.
        """
        return False

    def on_heat_path(self, resource_id: int | str
                     ) -> typing.ContextManager[None]:
        """Within, Heat's own worker acts on the resource in this engine.

        Entered, for a driver with a :attr:`worker_topic`, around each
        ``check_resource`` that Heat's worker runs beside it: a driver that
        tells the resource locks its engine's threads hold from those a
        dead thread left behind must count these threads too.
        """
        return contextlib.nullcontext()

    @abc.abstractmethod
    def snapshot_node_done(self,
                           worker: 'hc_worker.ConvergenceWorkerService',
                           cnxt: 'heat_context.RequestContext',
                           snapshot_id: str, current_traversal: str,
                           stack_id: str | None = None,
                           failure: str | None = None) -> None:
        """Report a snapshot-deletion node of a DELETE traversal as done.

        Heat deletes a stack's snapshots in nodes of their own; once one has
        deleted its snapshot (or failed to, ``failure``), the driver moves
        the traversal on.
        """

    @abc.abstractmethod
    def stop_traversal(self, worker: 'hc_worker.ConvergenceWorkerService',
                       stack: 'heat_stack.Stack') -> None:
        """Cancel the stack's traversal, and its nested stacks', for good.

        The stack is marked FAILED with Heat's "Stack <ACTION> cancelled"
        reason and nothing new may start for the cancelled traversal.
        """
