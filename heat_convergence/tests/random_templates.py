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

"""Seeded random stacks shaped like real templates, and their outputs.

The benchmark's other shapes (independent, chain, dense, fan-in, a flat
group) each stress one thing, and their resources read little of each
other. Real templates are random DAGs: a resource has several
predecessors, reads their attributes through nested intrinsic functions,
carries ``depends_on`` edges that a longer path already implies (the edges
the reduced driver removes, whose data it must forward), sits beside nested
stacks in the middle of the graph, and the outputs read most of it.

:func:`random_graph` draws such a stack from a seed and :func:`updated_graph`
its update (in-place changes, replacements, additions, removals); both are
plain data, rendered as HOT by :func:`hot` for ``tools/bench.py`` and as
Heat's scenario framework templates by the differential tests.
:func:`nested_chain` is a chain of nested stacks, :func:`magnum_cluster` a
group of nested stacks shaped like a Magnum cluster. :class:`Evaluation`
computes what Heat must report as outputs, by evaluating the template's
intrinsic functions for ``OS::Heat::TestResource``, whose ``output``
attribute is its ``value`` property (stored at create and at an update in
place), so that a benchmark run is checked as well as timed.
"""

import dataclasses
import itertools
import json
import random
import re

TEST_RESOURCE = 'OS::Heat::TestResource'
GROUP = 'OS::Heat::ResourceGroup'
NONE = 'OS::Heat::None'
MEMBER = 'member.yaml'
MAGNUM_MEMBER = 'node.yaml'
HOT_VERSION = '2018-08-31'

MAX_READS = 5
MAX_REDUNDANT = 2
# Shares of the resources: nested stacks (a template resource or a group of
# two), resources replaced when their value changes, and in an update the
# resources removed, added and changed.
NESTED_SHARE = 0.1
REPLACE_SHARE = 0.2
REMOVE_SHARE = 0.1
ADD_SHARE = 0.1
CHANGE_SHARE = 0.2
GROUP_COUNT = 2
# How a resource combines what it reads from its predecessors.
FORMS = ('list_join', 'str_replace', 'str_split', 'yaql')
YAQL_SORTED_JOIN = "$.data.heads.orderBy($).join('+')"


@dataclasses.dataclass(frozen=True)
class Node:
    """One resource of a random stack.

    ``reads``: the resources whose attributes its value reads;
    ``depends_on``: redundant explicit edges, to ancestors of those;
    ``kind``: 'test' (a TestResource), 'member' (a template resource) or
    'group' (a ResourceGroup of template resources); ``replace``: a change
    of its value replaces it; ``salt``: bumped by an update that changes
    it; ``pick``: the read its ``str_split`` form picks.
    """

    name: str
    reads: tuple
    depends_on: tuple
    form: str
    kind: str
    replace: bool
    pick: int
    salt: int = 0


def ancestors(graph: list) -> dict:
    """{name: every resource it transitively depends on}."""
    found = {}
    for node in graph:
        found[node.name] = set(node.reads + node.depends_on).union(
            *(found[p] for p in node.reads + node.depends_on))
    return found


def _extend(rng: random.Random, graph: list, names: list,
            nested: bool) -> None:
    """Append a node to ``graph`` for each of ``names``.

    Each reads up to MAX_READS earlier ones and depends on up to
    MAX_REDUNDANT ancestors of those, edges a longer path implies.
    """
    upstream = ancestors(graph)
    for name in names:
        reads = tuple(rng.sample([n.name for n in graph], rng.randint(
            0, min(MAX_READS, len(graph)))))
        implied = sorted(set().union(*(upstream[p] for p in reads)) -
                         set(reads))
        depends_on = tuple(rng.sample(implied, min(
            len(implied), rng.randint(0, MAX_REDUNDANT))))
        kind = 'test'
        if nested and rng.random() < NESTED_SHARE:
            kind = rng.choice(('member', 'group'))
        graph.append(Node(name, reads, depends_on, rng.choice(FORMS), kind,
                          kind == 'test' and rng.random() < REPLACE_SHARE,
                          rng.randrange(max(1, len(reads)))))
        upstream[name] = set(reads).union(*(upstream[p] for p in reads))


