#!/usr/bin/env python3
"""Where a load round's time went, from two scrapes of a server's /metrics taken before and after
it: for each latency histogram that moved, the round's number of observations, how many took over
50 and over 100 ms, and its p50 and p99 read off the buckets (the upper bound of the bucket each
falls in). Reads Vitrine's histograms (`vitrine_*_seconds`) and Milvus's search path
(`milvus_*_latency`, in milliseconds). bench/cluster.sh prints one line per round.

    bench/metrics_delta.py BEFORE AFTER [NAME=CPU_SECONDS ...]     (the pairs are copied into the line)
"""
import json
import re
import sys

LINE = re.compile(r'^(\w+)_bucket\{(.*)\} (\S+)$')
# Milvus's search path: the proxy's whole search, then in the query node the queue, the wait for
# its view to reach the search's timestamp (tsafe), the search in the segments and the reduce.
MILVUS = ('milvus_proxy_sq_latency', 'milvus_proxy_sq_wait_result_latency', 'milvus_querynode_sq_req_latency',
          'milvus_querynode_sq_queue_latency', 'milvus_querynode_sq_wait_tsafe_latency',
          'milvus_querynode_sq_segment_latency', 'milvus_querynode_sq_core_latency', 'milvus_querynode_sq_reduce_latency')
# Labels that only repeat what the line says already.
DROPPED = ('method', 'node_id', 'query_type', 'collection_name', 'segment_state', 'reduce_level', 'reduce_type', 'username')


def histograms(path):
    """{(name, labels): {upper bound in seconds: cumulative count}}"""
    series = {}
    for line in open(path):
        m = LINE.match(line.strip())
        if not m:
            continue
        name, labels, value = m.groups()
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name.startswith('vitrine_') and name.endswith('_seconds'):
            scale = 1.0
        elif name in MILVUS and pairs.get('query_type', 'search') == 'search':
            scale = 0.001
        else:
            continue
        le = pairs.pop('le')
        bound = float('inf') if le == '+Inf' else float(le) * scale
        key = (name, tuple(sorted((k, v) for k, v in pairs.items() if k not in DROPPED)))
        counts = series.setdefault(key, {})
        counts[bound] = counts.get(bound, 0) + float(value)   # several nodes: summed
    return series


def summary(cumulative):
    total = cumulative[-1][1]

    def quantile(q):
        return next((le for le, n in cumulative if n >= q * total), float('inf'))

    def over(bound):
        return int(total - max((n for le, n in cumulative if le <= bound), default=0))

    def ms(seconds):
        return None if seconds == float('inf') else round(seconds * 1000, 1)
    return {'n': int(total), 'over50ms': over(0.05), 'over100ms': over(0.1),
            'p50ms': ms(quantile(0.5)), 'p99ms': ms(quantile(0.99))}


def main():
    before, after = histograms(sys.argv[1]), histograms(sys.argv[2])
    report = {}
    for (name, labels), counts in sorted(after.items()):
        old = before.get((name, labels), {})
        cumulative = sorted((le, n - old.get(le, 0)) for le, n in counts.items())
        if cumulative[-1][1] <= 0:
            continue
        short = name.replace('vitrine_', '').replace('_duration_seconds', '').replace('milvus_', '').replace('_latency', '')
        report[f'{short}{{{",".join(v for _, v in labels)}}}'] = summary(cumulative)
    for arg in sys.argv[3:]:
        name, seconds = arg.split('=', 1)
        report.setdefault('cpu_seconds', {})[name] = round(float(seconds), 2)
    print(json.dumps(report))


if __name__ == '__main__':
    main()
