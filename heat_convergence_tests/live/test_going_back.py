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

"""Going back to stock Heat: the plugin engines replaced by stock ones.

An operator who installed heat-convergence must be able to go back to stock
``heat-engine`` without losing a stack: stock Heat has to update and delete
what the reduced driver created or updated (its reduced graph stored in
``stack.current_deps``, its SyncPoints gone), and a reduced traversal still
running when the last heat-convergence-engine leaves has to be finished by
stock engines, which know nothing of the plugin's tables or topic.

* :class:`TestStockPluginStock`: a stack created by stock engines, updated
  by plugin engines (reduced driver), then updated and deleted by stock
  engines again.
* :class:`TestHandBack`: plugin engines replaced by stock ones one at a
  time during a create; the last one hands the reduced traversal back to
  Heat's path as it stops, and stock engines finish it. Or both killed
  (kill -9) beside stock ones, during a create, an update or a delete;
  the operator hands it back with ``heat-convergence-manage traversal
  handback``.

Every resource is acted on exactly once per traversal, asserted on Heat's
event table; after a kill, the actions it cut fail, and Heat replaces the
resources they were on (in a delete, deletes them again).
"""

import collections
import json

from heat_convergence_tests.live import cloud

# Conf of the plugin engines: their recovery and fleet checks come round
# quickly (the defaults are meant for production, not for a test).
FAST_PLUGIN = {'heat_convergence': {'periodic_interval': '2',
                                    'ready_timeout': '15'}}

DENSE = 12


def dense_names():
    return ['r%02d' % i for i in range(DENSE)]


def dense_template(value, replaced=()):
    """Every resource reads the output of every earlier one.

    r00's value is ``value``; each later resource's is the outputs of all
    earlier ones joined by "-", so every value is exactly checkable and a
    stale or missing attribute anywhere shows. Heat's graph has
    n(n - 1)/2 edges between the update nodes; its transitive reduction,
    the chain, n - 1. ``replaced``: the names an update of their value
    replaces; the others are updated in place.
    """
    names = dense_names()
    resources = {}
    for i, name in enumerate(names):
        if i == 0:
            prop = value
        else:
            prop = {'list_join': ['-', [{'get_attr': [earlier, 'output']}
                                        for earlier in names[:i]]]}
        resources[name] = cloud.test_resource(prop,
                                              replace=name in replaced)
    return {'heat_template_version': '2018-08-31',
            'resources': resources,
            'outputs': {
                'last': {'value': {'get_attr': [names[-1], 'output']}},
                'some': {'value': {'list_join': [',', [
                    {'get_attr': [name, 'output']}
                    for name in names[:DENSE:4]]]}}}}


def dense_outputs(value):
    values = [value]
    for _ in range(1, DENSE):
        values.append('-'.join(values))
    return {'last': values[-1], 'some': ','.join(values[:DENSE:4])}


def heat_graph(names, existing):
    """The convergence graph stock Heat stores for the dense stack.

    ``existing``: Heat adds a cleanup node per stored resource (each
    cleaned up after the update of its own name and after the cleanup of
    every resource requiring it), none on a create. Nodes are (name,
    is_update); Heat stores a node with no edge at all as (node, None),
    which the dense stack has not.
    """
    edges = set()
    for i, name in enumerate(names):
        edges |= {((name, True), (earlier, True)) for earlier in names[:i]}
        if existing:
            edges.add(((name, False), (name, True)))
            edges |= {((earlier, False), (name, False))
                      for earlier in names[:i]}
    return edges


def reduced_graph(names):
    """The transitive reduction of :func:`heat_graph` for an update.

    The update nodes make a chain; the cleanups a chain the other way,
    hanging off the last update: the cleanup of r<i> needs the update of
    r<i> only through the cleanup of r<i+1>, except for the last one.
    """
    edges = {((names[-1], False), (names[-1], True))}
    for before, after in zip(names, names[1:]):
        edges.add(((after, True), (before, True)))
        edges.add(((before, False), (after, False)))
    return edges


def updated_or_replaced(replaced):
    """The actions of each resource in an update replacing ``replaced``.

    As in stock Heat, a TestResource replaced because of a changed value
    first goes UPDATE IN_PROGRESS, then UPDATE COMPLETE when the property
    diff asks for the replacement; its replacement is created, and the old
    one deleted by the cleanup.
    """
    return lambda name: (('UPDATE', 'CREATE', 'DELETE') if name in replaced
                         else ('UPDATE',))


def ladder_names(lanes, rows):
    return ['root', 'top'] + ['c%d_%02d' % (c, i) for c in range(lanes)
                              for i in range(rows)]


def ladder_template(value, lanes, rows, wait=0, replaced_lane=None,
                    delete_wait=0):
    """A root, ``rows`` rows of ``lanes`` resources, a fan-in at the end.

    Every resource of a row waits for the whole previous row (its own
    lane's predecessor through get_attr, the others through depends_on),
    so that each row fans out anew: the last resource of a row to finish
    makes the next row ready, runs one of it in its own thread and casts
    the others. An engine that stops therefore does not carry the whole
    stack to its end along chains in its own threads; what it casts while
    it stops is left to the others. Each create, and each update in
    place, of a row's resource takes ``wait`` seconds, each delete
    ``delete_wait``.
    The first row joins ``value`` and the root's output; the others pass
    their lane's value on. The lane ``replaced_lane`` is replaced by an
    update changing the value, the others updated in place.
    """
    resources = {'root': cloud.test_resource(value)}
    for i in range(rows):
        for c in range(lanes):
            name = 'c%d_%02d' % (c, i)
            if i == 0:
                upstream = {'list_join': ['-', [
                    value, {'get_attr': ['root', 'output']}]]}
            else:
                upstream = {'get_attr': ['c%d_%02d' % (c, i - 1), 'output']}
            res = cloud.test_resource(upstream, replace=(c == replaced_lane))
            res['properties']['action_wait_secs'] = {
                'create': wait, 'update': wait, 'delete': delete_wait}
            if i:
                res['depends_on'] = ['c%d_%02d' % (other, i - 1)
                                     for other in range(lanes) if other != c]
            resources[name] = res
    resources['top'] = cloud.test_resource({'list_join': [',', [
        {'get_attr': ['c%d_%02d' % (c, rows - 1), 'output']}
        for c in range(lanes)]]})
    return {'heat_template_version': '2018-08-31',
            'resources': resources,
            'outputs': {'top': {'value': {'get_attr': ['top', 'output']}}}}


class GoingBackMixin(object):

    def deploy(self, action, tmpl):
        path = self.cloud.write_template('%s.yaml' % self.stack_name, tmpl)
        self.cloud.openstack('stack', action, '-t', path, self.stack_name)

    def resource_names(self):
        """{resource id: name} of the stack's resource rows now."""
        return {rid: name for rid, name in self.cloud.query(
            'SELECT resource.id, resource.name FROM resource JOIN stack ON '
            'stack.id = resource.stack_id WHERE stack.name = :name',
            name=self.stack_name)}

    def stored_graph(self, names):
        """The stack's ``current_deps`` with resource ids turned to names.

        ``names``: {resource id: name}, read before the traversal started
        (the cleanup nodes name rows the traversal removed since).
        """
        deps = json.loads(self.cloud.query(
            'SELECT current_deps FROM stack WHERE name = :name AND '
            'deleted_at IS NULL', name=self.stack_name)[0][0])

        def node(value):
            return None if value is None else (names[value[0]],
                                               bool(value[1]))
        edges = [(node(rqr), node(rqd)) for rqr, rqd in deps['edges']]
        self.assertEqual(len(edges), len(set(edges)), 'duplicate edges')
        return set(edges)

    def stored_requires(self):
        """{name: the names of its stored ``requires``} of the resources."""
        rows = self.cloud.query(
            'SELECT resource.id, resource.name, resource.requires FROM '
            'resource JOIN stack ON stack.id = resource.stack_id WHERE '
            'stack.name = :name', name=self.stack_name)
        names = {rid: name for rid, name, _ in rows}
        return {name: sorted(names[r] for r in json.loads(requires))
                for _, name, requires in rows}

    def delete_once_each(self, names, timeout=180, left=()):
        """Delete the stack: each resource deleted once, nothing left.

        ``left``: the names of rows left FAILED beside their replacement,
        which are deleted too: their names are deleted twice, once per row.
        """
        before = self.events(self.stack_name)
        self.cloud.openstack('stack', 'delete', '--yes', self.stack_name)
        cloud.wait_for(lambda: not self.cloud.query(
            'SELECT id FROM stack WHERE name = :name AND deleted_at IS NULL',
            name=self.stack_name), timeout, what='stack deletion')
        self.assert_deleted(before, list(names) + list(left))

    def assert_deleted(self, before, names, cut=()):
        """The stack deleted since ``before`` (:meth:`events`), nothing left.

        ``names``: one per row, each row deleted once. ``cut``: the names of
        the rows whose delete a kill cut, which Heat failed and then deleted
        again (see :meth:`TestHandBack.test_manage_hands_back_delete`).
        """
        expected = collections.Counter(
            (name, 'DELETE', status) for name in names
            for status in ('IN_PROGRESS', 'COMPLETE'))
        for name in cut:
            expected[name, 'DELETE', 'IN_PROGRESS'] += 1
            expected[name, 'DELETE', 'FAILED'] += 1
        self.assertEqual(expected, self.events(self.stack_name) -
                         collections.Counter(before))
        self.assertEqual([], self.cloud.query('SELECT id FROM resource'))
        self.assert_no_sync_points()

    def assert_no_sync_points(self):
        for table in ('sync_point', 'heat_convergence_traversal',
                      'heat_convergence_sync_point',
                      'heat_convergence_arrival'):
            self.assertEqual(0, self.cloud.query(
                'SELECT count(*) FROM %s' % table)[0][0], table)

    def log(self, index):
        with open('%s/engine-%d.log' % (self.cloud.log_dir, index)) as f:
            return f.read()


class TestStockPluginStock(GoingBackMixin, cloud.LiveTestCase):
    """Stock Heat, then heat-convergence, then stock Heat again.

    One engine at a time (the point is who stores what, not how engines
    share a traversal, which test_mixed_fleet covers): the dense stack is
    created by a stock heat-engine, updated by a heat-convergence-engine
    (reduced driver), updated and deleted by a stock heat-engine again.
    """

    cloud_kwargs = {'engines': 1, 'engine_binary': cloud.STOCK_ENGINE,
                    'driver': 'reduced', 'database': 'mysql',
                    'conf': FAST_PLUGIN}
    stack_name = 'back'

    def replace_engine(self, old, new, binary):
        """Stop engine ``old``, start ``new`` of ``binary`` meanwhile.

        Returns once ``old`` has exited and ``new`` serves: the stack is
        idle, nothing happens in between.
        """
        self.cloud.stop_engine(old, wait=False)
        self.cloud.start_engine(new, binary)
        self.cloud.wait_for_engines(1, binary=binary)
        self.cloud.reap_engine(old)

    def test_stock_plugin_stock(self):
        names = dense_names()
        self.cloud.manage('heat-convergence-manage', 'db_sync')

        # Created by stock Heat: Heat's dense graph.
        self.deploy('create', dense_template('one'))
        self.cloud.wait_stack('back', 'CREATE_COMPLETE', timeout=120)
        self.assertEqual(dense_outputs('one'), self.outputs('back'))
        self.assertEqual(heat_graph(names, existing=False),
                         self.stored_graph(self.resource_names()))
        self.assert_once_each('back', {}, names, lambda name: ('CREATE',),
                              exact=True)
        self.assert_no_sync_points()

        # The stock engine replaced by a heat-convergence-engine, which
        # updates the stack with the reduced driver: the reduction of the
        # graph Heat would store is stored instead (2n - 1 edges for
        # Heat's n(n - 1) + n).
        self.replace_engine(0, 1, cloud.PLUGIN_ENGINE)
        replaced = {'r03', 'r08'}
        before, ids = self.events('back'), self.resource_names()
        self.deploy('update', dense_template('two', replaced=replaced))
        self.cloud.wait_stack('back', 'UPDATE_COMPLETE', timeout=120)
        self.assertEqual(dense_outputs('two'), self.outputs('back'))
        stored = self.stored_graph(ids)
        self.assertEqual(reduced_graph(names), stored)
        self.assertEqual(2 * DENSE - 1, len(stored))
        # What each resource requires is stored whole, as Heat stores it:
        # the next traversal's cleanup order depends on it.
        self.assertEqual({name: names[:i] for i, name in enumerate(names)},
                         self.stored_requires())
        self.assert_once_each('back', before, names,
                              updated_or_replaced(replaced), exact=True)
        self.assertEqual(sorted(names),
                         sorted(self.resource_names().values()))
        self.assert_no_sync_points()

        # Back to stock Heat: it updates the stack the reduced driver left,
        # with its own graph again, then deletes it.
        self.replace_engine(1, 2, cloud.STOCK_ENGINE)
        replaced = {'r03', 'r05', 'r10'}
        before, ids = self.events('back'), self.resource_names()
        self.deploy('update', dense_template('three', replaced=replaced))
        self.cloud.wait_stack('back', 'UPDATE_COMPLETE', timeout=120)
        self.assertEqual(dense_outputs('three'), self.outputs('back'))
        self.assertEqual(heat_graph(names, existing=True),
                         self.stored_graph(ids))
        self.assert_once_each('back', before, names,
                              updated_or_replaced(replaced), exact=True)
        self.assertEqual(sorted(names),
                         sorted(self.resource_names().values()))

        self.delete_once_each(names)


