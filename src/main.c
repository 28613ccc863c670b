/* main: fleetdeck's command line (placeholder while the inventory lands). */
#include <stdio.h>

int main(void)
{
	puts("fleetdeck " FLEETDECK_VERSION);
	return 0;
}
