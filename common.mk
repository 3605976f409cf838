# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared build variables and rules. Every directory's Makefile sets a few
# variables (what to build from what) and includes this file.

.DEFAULT_GOAL := all
ROOT_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

VERSION := $(shell sed -n 's/^\#define SKSTEER_\(MAJOR\|MINOR\)_VERSION \([0-9]*\)/\2/p' $(ROOT_DIR)/include/sksteer.h | paste -sd.)

# make check builds with warnings as errors; so does every other build.
WARNFLAGS := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE $(WARNFLAGS)
CPPFLAGS += -I$(ROOT_DIR)/include
LDFLAGS ?=

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)

LIB_DIR    := $(ROOT_DIR)/src
LIB_STATIC := $(LIB_DIR)/libsksteer.a
LIB_SHARED := $(LIB_DIR)/libsksteer.so
# What a program linking the static library needs besides it.
LIB_DEPS   := $(LIBBPF_LIBS) -lelf -lz

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/sbin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
PCDIR   ?= $(LIBDIR)/pkgconfig

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(patsubst $(ROOT_DIR)/%,%,$(abspath $(2)))";
endif

%.o: %.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(wildcard *.d)

.DELETE_ON_ERROR:
