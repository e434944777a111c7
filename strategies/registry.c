/*
 * The strategies mhookd knows, by the name given to -s. A new strategy is one more
 * constant ops table in this list.
 */
#include <stdio.h>
#include <string.h>

#include "strategies/strategy.h"

static const struct strategy_ops *const all_strategies[] = {
	&swbp_ops,
	&hwbp_ops,
	&nx_ops,
};

const struct strategy_ops *strategy_find(const char *name)
{
	for (size_t i = 0; i < sizeof(all_strategies) / sizeof(all_strategies[0]); i++)
		if (!strcmp(all_strategies[i]->name, name))
			return all_strategies[i];
	return NULL;
}

void strategy_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(all_strategies) / sizeof(all_strategies[0]); i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 all_strategies[i]->name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}