class TestHandBack(GoingBackMixin, cloud.LiveTestCase):
    """The last heat-convergence-engine leaving mid-create hands back.

    Two heat-convergence-engines (reduced driver) create a stack of ten
    rows of four resources (:func:`ladder_template`) whose creates take
    three seconds each; once a few resources are created the operator
    replaces them by stock heat-engines one host at a time. The reduced
    traversal's SyncPoints are in the plugin's tables and its nodes on the
    driver's topic, neither of which a stock engine knows: without the
    hand-back the stack would stay CREATE_IN_PROGRESS for good. The last
    heat-convergence-engine, stopping gracefully with no other left, starts
    instead a traversal of Heat's own with the same action and template
    (Heat's graph, rows in Heat's ``sync_point`` table, nodes on
    ``engine_worker``), which the stock engines finish.
    """

    cloud_kwargs = {'engines': 2, 'engine_binary': cloud.PLUGIN_ENGINE,
                    'driver': 'reduced', 'database': 'mysql',
                    'conf': FAST_PLUGIN}
    stack_name = 'handback'
    lanes, rows, wait = 4, 10, 3

    def created(self):
        return self.cloud.query(
            "SELECT count(*) FROM resource WHERE action = 'CREATE' AND "
            "status = 'COMPLETE'")[0][0]

    def updated(self):
        return self.cloud.query(
            "SELECT count(*) FROM resource WHERE action = 'UPDATE' AND "
            "status = 'COMPLETE'")[0][0]

    def deleted(self):
        """How many resources are deleted, counted on their events.

        (A resource deleted keeps its row DELETE_COMPLETE until the stack
        is, and Heat's purge removes it then.)
        """
        return self.cloud.query(
            "SELECT count(*) FROM event WHERE resource_action = 'DELETE' AND "
            "resource_status = 'COMPLETE' AND resource_name != 'handback'"
        )[0][0]

    def lane_one(self):
        """The names of lane 1's resources, the ones an update replaces."""
        return {'c1_%02d' % i for i in range(self.rows)}

    def update_replacing_lane_one(self, timeout):
        """Update the stack, replacing lane 1; check its outputs.

        Returns the events before the update and lane 1's names.
        """
        before = self.events('handback')
        self.deploy('update', ladder_template('two', self.lanes,
                                              self.rows, replaced_lane=1))
        self.cloud.wait_stack('handback', 'UPDATE_COMPLETE', timeout=timeout)
        self.assertEqual({'top': ','.join(['two-two'] * self.lanes)},
                         self.outputs('handback'))
        return before, self.lane_one()

    def test_last_engine_hands_back(self):
        names = ladder_names(self.lanes, self.rows)
        self.deploy('create', ladder_template('one', self.lanes,
                                              self.rows, wait=self.wait))
        reduced = self.current_traversal('handback')
        cloud.wait_for(lambda: self.created() >= 5, 60,
                       what='the plugin engines to make progress')
        # The create runs with the reduced driver: its SyncPoints are the
        # plugin's, none in Heat's table.
        self.assertEqual(1, self.cloud.query(
            'SELECT count(*) FROM heat_convergence_traversal WHERE id = :t',
            t=reduced)[0][0])
        self.assertEqual(0, self.cloud.query(
            'SELECT count(*) FROM sync_point')[0][0])

        # One host at a time: start its stock engine, stop its plugin one.
        self.cloud.start_engine(2, cloud.STOCK_ENGINE)
        self.cloud.wait_for_engines(1, binary=cloud.STOCK_ENGINE)
        # (The second stock engine starts while the first plugin engine
        # stops, which takes several seconds; the last one stops only once
        # the other has exited.)
        self.cloud.stop_engine(0, wait=False)
        self.cloud.start_engine(3, cloud.STOCK_ENGINE)
        self.cloud.wait_for_engines(2, binary=cloud.STOCK_ENGINE)
        self.cloud.reap_engine(0)
        self.assertEqual(reduced, self.current_traversal('handback'))
        self.assertEqual('CREATE_IN_PROGRESS',
                         self.cloud.api_stack('handback')['stack_status'],
                         'the create ended before the last plugin engine '
                         'left: it proves nothing')
        self.cloud.stop_engine(1)

        # The last one handed the create back (a traversal still in
        # progress, as it was just before the stop): a traversal of Heat's,
        # its SyncPoints in Heat's table (checked before the stock engines
        # finish it: Heat removes them when the stack completes).
        handed = self.current_traversal('handback')
        self.assertNotEqual(reduced, handed)
        self.assertGreater(self.cloud.query(
            'SELECT count(*) FROM sync_point WHERE traversal_id = :t',
            t=handed)[0][0], 0)
        self.assertEqual(0, self.cloud.query(
            'SELECT count(*) FROM heat_convergence_traversal')[0][0])
        self.assertIn("handed back to Heat's path", self.log(1))
        # The first one to stop left it to the other.
        self.assertNotIn('handed back', self.log(0))

        self.cloud.wait_stack('handback', 'CREATE_COMPLETE', timeout=120)
        self.assertEqual(handed, self.current_traversal('handback'))
        top = ','.join(['one-one'] * self.lanes)
        self.assertEqual({'top': top}, self.outputs('handback'))
        # Each resource created once over both traversals, and nothing
        # else: the last engine hands back at the end of its stop, once the
        # nodes it was running have finished, so no resource is
        # IN_PROGRESS then; those the plugin engines created are
        # CREATE_COMPLETE with the traversal's own template, which Heat's
        # traversal checks and leaves alone (no change, no event). What the
        # stock engines create is what the plugin engines had not: in the
        # runs seen, the rest of the stack from a row whose casts had
        # reached the plugin engines as they stopped (dropped, the
        # traversal idle until the hand-back).
        self.assert_once_each('handback', {}, names,
                              lambda name: ('CREATE',), exact=True)
        self.assertEqual(sorted(names),
                         sorted(self.resource_names().values()))
        self.assert_no_sync_points()

        # Stock Heat alone from now on: an update replacing lane 1.
        before, lane1 = self.update_replacing_lane_one(timeout=120)
        self.assert_once_each('handback', before, names,
                              updated_or_replaced(lane1), exact=True)

        self.delete_once_each(names)

    def plugin_rows_up(self):
        """How many plugin engines' service rows Heat counts as up.

        Heat's rule (``service_utils.format_service``): a row reported
        within twice its report interval; a killed engine's row stays so
        until then.
        """
        return self.cloud.query(
            "SELECT count(*) FROM service WHERE deleted_at IS NULL AND "
            "service.binary = :binary AND TIMESTAMPDIFF(SECOND, "
            "COALESCE(updated_at, created_at), UTC_TIMESTAMP()) <= "
            "2 * report_interval", binary=cloud.PLUGIN_ENGINE)[0][0]

    def resource_rows(self):
        """The stack's resource rows, by id.

        Each: (name, action, status, reason, replaces, replaced_by,
        engine_id).
        """
        return {row[0]: tuple(row[1:]) for row in self.cloud.query(
            'SELECT id, name, action, status, status_reason, replaces, '
            'replaced_by, engine_id FROM resource')}

    def pop_cut_creates(self, rows, cut):
        """Check the creates the kill cut and take them out of ``rows``.

        Each is FAILED by Heat ("Worker went down"), unlocked, and replaced
        by a row of the same name. Returns {name: replacement's id}.
        """
        replacements = {}
        for rid, name in cut.items():
            _, action, status, reason, _, new, engine = rows.pop(rid)
            self.assertEqual(('CREATE', 'FAILED', None),
                             (action, status, engine), name)
            self.assertEqual('Worker went down during resource CREATE',
                             reason)
            self.assertEqual((name, rid), (rows[new][0], rows[new][4]))
            replacements[name] = new
        return replacements

    def handback_command(self):
        """Run ``traversal handback``: (stdout, None) or (None, failure)."""
        try:
            return self.cloud.manage('heat-convergence-manage', 'traversal',
                                     'handback'), None
        except cloud.CommandFailed as exc:
            return None, exc

    def in_progress(self):
        return self.cloud.query(
            "SELECT count(*) FROM resource WHERE status = 'IN_PROGRESS'")[0][0]

    def stack_state(self, stack_id):
        """(action, status, reason, traversal, deleted) of the stack's row.

        Read by id: the row of a deleted stack stays, soft-deleted, where
        the API no longer finds the stack by name.
        """
        row = self.cloud.query(
            'SELECT action, status, status_reason, current_traversal, '
            'deleted_at FROM stack WHERE id = :id', id=stack_id)[0]
        return tuple(row[:4]) + (row[4] is not None,)

    def just_started(self):
        """How many resources IN_PROGRESS started under a second ago.

        Read on their IN_PROGRESS events (a resource row has no timestamp
        of its last change; Heat stores them to the second). Their actions,
        which take a few seconds, are still running for a while: a kill now
        cuts them, where it could miss a row of resources about to finish.
        """
        return self.cloud.query(
            "SELECT count(*) FROM resource JOIN event ON "
            "event.resource_name = resource.name AND "
            "event.resource_action = resource.action AND "
            "event.resource_status = resource.status WHERE "
            "resource.status = 'IN_PROGRESS' AND "
            "TIMESTAMPDIFF(SECOND, event.created_at, UTC_TIMESTAMP()) < 1"
        )[0][0]

    def reduced_traversal(self):
        """The stack's traversal, checked to be the plugin's.

        The API call reached a plugin engine (no stock engine is up yet):
        its traversal is a reduced one, with a row in the plugin's table.
        """
        reduced = self.current_traversal('handback')
        self.assertEqual(1, self.cloud.query(
            'SELECT count(*) FROM heat_convergence_traversal WHERE id = :t',
            t=reduced)[0][0])
        return reduced

    def start_stock_engines(self):
        """Start a stock heat-engine on each host, beside the plugin's."""
        self.cloud.start_engine(2, cloud.STOCK_ENGINE)
        self.cloud.start_engine(3, cloud.STOCK_ENGINE)
        self.cloud.wait_for_engines(2, binary=cloud.STOCK_ENGINE)

    def kill_and_hand_back(self, action, reduced, stack_id):
        """kill -9 both plugin engines mid-``action``; hand back by hand.

        ``reduced``: the stack's reduced traversal. Checks the refusal
        while the killed engines count as up, that nothing moves meanwhile,
        the hand-back and its output, then waits for the stock engines to
        finish: the stack ``action``_COMPLETE on the handed-back traversal
        (its row soft-deleted after a DELETE).
        Returns {resource id: (name, action)} of the rows the kill cut
        (IN_PROGRESS, locked by a killed engine).
        """
        in_progress = '%s_IN_PROGRESS' % action
        # kill -9, both: no graceful stop, so no hand-back.
        plugin_engines = {row[0] for row in self.cloud.query(
            'SELECT engine_id FROM service WHERE service.binary = :b',
            b=cloud.PLUGIN_ENGINE)}
        self.cloud.kill_engine(0)
        self.cloud.kill_engine(1)
        at_kill = self.resource_rows()
        cut = {rid: row[:2] for rid, row in at_kill.items()
               if row[2] == 'IN_PROGRESS'}
        self.assertTrue(cut, 'no action was cut by the kill')
        # Each still locked by the engine killed during it.
        self.assertEqual(set(), {at_kill[rid][6] for rid in cut} -
                         plugin_engines)
        self.assertEqual(in_progress,
                         self.cloud.api_stack('handback')['stack_status'],
                         'the %s ended before the kill: it proves '
                         'nothing' % action.lower())
        self.assertEqual(reduced, self.current_traversal('handback'))
        self.assertEqual(1, self.cloud.query(
            'SELECT count(*) FROM heat_convergence_traversal')[0][0])
        events_at_kill = self.events('handback')

        # Right after the kill the killed engines still count as up: the
        # command refuses, says why, and hands nothing back.
        out, refused = self.handback_command()
        still_up = self.plugin_rows_up()
        if still_up:
            # Up after the command, so up while it checked.
            self.assertIsNotNone(refused, 'handed back while the killed '
                                 'engines counted as up: %s' % out)
        if refused is not None:
            self.assertEqual(1, refused.returncode)
            self.assertEqual('', refused.stdout)
            self.assertRegex(refused.stderr,
                             'ERROR: [12] heat-convergence-engine processes '
                             'are up: .* if they were killed, run this again '
                             'then.')
            self.assertNotIn('Traceback', refused.stderr)
            cloud.wait_for(lambda: not self.plugin_rows_up(), 60,
                           what="the killed engines' rows to be down")
            # Meanwhile no engine moved the stack: the reduced traversal,
            # no new event, the cut resources still locked by the dead.
            self.assertEqual(reduced, self.current_traversal('handback'))
            self.assertEqual(in_progress, self.cloud.api_stack(
                'handback')['stack_status'])
            self.assertEqual(events_at_kill, self.events('handback'))
            self.assertEqual(at_kill, self.resource_rows())
            out, refused = self.handback_command()
        self.assertIsNone(refused)
        handed = self.stack_state(stack_id)[3]
        self.assertNotEqual(reduced, handed)
        self.assertEqual("Stack %s: traversal %s handed back to Heat's path "
                         "as traversal %s.\n" % (stack_id, reduced, handed),
                         out)
        self.assertEqual(0, self.cloud.query(
            'SELECT count(*) FROM heat_convergence_traversal')[0][0])
        # Heat's SyncPoints, written before its first casts; the operator's
        # check shows the stack on Heat's path.
        self.assertGreater(self.cloud.query(
            'SELECT count(*) FROM sync_point WHERE traversal_id = :t',
            t=handed)[0][0], 0)
        paths = self.cloud.manage('heat-convergence-manage', 'traversal',
                                  'paths')
        if 'No convergence stack is IN_PROGRESS' in paths:
            self.assertEqual((action, 'COMPLETE'),
                             self.stack_state(stack_id)[:2])
        else:
            self.assertRegex(paths, r'%s +handback +%s +%s +heat \(' % (
                stack_id, action, handed))

        def settled():
            state = self.stack_state(stack_id)
            return state if state[1] != 'IN_PROGRESS' else None
        state = cloud.wait_for(settled, 150, interval=1,
                               what='the stack to leave %s' % in_progress)
        # Only a stack deleted has its row soft-deleted.
        self.assertEqual((action, 'COMPLETE', handed, action == 'DELETE'),
                         state[:2] + state[3:], state[2])
        return cut

    def test_manage_hands_back_after_kill(self):
        """Both plugin engines killed mid-create; the operator hands back.

        No engine stops gracefully, so none hands the reduced traversal
        back, and stock heat-engines run no plugin code: the stack stays
        CREATE_IN_PROGRESS, untouched, until the operator runs
        ``heat-convergence-manage traversal handback``. While the killed
        engines' service rows still count as up (twice the report interval
        after their last report) the command refuses and says why; once
        they are down it hands the create back, naming the new traversal.

        A resource whose create was cut by the kill is retried as stock
        Heat retries an action a dead engine left: Heat's traversal finds
        it locked by an engine that does not answer, steals the lock and
        marks it CREATE_FAILED ("Worker went down during resource
        CREATE"), then replaces it (Heat replaces a FAILED resource). So
        it has two CREATE IN_PROGRESS events, one per attempt, but one
        CREATE COMPLETE: no resource is created twice. Its FAILED row
        stays beside the replacement until the next update, whose cleanup
        deletes it: the handed-back traversal runs the stack's own
        template, and Heat's cleanup deletes only rows of another
        template. Every other resource is created exactly once over both
        traversals.
        """
        names = ladder_names(self.lanes, self.rows)
        self.deploy('create', ladder_template('one', self.lanes,
                                              self.rows, wait=self.wait))
        reduced = self.current_traversal('handback')
        stack_id = self.cloud.api_stack('handback')['id']
        # The stock engines start while the plugin engines create (the API
        # call has reached a plugin engine: the create is theirs).
        self.start_stock_engines()
        cloud.wait_for(lambda: self.created() >= 5 and self.in_progress(),
                       90, interval=0.2, what='the plugin engines to be '
                       'creating past the first row')
        cut = self.kill_and_hand_back('CREATE', reduced, stack_id)
        self.assertEqual({'CREATE'}, {a for _, a in cut.values()})
        cut = {rid: name for rid, (name, _) in cut.items()}
        top = ','.join(['one-one'] * self.lanes)
        self.assertEqual({'top': top}, self.outputs('handback'))
        # Exactly these events over both traversals: one create of each,
        # and for a cut one the attempt the kill cut, failed by Heat.
        expected = collections.Counter()
        for name in names:
            expected[name, 'CREATE', 'IN_PROGRESS'] += 1
            expected[name, 'CREATE', 'COMPLETE'] += 1
        for name in cut.values():
            expected[name, 'CREATE', 'IN_PROGRESS'] += 1
            expected[name, 'CREATE', 'FAILED'] += 1
        self.assertEqual(expected, self.events('handback'))
        # The cut rows FAILED, each replaced by a row of the same name; the
        # API shows the replacements.
        rows = self.resource_rows()
        self.pop_cut_creates(rows, cut)
        self.assertEqual(sorted(names),
                         sorted(row[0] for row in rows.values()))
        self.assertEqual({('CREATE', 'COMPLETE', None)},
                         {(r[1], r[2], r[6]) for r in rows.values()})
        resources = self.cloud.api_resources('handback')
        self.assertEqual({'CREATE_COMPLETE'},
                         {r['resource_status'] for r in resources.values()})
        self.assertEqual(sorted(names), sorted(resources))
        self.assert_no_sync_points()

        # Stock Heat alone from now on: an update replacing lane 1, whose
        # cleanup also deletes the rows the kill left FAILED.
        before, lane1 = self.update_replacing_lane_one(timeout=150)
        expected = collections.Counter(
            (name, action, status) for name in names
            for action in updated_or_replaced(lane1)(name)
            for status in ('IN_PROGRESS', 'COMPLETE'))
        for name in cut.values():
            expected[name, 'DELETE', 'IN_PROGRESS'] += 1
            expected[name, 'DELETE', 'COMPLETE'] += 1
        self.assertEqual(expected, self.events('handback') -
                         collections.Counter(before))
        rows = self.resource_rows()
        self.assertEqual(sorted(names),
                         sorted(row[0] for row in rows.values()))
        self.assertEqual(set(), set(cut) & set(rows))
        self.assertEqual({'COMPLETE'}, {row[2] for row in rows.values()})

        self.delete_once_each(names)

    def test_manage_hands_back_update_after_kill(self):
        """Both plugin engines killed mid-update; the operator hands back.

        The ladder created quickly by the plugin engines, then updated by
        them (reduced driver), lane 1 replaced, each update in place and
        each replacement's create taking three seconds; both are killed
        (kill -9) a row or two into the update, beside two stock
        heat-engines. As after a kill mid-create, the stack stays
        UPDATE_IN_PROGRESS, untouched, the command refuses while the
        killed engines count as up, then hands the update back, and the
        stock engines finish it on Heat's path.

        What the kill cut, Heat fails ("Worker went down during resource
        UPDATE", or CREATE for a replacement being created) and replaces,
        as Heat replaces a FAILED resource; no action completes twice:

        * a resource whose update in place was cut: UPDATE IN_PROGRESS,
          then UPDATE FAILED (no second update), a replacement created
          (CREATE IN_PROGRESS, COMPLETE) and the failed row deleted by
          the same traversal's cleanup (DELETE IN_PROGRESS, COMPLETE): it
          still had the previous template, as an update stores the new one
          only once done;
        * a replacement of lane 1 whose create was cut: two CREATE
          IN_PROGRESS, one CREATE FAILED, one CREATE COMPLETE (a second
          replacement), as after a kill mid-create; its FAILED row has the
          stack's template, so it stays beside the replacement, which the
          API shows, until the next update or delete: the stack's delete
          deletes it too. The old resource it was replacing is deleted
          once, by the cleanup, as in an update not cut.

        Every other resource is updated in place, or replaced (lane 1),
        exactly once over both traversals.
        """
        names = ladder_names(self.lanes, self.rows)
        lane1 = self.lane_one()
        self.deploy('create', ladder_template('one', self.lanes, self.rows))
        self.cloud.wait_stack('handback', 'CREATE_COMPLETE', timeout=120)
        self.assert_once_each('handback', {}, names,
                              lambda name: ('CREATE',), exact=True)
        created = self.events('handback')
        originals = self.resource_names()
        stack_id = self.cloud.api_stack('handback')['id']

        self.deploy('update', ladder_template('two', self.lanes, self.rows,
                                              wait=self.wait,
                                              replaced_lane=1))
        # The stock engines start while the plugin's traversal runs.
        reduced = self.reduced_traversal()
        self.start_stock_engines()
        cloud.wait_for(lambda: self.updated() >= 5 and self.in_progress(),
                       90, interval=0.2, what='the plugin engines to be '
                       'updating past the first row')
        cut = self.kill_and_hand_back('UPDATE', reduced, stack_id)
        # The kill cut updates in place, or creates of lane 1's
        # replacements: the cleanup (deletes) comes only after the last
        # row.
        updates = {rid: name for rid, (name, action) in cut.items()
                   if action == 'UPDATE'}
        creates = {rid: name for rid, (name, action) in cut.items()
                   if action == 'CREATE'}
        self.assertEqual(set(cut), set(updates) | set(creates), cut)
        # A replacement's row is new, an update's the original one.
        self.assertEqual(set(), set(creates) & set(originals))
        self.assertEqual(set(creates.values()), set(creates.values()) & lane1)
        self.assertEqual(set(updates), set(updates) & set(originals))
        self.assertEqual({'top': ','.join(['two-two'] * self.lanes)},
                         self.outputs('handback'))

        # Exactly these events over both traversals.
        expected = collections.Counter(
            (name, action, status) for name in names
            for action in updated_or_replaced(lane1)(name)
            for status in ('IN_PROGRESS', 'COMPLETE'))
        for name in updates.values():
            expected[name, 'UPDATE', 'COMPLETE'] -= 1
            expected[name, 'UPDATE', 'FAILED'] += 1
            for action in ('CREATE', 'DELETE'):
                for status in ('IN_PROGRESS', 'COMPLETE'):
                    expected[name, action, status] = 1
        for name in creates.values():
            expected[name, 'CREATE', 'IN_PROGRESS'] += 1
            expected[name, 'CREATE', 'FAILED'] += 1
        self.assertEqual(+expected, self.events('handback') - created)

        # The rows: one live row per name, COMPLETE and unlocked; the
        # original one updated in place unless it was replaced (lane 1) or
        # its update cut; beside them only the cut creates' FAILED rows.
        rows = self.resource_rows()
        for new in self.pop_cut_creates(rows, creates).values():
            rows[new] = rows[new][:4] + (None,) + rows[new][5:]
        replaced = lane1 | set(updates.values())
        self.assertEqual(sorted(names),
                         sorted(row[0] for row in rows.values()))
        self.assertEqual(
            {rid: name for rid, name in originals.items()
             if name not in replaced},
            {rid: row[0] for rid, row in rows.items() if rid in originals})
        self.assertEqual(
            {name: ('CREATE' if name in replaced else 'UPDATE',
                    'COMPLETE', None, None, None) for name in names},
            {row[0]: (row[1], row[2], row[4], row[5], row[6])
             for row in rows.values()})
        resources = self.cloud.api_resources('handback')
        self.assertEqual(
            {name: ('CREATE' if name in replaced else 'UPDATE') +
             '_COMPLETE' for name in names},
            {name: r['resource_status'] for name, r in resources.items()})
        self.assert_no_sync_points()

        self.delete_once_each(names, left=creates.values())

    def test_manage_hands_back_delete(self):
        """Both plugin engines killed mid-delete; the operator hands back.

        The ladder created by the plugin engines, each delete of a row's
        resource taking three seconds; they delete it (reduced driver) and
        are both killed (kill -9) a row or two into the delete, beside two
        stock heat-engines. As after a kill mid-create, the stack stays
        DELETE_IN_PROGRESS, untouched, the command refuses while the killed
        engines count as up, then hands the delete back, and the stock
        engines finish it on Heat's path: the stack deleted, no row left.
        Heat's traversal runs with the credentials stored with the stack:
        its end removes the stack's keystone project, which the command's
        own context, with none, could not ("Authorization failed", the
        stack DELETE_FAILED).

        A resource whose delete the kill cut is deleted again from the
        start, as stock Heat retries an action a dead engine left: Heat's
        traversal finds it locked by an engine that does not answer, steals
        the lock and marks it DELETE_FAILED ("Worker went down during
        resource DELETE"), then runs its node again, whose delete skips only
        a resource DELETE_COMPLETE. So it has two DELETE IN_PROGRESS
        events, one DELETE FAILED and one DELETE COMPLETE: deleted once, no
        replacement (a delete makes none). Every other resource is deleted
        exactly once over both traversals; those the plugin engines deleted
        are DELETE_COMPLETE, which Heat's traversal leaves without an event.
        """
        # Two lanes are enough: a kill cuts the deletes of a row.
        lanes = 2
        names = ladder_names(lanes, self.rows)
        self.deploy('create', ladder_template('one', lanes, self.rows,
                                              delete_wait=self.wait))
        self.cloud.wait_stack('handback', 'CREATE_COMPLETE', timeout=120)
        self.assert_once_each('handback', {}, names,
                              lambda name: ('CREATE',), exact=True)
        created = self.events('handback')
        stack_id = self.cloud.api_stack('handback')['id']

        self.cloud.openstack('stack', 'delete', '--yes', 'handback')
        reduced = self.reduced_traversal()
        self.start_stock_engines()
        cloud.wait_for(lambda: self.deleted() >= 3 and self.just_started(),
                       90, interval=0.2, what='the plugin engines to be '
                       'deleting past the last row')
        cut = self.kill_and_hand_back('DELETE', reduced, stack_id)
        self.assertEqual({'DELETE'}, {a for _, a in cut.values()})
        self.assert_deleted(created, names,
                            cut=[name for name, _ in cut.values()])
        self.assertEqual([('Worker went down during resource DELETE',)],
                         self.cloud.query(
                             "SELECT DISTINCT resource_status_reason FROM "
                             "event WHERE resource_status = 'FAILED'"))
