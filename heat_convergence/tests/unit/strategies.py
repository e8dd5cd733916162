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

"""Hypothesis strategies for random dependency graphs and stacks."""

from heat.tests.convergence.framework import scenario_template
from hypothesis import strategies as st


@st.composite
def dags(draw, max_nodes=24):
    """Draw the (requirer, required) edge list of a random DAG.

    Nodes are integers; a node only requires smaller ones, so the result is
    acyclic by construction. Nodes with no edge appear as (node, None), the
    form Heat uses for disjoint nodes. The node numbering is shuffled so that
    insertion order does not give the topological order away.
    """
    n = draw(st.integers(min_value=0, max_value=max_nodes))
    density = draw(st.floats(min_value=0.0, max_value=1.0))
    names = draw(st.permutations(range(n)))
    edges = []
    for i in range(n):
        coins = draw(st.lists(st.floats(min_value=0.0, max_value=1.0),
                              min_size=i, max_size=i))
        required = [j for j, coin in zip(range(i), coins) if coin < density]
        edges.extend((names[i], names[j]) for j in required)
        if not required:
            edges.append((names[i], None))
    return edges


@st.composite
def dags_with_consumers(draw, max_nodes=24):
    """Draw a DAG's edges and a map node -> nodes whose data it consumes.

    A node can only consume nodes it transitively requires, which is what
    Heat guarantees: a resource that references another depends on it.
    """
    edges = draw(dags(max_nodes=max_nodes))
    requires = {}
    for rqr, rqd in edges:
        requires.setdefault(rqr, set())
        if rqd is not None:
            requires[rqr].add(rqd)
            requires.setdefault(rqd, set())
    ancestors = {}

    def upstream(key):
        if key not in ancestors:
            found = set()
            for rqd in requires[key]:
                found.add(rqd)
                found |= upstream(rqd)
            ancestors[key] = found
        return ancestors[key]

    consumes = {}
    for key in sorted(requires):
        candidates = sorted(upstream(key))
        if candidates:
            consumes[key] = draw(st.sets(st.sampled_from(candidates)))
    return edges, consumes


# Random stacks for Heat's convergence scenario framework: templates of its
# OS::Heat::TestResource in the framework's vocabulary, so that a failing
# example prints as a scenario file's Template(...) and pastes into one.

RESOURCE_NAMES = tuple('R%d' % i for i in range(8))
# TestResource's properties; those starting with '!' replace on change.
PROPERTIES = ('a', 'b', 'c', 'ca', '!a', '!b')
ATTRIBUTES = ('a', '!a')
LITERALS = ('x', 'y')


def _rarely(draw, percent):
    """Draw a coin that comes up True ``percent`` % of the time.

    It shrinks to False, so a minimised example keeps only the mutations
    that matter.
    """
    return draw(st.integers(min_value=0, max_value=99)) >= 100 - percent


def property_values(earlier):
    """A literal, or a get_resource/get_attr of a resource in ``earlier``."""
    values = [st.sampled_from(LITERALS)]
    if earlier:
        values.append(st.builds(scenario_template.GetRes,
                                st.sampled_from(earlier)))
        values.append(st.builds(scenario_template.GetAtt,
                                st.sampled_from(earlier),
                                st.sampled_from(ATTRIBUTES)))
    return st.one_of(values)


@st.composite
def resource_definitions(draw, earlier):
    """A TestResource that may reference or depend on ``earlier`` ones."""
    properties = draw(st.dictionaries(st.sampled_from(PROPERTIES),
                                      property_values(earlier), max_size=3))
    depends_on = draw(st.lists(st.sampled_from(earlier), unique=True,
                               max_size=2)) if earlier else []
    return scenario_template.RsrcDef(properties, depends_on)


@st.composite
def templates(draw, max_resources=6):
    """A random template whose references form a DAG.

    Resources appear in a topological order: each one references and
    depends on earlier ones only.
    """
    names = draw(st.lists(st.sampled_from(RESOURCE_NAMES), unique=True,
                          min_size=1, max_size=max_resources))
    resources = {}
    for name in names:
        resources[name] = draw(resource_definitions(list(resources)))
    return scenario_template.Template(resources)


def _valid(value, earlier):
    return (not isinstance(value, scenario_template.GetRes) or
            value.target_name in earlier)


@st.composite
def _mutated(draw, defn, earlier):
    """``defn`` with some properties changed, added or dropped.

    A reference to a resource that is gone, or that now comes later in the
    order, is redrawn: the template stays a DAG.
    """
    properties = {}
    for prop in PROPERTIES:
        value = defn.properties.get(prop)
        if value is not None and not _valid(value, earlier):
            value = draw(property_values(earlier))
        if _rarely(draw, 15):
            value = draw(st.one_of(st.none(), property_values(earlier)))
        if value is not None:
            properties[prop] = value
    depends_on = [name for name in defn.depends_on if name in earlier]
    if earlier and _rarely(draw, 20):
        depends_on = draw(st.lists(st.sampled_from(earlier), unique=True,
                                   max_size=2))
    return scenario_template.RsrcDef(properties, depends_on)


@st.composite
def updated_templates(draw, tmpl, max_resources=6):
    """The template of a stack update: a random mutation of ``tmpl``.

    Resources are removed, added (possibly under the name of one removed
    before), reordered so that dependencies invert, and their properties
    changed: a plain property updates in place, a '!' property or a
    reference to a replaced resource from one replaces.
    """
    names = [name for name in tmpl.resources if not _rarely(draw, 15)]
    if _rarely(draw, 20):
        names = draw(st.permutations(names))
    free = [name for name in RESOURCE_NAMES if name not in names]
    for _ in range(draw(st.integers(min_value=0, max_value=min(
            2, max_resources - len(names))))):
        name = draw(st.sampled_from(free))
        free.remove(name)
        names.insert(draw(st.integers(min_value=0, max_value=len(names))),
                     name)
    resources = {}
    for name in names:
        earlier = list(resources)
        if name in tmpl.resources:
            resources[name] = draw(_mutated(tmpl.resources[name], earlier))
        else:
            resources[name] = draw(resource_definitions(earlier))
    return scenario_template.Template(resources)


@st.composite
def stack_histories(draw, max_updates=3, max_resources=6):
    """The templates of a create and of 1 to ``max_updates`` updates."""
    history = [draw(templates(max_resources=max_resources))]
    for _ in range(draw(st.integers(min_value=1, max_value=max_updates))):
        history.append(draw(updated_templates(history[-1],
                                              max_resources=max_resources)))
    return history


@st.composite
def interrupted_histories(draw, max_updates=3, max_resources=6,
                          max_pause=8):
    """A stack history, and how long each operation runs undisturbed.

    Returns (templates, pauses): one pause per operation (the create, each
    update, then a delete), the number of messages it may process before
    the next operation comes in, or None to let it finish first.
    """
    history = draw(stack_histories(max_updates=max_updates,
                                   max_resources=max_resources))
    pauses = draw(st.lists(
        st.one_of(st.none(), st.integers(min_value=0, max_value=max_pause)),
        min_size=len(history) + 1, max_size=len(history) + 1))
    return history, pauses
