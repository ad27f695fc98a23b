# Entry points. `make up` builds the lab from nothing; `make test` runs every test.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c

VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR := 0

# Which lab the lab targets (up, down, status, chaos, bench-*) work on. docker: inventories/lab,
# reached through the Docker API. ssh: inventories/ssh-lab, the same nodes built like VMs and
# reached over SSH as a non-root user with sudo (make up LAB=ssh). Both can run at once.
# Whether the lab has its monitoring host (monitor1: Prometheus and Alertmanager; the exporters on
# every host). MONITORING=no reads the lab's hosts.yml alone, without hosts-monitoring.yml: no
# monitor1, no exporters, and the chaos experiments do not check alerts. Give the same value to
# every lab target you run on that lab. (The defaults set no ANSIBLE_INVENTORY: ansible.cfg's
# inventories/lab applies, and the tests pass their own inventories.)
LAB ?= docker
MONITORING ?= yes
# Which chaos suite to run: core (chaos/core.yml: the seed report's experiments, the partition and
# PITR, about 20 min; what CI runs) or all (chaos/all.yml: every experiment, about an hour with the
# alert checks). Left empty, make chaos and make test-full run all, make test and make
# molecule-ssh run core.
CHAOS_SUITE ?=
ifeq ($(filter $(LAB),docker ssh),)
$(error LAB must be docker or ssh; got '$(LAB)')
endif
ifneq ($(filter-out core all,$(CHAOS_SUITE))$(word 2,$(CHAOS_SUITE)),)
$(error CHAOS_SUITE must be core or all; got '$(CHAOS_SUITE)')
endif
ifeq ($(filter $(MONITORING),yes no),)
$(error MONITORING must be yes or no; got '$(MONITORING)')
endif
LAB_INVENTORY := $(CURDIR)/inventories/$(if $(filter ssh,$(LAB)),ssh-lab,lab)
ifeq ($(MONITORING),no)
export ANSIBLE_INVENTORY := $(LAB_INVENTORY)/hosts.yml
else ifeq ($(LAB),ssh)
export ANSIBLE_INVENTORY := $(LAB_INVENTORY)
endif

.PHONY: help up down status test test-full check checks lint rules unit interrupted molecule molecule-ssh venv host image chaos bench-failover bench-durability chaos-modes soak bench-path backup bench-backup chaos-backup chaos-ops

help:
	@echo "make up      build the lab (venv, Docker engine, image, containers, site.yml) and show its status"
	@echo "             LAB=ssh with any lab target: the SSH lab (inventories/ssh-lab), nodes reached like VMs"
	@echo "             MONITORING=no with any lab target: the lab without monitor1 (no Prometheus, exporters, alert checks)"
	@echo "make status  show the cluster (patronictl-style table, HAProxy pools, VIP holder, firing alerts)"
	@echo "make down    remove the lab containers and network (keeps the image and .lab/ secrets)"
	@echo "make check   the fast loop (~2 min): lint (yamllint, ansible-lint, ruff, mypy), alert rule tests (promtool), unit tests, validate-modules"
	@echo "make test    lint + unit tests + bad-input matrix + Molecule ssh with the core chaos suite (what CI runs, ~50 min)"
	@echo "make test-full  the same with every experiment + Molecule default (the Docker connection) + the interrupted runs"
	@echo "make interrupted  site.yml killed at every role boundary on fresh int-* containers, then rerun (~65 min)"
	@echo "make chaos [CHAOS_SUITE=core]  every chaos experiment against the lab (chaos/all.yml; core: chaos/core.yml), reports in reports/"
	@echo "make chaos-modes  the mode-dependent experiments in sync, strict and async (chaos/durability_modes.yml)"
	@echo "make soak [SOAK_S=1800] [SOAK_CPU=0]  nothing broken, 10 writes/s: no failover, VIP move or write error (CPU burners optional)"
	@echo "make bench-failover [N=5]  failover write-gap statistics on the lab"
	@echo "make bench-path  pgbench through the VIP against libpq's multi-host path to the nodes: TPS and ratio"
	@echo "make bench-durability [N=5]  each durability mode: pgbench TPS/latency, lost writes of partition and crash"
	@echo "make chaos-backup  the backup drills: PITR, backup during a failover, disaster restore (chaos/backup_drills.yml)"
	@echo "make chaos-ops     the day-2 operations under load: replica, balancer, etcd members added/replaced/removed, rolling update (chaos/operations.yml)"
	@echo "make backup [TYPE=incr]  a pgBackRest backup now (full, diff or incr), then the repository's backups"
	@echo "make bench-backup [SCALE=50]  backup sizes, times and GiB/min, and a whole-cluster restore, on a pgbench database"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt | host
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/python scripts/module_utils_hook.py
	touch $@

