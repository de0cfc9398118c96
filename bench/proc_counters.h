/* SPDX-License-Identifier: GPL-2.0 */
/*
 * proc_counters.h: snapshots of the guest's scheduling, interrupt and fault
 * counters, for nullbench --counters. A snapshot is a list of named
 * counters:
 *
 *   ctxt, intr, softirq           /proc/stat totals
 *   cpu.F.us, cpuN.F.us           /proc/stat, time of all CPUs and per
 *                                 CPU in microseconds (counted in clock
 *                                 ticks), F = user/nice/sys/idle/iowait/
 *                                 irq/softirq
 *   int.NAME.cpuN                 /proc/interrupts rows with a name (LOC,
 *                                 RES, CAL, TLB, ...), per CPU; numbered
 *                                 rows summed per CPU as int.dev.cpuN
 *   sirq.NAME.cpuN                /proc/softirqs (BLOCK, SCHED, ...)
 *   vm.pgfault, vm.pgmajfault, vm.nr_tlb_*   /proc/vmstat
 *   dmn.vcsw, dmn.ivcsw           the device process's voluntary and
 *                                 involuntary context switches (all threads)
 *   dmn.minflt                    its minor faults
 *   dmn.onN                       threads of it that last ran on CPU N, in
 *                                 the second snapshot only (pc_dmn_cpu()):
 *                                 printed as counts, not per request
 *   self.vcsw, self.ivcsw, self.minflt   nullbench's own (getrusage)
 *
 * The difference of two snapshots, divided by the requests completed in
 * between, is printed per counter that moved.
 */
#ifndef PROC_COUNTERS_H
#define PROC_COUNTERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#define PC_MAX		512
#define PC_NAME		80

struct pc_snap {
	int n;
	char name[PC_MAX][PC_NAME];
	double val[PC_MAX];
};

static void pc_add(struct pc_snap *s, const char *name, double v)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name)) {
			s->val[i] += v;
			return;
		}
	if (s->n == PC_MAX)
		return;
	snprintf(s->name[s->n], PC_NAME, "%s", name);
	s->val[s->n++] = v;
}

static void pc_stat(struct pc_snap *s)
{
	static const char *const f[] = { "user", "nice", "sys", "idle", "iowait",
					 "irq", "softirq" };
	char line[4096], key[PC_NAME];
	FILE *fp = fopen("/proc/stat", "r");
	double us = 1e6 / sysconf(_SC_CLK_TCK);

	while (fp && fgets(line, sizeof(line), fp)) {
		unsigned long long v[7];
		int cpu, i;

		/* "cpu  ..." is the sum of all CPUs, "cpuN ..." one of them */
		if (!strncmp(line, "cpu ", 4) &&
		    sscanf(line + 3, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6]) == 7) {
			for (i = 0; i < 7; i++) {
				snprintf(key, sizeof(key), "cpu.%s.us", f[i]);
				pc_add(s, key, v[i] * us);
			}
		} else if (line[3] >= '0' && line[3] <= '9' &&
			   sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu", &cpu,
				  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) == 8) {
			for (i = 0; i < 7; i++) {
				snprintf(key, sizeof(key), "cpu%d.%s.us", cpu, f[i]);
				pc_add(s, key, v[i] * us);
			}
		} else if (sscanf(line, "ctxt %llu", &v[0]) == 1) {
			pc_add(s, "ctxt", v[0]);
		} else if (sscanf(line, "intr %llu", &v[0]) == 1) {
			pc_add(s, "intr", v[0]);
		} else if (sscanf(line, "softirq %llu", &v[0]) == 1) {
			pc_add(s, "softirq", v[0]);
		}
	}
	if (fp)
		fclose(fp);
}

/* /proc/interrupts or /proc/softirqs: a header of CPUs, then NAME: counts */
static void pc_table(struct pc_snap *s, const char *path, const char *prefix)
{
	char line[8192], key[PC_NAME], name[32];
	int ncpu = 0, cpus[64];
	FILE *fp = fopen(path, "r");
	char *p, *e;

	if (!fp)
		return;
	if (fgets(line, sizeof(line), fp))
		for (p = line; ncpu < 64 && (p = strstr(p, "CPU")); p += 3)
			cpus[ncpu++] = atoi(p + 3);
	while (fgets(line, sizeof(line), fp)) {
		int i, numbered;

		p = line;
		while (*p == ' ')
			p++;
		e = strchr(p, ':');
		if (!e || e - p >= (long)sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(e - p), p);
		numbered = name[0] >= '0' && name[0] <= '9';
		p = e + 1;
		for (i = 0; i < ncpu; i++) {
			unsigned long long v = strtoull(p, &e, 10);

			if (e == p)
				break;
			p = e;
			snprintf(key, sizeof(key), "%s.%s.cpu%d", prefix,
				 numbered ? "dev" : name, cpus[i]);
			pc_add(s, key, v);
		}
	}
	fclose(fp);
}

