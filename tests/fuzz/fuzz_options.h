/* fuzz_options: make the sanitizers' findings fatal in every fuzz target. The tree is
 * built with recoverable UBSan checks, which would only print a report and go on;
 * libFuzzer must see undefined behaviour as a crash, with the input saved. */
#ifndef FLEETDECK_FUZZ_OPTIONS_H
#define FLEETDECK_FUZZ_OPTIONS_H

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

#endif
