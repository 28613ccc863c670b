"""What the real ansible-core prints for one parity case, computed in one process.

Run with the Python that runs ansible (the shebang of `ansible-inventory`):

    python3 ansible_dump.py --out FILE -i SRC [-i SRC...] [--graph GROUP]... [--pattern PAT]...
    python3 ansible_dump.py --corpus DIR --work DIR [--jobs N] CASE...

The second form dumps each case of the corpus (its `case` file says the sources, graphs and
patterns) into WORK/CASE/ansible.json, each in its own process forked after ansible is imported.

It drives ansible's own code paths instead of re-implementing any of them:

* the inventory, loader and variable manager come from CLI._play_prereqs(), exactly as
  `ansible-inventory` and `ansible` build them (the arguments are parsed by InventoryCLI's
  own argument parser, so -i is handled exactly as on the command line);
* --list is InventoryCLI.json_inventory() of group 'all';
* --host H is InventoryCLI._get_host_variables() of the one host inventory.get_hosts(H)
  returns (the CLI's internal-vars removal included);
* --graph [G] is InventoryCLI._graph_group() joined as inventory_graph() does, plus the
  newline Display.display() appends;
* a host pattern is CLI.get_host_list(inventory, None, PAT), and an AnsibleError from it
  becomes an empty list, as AdHocCLI.run() does before printing `hosts (0):`;
* the warnings: those of loading the inventory, and those each pattern adds (with
  "No hosts matched, nothing to do" where AdHocCLI.run() prints it);
* every "Failed to parse SRC with PLUGIN plugin: ..." warning is recorded, with the
  FILE:LINE the plugin reported in it (ini: "FILE:LINE: msg", yaml: "The error appears to
  be in 'FILE': line N").

Running every --host and every pattern in one process is what makes the parity suite fast
(each ansible CLI start costs ~0.5 s); tools/fake-fleetdeck runs the real CLIs instead, and
running parity.sh with it checks this script against them (see README.md).

The output is one JSON object (and FILE.hosts: the host names, one a line):
  {"list": {...} | null, "hosts": [names in get_hosts() order], "host": {name: vars|null},
   "graph": {group-or-"": text|null}, "patterns": {pat: [names]},
   "failures": [{"src", "plugin", "msg", "file", "line"}], "warnings": [...],
   "load_warnings": [warnings of loading the inventory], "pattern_warnings": {pat: [...]},
   "errors": [messages of AnsibleErrors the CLI would have exited on]}
"""

import json
import os
import re
import sys

from ansible.cli import CLI  # first, as the ansible-* entry points do
from ansible.cli.inventory import InventoryCLI
from ansible.errors import AnsibleError
from ansible.module_utils._text import to_text
from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.utils.display import Display

WARNINGS = []
_orig_warning = Display.warning


def _capture_warning(self, msg, formatted=False):
    WARNINGS.append(to_text(msg))
    return _orig_warning(self, msg, formatted)


Display.warning = _capture_warning

FAILED_RE = re.compile(r'^\s*\* Failed to parse (?P<src>.*?) with (?P<plugin>[\w.]+) plugin: (?P<msg>.*)\Z', re.S)
INI_LOC_RE = re.compile(r'^(?P<file>.*?):(?P<line>\d+): ', re.S)
YAML_LOC_RE = re.compile(r"The error appears to be in '(?P<file>[^']*)': line (?P<line>\d+)")


def parse_failure(msg):
    m = FAILED_RE.match(msg)
    if not m:
        return None
    fail = {'src': m.group('src'), 'plugin': m.group('plugin'), 'msg': m.group('msg'),
            'file': None, 'line': None}
    loc = INI_LOC_RE.match(fail['msg']) or YAML_LOC_RE.search(fail['msg'])
    if loc:
        fail['file'] = loc.group('file')
        fail['line'] = int(loc.group('line'))
    return fail


def plain(value):
    """Round-trip through ansible's JSON encoder, as `ansible-inventory` output would."""
    return json.loads(json.dumps(value, cls=AnsibleJSONEncoder, preprocess_unsafe=True, ensure_ascii=False))


