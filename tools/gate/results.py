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

"""Run summaries: per-test status, counts, times; comparing two engines.

A summary is a small JSON document (one per engine in the state
directory, plus the committed stock baseline next to this file), so that
the result of an earlier control run can be shown beside the current one
and any test that passed on stock but fails on ours is caught.
"""

import io
import json
import os

import subunit
import testtools

PASSED = 'passed'
SKIPPED = 'skipped'
FAILED = 'failed'

_STATUS = {
    'success': PASSED, 'xfail': PASSED,
    'skip': SKIPPED,
    'fail': FAILED, 'uxsuccess': FAILED,
}


def parse_subunit(stream_bytes):
    """Return {test_id: passed|skipped|failed} from a subunit v2 stream."""
    statuses = {}

    def on_test(test):
        status = test['status']
        if status in ('exists', 'inprogress', None):
            return
        test_id = test['id']
        # Setup errors of whole modules arrive as "unittest.loader..." or
        # "setUpClass (...)" ids: count them as failures too.
        statuses[test_id] = _STATUS.get(status, FAILED)

    case = subunit.ByteStreamToStreamResult(io.BytesIO(stream_bytes),
                                            non_subunit_name='stdout')
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        case.run(result)
    finally:
        result.stopTestRun()
    return statuses


def counts(tests):
    c = {PASSED: 0, SKIPPED: 0, FAILED: 0}
    for status in tests.values():
        c[status] += 1
    c['ran'] = len(tests)
    return c


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        print('WARNING: ignoring unreadable summary %s: %s' % (path, exc))
        return None


def save(summary, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)


def regressions(ours, stock):
    """Tests that passed on stock and failed on ours (both ran them)."""
    theirs = stock['tests']
    return sorted(t for t, status in ours['tests'].items()
                  if status == FAILED and theirs.get(t) == PASSED)


def _minutes(seconds):
    if seconds is None:
        return '-'
    return '%dm%02ds' % divmod(int(round(seconds)), 60)


def format_table(columns):
    """Side-by-side lines for [(title, summary)]."""
    rows = [('', [title for title, _s in columns])]
    for label, key in (('engine', 'engine'), ('driver', 'driver'),
                       ('selection', 'selection')):
        rows.append((label, [str(s.get(key, '-')) for _t, s in columns]))
    for key in ('ran', PASSED, SKIPPED, FAILED):
        rows.append((key, [str(s['counts'][key]) for _t, s in columns]))
    rows.append(('tests time', [_minutes(s.get('test_seconds'))
                                for _t, s in columns]))
    rows.append(('wall time', [_minutes(s.get('wall_seconds'))
                               for _t, s in columns]))
    rows.append(('finished', [s.get('finished', '-') for _t, s in columns]))
    width = max(len(v) for _l, vals in rows for v in vals) + 2
    lines = []
    for label, vals in rows:
        cells = ''.join(v.rjust(width) for v in vals)
        lines.append('  %-11s%s' % (label, cells))
    return lines