def random_graph(n: int, seed: int, nested: bool = True) -> list:
    """Draw a stack of ``n`` resources, in a topological order."""
    graph = []
    _extend(random.Random(seed), graph, ['r%d' % i for i in range(n)],
            nested)
    return graph


def dense_graph(n: int) -> list:
    """A stack of ``n`` resources, each reading every earlier one.

    The densest DAG: every edge but those of the chain is one a longer path
    implies. Each resource joins its predecessors' tags; the first
    replaces itself when changed, so an update of it replaces it and
    changes every other.
    """
    names = ['d%d' % i for i in range(n)]
    return [Node(name, tuple(names[:i]), (), 'list_join', 'test', i == 0, 0)
            for i, name in enumerate(names)]


def _kept(node: Node, removed: set, changed: bool) -> Node:
    reads = tuple(p for p in node.reads if p not in removed)
    return dataclasses.replace(
        node, reads=reads,
        depends_on=tuple(p for p in node.depends_on if p not in removed),
        pick=min(node.pick, max(0, len(reads) - 1)),
        salt=node.salt + changed)


def updated_graph(graph: list, seed: int, nested: bool = True) -> list:
    """The stack's update, deterministic from ``seed``.

    Some resources are removed (those reading them change), some change
    their value (in place, or replaced where ``replace``; whatever reads
    them changes too), and new ones are added that read earlier ones.
    """
    rng = random.Random('update-%d' % seed)
    removed = set(rng.sample([n.name for n in graph],
                             int(len(graph) * REMOVE_SHARE)))
    new = [_kept(node, removed, rng.random() < CHANGE_SHARE)
           for node in graph if node.name not in removed]
    _extend(rng, new, ['u%d' % i for i in range(
        max(1, int(len(graph) * ADD_SHARE)))], nested)
    return new


def summary(graph: list) -> dict:
    """What the reduction sees in a graph: edges, redundant ones, reads."""
    upstream = ancestors(graph)
    edges = redundant = 0
    for node in graph:
        required = set(node.reads + node.depends_on)
        edges += len(required)
        redundant += sum(1 for p in required
                         if any(p in upstream[q] for q in required))
    reads = [len(node.reads) for node in graph]
    return {'resources': len(graph), 'edges': edges,
            'redundant_edges': redundant,
            'reads_per_resource': round(sum(reads) / max(1, len(graph)), 2),
            'max_reads': max(reads, default=0),
            'multi_predecessor': sum(1 for r in reads if r > 1),
            'replace_on_update': sum(1 for n in graph if n.replace),
            'template_resources': sum(1 for n in graph if n.kind == 'member'),
            'groups': sum(1 for n in graph if n.kind == 'group')}


# HOT -------------------------------------------------------------------------

def _full(node: Node) -> dict:
    """A snippet of the whole output of ``node`` (a string)."""
    attr = {'get_attr': [node.name, 'output']}
    return {'list_join': ['|', attr]} if node.kind == 'group' else attr


def _head(node: Node) -> dict:
    """A snippet of the tag ``node``'s output starts with."""
    return {'str_split': ['/', _full(node), 0]}


def _body(node: Node, reads: list):
    """What ``node``'s value makes of its predecessors' outputs."""
    heads = [_head(p) for p in reads]
    if node.form == 'list_join':
        return {'list_join': ['-', heads]}
    if node.form == 'str_replace':
        keys = ['<%d>' % i for i in range(len(reads))]
        return {'str_replace': {'template': ' '.join(keys),
                                'params': dict(zip(keys, heads))}}
    if node.form == 'str_split':
        picked = {'str_split': [',', {'list_join': [
            ',', [_full(p) for p in reads]]}, node.pick]}
        return {'str_split': ['/', picked, 0]}
    return {'yaql': {'expression': YAQL_SORTED_JOIN,
                     'data': {'heads': heads}}}


def _value(node: Node, by_name: dict):
    """``tag/body``: the tag names the resource and its update."""
    tag = '%s.%d' % (node.name, node.salt)
    if not node.reads:
        return tag + '/root'
    return {'list_join': ['/', [tag, _body(
        node, [by_name[p] for p in node.reads])]]}


