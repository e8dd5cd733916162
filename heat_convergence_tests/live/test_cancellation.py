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

"""Cancel and supersede stop the traversal's work, in flight included.

Two heat-convergence-engine processes with the reduced driver, MariaDB and
RabbitMQ. Resources wait in their actions (``action_wait_secs``) so that the
cancel or the superseding update lands while they run. Each test asserts:

* no resource action of the stopped traversal started after the call
  returned: from the engines' logs (millisecond timestamps of Heat's
  "creating"/"updating" lines) and from the events in the database;
* resources interrupted mid-action end FAILED with Heat's cancel reason;
* no resource is left locked, no plugin row of the stopped traversal is
  left, and a follow-up update converges the stack.
"""

import datetime
import glob
import os
import re
import time

from heat_convergence_tests.live import cloud

WAIT = 30

LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \d+ INFO '
                      r'heat\.engine\.resource \[[^]]*\] (creating|updating'
                      r'|deleting) \w+ "([^"]+)"')


def resource(wait=None, value='v', depends_on=None, **props):
    """An OS::Heat::TestResource, optionally waiting in its actions."""
    properties = dict(props, value=value)
    if wait:
        properties['action_wait_secs'] = wait
    res = {'type': 'OS::Heat::TestResource', 'properties': properties}
    if depends_on:
        res['depends_on'] = depends_on
    return res


def template(resources):
    return {'heat_template_version': '2018-08-31', 'resources': resources}


class CancellationTestCase(cloud.LiveTestCase):

    cloud_kwargs = {'engines': 2, 'driver': 'reduced', 'database': 'mysql'}

    def deploy(self, action, name, resources, *extra):
        path = self.cloud.write_template('%s-%d.yaml' % (name, time.time_ns()),
                                         template(resources))
        self.cloud.openstack('stack', action, '-t', path, *extra, name)

    def wait_for_status(self, names, status, timeout=60):
        def reached():
            resources = self.cloud.api_resources(self.stack_name)
            return all(resources.get(n, {}).get('resource_status') == status
                       for n in names)
        cloud.wait_for(reached, timeout, what='%s to be %s' % (names, status))

    def action_starts(self):
        """Return [(time, action, resource name)] from the engines' logs."""
        starts = []
        for path in glob.glob(os.path.join(self.cloud.log_dir, 'engine-*')):
            with open(path, errors='replace') as f:
                for line in f:
                    match = LOG_LINE.match(line)
                    if match:
                        starts.append((datetime.datetime.strptime(
                            match.group(1), '%Y-%m-%d %H:%M:%S.%f'),
                            match.group(2), match.group(3)))
        return starts

    def in_progress_events(self):
        """Return [(created_at, name, action)] of IN_PROGRESS events."""
        return self.cloud.query(
            "SELECT e.created_at, e.resource_name, e.resource_action "
            "FROM event e JOIN stack s ON e.stack_id = s.id "
            "WHERE e.resource_status = 'IN_PROGRESS' "
            "AND e.resource_type <> 'OS::Heat::Stack'")

    def assert_nothing_started_after(self, returned, names=None):
        """No action of ``names`` (default: any) started after ``returned``.

        Log lines have millisecond timestamps; events only whole seconds on
        MariaDB, so an event is late only from the next second on.
        """
        late = [s for s in self.action_starts()
                if s[0] > returned and (names is None or s[2] in names)]
        self.assertEqual([], late, 'actions started after the call returned')
        next_second = returned.replace(microsecond=0) + datetime.timedelta(
            seconds=1)
        late = [e for e in self.in_progress_events()
                if e[0] >= next_second and (names is None or e[1] in names)]
        self.assertEqual([], late, 'IN_PROGRESS events after the call')

    def assert_settled(self):
        self.assertEqual([], self.cloud.query(
            'SELECT name FROM resource WHERE engine_id IS NOT NULL'),
            'resources left locked')
        live = self.cloud.query(
            'SELECT t.id FROM heat_convergence_traversal t JOIN stack s '
            'ON t.stack_id = s.id WHERE t.id <> s.current_traversal')
        self.assertEqual([], live, 'rows of stopped traversals left')

    def cancel(self, *extra):
        self.cloud.openstack('stack', 'cancel', *extra, self.stack_name)
        return datetime.datetime.now()


