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

"""Heat methods replaced in the threads that run graph nodes.

The binding goes through Heat's constructor seams wherever there is one. A
few things a node needs have none: how a StackDefinition parses resource
definitions, how a resource action sleeps between its steps, how a state
change is stored (see the ``reduced`` driver's ``definitions``,
``cancellation`` and ``state_changes``). A :class:`ThreadPatch` replaces
such a method, once per process and only when first used, by a wrapper that
calls the replacement in threads where the patch is active
(:meth:`ThreadPatch.active`, around a node) and Heat's own method
everywhere else, so the API, validation, the start of a traversal and the
``heat`` driver run Heat's code unchanged. Every method patched is a Heat
seam, checked at start-up (:mod:`heat_convergence.heat_seams`).

A patch whose replacement gives Heat's own answer, only faster, may instead
be activated for the whole process (:meth:`ThreadPatch.activate_everywhere`):
the ``reduced`` driver does so for the validation of a stack's attribute
references.
"""

import contextlib
import functools
import inspect
import threading


class ThreadPatch(object):
    """Replace ``owner.name`` in the threads where the patch is active.

    :param owner: the class holding the method.
    :param name: the method's name: a method, or a classmethod (then
        ``self`` below is the class the method was called on).
    :param replacement: ``replacement(heat_method, value, self, *args,
        **kwargs)``, called instead of the method in an active thread;
        ``value`` is what the thread activated the patch with, and
        ``heat_method`` Heat's own (unbound) method.
    """

    def __init__(self, owner, name, replacement):
        self._owner = owner
        self._name = name
        self._replacement = replacement
        self._heat_method = None
        self._state = threading.local()
        self._everywhere = None
        self._lock = threading.Lock()

    def _install(self):
        with self._lock:
            if self._heat_method is not None:
                return
            heat_method = inspect.getattr_static(self._owner, self._name)
            is_classmethod = isinstance(heat_method, classmethod)
            if is_classmethod:
                heat_method = heat_method.__func__

            @functools.wraps(heat_method)
            def wrapper(obj, *args, **kwargs):
                value = getattr(self._state, 'value', None)
                if value is None:
                    value = self._everywhere
                if value is None:
                    return heat_method(obj, *args, **kwargs)
                return self._replacement(heat_method, value, obj, *args,
                                         **kwargs)

            setattr(self._owner, self._name,
                    classmethod(wrapper) if is_classmethod else wrapper)
            self._heat_method = heat_method

    @contextlib.contextmanager
    def active(self, value=True):
        """Activate the patch in this thread, with ``value`` (not None)."""
        self._install()
        outer = getattr(self._state, 'value', None)
        self._state.value = value
        try:
            yield
        finally:
            self._state.value = outer

    def activate_everywhere(self, value=True):
        """Activate the patch in every thread of the process.

        With ``value`` None, deactivate it. Either way, a thread within
        :meth:`active` keeps its own value.
        """
        if value is not None:
            self._install()
        self._everywhere = value
