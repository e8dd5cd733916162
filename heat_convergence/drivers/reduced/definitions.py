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

"""Resource definitions parsed on demand while a graph node runs.

To load the one resource of a node, Heat's ``Resource.load`` asks the
stack's ``StackDefinition`` for its definition, and the StackDefinition
parses the definition of *every* resource of the template
(``_load_rsrc_defns``). A node then costs O(N) in the size of the stack and
a traversal O(N^2), in time and in memory: each engine thread holds N
parsed definitions. A node needs only its own definition and those of the
resources it references.

Within :func:`on_demand` (the worker wraps each node in it), a
StackDefinition loaded in that thread parses each resource's definition
when it is first asked for, with Heat's own template code applied to a view
of the template that holds that one resource. Elsewhere (the API, stack
validation, the start of a traversal, the ``heat`` driver) Heat's eager
parse runs unchanged. Templates with resource conditions are parsed eagerly
too: whether a resource exists depends on evaluating them. The templates a
node loads were validated when the stack was created or updated, so
deferring the parse of the other resources defers no error a user could
see.

A node also asks which of its attributes other resources and the outputs
reference (``Resource.node_data``, for the data it hands on and the
attributes it caches for the outputs), which Heat answers by reading every
resource's definition and parsing and reading every output: O(N) per node
in a stack whose outputs read most resources. :func:`node_data` gives
Heat's method only the definitions and outputs that reference the
resource, from an index of the template's references built once per
traversal and template on each engine (:class:`ReferenceIndex`): the same
answer, from a few definitions. The
``reduced`` driver answers the same question that way in every thread of
its engines when a stack is validated (:data:`VALIDATION`), where Heat's
O(N^2) reads made validation the largest part of creating a stack of
thousands of resources.

Heat has no seam for parsing on demand: :func:`on_demand` activates a
:class:`heat_convergence.thread_patches.ThreadPatch` on
``StackDefinition._load_rsrc_defns``. ``[heat_convergence]
parse_definitions_on_demand = false`` leaves Heat's class untouched.
"""

import collections
import collections.abc
import contextlib
import threading
import typing

from heat.engine import resource
from heat.engine import stack as parser
from heat.engine import stk_defn
from heat.engine import template_common

from heat_convergence.drivers.reduced import traversal_cache
from heat_convergence import thread_patches


def _parse_on_demand(heat_load_rsrc_defns, _active, stack_defn):
    if _lazy_parse_possible(stack_defn.t):
        stack_defn._resource_defns = OnDemandDefinitions(stack_defn)
    else:
        heat_load_rsrc_defns(stack_defn)


ON_DEMAND = thread_patches.ThreadPatch(
    stk_defn.StackDefinition, '_load_rsrc_defns', _parse_on_demand)


def on_demand(enabled=True):
    """Parse resource definitions on demand in this thread, within."""
    return ON_DEMAND.active() if enabled else contextlib.nullcontext()


def _lazy_parse_possible(tmpl):
    """Whether every resource of the template is enabled unconditionally.

    Asked by every node, and answered by a look at every resource: at
    10,000 resources that look was a tenth of an engine's CPU time. The
    nodes of a traversal share the decoded template body
    (:mod:`.stack_cache`), so the answer is kept per body.
    """
    if not isinstance(tmpl, template_common.CommonTemplate):
        return False
    resources = tmpl.t.get(tmpl.RESOURCES) or {}
    with _ANSWERS_LOCK:
        kept = _ANSWERS.get(id(resources))
    if kept is not None and kept[0] is resources and kept[1] == len(
            resources):
        return kept[2]
    condition_key = getattr(tmpl, 'RES_CONDITION', None)
    answer = all(
        isinstance(snippet, collections.abc.Mapping) and
        (condition_key is None or condition_key not in snippet)
        for snippet in resources.values())
    with _ANSWERS_LOCK:
        # The body is kept with its answer, so its id is not reused.
        _ANSWERS[id(resources)] = (resources, len(resources), answer)
        while len(_ANSWERS) > _ANSWERS_KEPT:
            _ANSWERS.popitem(last=False)
    return answer


# {id(resources of a template body): (them, how many, answer)}, the latest.
_ANSWERS = collections.OrderedDict()
_ANSWERS_KEPT = 8
_ANSWERS_LOCK = threading.Lock()


class OnDemandDefinitions(collections.abc.MutableMapping):
    """A StackDefinition's ``{name: ResourceDefinition}``, parsed on access.

    The names are the template's resources (all enabled, see
    :func:`_lazy_parse_possible`); Heat's ``add_resource`` and
    ``remove_resource`` change the template and this mapping together.
    """

    def __init__(self, stack_defn):
        self._stack_defn = stack_defn
        self._parsed = {}

    def _snippets(self):
        tmpl = self._stack_defn.t
        return tmpl.t.get(tmpl.RESOURCES) or {}

    def _parse(self, name, snippet):
        """Heat's parse of the template, restricted to one resource."""
        tmpl = self._stack_defn.t
        view = object.__new__(type(tmpl))
        view.__dict__.update(tmpl.__dict__)
        view.t = dict(tmpl.t)
        view.t[tmpl.RESOURCES] = {name: snippet}
        return view.resource_definitions(self._stack_defn)[name]

    def __getitem__(self, name):
        if name not in self._parsed:
            self._parsed[name] = self._parse(name, self._snippets()[name])
        return self._parsed[name]

    def __setitem__(self, name, defn):
        self._parsed[name] = defn

    def __delitem__(self, name):
        if name not in self:
            raise KeyError(name)
        self._parsed.pop(name, None)

    def __contains__(self, name):
        return name in self._parsed or name in self._snippets()

    def __iter__(self):
        snippets = self._snippets()
        yield from snippets
        yield from (name for name in self._parsed if name not in snippets)

    def __len__(self):
        return sum(1 for _name in self)