host:
	scripts/host-setup.sh

image: venv
	ansible-playbook playbooks/lab/image.yml

up: image
	ansible-playbook playbooks/lab/create.yml
	ansible-playbook site.yml
	ansible-playbook playbooks/lab/credentials.yml
	ansible-playbook playbooks/status.yml

status: venv
	ansible-playbook playbooks/status.yml

down: venv
	ansible-playbook playbooks/lab/destroy.yml

lint: venv
	yamllint --strict .
	ansible-lint
	ruff check .
	mypy

unit: venv
	pytest tests/unit tests/sanity tests/integration tests/interrupted

# Everyday work: everything that needs no container (the bad-input matrix excepted, ~50 s).
check: lint rules
	pytest tests/unit tests/sanity

# The alert rules (monitoring/alerts/): promtool's syntax check and their unit tests.
rules: venv
	promtool check rules monitoring/alerts/pgha.rules.yml
	promtool test rules monitoring/alerts/tests/pgha.rules.test.yml

# site.yml killed in every role on its own fresh containers (int-*, network pgha-interrupted), then
# run again to a healthy cluster. Needs the image; about 65 minutes (11 kill points).
interrupted: image
	PGHA_RUN_INTERRUPTED=1 pytest tests/interrupted -v

# The same through the Docker API (the lab's connection): site.yml, idempotence, every chaos
# experiment, the verify (molecule/default). In test-full.
molecule: image
	molecule test --scenario-name default

# The VM path: site.yml, a chaos suite (core unless CHAOS_SUITE=all) and the verify (whose vaulted
# site.yml -vvv run must report changed=0) over SSH as a sudo user (molecule/ssh). What CI runs.
molecule-ssh: image
	PGHA_CHAOS_SUITE=$(or $(CHAOS_SUITE),core) molecule test --scenario-name ssh

chaos: venv
	ansible-playbook chaos/$(or $(CHAOS_SUITE),all).yml

chaos-modes: venv
	ansible-playbook chaos/durability_modes.yml

SOAK_S ?= 1800
SOAK_CPU ?= 0
soak: venv
	ansible-playbook chaos/soak.yml -e chaos_soak_duration_s=$(SOAK_S) -e chaos_soak_cpu_burners=$(SOAK_CPU)

N ?= 5
bench-failover: venv
	python chaos/tools/bench_failover.py --runs $(N)

bench-path: venv
	python chaos/tools/bench_path.py

bench-durability: venv
	python chaos/tools/bench_durability.py --runs $(N)

chaos-backup: venv
	ansible-playbook chaos/backup_drills.yml

chaos-ops: venv
	ansible-playbook chaos/operations.yml

TYPE ?= incr
backup: venv
	ansible-playbook playbooks/backup.yml -e backup_type=$(TYPE)

SCALE ?= 50
bench-backup: venv
	python chaos/tools/bench_backup.py --scale $(SCALE)

# What needs no container: lint, the alert rules, the unit tests and the bad-input matrix (~10 min).
checks: lint rules unit

# What CI runs (.ci/run): the checks and the SSH scenario (the cluster built over SSH like VMs,
# the core chaos suite with its alert checks, the verify). The checks run in the background
# while Molecule creates and converges its containers (they are done before the first experiment
# starts), their output kept in reports/checks.log and printed at the end; either failing fails
# the run. Every experiment (chaos/all.yml: its alert holds take it past CI's hour), the same
# cluster and experiments through the Docker API (molecule default, ~45 min) and the interrupted
# runs (~65 min) are test-full's (README, Tests).
test: image
	mkdir -p reports
	$(MAKE) --no-print-directory checks > reports/checks.log 2>&1 & checks_pid=$$!
	molecule_rc=0; $(MAKE) --no-print-directory molecule-ssh CHAOS_SUITE=$(CHAOS_SUITE) || molecule_rc=$$?
	checks_rc=0; wait $$checks_pid || checks_rc=$$?
	cat reports/checks.log
	echo "make test: checks (lint, rules, unit) exited $$checks_rc, molecule ssh exited $$molecule_rc"
	[ $$checks_rc -eq 0 ] && [ $$molecule_rc -eq 0 ]

# Everything: the checks, the SSH scenario with every experiment (about 95 min), the Docker
# scenario (about 45 min) and the interrupted runs (about 25 min).
test-full: CHAOS_SUITE = all
test-full: test molecule interrupted