def _hot_resource(node: Node, by_name: dict) -> dict:
    value = _value(node, by_name)
    if node.kind == 'test':
        defn = {'type': TEST_RESOURCE, 'properties': {'value': value}}
        if node.replace:
            defn['properties']['update_replace'] = True
    elif node.kind == 'member':
        defn = {'type': MEMBER, 'properties': {'input': value}}
    else:
        defn = {'type': GROUP, 'properties': {
            'count': GROUP_COUNT, 'resource_def': {
                'type': MEMBER,
                'properties': {'input': value, 'index': '%index%'}}}}
    if node.depends_on:
        defn['depends_on'] = list(node.depends_on)
    return defn


def member_template() -> dict:
    """The nested stack of a template resource: two resources, one output."""
    return {
        'heat_template_version': HOT_VERSION,
        'parameters': {'input': {'type': 'string'},
                       'index': {'type': 'string', 'default': '0'}},
        'resources': {
            'first': {'type': TEST_RESOURCE, 'properties': {'value': {
                'str_replace': {'template': 'm<index>.<input>', 'params': {
                    '<index>': {'get_param': 'index'},
                    '<input>': {'get_param': 'input'}}}}}},
            'second': {'type': TEST_RESOURCE, 'properties': {'value': {
                'list_join': ['.', [{'get_attr': ['first', 'output']},
                                    'end']]}}}},
        'outputs': {'output': {'value': {'get_attr': ['second', 'output']}}},
    }


def hot(graph: list) -> tuple:
    """Return (template, files) of a random stack, for the stack API.

    Four resources in five have an output of their own, and ``heads``
    reads every resource.
    """
    by_name = {node.name: node for node in graph}
    outputs = {node.name: {'value': _full(node)}
               for i, node in enumerate(graph) if i % 5}
    outputs['heads'] = {'value': {'list_join': [
        ' ', [_head(node) for node in graph]]}}
    template = {'heat_template_version': HOT_VERSION,
                'resources': {node.name: _hot_resource(node, by_name)
                              for node in graph},
                'outputs': outputs}
    nested = any(node.kind != 'test' for node in graph)
    return template, {MEMBER: json.dumps(member_template())} if nested else {}


def nested_chain(depth: int, value: str = 'in') -> tuple:
    """Return (template, files) of a chain of ``depth`` nested stacks.

    Each level is a template resource holding three TestResources around
    the next level: ``a`` reads the level's input, ``b`` reads ``a``, the
    next level reads ``b``, and ``c``, the level's output, reads ``b`` and
    the next level's output. Every level thus waits for the one below it on
    the way down and on the way up. ``value`` is the top level's input: a
    stack updated to another one changes every resource in place.
    """
    files = {}
    for level in range(1, depth + 1):
        below = [{'get_attr': ['child', 'output']}] if level < depth else []
        resources = {
            'a': {'type': TEST_RESOURCE, 'properties': {'value': {
                'list_join': ['.', ['L%d' % level,
                                    {'get_param': 'input'}]]}}},
            'b': {'type': TEST_RESOURCE, 'properties': {'value': {
                'str_replace': {'template': 'b(<a>)', 'params': {
                    '<a>': {'get_attr': ['a', 'output']}}}}}},
            'c': {'type': TEST_RESOURCE, 'properties': {'value': {
                'list_join': ['+', [{'get_attr': ['b', 'output']}] +
                              below]}}}}
        if below:
            resources['child'] = {
                'type': 'level%d.yaml' % (level + 1),
                'properties': {'input': {'get_attr': ['b', 'output']}}}
        files['level%d.yaml' % level] = json.dumps({
            'heat_template_version': HOT_VERSION,
            'parameters': {'input': {'type': 'string'}},
            'resources': resources,
            'outputs': {'output': {'value': {'get_attr': ['c', 'output']}}}})
    template = {
        'heat_template_version': HOT_VERSION,
        'resources': {'top': {'type': 'level1.yaml',
                              'properties': {'input': value}}},
        'outputs': {'output': {'value': {'get_attr': ['top', 'output']}}}}
    return template, files