class TestCancel(CancellationTestCase):

    stack_name = 'cancel'

    def test_cancel_create_without_rollback(self):
        # Three resources wait 30 s in CREATE; three more depend on them.
        resources = {'w%d' % i: resource(wait={'create': WAIT})
                     for i in range(3)}
        resources.update({'n%d' % i: resource(depends_on=['w%d' % i])
                          for i in range(3)})
        self.deploy('create', self.stack_name, resources)
        self.wait_for_status(['w0', 'w1', 'w2'], 'CREATE_IN_PROGRESS')

        started = time.monotonic()
        returned = self.cancel('--no-rollback')
        stack = self.cloud.wait_stack(self.stack_name, 'CREATE_FAILED',
                                      timeout=20)
        self.assertEqual('Stack CREATE cancelled',
                         stack['stack_status_reason'])
        self.wait_for_status(['w0', 'w1', 'w2'], 'CREATE_FAILED', timeout=10)
        # The running actions stopped well before their 30 s wait was over
        # (tools/bench measures how promptly).
        self.assertLess(time.monotonic() - started, WAIT - 5)
        reasons = dict(self.cloud.query(
            'SELECT name, status_reason FROM resource'))
        for name in ('w0', 'w1', 'w2'):
            self.assertIn('CREATE aborted (user triggered cancel)',
                          reasons[name])
        res = self.cloud.resources(self.stack_name)
        for name in ('n0', 'n1', 'n2'):
            self.assertEqual('INIT_COMPLETE', res[name]['resource_status'])
        self.assert_nothing_started_after(returned)
        self.assert_settled()

        # A follow-up update, with no waits, converges the stack.
        resources = {n: resource() for n in res}
        for i in range(3):
            resources['n%d' % i]['depends_on'] = ['w%d' % i]
        self.deploy('update', self.stack_name, resources)
        self.cloud.wait_stack(self.stack_name, 'UPDATE_COMPLETE')
        self.assertEqual({'COMPLETE'}, {
            r['resource_status'].split('_')[-1]
            for r in self.cloud.resources(self.stack_name).values()})
        self.assert_settled()

    def test_cancel_update_with_rollback(self):
        base = {'w%d' % i: resource(value='old') for i in range(3)}
        self.deploy('create', self.stack_name, base)
        self.cloud.wait_stack(self.stack_name, 'CREATE_COMPLETE')

        # The update makes w* wait in UPDATE and adds n*, which need them.
        update = {'w%d' % i: resource(value='new', wait={'update': WAIT})
                  for i in range(3)}
        update.update({'n%d' % i: resource(depends_on=['w%d' % i])
                       for i in range(3)})
        self.deploy('update', self.stack_name, update)
        self.wait_for_status(['w0', 'w1', 'w2'], 'UPDATE_IN_PROGRESS')

        returned = self.cancel()
        self.cloud.wait_stack(self.stack_name, 'ROLLBACK_COMPLETE',
                              timeout=90)
        reasons = self.cloud.query(
            "SELECT resource_name, resource_status_reason FROM event "
            "WHERE resource_action = 'UPDATE' AND resource_status = "
            "'FAILED'")
        aborted = {name for name, reason in reasons
                   if 'aborted (user triggered cancel)' in reason}
        self.assertEqual({'w0', 'w1', 'w2'}, aborted)
        # What depended on the cancelled work never started; the rollback
        # restored the old values.
        self.assert_nothing_started_after(returned, {'n0', 'n1', 'n2'})
        res = self.cloud.resources(self.stack_name)
        self.assertEqual({'w0', 'w1', 'w2'}, set(res))
        self.assert_settled()

        self.deploy('update', self.stack_name, base)
        self.cloud.wait_stack(self.stack_name, 'UPDATE_COMPLETE')
        self.assert_settled()

    def test_cancel_nested_with_parent(self):
        resources = {
            'nested': {'type': 'OS::Heat::ResourceGroup',
                       'properties': {'count': 1, 'resource_def': {
                           'type': 'OS::Heat::TestResource',
                           'properties': {'value': 'v', 'action_wait_secs':
                                          {'create': WAIT}}}}},
            'w': resource(wait={'create': WAIT}),
        }
        self.deploy('create', self.stack_name, resources)
        # The parent's w and the group member '0' are running.
        cloud.wait_for(lambda: len(self.cloud.query(
            "SELECT id FROM resource WHERE name IN ('w', '0') AND "
            "action = 'CREATE' AND status = 'IN_PROGRESS'")) == 2, 60,
            what='both waiting resources to start')

        returned = self.cancel('--no-rollback')
        self.cloud.wait_stack(self.stack_name, 'CREATE_FAILED', timeout=20)
        cloud.wait_for(lambda: not self.cloud.query(
            "SELECT id FROM resource WHERE status = 'IN_PROGRESS'"), 10,
            what='every resource, nested ones included, to stop')
        nested = self.cloud.query(
            "SELECT action, status, status_reason FROM stack "
            "WHERE owner_id IS NOT NULL")
        self.assertEqual([('CREATE', 'FAILED', 'Stack CREATE cancelled')],
                         [tuple(row) for row in nested])
        reasons = [r[0] for r in self.cloud.query(
            "SELECT status_reason FROM resource WHERE name IN ('w', '0')")]
        self.assertEqual(2, len(reasons))
        for reason in reasons:
            self.assertIn('aborted (user triggered cancel)', reason)
        self.assert_nothing_started_after(returned)
        self.assert_settled()