class DumpCLI(InventoryCLI):
    """InventoryCLI whose run() computes every output of one case instead of one."""

    def __init__(self, args, graphs, patterns, out, only_patterns=False):
        super().__init__(args)
        self.only_patterns = only_patterns
        self.graphs = graphs
        self.patterns = patterns
        self.out = out

    def run(self):
        CLI.run(self)  # parse() and the CLI's usual start-up
        self.loader, self.inventory, self.vm = self._play_prereqs()
        res = {'list': None, 'hosts': [], 'host': {}, 'graph': {}, 'patterns': {}, 'errors': [],
               'pattern_warnings': {}}
        res['load_warnings'] = list(WARNINGS)

        # --list
        try:
            if not self.only_patterns:
                res['list'] = plain(self.json_inventory(self._get_group('all')))
        except AnsibleError as e:
            res['errors'].append('--list: %s' % to_text(e))

        # --host H, for every host of the inventory
        for host in [] if self.only_patterns else self.inventory.get_hosts():
            res['hosts'].append(host.name)
            try:
                found = self.inventory.get_hosts(host.name)
                if len(found) != 1:
                    raise AnsibleError("You must pass a single valid host to --host parameter")
                res['host'][host.name] = plain(self._get_host_variables(host=found[0]))
            except AnsibleError as e:
                res['host'][host.name] = None
                res['errors'].append('--host %s: %s' % (host.name, to_text(e)))

        # --graph [G]
        for gname in [''] + self.graphs:
            start_at = self._get_group(gname or 'all')
            if start_at:
                res['graph'][gname] = '\n'.join(self._graph_group(start_at)) + '\n'
            else:
                res['graph'][gname] = None
                res['errors'].append('--graph %s: Pattern must be valid group name when using --graph' % gname)

        # ansible PATTERN --list-hosts
        for pat in self.patterns:
            start = len(WARNINGS)
            try:
                hosts = CLI.get_host_list(self.inventory, None, pat)
            except AnsibleError:
                hosts = []
                WARNINGS.append('No hosts matched, nothing to do')  # AdHocCLI.run()'s warning
            res['patterns'][pat] = [to_text(h) for h in hosts]
            res['pattern_warnings'][pat] = WARNINGS[start:]
            # each `ansible PATTERN` is a new process: forget an implicit localhost this one made
            data = self.inventory._inventory
            if data.localhost is not None and data.localhost.implicit:
                data.localhost = None
            self.inventory.clear_caches()

        res['warnings'] = WARNINGS
        res['failures'] = [f for f in (parse_failure(w) for w in WARNINGS) if f]
        with open(self.out, 'w', encoding='utf-8') as fh:
            json.dump(res, fh, ensure_ascii=False, indent=1, sort_keys=True)
        with open(self.out + '.hosts', 'w', encoding='utf-8') as fh:
            fh.write(''.join(h + '\n' for h in res['hosts']))
        return 0


def dump(out, sources, graphs, patterns, only_patterns=False):
    args = ['ansible-inventory']
    for src in sources:
        args += ['-i', src]
    return DumpCLI(args + ['--list'], graphs, patterns, out, only_patterns).run()


def read_case(path):
    """The case file's keys (see README.md): lists for the repeatable ones."""
    case = {'source': [], 'pattern': [], 'pattern-unordered': [], 'graph': []}
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith('#'):
                key, _, value = line.partition(':')
                key, value = key.strip(), value.strip()
                if isinstance(case.get(key), list):
                    case[key].append(value)
                else:
                    case[key] = value
    return case


def run_forked(out_dir, job):
    """Run job() in a child forked from this process, which has imported ansible once (the
    import is most of an ansible start-up): the child starts from exactly the state a new
    `ansible-inventory` process would have, and nothing it does is seen by other cases."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        rc = 1
        try:
            fd = os.open(os.path.join(out_dir, 'ansible.err'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            rc = job()
        except BaseException:  # noqa: B036 - report anything, the parent only sees the status
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc if isinstance(rc, int) else 1)
    return pid


def corpus_mode(corpus, work, jobs, names):
    """Dump every named case of the corpus into WORK/NAME/ansible.json (and other.json for a
    same-list:), at most JOBS at a time."""
    tasks = []
    for name in names:
        case_dir = os.path.join(corpus, name)
        case = read_case(os.path.join(case_dir, 'case'))
        out_dir = os.path.join(work, name)
        os.makedirs(out_dir, exist_ok=True)
        srcs = [os.path.join(case_dir, s) for s in case['source']]
        pats = case['pattern'] + case['pattern-unordered']
        tasks.append((out_dir, lambda o=out_dir, s=srcs, p=pats, g=case['graph']:
                      dump(os.path.join(o, 'ansible.json'), s, g, p)))
        if case.get('same-list'):
            other_dir = os.path.join(out_dir, 'other')
            os.makedirs(other_dir, exist_ok=True)
            other = [os.path.join(case_dir, case['same-list'])]
            tasks.append((other_dir, lambda o=other_dir, s=other: dump(os.path.join(o, 'ansible.json'), s, [], [])))
    running = set()
    for out_dir, job in tasks:
        while len(running) >= jobs:
            running.discard(os.wait()[0])
        running.add(run_forked(out_dir, job))
    while running:
        running.discard(os.wait()[0])
    return 0  # a case whose child failed has no ansible.json, and parity.sh says so


def main(argv):
    opts = {'--out': None, '--corpus': None, '--work': None, '--jobs': str(os.cpu_count() or 2)}
    graphs, patterns, sources, names = [], [], [], []
    it = iter(argv)
    for a in it:
        if a in opts:
            opts[a] = next(it)
        elif a == '--graph':
            graphs.append(next(it))
        elif a == '--pattern':
            patterns.append(next(it))
        elif a == '-i':
            sources.append(next(it))
        elif not a.startswith('-'):
            names.append(a)
        else:
            sys.exit('ansible_dump.py: unexpected argument %r' % a)
    if opts['--corpus'] and opts['--work']:
        return corpus_mode(opts['--corpus'], opts['--work'], max(1, int(opts['--jobs'])), names)
    if not opts['--out'] or not sources or names:
        sys.exit(__doc__)
    return dump(opts['--out'], sources, graphs, patterns)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
