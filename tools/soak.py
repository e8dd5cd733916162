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

"""Soak test: one engine process, tens of thousands of resource actions.

Repeatedly creates, updates and deletes a stack of TestResources on a
single engine process (one worker), and after every cycle prints the
engine's thread count, RSS, open DB connections and the resource actions
done so far. Resources, threads, memory and connections must stay flat:
stock Heat 27 keeps one thread per stack event in its ThreadGroup and stops
with "Maximum number of threads reached" after about a thousand events on
one stack in one engine's lifetime.

    tools/soak.py                     # 500 resources, 14 cycles (21,000)
    tools/soak.py --engine stock --cycles 3
"""

import argparse
import json
import os
import sys
import time

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402,I202


def proc_status(pid):
    values = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            values[key] = value.strip()
    return int(values['Threads']), int(values['VmRSS'].split()[0]) // 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--engine', choices=('ours', 'stock'),
                        default='ours')
    parser.add_argument('--resources', type=int, default=500)
    parser.add_argument('--cycles', type=int, default=14)
    parser.add_argument('--timeout', type=int, default=900)
    parser.add_argument('--json', help='Also write the samples here.')
    args = parser.parse_args()
    bench.exit_on_sigterm()
    args.engines, args.workers = 1, 1
    args.executor_threads = bench.DEFAULT_EXECUTOR_THREADS
    n = args.resources
    samples = []
    actions = 0
    started = time.monotonic()
    with bench.Side(args.engine, args) as side:
        worker = side.cloud.engine_pids(0)[-1]
        print('%5s %8s %8s %8s %8s %12s %s' % (
            'cycle', 'actions', 'threads', 'RSS MB', 'DB conns', 'elapsed s',
            'outcome'), flush=True)
        for cycle in range(1, args.cycles + 1):
            outcome = []
            stack_id = side.create('soak', bench.template(
                bench.test_resources(n)))
            row, _ = side.wait(stack_id, 'CREATE', args.timeout)
            outcome.append(row.status if row else 'timeout')
            side.update('soak', stack_id, bench.template(
                bench.test_resources(n, value='cycle%d' % cycle)))
            row, _ = side.wait(stack_id, 'UPDATE', args.timeout)
            outcome.append(row.status if row else 'timeout')
            side.delete('soak', stack_id)
            row, _ = side.wait(stack_id, 'DELETE', args.timeout)
            outcome.append('COMPLETE' if row is None or row.deleted_at
                           else 'timeout')
            actions += 3 * n
            threads, rss = proc_status(worker)
            with side.poll_db.connect() as conn:
                conns = conn.execute(sa.text(
                    'SELECT count(*) FROM information_schema.processlist '
                    'WHERE db = :db'), {'db': side.cloud.name}).scalar()
            sample = {'cycle': cycle, 'actions': actions,
                      'threads': threads, 'rss_mb': rss,
                      'db_connections': conns,
                      'elapsed_s': round(time.monotonic() - started),
                      'outcome': '/'.join(outcome)}
            samples.append(sample)
            print('%5d %8d %8d %8d %8d %12d %s' % (
                cycle, actions, threads, rss, conns, sample['elapsed_s'],
                sample['outcome']), flush=True)
            if 'timeout' in outcome or 'FAILED' in outcome:
                break
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'engine': args.engine, 'resources': n,
                       'samples': samples}, f, indent=2)
    ok = (len(samples) == args.cycles and
          all(s['outcome'] == 'COMPLETE/COMPLETE/COMPLETE'
              for s in samples))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
