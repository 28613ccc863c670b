"""Compares fleetdeck's outputs with ansible's, case by case (see parity.sh).

    python3 compare.py CORPUS WORK CASE...

For each CASE it reads WORK/CASE/ansible.json (and WORK/CASE/other/ansible.json), written by
ansible_dump.py, and fleetdeck's WORK/CASE/fd/STEM.{out,err,rc}, written by parity.sh; prints
one `ok   CASE what` / `FAIL CASE what` line per check (a diff under each FAIL), then a last
line `counts PASSED FAILED`.

* --list and --host: JSON compared as values, key order free, but types exact (1, 1.0, true
  and "1" all differ): both sides are re-serialised canonically (sorted keys) and compared
  as text.
* --graph: byte for byte.
* --hosts: line for line, in order (`pattern-unordered:` compares the sorted lists).
* warnings: the `[WARNING]: ` lines of --list and of every --hosts run, against the warnings
  ansible gives loading the inventory and evaluating the pattern, as lists (each message
  once, whitespace runs as one space).
* `expect: error`: exit status 2, and a stderr line whose first `PATH:LINE:` names the file
  and line where ansible (or the case's `error-line:`) says the inventory is wrong.
"""

import difflib
import json
import os
import re
import sys

MAX_DIFF_LINES = 60


def read_case(path):
    case = {'source': [], 'pattern': [], 'pattern-unordered': [], 'graph': [], 'expect': None,
            'error-line': None, 'same-list': None}
    with open(path, encoding='utf-8') as fh:
        for raw in fh:
            line = raw.rstrip('\n')
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            key, sep, value = line.partition(':')
            key = key.strip()
            if not sep or key not in case:
                raise SystemExit('%s: bad line: %r' % (path, line))
            value = value.strip()
            if isinstance(case[key], list):
                case[key].append(value)
            else:
                case[key] = value
    return case


def canon(value):
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=True)


def read(path, binary=False):
    try:
        with open(path, 'rb') as fh:
            data = fh.read()
    except FileNotFoundError:
        return None
    return data if binary else data.decode('utf-8', errors='replace')


class Checker:
    def __init__(self, name, fd_dir):
        self.name = name
        self.fd_dir = fd_dir
        self.passed = 0
        self.failed = 0

    def ok(self, what):
        self.passed += 1
        print('ok   %s %s' % (self.name, what))

    def fail(self, what, detail):
        self.failed += 1
        print('FAIL %s %s' % (self.name, what))
        lines = detail.rstrip('\n').split('\n')
        if len(lines) > MAX_DIFF_LINES:
            lines = lines[:MAX_DIFF_LINES] + ['    ... (%d more lines)' % (len(lines) - MAX_DIFF_LINES)]
        for ln in lines:
            print('    ' + ln)

    def run(self, stem):
        """fleetdeck's (stdout, stderr, exit status) for one invocation."""
        base = os.path.join(self.fd_dir, stem)
        rc = read(base + '.rc')
        return read(base + '.out', binary=True), read(base + '.err') or '', int(rc) if rc else None

    def diff(self, want, got, what):
        d = difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                 'ansible ' + what, 'fleetdeck ' + what)
        out = ''.join(x if x.endswith('\n') else x + '\n\\ No newline at end of file\n' for x in d)
        return out or '(differ only in bytes that do not show; repr: %r vs %r)' % (want[:200], got[:200])

    def bad_exit(self, what, rc, err):
        why = ' (timed out: PARITY_TIMEOUT)' if rc in (124, 137) else ''
        self.fail(what, 'fleetdeck exited %s%s, wanted 0; stderr:\n%s' % (rc, why, err.strip()[:2000]))

    def json_check(self, what, stem, want):
        out, err, rc = self.run(stem)
        if rc != 0:
            return self.bad_exit(what, rc, err)
        try:
            got = json.loads(out.decode('utf-8'))
        except ValueError as e:
            return self.fail(what, 'fleetdeck printed no valid JSON (%s):\n%s' % (e, out.decode('utf-8', 'replace')[:2000]))
        w, g = canon(want), canon(got)
        if w == g:
            self.ok(what)
        else:
            self.fail(what, self.diff(w + '\n', g + '\n', what))

    def bytes_check(self, what, stem, want):
        out, err, rc = self.run(stem)
        if rc != 0:
            return self.bad_exit(what, rc, err)
        if out == want.encode('utf-8'):
            self.ok(what)
        else:
            self.fail(what, self.diff(want, out.decode('utf-8', 'replace'), what))

    def lines_check(self, what, stem, want, ordered=True):
        out, err, rc = self.run(stem)
        if rc != 0:
            return self.bad_exit(what, rc, err)
        got = out.decode('utf-8', 'replace').splitlines()
        if not ordered:
            want, got = sorted(want), sorted(got)
        if got == want:
            self.ok(what)
        else:
            self.fail(what, self.diff(''.join(h + '\n' for h in want), ''.join(h + '\n' for h in got), what))