static void pc_vmstat(struct pc_snap *s)
{
	char line[256], key[PC_NAME], name[64];
	unsigned long long v;
	FILE *fp = fopen("/proc/vmstat", "r");

	while (fp && fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%63s %llu", name, &v) != 2)
			continue;
		if (!strcmp(name, "pgfault") || !strcmp(name, "pgmajfault") ||
		    !strncmp(name, "nr_tlb_", 7)) {
			snprintf(key, sizeof(key), "vm.%s", name);
			pc_add(s, key, v);
		}
	}
	if (fp)
		fclose(fp);
}

/* The device process: context switches of every thread, minor faults. */
static void pc_daemon(struct pc_snap *s, pid_t pid)
{
	char path[300], line[512];
	struct dirent *de;
	unsigned long long v;
	DIR *dir;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", pid, de->d_name);
		fp = fopen(path, "r");
		while (fp && fgets(line, sizeof(line), fp)) {
			if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
				pc_add(s, "dmn.vcsw", v);
			else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
				pc_add(s, "dmn.ivcsw", v);
		}
		if (fp)
			fclose(fp);
	}
	if (dir)
		closedir(dir);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "r");
	if (fp && fgets(line, sizeof(line), fp)) {
		char *p = strrchr(line, ')');

		/* minflt is field 10; after ") " come fields 3, 4, ... */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu", &v) == 1)
			pc_add(s, "dmn.minflt", v);
	}
	if (fp)
		fclose(fp);
}

/* The CPU each thread of @pid last ran on (field 39): adds 1 to dmn.onN. */
static void pc_dmn_cpu(struct pc_snap *s, pid_t pid)
{
	char path[300], line[1024], key[PC_NAME];
	struct dirent *de;
	DIR *dir;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir))) {
		char *p;
		int cpu;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, de->d_name);
		fp = fopen(path, "r");
		if (fp && fgets(line, sizeof(line), fp) && (p = strrchr(line, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			   "%*d %*d %*d %*d %*d %*d %*u %*u %*d %*u %*u %*u %*u %*u %*u "
			   "%*u %*u %*u %*u %*u %*u %*u %*d %d", &cpu) == 1) {
			snprintf(key, sizeof(key), "dmn.on%d", cpu);
			pc_add(s, key, 1);
		}
		if (fp)
			fclose(fp);
	}
	if (dir)
		closedir(dir);
}

static void pc_take(struct pc_snap *s, pid_t pid)
{
	struct rusage ru;

	s->n = 0;
	pc_stat(s);
	pc_table(s, "/proc/interrupts", "int");
	pc_table(s, "/proc/softirqs", "sirq");
	pc_vmstat(s);
	pc_daemon(s, pid);
	if (!getrusage(RUSAGE_SELF, &ru)) {
		pc_add(s, "self.vcsw", ru.ru_nvcsw);
		pc_add(s, "self.ivcsw", ru.ru_nivcsw);
		pc_add(s, "self.minflt", ru.ru_minflt);
	}
}

/*
 * "# benchctr NAME TEST KEY PER-REQ" for every counter that moved; counters
 * only in @b (dmn.onN) as they are.
 */
static void pc_print(const struct pc_snap *a, const struct pc_snap *b,
		     const char *dev, const char *test, long reqs)
{
	int i, j;

	if (reqs <= 0)
		return;
	for (i = 0; i < b->n; i++) {
		double d = b->val[i];

		for (j = 0; j < a->n; j++)
			if (!strcmp(a->name[j], b->name[i])) {
				d -= a->val[j];
				break;
			}
		if (j == a->n)
			printf("# benchctr %s %s-4k %s %g\n", dev, test, b->name[i], d);
		else if (d != 0)
			printf("# benchctr %s %s-4k %s %.5g\n", dev, test, b->name[i],
			       d / reqs);
	}
}

#endif