def _joined(separator: str, *parts) -> dict:
    return {'list_join': [separator, list(parts)]}


def _formatted(template: str, **params) -> dict:
    """A ``str_replace`` of ``<key>`` in ``template`` by ``params``."""
    return {'str_replace': {'template': template, 'params': {
        '<%s>' % key: value for key, value in params.items()}}}


def _test(value, depends_on=()) -> dict:
    defn = {'type': TEST_RESOURCE, 'properties': {'value': value}}
    if depends_on:
        defn['depends_on'] = list(depends_on)
    return defn


def _attr(name: str, attribute: str = 'output') -> dict:
    return {'get_attr': [name, attribute]}


def _stub(**references) -> dict:
    """An ``OS::Heat::None`` that references resources (``get_resource``).

    Heat discards its properties: the references are dependencies only, as
    the physical ids they resolve to are not known in advance.
    """
    return {'type': NONE, 'properties': {
        key: {'get_resource': name} for key, name in references.items()}}


def magnum_member_template() -> dict:
    """A cluster node: ten resources, shaped like a Magnum minion.

    A port on the cluster's network, a server on it, a volume attached to
    the server, a floating IP associated with the port, a software config
    and its deployment on the server (after the volume is attached), the
    node's address, and a last resource standing for the wait condition.
    The ``OS::Heat::None`` ones reference others through ``get_resource``;
    the TestResources read each other through ``get_attr``.
    """
    index = {'get_param': 'index'}
    return {
        'heat_template_version': HOT_VERSION,
        'parameters': {'index': {'type': 'string'},
                       'network': {'type': 'string'},
                       'secgroup': {'type': 'string'}},
        'resources': {
            'port': _test(_formatted('port<i>@<net>/<sg>', i=index,
                                     net={'get_param': 'network'},
                                     sg={'get_param': 'secgroup'})),
            'server': _test(_formatted('server<i>(<port>)', i=index,
                                       port=_attr('port'))),
            'volume': _test(_joined('-', 'vol', index)),
            'volume_attachment': _stub(instance_uuid='server',
                                       volume_id='volume'),
            'floating_ip': _test(_formatted('fip(<port>)',
                                            port=_attr('port'))),
            'floating_ip_association': _stub(floatingip_id='floating_ip',
                                             port_id='port'),
            'config': _test(_joined(':', 'kubelet',
                                    {'get_param': 'secgroup'})),
            'deployment': _test(
                _joined('@', _attr('config'), _attr('server')),
                depends_on=['volume_attachment']),
            'address': _test(_formatted('<server> via <fip>',
                                        server=_attr('server'),
                                        fip=_attr('floating_ip'))),
            'ready': _stub(deployment='deployment', address='address')},
        'outputs': {'address': {'value': _attr('address')},
                    'deployment': {'value': _attr('deployment')}}}


def magnum_cluster() -> tuple:
    """Return (template, files) of a Magnum-shaped cluster.

    A network and a security group, a ResourceGroup of ``count`` nodes (a
    stack parameter, as Magnum's ``number_of_minions``: scaling the cluster
    is an update of it) of :func:`magnum_member_template`, and a load
    balancer that reads every node's address. The outputs read the nodes'
    outputs through the group, as lists, and the load balancer's.
    """
    template = {
        'heat_template_version': HOT_VERSION,
        'parameters': {'count': {'type': 'number'}},
        'resources': {
            'network': _test('net'),
            'secgroup': _test(_joined('-', 'sg', _attr('network'))),
            'nodes': {'type': GROUP, 'properties': {
                'count': {'get_param': 'count'},
                'resource_def': {'type': MAGNUM_MEMBER, 'properties': {
                    'index': '%index%', 'network': _attr('network'),
                    'secgroup': _attr('secgroup')}}}},
            'api_lb': _test({'list_join': [',', _attr('nodes',
                                                      'address')]})},
        'outputs': {'addresses': {'value': _attr('nodes', 'address')},
                    'deployments': {'value': _attr('nodes', 'deployment')},
                    'api_lb': {'value': _attr('api_lb')}}}
    return template, {MAGNUM_MEMBER: json.dumps(magnum_member_template())}


# Evaluation ------------------------------------------------------------------

