"""Finds `pattern:` lines whose host order ansible leaves to chance (not a ctest test).

    /usr/bin/python3 tests/parity/tools/order-check.py [CASE...]     (default: every case)

Ansible collects a group's hosts by walking its child groups level by level, and each level is a
Python set of Group objects, which iterate in an order that depends on memory addresses: when
hosts sit two or more levels below the pattern's group in two sibling branches, their order
changes from run to run. This tool reruns each case's patterns with those sets iterated in
several shuffled orders (patching Group._walk_relationship, nothing else) and names every
ordered `pattern:` whose result changes: make those `pattern-unordered:`. Exit status 1 if any.
"""

import json
import os
import random
import sys
import tempfile
from itertools import chain

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import ansible_dump  # noqa: E402  (imports ansible)
from ansible.inventory.group import Group  # noqa: E402

CORPUS = os.path.join(os.path.dirname(HERE), 'corpus')
SHUFFLES = 12


def shuffled_walk(self, rel, include_self=False, preserve_ordering=False):
    """Group._walk_relationship of ansible-core 2.14, iterating each set in a random order."""
    seen = set([])
    unprocessed = set(getattr(self, rel))
    if include_self:
        unprocessed.add(self)
    if preserve_ordering:
        ordered = [self] if include_self else []
        ordered.extend(getattr(self, rel))
    while unprocessed:
        seen.update(unprocessed)
        new_unprocessed = set([])
        level = list(unprocessed)
        random.shuffle(level)
        for new_item in chain.from_iterable(getattr(g, rel) for g in level):
            new_unprocessed.add(new_item)
            if preserve_ordering:
                if new_item not in seen:
                    ordered.append(new_item)
        new_unprocessed.difference_update(seen)
        unprocessed = new_unprocessed
    if preserve_ordering:
        return ordered
    return seen


def run(case_dir, case, seed, out):
    pid = os.fork()
    if pid == 0:
        rc = 1
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            random.seed(seed)
            Group._walk_relationship = shuffled_walk
            rc = ansible_dump.dump(out, [os.path.join(case_dir, s) for s in case['source']], [],
                                   case['pattern'] + case['pattern-unordered'], only_patterns=True)
        finally:
            os._exit(rc or 0)
    os.waitpid(pid, 0)
    with open(out, encoding='utf-8') as fh:
        return json.load(fh)['patterns']


def main():
    names = sys.argv[1:] or sorted(n for n in os.listdir(CORPUS) if os.path.isfile(os.path.join(CORPUS, n, 'case')))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            case_dir = os.path.join(CORPUS, name)
            case = ansible_dump.read_case(os.path.join(case_dir, 'case'))
            if case.get('expect') == 'error' or not case['pattern']:
                continue
            results = [run(case_dir, case, seed, os.path.join(tmp, '%s.%d.json' % (name, seed))) for seed in range(SHUFFLES)]
            for pat in case['pattern']:
                orders = {tuple(r[pat]) for r in results}
                if len(orders) > 1:
                    bad += 1
                    print('%s: pattern %r: %d different orders, e.g.\n    %s\n    %s' % (
                        name, pat, len(orders), ' '.join(sorted(orders)[0]), ' '.join(sorted(orders)[1])))
            print('%s: checked %d ordered patterns' % (name, len(case['pattern'])), file=sys.stderr)
    print('%d ordered patterns depend on set order' % bad)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
