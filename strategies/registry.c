/*
 * The strategies mhookd knows, by the name given to -s and by id. A new strategy is one
 * more constant ops table in this list, and one more id in strategy.h.
 */
#include <stdio.h>
#include <string.h>

#include "strategies/strategy.h"

static const struct strategy_ops *const all_strategies[STRATEGY_COUNT] = {
	[STRATEGY_SWBP] = &swbp_ops,
	[STRATEGY_HWBP] = &hwbp_ops,
	[STRATEGY_NX] = &nx_ops,
	[STRATEGY_STEP] = &step_ops,
};

_Static_assert(STRATEGY_COUNT <= SESSION_MAX_STRATEGIES,
	       "a session keeps one state per strategy id");

const struct strategy_ops *strategy_find(const char *name)
{
	for (unsigned i = 0; i < STRATEGY_COUNT; i++)
		if (!strcmp(all_strategies[i]->name, name))
			return all_strategies[i];
	return NULL;
}

const struct strategy_ops *strategy_by_id(unsigned id)
{
	return id < STRATEGY_COUNT ? all_strategies[id] : NULL;
}

void strategy_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < STRATEGY_COUNT; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 all_strategies[i]->name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

const struct strategy_ops *strategy_next_used(const struct session *s, unsigned *pos)
{
	/* On every stop: the next set bit, without a loop. */
	unsigned left = *pos < STRATEGY_COUNT ? s->strategies_used >> *pos : 0;

	if (!left)
		return NULL;
	unsigned id = *pos + (unsigned)__builtin_ctz(left);
	*pos = id + 1;
	return id < STRATEGY_COUNT ? all_strategies[id] : NULL;
}
