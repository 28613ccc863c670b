/* pyliteral: Python 3.11's ast.literal_eval() on a string, giving jansson values, as
 * Ansible's INI parser uses it to type variable values (ini.py _parse_value). */
#ifndef FLEETDECK_PYLITERAL_H
#define FLEETDECK_PYLITERAL_H

#include <jansson.h>
#include <stddef.h>

enum {
	PYLIT_ERROR = -1, /* literal_eval raised something else: *err is its message */
	PYLIT_OK = 0,     /* *out is the value */
	PYLIT_REJECT = 1, /* ValueError or SyntaxError: the text is not a literal */
};

/* Evaluates s[0..len) (UTF-8; bytes that are not valid UTF-8 stand for the
 * surrogates Python's surrogateescape decoding gives them, so such text is
 * rejected as literal_eval rejects it).
 *
 * PYLIT_ERROR is what ini.py lets through and so fails the whole inventory:
 * TypeError "unhashable type: 'list'" for `{[1]: 2}`, `{[1]}`, `{{1}}`, and
 * OverflowError "int too large to convert to float" for `10**400-sized int + 1j`.
 *
 * The values JSON has no room for are mapped as best a JSON value can, the way
 * `ansible-inventory --list` would show them if it could (it cannot print any
 * of these but the first three, and dies with "Object of type ... is not JSON
 * serializable"):
 *   - int beyond int64: a big int (pyjson.h), printed as the bare number as Ansible does;
 *   - float inf, -inf (`1e400`): a real holding the infinity (pyjson_real_new), printed
 *     as Infinity, -Infinity as Ansible does;
 *   - str with lone surrogates (`"\ud800"`): '?' for each, as Ansible's display writes them;
 *   - bytes (`b'x'`): decoded as UTF-8, '?' for each undecodable byte (ini.py's
 *     to_text() does this to a top-level bytes value, so only nested bytes differ);
 *   - tuple: an array; set (`{1, 2}`, `set()`): an array in source order, duplicates dropped;
 *   - complex (`1+2j`): the string repr() gives, "(1+2j)"; Ellipsis (`...`): "Ellipsis";
 *   - dict keys: as json.dumps writes them (1 -> "1", 1.5 -> "1.5", True -> "true",
 *     None -> "null"); keys json.dumps refuses (tuple, bytes, complex) use repr().
 * Known gaps: \N{NAME} escapes (no Unicode name table: such text is rejected),
 * and inputs that make CPython's own parser give up (RecursionError or
 * MemoryError for thousands of chained operators): rejected here, fatal in Ansible.
 * The value is built with Python's semantics before conversion (1 == 1.0 == True
 * as dict keys, first key kept, last value wins).
 * With PYLIT_OK, *type (if type is not NULL) is the Python type's name ("int",
 * "str", "tuple", "NoneType"...), for callers that must apply more Python to
 * the value than its JSON form tells (Ansible's int() of ansible_group_priority). */
int pyliteral_eval(const char *s, size_t len, json_t **out, const char **type, char **err);

/* pyliteral_eval() without its fast paths for common values (plain words,
 * small ints...): every text through the full parser. The same results; for
 * tests and fuzzing, which check that they are. */
int pyliteral_eval_parsed(const char *s, size_t len, json_t **out, const char **type, char **err);

#endif