# ansible's warnings that the parity run's setting (ANSIBLE_LOCALHOST_WARNING=0) switches off;
# fleetdeck has no such setting
UNSET_WARNINGS = ("provided hosts list is empty, only localhost is available",)


def norm_warning(msg):
    return ' '.join(msg.split())


def unique(msgs):
    seen, out = set(), []
    for m in msgs:
        m = norm_warning(m)
        if m not in seen:
            seen.add(m)
            out.append(m)
    return out


def fd_warnings(stderr):
    """The `[WARNING]: msg` lines of fleetdeck's stderr (a message may go on over lines)."""
    out, cur = [], None
    for ln in stderr.split('\n'):
        if ln.startswith('[WARNING]: '):
            if cur is not None:
                out.append(cur)
            cur = ln[len('[WARNING]: '):]
        elif cur is not None and ln and not ln.startswith('fleetdeck'):
            cur += '\n' + ln
        elif cur is not None:
            out.append(cur)
            cur = None
    if cur is not None:
        out.append(cur)
    return [norm_warning(w) for w in out if not w.startswith(UNSET_WARNINGS)]


LOC_RE = re.compile(r'(?:^|\s)(\S+?):(\d+):')


def reports(stderr, basename, line):
    """True when a line of stderr names BASENAME:LINE: as the first FILE:LINE: on it (the FILE
    may carry any directory: the one given with -i, or an absolute one)."""
    for ln in stderr.splitlines():
        m = LOC_RE.search(ln)
        if m and os.path.basename(m.group(1)) == basename and int(m.group(2)) == line:
            return True
    return False


def expected_error(case, ans):
    """(file, line) fleetdeck must report, or (None, reason) when the case is wrong."""
    fails = ans['failures']
    if not fails:
        return None, 'ansible parsed this inventory without a "Failed to parse" warning, ' \
                     'so it is no error case'
    src = fails[0]['src']
    mine = [f for f in fails if f['src'] == src]
    ext = os.path.splitext(src)[1]
    prefer = 'yaml' if ext in ('.yml', '.yaml', '.json') else 'ini'
    located = [f for f in mine if f['line'] is not None]
    chosen = ([f for f in located if f['plugin'] == prefer] or located or [None])[0]
    line = chosen['line'] if chosen else None
    if case['error-line']:
        want = int(case['error-line'])
        if line is not None and line != want:
            return None, 'error-line: %d in the case file, but ansible says line %d' % (want, line)
        line = want
    if line is None:
        return None, 'ansible reports no line for this error; give the case an `error-line:`\n' + \
            '\n'.join('%s plugin: %s' % (f['plugin'], f['msg']) for f in mine)
    return (src, line), None


def warnings_check(c, ans, pats):
    """The warnings of --list and of each --hosts run: those of loading, then the pattern's,
    each once (ansible's Display shows a repeated warning once), in order."""
    if 'load_warnings' not in ans:
        return
    load = ans['load_warnings']
    runs = [('--list', 'list', unique(load))]
    for i, (p, _) in enumerate(pats):
        runs.append(("--hosts '%s'" % p, 'pattern.%d' % i, unique(load + ans['pattern_warnings'].get(p, []))))
    problems = []
    for what, stem, want in runs:
        _, err, rc = c.run(stem)
        got = fd_warnings(err)
        if got != want:
            problems.append('%s:\n%s' % (what, c.diff(''.join(w + '\n' for w in want),
                                                     ''.join(w + '\n' for w in got), 'warnings')))
    if problems:
        c.fail('warnings', '\n'.join(problems))
    else:
        c.ok('warnings')


