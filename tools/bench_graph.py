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

"""Benchmark of the graph reduction and the data routing.

Each case runs in a fresh subprocess, so that its peak memory (ru_maxrss)
is its own. Reported per case: edges before and after, the time to build
the graph (not part of the reduction), the reduction's time, the routing
plan's time where it applies, and the process's peak RSS over its RSS
before the reduction.

    python tools/bench_graph.py            # the three standard cases
    python tools/bench_graph.py --json     # machine-readable

Cases: a dense graph where node i requires every j < i (2,000 nodes,
1,999,000 edges); a random DAG of 10,000 nodes where each requires 20
random earlier ones; a random DAG of 100,000 nodes with 5 each.
"""

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time

CASES = [
    ('dense-2000', 'dense', 2000, 0),
    ('random-10000x20', 'random', 10000, 20),
    ('random-100000x5', 'random', 100000, 5),
]


def build(kind, n, degree, seed=1):
    from heat_convergence import graph
    g = graph.Graph()
    rnd = random.Random(seed)
    for i in range(n):
        node = g[i]
        if kind == 'dense':
            required = range(i)
        else:
            required = rnd.sample(range(i), min(degree, i))
        for j in required:
            node.require.add(j)
            g[j].satisfy.add(i)
    return g


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_case(kind, n, degree):
    from heat_convergence.drivers.reduced import forwarding
    started = time.perf_counter()
    g = build(kind, n, degree)
    built = time.perf_counter() - started
    edges = sum(len(node) for node in g.values())
    before = rss_mb()
    started = time.perf_counter()
    reduced = g.reduced()
    reduction = time.perf_counter() - started
    after = rss_mb()
    result = {'nodes': n, 'edges': edges,
              'reduced_edges': sum(len(node) for node in reduced.values()),
              'build_s': round(built, 3), 'reduce_s': round(reduction, 3),
              'rss_before_mb': round(before, 1),
              'peak_rss_mb': round(after, 1),
              'reduction_mb': round(after - before, 1)}
    if kind == 'dense':
        # Every node consumes every node it depends on: the worst case
        # for forwarding (n(n-1)/2 items travel along n-1 edges).
        consumes = {i: g[i].require for i in g}
        started = time.perf_counter()
        routes = forwarding.plan(reduced, consumes)
        result['routing_s'] = round(time.perf_counter() - started, 3)
        result['routed_items'] = routes.item_count()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--case', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        kind, n, degree = args.case.split(':')
        print(json.dumps(run_case(kind, int(n), int(degree))))
        return
    results = {}
    for name, kind, n, degree in CASES:
        out = subprocess.run(
            [sys.executable, __file__, '--case',
             '%s:%d:%d' % (kind, n, degree)],
            capture_output=True, text=True, check=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    if args.json:
        print(json.dumps({'machine': platform.platform(),
                          'python': platform.python_version(),
                          'cpus': os.cpu_count(),
                          'results': results}, indent=2))
        return
    print('%-18s %9s %11s %9s %9s %9s %10s %10s' % (
        'case', 'nodes', 'edges', 'kept', 'build s', 'reduce s',
        'peak MB', 'routing s'))
    for name, r in results.items():
        print('%-18s %9d %11d %9d %9.2f %9.2f %10.0f %10s' % (
            name, r['nodes'], r['edges'], r['reduced_edges'], r['build_s'],
            r['reduce_s'], r['peak_rss_mb'], r.get('routing_s', '-')))


if __name__ == '__main__':
    main()
