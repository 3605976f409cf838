// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Read-only accessors of a parsed configuration, and group layouts. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t sksteer_config__service_cnt(const struct sksteer_config *cfg)
{
	return cfg ? cfg->nservices : 0;
}

struct sksteer_service *
sksteer_config__service(const struct sksteer_config *cfg, size_t idx)
{
	if (!cfg || idx >= cfg->nservices) {
		errno = ENOENT;
		return NULL;
	}
	return &cfg->services[idx];
}

struct sksteer_service *
sksteer_config__find_service(const struct sksteer_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; cfg && name && i < cfg->nservices; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	errno = ENOENT;
	return NULL;
}

const char *sksteer_service__name(const struct sksteer_service *svc)
{
	return svc->name;
}

int sksteer_service__protocol(const struct sksteer_service *svc)
{
	return svc->proto;
}

const struct sockaddr *
sksteer_service__listen_addr(const struct sksteer_service *svc, socklen_t *len)
{
	if (len)
		*len = svc->addrlen;
	return (const struct sockaddr *)&svc->addr;
}

bool sksteer_service__dual_stack(const struct sksteer_service *svc)
{
	return svc->recv4 && svc->recv6;
}

enum sksteer_backend sksteer_service__backend(const struct sksteer_service *svc)
{
	return svc->backend;
}

unsigned int sksteer_service__socket_cnt(const struct sksteer_service *svc)
{
	return svc->nsockets;
}

size_t sksteer_service__rule_cnt(const struct sksteer_service *svc)
{
	return svc->nrules;
}

const char *sksteer_service__rule_text(const struct sksteer_service *svc,
				       size_t idx)
{
	if (idx >= svc->nrules) {
		errno = ENOENT;
		return NULL;
	}
	return svc->rules[idx].text;
}

size_t sksteer_service__pool_cnt(const struct sksteer_service *svc)
{
	return svc->npools;
}

struct sksteer_pool *sksteer_service__pool(const struct sksteer_service *svc,
					   size_t idx)
{
	if (idx >= svc->npools) {
		errno = ENOENT;
		return NULL;
	}
	return &svc->pools[idx];
}

struct sksteer_pool *
sksteer_service__find_pool(const struct sksteer_service *svc, const char *name)
{
	size_t i;

	for (i = 0; name && i < svc->npools; i++)
		if (!strcmp(svc->pools[i].name, name))
			return &svc->pools[i];
	errno = ENOENT;
	return NULL;
}

const char *sksteer_pool__name(const struct sksteer_pool *pool)
{
	return pool->name;
}

unsigned int sksteer_pool__size(const struct sksteer_pool *pool)
{
	return pool->size;
}

unsigned int sksteer_pool__first(const struct sksteer_pool *pool)
{
	return pool->first;
}

int sk_layout_declared(const struct sksteer_service *svc, struct sk_layout *out)
{
	size_t i;

	out->npools = svc->npools;
	out->pools = calloc(svc->npools ? svc->npools : 1, sizeof(*out->pools));
	if (!out->pools)
		return -ENOMEM;
	for (i = 0; i < svc->npools; i++) {
		const struct sksteer_pool *pool = &svc->pools[i];
		unsigned int j;

		out->pools[i].n = pool->size;
		out->pools[i].pos = calloc(pool->size, sizeof(unsigned int));
		if (!out->pools[i].pos) {
			sk_layout_free(out);
			return -ENOMEM;
		}
		for (j = 0; j < pool->size; j++)
			out->pools[i].pos[j] = pool->first + j;
	}
	return 0;
}

void sk_layout_free(struct sk_layout *l)
{
	size_t i;

	if (!l->pools)
		return;
	for (i = 0; i < l->npools; i++)
		free(l->pools[i].pos);
	free(l->pools);
	l->pools = NULL;
	l->npools = 0;
}