class ReferenceIndex(object):
    """For each resource of a template, what reads its attributes.

    Built from the template's definitions once per (traversal, template) on
    each engine (see :mod:`heat_convergence.drivers.reduced.traversal_cache`).
    """

    def __init__(self, size=traversal_cache.ENTRIES):
        self._cache = traversal_cache.TraversalCache(size)

    def references(self, traversal_id, stk_defn):
        """Return the :class:`References` of the stack definition."""
        return self._cache.get(traversal_id, stk_defn.t.id,
                               lambda: references(stk_defn))


class References(typing.NamedTuple):
    """What reads each resource's attributes, in one stack definition.

    ``resources``: {name: frozenset(names of the resources reading its
    attributes)}; ``outputs``: {name: {output name: OutputDefinition}} for
    the outputs reading them, each definition's map of the attributes it
    reads already built, so that its ``dep_attrs`` is a lookup.
    """

    resources: dict
    outputs: dict


def references(stk_defn):
    """Return the :class:`References` of ``stk_defn``.

    One parse of the whole template and its outputs. Only references to
    attributes count (not depends_on, nor get_resource), as in
    ``Resource.referenced_attrs``.
    """
    found = collections.defaultdict(set)
    for name, defn in stk_defn.t.resource_definitions(stk_defn).items():
        for required in defn.required_resource_names():
            if defn.dep_attrs(required, load_all=True):
                found[required].add(name)
    outputs = collections.defaultdict(dict)
    for name in stk_defn.enabled_output_names():
        defn = stk_defn.output_definition(name)
        for required in defn.required_resource_names():
            if any(defn.dep_attrs(required, load_all=True)):
                outputs[required][name] = defn
    return References({name: frozenset(names)
                       for name, names in found.items()}, dict(outputs))


class _Referencing(object):
    """What ``Resource.referenced_attrs`` reads of a StackDefinition.

    Only the resources in ``names`` are listed, and only the outputs in
    ``outputs`` ({name: OutputDefinition}, those reading the resource's
    attributes): Heat would parse every output of the stack in every node,
    and look through each, the one reading every resource included.
    """

    def __init__(self, stk_defn, names, outputs):
        self._stk_defn = stk_defn
        self._names = names
        self._outputs = outputs

    def enabled_rsrc_names(self):
        return set(self._names)

    def resource_definition(self, name):
        return self._stk_defn.resource_definition(name)

    def enabled_output_names(self):
        return set(self._outputs)

    def output_definition(self, name):
        if name in self._outputs:
            return self._outputs[name]
        # An output named by the caller (node_data's for_outputs) that
        # reads nothing of the resource.
        return self._stk_defn.output_definition(name)


INDEX = ReferenceIndex()


def _referencing(rsrc, refs):
    """The view of ``rsrc``'s stack definition holding what reads it.

    :param refs: the :func:`references` of the resource's stack.
    """
    return _Referencing(rsrc.stack.defn, refs.resources.get(rsrc.name, ()),
                        refs.outputs.get(rsrc.name, {}))


def _node_data(rsrc, refs, **kwargs):
    """``rsrc.node_data()`` reading only what references the resource."""
    return rsrc.node_data(stk_defn=_referencing(rsrc, refs), **kwargs)


def node_data(rsrc, traversal_id):
    """``rsrc.node_data()``, reading only the definitions that use it."""
    stk_defn = rsrc.stack.defn
    if stk_defn.t.id is None:
        return rsrc.node_data()
    return _node_data(rsrc, INDEX.references(traversal_id, stk_defn))


def _update_all_resource_data(heat_method, _active, stack, for_resources,
                              for_outputs):
    """Heat's ``Stack._update_all_resource_data``, in O(N) definitions.

    Validating a stack (create, update, preview) gathers every resource's
    data, and Heat finds the attributes of each resource that others use by
    reading every definition: O(N^2) reads, 17 s of a 2,000-resource
    create. Here each resource reads only the definitions of its users,
    from one :func:`references` of the stack's definition.
    """
    if not for_resources:
        return heat_method(stack, for_resources, for_outputs)
    refs = references(stack.defn)
    for rsrc in stack._explicit_dependencies():
        data = _node_data(rsrc, refs, for_resources=for_resources,
                          for_outputs=for_outputs)
        stk_defn.update_resource_data(stack.defn, rsrc.name, data)


VALIDATION = thread_patches.ThreadPatch(
    parser.Stack, '_update_all_resource_data', _update_all_resource_data)


def _referenced_attrs(heat_method, traversal_id, rsrc, stk_defn=None,
                      *args, **kwargs):
    """Heat's ``Resource.referenced_attrs``, from the index in a node.

    Asked of the stack's own definition (``stk_defn`` None) it reads every
    resource's definition and every output: a group's action asks it to
    know which of its members' attributes to expose, once per group, which
    parsed the whole parent template in each.
    """
    if stk_defn is None and rsrc.stack.defn.t.id is not None:
        stk_defn = _referencing(rsrc, INDEX.references(traversal_id,
                                                       rsrc.stack.defn))
    return heat_method(rsrc, stk_defn, *args, **kwargs)


REFERENCES = thread_patches.ThreadPatch(
    resource.Resource, 'referenced_attrs', _referenced_attrs)


def indexed_references(traversal_id):
    """Within, this thread's resources read the index of ``traversal_id``."""
    return REFERENCES.active(traversal_id)