class TestSupersede(CancellationTestCase):

    stack_name = 'supersede'

    def test_update_supersedes_update(self):
        base = {'a': resource(value='one')}
        self.deploy('create', self.stack_name, base)
        self.cloud.wait_stack(self.stack_name, 'CREATE_COMPLETE')

        # The first update makes a wait and adds x*, which need a.
        first = {'a': resource(value='two', wait={'update': 10})}
        first.update({'x%d' % i: resource(depends_on=['a'])
                      for i in range(3)})
        self.deploy('update', self.stack_name, first)
        self.wait_for_status(['a'], 'UPDATE_IN_PROGRESS')

        # The second one drops x* again: they must never be created.
        self.deploy('update', self.stack_name,
                    {'a': resource(value='three')})
        returned = datetime.datetime.now()
        self.cloud.wait_stack(self.stack_name, 'UPDATE_COMPLETE',
                              timeout=90)
        self.assert_nothing_started_after(returned, {'x0', 'x1', 'x2'})
        self.assertEqual([], self.cloud.query(
            "SELECT id FROM resource WHERE name LIKE 'x%%'"))
        self.assertEqual(['a'], list(self.cloud.resources(self.stack_name)))
        shown = self.cloud.openstack_json('stack', 'resource', 'show',
                                          self.stack_name, 'a')
        self.assertEqual('three', shown['attributes']['output'])
        self.assert_settled()


class TestCancelLettingActionsFinish(CancellationTestCase):
    """cancel_running_actions = false: stock Heat's cancel semantics."""

    cloud_kwargs = dict(CancellationTestCase.cloud_kwargs, conf={
        'heat_convergence': {'cancel_running_actions': 'false'}})
    stack_name = 'letfinish'

    def test_cancel_create_without_rollback(self):
        # Long enough for the cancel to come while w is still creating on
        # a loaded machine (each openstack command takes seconds there).
        self.deploy('create', self.stack_name, {
            'w': resource(wait={'create': 20}),
            'n': resource(depends_on=['w'])})
        self.wait_for_status(['w'], 'CREATE_IN_PROGRESS')
        returned = self.cancel('--no-rollback')
        self.cloud.wait_stack(self.stack_name, 'CREATE_FAILED', timeout=20)
        # The running action finishes; nothing new starts.
        self.wait_for_status(['w'], 'CREATE_COMPLETE', timeout=45)
        self.assertEqual('INIT_COMPLETE', self.cloud.resources(
            self.stack_name)['n']['resource_status'])
        self.assert_nothing_started_after(returned)
        self.assert_settled()
