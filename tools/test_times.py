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

"""Known test durations, so that stestr balances its workers from the start.

stestr splits the tests among its workers before it runs them, by the
durations in its repository (``.stestr``). A clean checkout, as in CI, has
none, and stestr then deals the tests out in turn by name: in the live
stage one worker drew most of the long tests and ran four minutes after
the others had finished. ``tools/test-times.json`` keeps the durations of
a past run; ``load`` puts them into the repository as a run of their own
(before the first ``stestr run``), ``save`` refreshes the file from a
repository after a run. Tests the file does not know are dealt out in turn
as before; stale figures only make the split less even.

    python tools/test_times.py load [--repository DIR]
    python tools/test_times.py save [--repository DIR]
"""

import argparse
import datetime
import json
import os

from stestr.repository import util as repo_util
from stestr import utils
import subunit
import testtools

HINTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     'test-times.json')
# When the tests of the run ``load`` stores started.
HINTS_START = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)


def save(repository):
    """Merge the durations the repository's runs measured into the file.

    Only measured ones: a repository the hints were loaded into holds them
    as a run of its own too (told by its timestamps), and they may be older
    than what another repository measured.
    """
    measured = _measured(repository)
    hints = _read()
    hints.update(measured)
    with open(HINTS, 'w') as f:
        json.dump(hints, f, indent=0, sort_keys=True)
        f.write('\n')
    print('%d test durations in %s (%d measured in %s)'
          % (len(hints), HINTS, len(measured), repository))


def _measured(repository):
    """{test id: seconds} of the repository's runs, the latest last."""
    repo = repo_util.get_repo_open(repo_url=_repo_url(repository))
    measured = {}

    def note(test):
        start, stop = test['timestamps']
        if None in (start, stop) or start == HINTS_START:
            return
        # Named as stestr's own store of durations names them.
        measured[utils.cleanup_test_name(test['id'])] = round(
            (stop - start).total_seconds(), 1)

    for run_id in sorted(repo.get_run_ids(), key=int):
        stream = repo.get_test_run(run_id).get_subunit_stream()
        result = testtools.StreamToDict(note)
        result.startTestRun()
        try:
            subunit.ByteStreamToStreamResult(stream).run(result)
        finally:
            result.stopTestRun()
    return measured


def load(repository):
    """Store the hints in the repository as one successful run."""
    hints = _read()
    url = _repo_url(repository)
    repo = (repo_util.get_repo_open(repo_url=url)
            if os.path.isdir(repository)
            else repo_util.get_repo_initialise(repo_url=url))
    inserter = repo.get_inserter()
    inserter.startTestRun()
    for test_id, seconds in sorted(hints.items()):
        inserter.status(test_id=test_id, test_status='inprogress',
                        timestamp=HINTS_START)
        inserter.status(test_id=test_id, test_status='success',
                        timestamp=HINTS_START + datetime.timedelta(
                            seconds=seconds))
    inserter.stopTestRun()
    print('%d known test durations loaded into %s (from tools/%s)'
          % (len(hints), repository, os.path.basename(HINTS)))


def _repo_url(repository):
    # stestr's repository url is the directory that holds .stestr.
    return os.path.dirname(os.path.abspath(repository))


def _read():
    try:
        with open(HINTS) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('action', choices=('load', 'save'))
    parser.add_argument('--repository', default='.stestr',
                        help='the stestr repository (default: .stestr)')
    args = parser.parse_args()
    {'load': load, 'save': save}[args.action](args.repository)


if __name__ == '__main__':
    main()