def compare_case(name, case_dir, work_dir):
    """Prints the checks of one case; returns (passed, failed)."""
    case = read_case(os.path.join(case_dir, 'case'))
    c = Checker(name, os.path.join(work_dir, 'fd'))
    try:
        with open(os.path.join(work_dir, 'ansible.json'), encoding='utf-8') as fh:
            ans = json.load(fh)
    except (OSError, ValueError) as e:
        err = read(os.path.join(work_dir, 'ansible.err')) or ''
        c.fail('ansible side', 'ansible_dump.py failed (%s):\n%s' % (e, err[-3000:]))
        return c.passed, c.failed

    if case['expect'] == 'error':
        where, why = expected_error(case, ans)
        if where is None:
            c.fail('error case', 'corpus problem: ' + why)
            return c.passed, c.failed
        src, line = where
        loc = '%s:%d:' % (os.path.basename(src), line)
        out, err, rc = c.run('list')
        if rc == 2:
            c.ok('--list exits 2')
        else:
            c.fail('--list exits 2', 'fleetdeck exited %s; stderr:\n%s' % (rc, err.strip()[:2000]))
        if reports(err, os.path.basename(src), line):
            c.ok('--list reports %s' % loc)
        else:
            ansible_says = '\n'.join('%s plugin: %s' % (f['plugin'], f['msg']) for f in ans['failures'])
            c.fail('--list reports %s' % loc,
                   'fleetdeck stderr lacks %r; it is:\n%s\nansible said:\n%s' % (loc, err.strip()[:2000], ansible_says))
        return c.passed, c.failed

    if ans['failures'] or ans['errors']:
        c.fail('ansible side', 'corpus problem: ansible failed on a case not marked `expect: error`:\n' +
               '\n'.join([f['msg'] for f in ans['failures']] + ans['errors']))
    c.json_check('--list', 'list', ans['list'])
    for i, h in enumerate(ans['hosts']):
        if ans['host'].get(h) is not None:
            c.json_check('--host %s' % h, 'host.%d' % i, ans['host'][h])
    for i, g in enumerate([''] + case['graph']):
        if ans['graph'].get(g) is not None:
            c.bytes_check(('--graph %s' % g).rstrip(), 'graph.%d' % i, ans['graph'][g])
    pats = [(p, True) for p in case['pattern']] + [(p, False) for p in case['pattern-unordered']]
    for i, (p, ordered) in enumerate(pats):
        what = "--hosts '%s'%s" % (p, '' if ordered else ' (as a set)')
        if p not in ans['patterns']:
            c.fail(what, 'ansible_dump.py has no result for this pattern')
        else:
            c.lines_check(what, 'pattern.%d' % i, ans['patterns'][p], ordered)
    warnings_check(c, ans, pats)
    if case['same-list']:
        what = 'same --list as %s' % case['same-list']
        try:
            with open(os.path.join(work_dir, 'other', 'ansible.json'), encoding='utf-8') as fh:
                other = json.load(fh)
        except (OSError, ValueError) as e:
            c.fail(what + ' (ansible)', 'ansible_dump.py failed: %s' % e)
            return c.passed, c.failed
        if canon(other['list']) != canon(ans['list']):
            c.fail(what + ' (ansible)', 'corpus problem: ansible lists the two differently:\n' +
                   c.diff(canon(ans['list']) + '\n', canon(other['list']) + '\n', '--list'))
        else:
            c.ok(what + ' (ansible)')
        c.json_check(what + ' (fleetdeck)', 'same-list', ans['list'])
    return c.passed, c.failed


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    corpus, work, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    passed = failed = 0
    for name in names:
        p, f = compare_case(name, os.path.join(corpus, name), os.path.join(work, name))
        passed += p
        failed += f
    sys.stdout.flush()
    print('counts %d %d' % (passed, failed))


if __name__ == '__main__':
    main()