def _list_join(evaluation, args):
    separator, *lists = evaluation.resolve(args)
    return separator.join(itertools.chain.from_iterable(lists))


def _str_replace(evaluation, args):
    args = evaluation.resolve(args)
    params = args['params']
    keys = sorted(params, key=len, reverse=True)
    return re.sub('|'.join(map(re.escape, keys)),
                  lambda match: params[match.group(0)], args['template'])


def _str_split(evaluation, args):
    separator, string, *index = evaluation.resolve(args)
    parts = string.split(separator)
    return parts[index[0]] if index else parts


def _yaql(evaluation, args):
    args = evaluation.resolve(args)
    if args['expression'] != YAQL_SORTED_JOIN:
        raise ValueError('no evaluation of %s' % args['expression'])
    return '+'.join(sorted(args['data']['heads']))


FUNCTIONS = {
    'get_attr': lambda ev, args: ev.attributes(args[0])[args[1]],
    'get_param': lambda ev, name: ev.params[name],
    'list_join': _list_join,
    'str_replace': _str_replace,
    'str_split': _str_split,
    'yaql': _yaql,
}


def _indexed(snippet, index: int):
    """A ResourceGroup member's definition: %index% replaced."""
    if isinstance(snippet, str):
        return snippet.replace('%index%', str(index))
    if isinstance(snippet, dict):
        return {k: _indexed(v, index) for k, v in snippet.items()}
    return snippet


class Evaluation(object):
    """The values Heat resolves in a stack of TestResources, in Python.

    Covers what this module's templates use: the functions in
    :data:`FUNCTIONS` (``yaql`` with :data:`YAQL_SORTED_JOIN` only),
    TestResources, template resources from ``files`` and ResourceGroups of
    them.
    """

    def __init__(self, template: dict, files: dict, params=None):
        self.template = template
        self.files = files
        self.params = {name: p['default'] for name, p in
                       template.get('parameters', {}).items()
                       if 'default' in p}
        self.params.update(params or {})
        self._attributes = {}

    def outputs(self) -> dict:
        return {key: self.resolve(output['value'])
                for key, output in self.template.get('outputs', {}).items()}

    def resolve(self, snippet):
        if isinstance(snippet, list):
            return [self.resolve(item) for item in snippet]
        if not isinstance(snippet, dict):
            return snippet
        if len(snippet) == 1:
            (name, args), = snippet.items()
            if name in FUNCTIONS:
                return FUNCTIONS[name](self, args)
        return {key: self.resolve(value) for key, value in snippet.items()}

    def attributes(self, name: str) -> dict:
        if name not in self._attributes:
            self._attributes[name] = self._of(
                self.template['resources'][name])
        return self._attributes[name]

    def _of(self, defn: dict) -> dict:
        properties = self.resolve(defn.get('properties', {}))
        if defn['type'] == TEST_RESOURCE:
            return {'output': properties['value']}
        if defn['type'] == GROUP:
            members = [self._of(_indexed(properties['resource_def'], i))
                       for i in range(properties['count'])]
            return {key: [m[key] for m in members] for key in members[0]}
        return Evaluation(json.loads(self.files[defn['type']]), self.files,
                          properties).outputs()


def expected_outputs(template: dict, files: dict, params=None) -> dict:
    """{output key: value} Heat must report for the stack.

    ``params``: the stack's parameters, beyond the template's defaults.
    """
    return Evaluation(template, files, params).outputs()


def count_resources(template: dict, files: dict, names=None,
                    params=None) -> int:
    """Resources in the stack and its nested stacks, at any depth.

    ``names``: count only these resources of the top-level template;
    ``params``: the stack's parameters (a group's count may read one).
    """
    evaluation = Evaluation(template, files, params)
    total = 0
    for name, defn in template['resources'].items():
        if names is not None and name not in names:
            continue
        total += 1
        if defn['type'] == GROUP:
            member = defn['properties']['resource_def']
            total += evaluation.resolve(
                defn['properties']['count']) * count_resources(
                    {'resources': {'member': member}}, files)
        elif defn['type'] in files:
            total += count_resources(json.loads(files[defn['type']]), files)
    return total
